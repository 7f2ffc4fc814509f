"""Why an event is not applied, as a value the dead-letter topic carries.

A refused event leaves the member's state exactly as it was; the reason says
what is wrong and what the sender can do about it.

Most refusals wait on something outside the member (an enrolment or an order
still to come, a program to fix): the same event sent again is judged again.
A *final* refusal is one the member's own points or caps decided at the time
(too few points for a redemption, a referral cap reached): judged again later,
it could pass and change the member for an event answered long ago. So
``decide`` remembers its id as it does an applied event's, and the same event
sent again is a duplicate; its reason ends with ``FINAL``.
"""

from __future__ import annotations

from processors.events import MemberEvent
from processors.outputs import Decision, Refusal
from processors.state import CampaignBudget, MemberState

FINAL = "; refused for good: the same event sent again changes nothing, send a new event_id to try again"


def refuse(state: MemberState | CampaignBudget | None, event: MemberEvent, reason: str,
           final: bool = False) -> Decision:
    """Refuse ``event`` for ``reason``; ``final`` if the member's own points or caps decided it."""
    if final:
        return Decision(state, refusal=Refusal(event.event_id, event.member_id, reason + FINAL, final=True))
    return Decision(state, refusal=Refusal(event.event_id, event.member_id, reason))


UNKNOWN_MEMBER = "unknown member "


def unknown_member_reason(member_id: str) -> str:
    """How the reason for an event that came before the member's enrolment starts: ``UNKNOWN_MEMBER``, the id, a
    colon (``queries.refused_before_enrolment`` finds such events by it)."""
    return f"{UNKNOWN_MEMBER}{member_id}:"


def unknown_member(event: MemberEvent) -> Decision:
    return refuse(None, event, f"{unknown_member_reason(event.member_id)} not enrolled (yet); once the member's "
                               "enrolment is applied, a running engine sends this event again by itself")
