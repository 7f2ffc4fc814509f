"""Card links and unlinks, referrals and survey answers: recorded as activity, worth no points themselves.

A referral pays when the friend buys (``referrals``), and a survey answer pays
nothing: a paid answer would bend the Net Promoter Score it feeds. A card token
never appears in an output: the card table is the only place that maps tokens
to members.
"""

from __future__ import annotations

from processors.compiled import CompiledProgram
from processors.events import CardChange, CardLinked, CardUnlinked, Referral, SurveyAnswered
from processors.outputs import Activity, Decision
from processors.state import MemberState

ENGAGEMENT_ACTIVITY: dict[type, str] = {
    CardLinked: "card_linked",
    CardUnlinked: "card_unlinked",
    Referral: "referral",
    SurveyAnswered: "survey",
}


def record_engagement(
    state: MemberState, event: CardChange | Referral | SurveyAnswered, rules: CompiledProgram
) -> Decision:
    activity = Activity(
        event.event_id, event.member_id, event.occurred_at, ENGAGEMENT_ACTIVITY[type(event)],
        None, None, None, 0, 0, None,
    )
    if type(event) is SurveyAnswered:
        activity.survey, activity.score = event.survey, event.score
    return Decision(state, (activity,))
