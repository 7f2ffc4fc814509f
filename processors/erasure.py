"""Erasure: a member who leaves and asks to be forgotten.

The account closes: whatever balance is left is forfeited (or, below zero,
written off) by a last ledger entry with the reason the request gave, so the
ledger still adds up to the balance, now 0. The state is replaced by one that keeps only the member's id, when they
joined and the ids of the events already applied (not when those events happened): birthday, segments, orders,
visits, referrals, stamps and every other trace of what they did are gone. From
then on every event of the member is refused with the date of the erasure (a
daily clock tick is simply passed over), a replayed enrolment included, so the
account never comes back by accident. An ``Erasure`` notice tells the systems
downstream, and the analytics copy forgets the member's rows (see the sink).
"""

from __future__ import annotations

from processors.compiled import CompiledProgram
from processors.events import ClockTick, MemberErased, MemberEvent
from processors.money import format_points
from processors.outputs import Activity, Decision, Erasure, LedgerEntry, LedgerReason, Output
from processors.refusals import refuse
from processors.state import MemberState


def erase(state: MemberState, event: MemberErased, rules: CompiledProgram) -> Decision:
    event_id, member_id, when = event.event_id, event.member_id, event.occurred_at
    left = state.balance
    outputs: list[Output] = []
    if left:
        what = f"{format_points(left)} forfeited" if left > 0 else f"{format_points(-left)} owed written off"
        outputs.append(LedgerEntry(f"{event_id}:{LedgerReason.ERASED}", member_id, event_id, when, LedgerReason.ERASED,
                                   -left, 0, None, None, f"Account closed ({event.reason}): {what}"))
    outputs += [Activity(event_id, member_id, when, "erased", None, None, None, 0, -left, None),
                Erasure(f"{event_id}:erased", member_id, event_id, when)]
    applied = {applied_id: [kept[0], 0] for applied_id, kept in state.seen_events.items()}  # ids only, no times
    erased = MemberState(member_id=member_id, enrolled_at=state.enrolled_at, tier=rules.tiers[0].name, balance=0,
                         lifetime_points=0, spend_by_month={}, seen_events=applied, orders={},
                         last_activity_at=state.last_activity_at, near_tier_notified=None, erased_at=when)
    return Decision(erased, tuple(outputs))


def after_erasure(state: MemberState, event: MemberEvent, rules: CompiledProgram) -> Decision:
    """What an erased member's event does: nothing; a refusal says why, except for the daily tick."""
    if type(event) is ClockTick:
        return Decision(state)
    assert state.erased_at is not None
    return refuse(state, event, f"member {event.member_id} was erased on {rules.local(state.erased_at).date()}: "
                                "its events are no longer taken")
