"""Why an event is not applied, as a value the dead-letter topic carries.

A refused event leaves the member's state exactly as it was; the reason says
what is wrong and what the sender can do about it.
"""

from __future__ import annotations

from processors.events import MemberEvent
from processors.outputs import Decision, Refusal
from processors.state import CampaignBudget, MemberState


def refuse(state: MemberState | CampaignBudget | None, event: MemberEvent, reason: str) -> Decision:
    return Decision(state, refusal=Refusal(event.event_id, event.member_id, reason))


UNKNOWN_MEMBER = "unknown member "  # how the reason for an event that came before its member's enrolment starts


def unknown_member(event: MemberEvent) -> Decision:
    return refuse(None, event, f"{UNKNOWN_MEMBER}{event.member_id}: not enrolled (yet); once the member's "
                               "enrolment is applied, a running engine sends this event again by itself")
