"""Joining the program: a member starts in the base tier with the welcome bonus.

The welcome bonus is a ledger entry like any other, so the balance stays the
sum of the ledger from the first event on; it is also announced as a reward and
a ``welcome`` trigger so the welcome series can start.
"""

from __future__ import annotations

from processors.compiled import CHANNEL_NAMES, CompiledProgram
from processors.events import MemberEnrolled
from processors.money import format_points
from processors.outputs import Activity, Decision, LedgerReason, Output, RewardIssued, Trigger
from processors.points import credit
from processors.refusals import refuse
from processors.state import MemberState


def enrol(state: MemberState | None, event: MemberEnrolled, rules: CompiledProgram) -> Decision:
    if state is not None:
        return refuse(
            state, event, f"member {event.member_id} already enrolled (on {rules.local(state.enrolled_at).date()})"
        )
    event_id, member_id, when = event.event_id, event.member_id, event.occurred_at
    new_state = MemberState(
        member_id=member_id,
        enrolled_at=when,
        tier=rules.tiers[0].name,
        balance=0,
        lifetime_points=0,
        spend_by_month={},
        seen_events={},
        orders={},
        last_activity_at=when,
        near_tier_notified=None,
        referred_by=event.referred_by,
        birthday=event.birthday,
    )
    bonus = rules.welcome_bonus_points
    outputs: list[Output] = []
    if bonus > 0:
        detail = f"Welcome bonus for joining {rules.name}: {format_points(bonus)}"
        outputs += [
            credit(new_state, event, rules, LedgerReason.WELCOME, bonus, detail),
            RewardIssued(f"{event_id}:welcome_bonus", member_id, event_id, when, "welcome_bonus", bonus, detail),
            Trigger(f"{event_id}:welcome", member_id, event_id, when, "welcome",
                    f"Welcome to {rules.name}! You start with {format_points(bonus)}.",
                    {"welcome_bonus_points": str(bonus)}),
        ]
    channel = CHANNEL_NAMES[event.channel]
    outputs.append(Activity(event_id, member_id, when, "enrolled", channel, None, None, 0, bonus, None))
    return Decision(new_state, tuple(outputs))
