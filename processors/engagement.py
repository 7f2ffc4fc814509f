"""Card links and referrals: recorded, not yet rewarded.

The referral mechanic comes with the referral programme; until then referrals
are accepted (so a later rule can count them) and leave an activity row.
A card token never appears in an output: the card table is the only place that
maps tokens to members.
"""

from __future__ import annotations

from processors.compiled import CompiledProgram
from processors.events import CardLinked, Referral
from processors.outputs import Activity, Decision
from processors.state import MemberState

ENGAGEMENT_ACTIVITY: dict[type, str] = {
    CardLinked: "card_linked",
    Referral: "referral",
}


def record_engagement(
    state: MemberState, event: CardLinked | Referral, rules: CompiledProgram
) -> Decision:
    activity = Activity(
        event.event_id, event.member_id, event.occurred_at, ENGAGEMENT_ACTIVITY[type(event)],
        None, None, None, 0, 0, None,
    )
    return Decision(state, (activity,))
