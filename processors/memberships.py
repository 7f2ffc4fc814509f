"""Tier floors: a tier assigned by staff, or bought as a paid membership, that a member cannot fall below.

- ``TierAssigned`` makes a tier the member's floor, until a time or for good,
  and moves the member up to it at once; assigning the base tier removes the
  floor (the tier itself then waits for the next review).
- ``MembershipPaid`` buys a membership's tier for its months; paid again
  before it lapses, the months are added to what is left, counted from the
  day of the month it was bought on (bought 31 January, renewed twice a
  month: to 30 April, never a day lost to February). The fee must be the
  program's, in its currency.
- The latest floor replaces an earlier one. On a clock tick past its end, the
  floor ends and the member holds the tier they earned (see ``tiers``: reviews
  judge it all along, with its grace), so a floor never leaves a member worse
  off than without it; a membership's member is reminded ``warn_days`` before.
- A tier held only by a floor that staff remove (or replace with a lower one)
  stays, as if earned, until a review finds the record no longer supports it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from processors.compiled import CompiledProgram
from processors.dates import add_months
from processors.events import ClockTick, MemberEvent, MembershipPaid, TierAssigned
from processors.money import format_money
from processors.outputs import Activity, Decision, Output, Trigger
from processors.refusals import refuse
from processors.state import MemberState
from processors.tiers import held_tier, record_at, record_text, tier_down, tier_up


def pay_membership(state: MemberState, event: MembershipPaid, rules: CompiledProgram) -> Decision:
    plan = rules.memberships.get(event.membership)
    if plan is None:
        known = ", ".join(rules.memberships) or "none"
        return refuse(state, event, f"membership {event.membership!r} is not one of {rules.name}'s ({known})")
    if event.currency != rules.currency or event.fee_minor != plan.fee_minor:
        return refuse(state, event, f"{plan.name} costs {format_money(plan.fee_minor, rules.currency)}, "
                                    f"but {format_money(event.fee_minor, event.currency)} was paid: "
                                    "send the membership's fee in the program's currency")
    when, until = event.occurred_at, state.tier_floor_until
    if state.membership == plan.id and until is not None and until > when:  # months counted in the program's zone
        renewing, until = True, add_months(rules.local(until), plan.months, state.membership_day).astimezone(UTC)
    else:
        bought = rules.local(when)
        renewing, until, state.membership_day = False, add_months(bought, plan.months).astimezone(UTC), bought.day
    ends = rules.local(until).date()
    outputs = _raise_floor(state, event, rules, plan.tier, until, f"{plan.name} membership until {ends}")
    state.membership, state.membership_warned = plan.id, False
    kind = "membership_renewed" if renewing else "membership_started"
    event_id, member_id = event.event_id, event.member_id
    outputs += [
        Trigger(f"{event_id}:{kind}", member_id, event_id, when, kind,
                f"{plan.name}: you are {plan.tier} until {ends}.",
                {"membership": plan.id, "tier": plan.tier, "until": until.isoformat()}),
        Activity(event_id, member_id, when, "membership_fee", None, None, event.currency, event.fee_minor, 0, None),
    ]
    return Decision(state, tuple(outputs))


def assign_tier(state: MemberState, event: TierAssigned, rules: CompiledProgram) -> Decision:
    step = rules.tier_by_name.get(event.tier)
    if step is None:
        return refuse(state, event, f"tier {event.tier!r} is not one of {rules.name}'s tiers "
                                    f"({', '.join(rules.tier_by_name)})")
    outputs = _raise_floor(state, event, rules, step.name, event.until, f"assigned: {event.note}")
    state.membership = None
    outputs.append(Activity(event.event_id, event.member_id, event.occurred_at, "tier_assigned", None, None, None,
                            0, 0, None))
    return Decision(state, tuple(outputs))


def end_floor(state: MemberState, event: ClockTick, rules: CompiledProgram) -> list[Output]:
    """At a tick: the reminder before a membership lapses, or the end of a floor whose time is up."""
    until = state.tier_floor_until
    if until is None:
        return []
    when, event_id, member_id = event.occurred_at, event.event_id, event.member_id
    plan = rules.memberships.get(state.membership) if state.membership is not None else None
    if when < until:
        if plan is None or state.membership_warned or when < until - timedelta(days=plan.warn_days):
            return []
        state.membership_warned = True
        return [Trigger(f"{event_id}:membership_expiring", member_id, event_id, when, "membership_expiring",
                        f"Your {plan.name} ends on {rules.local(until).date()}: renew it to stay {plan.tier}.",
                        {"membership": plan.id, "until": until.isoformat()})]
    what = f"{plan.name} membership" if plan is not None else f"the assigned tier {state.tier_floor}"
    kind = "membership_lapsed" if state.membership is not None else "tier_floor_ended"
    current = held_tier(state, rules)
    state.tier_floor = state.tier_floor_until = state.membership = None
    state.membership_warned = False
    earned = rules.tier(state.tier)
    if earned.index >= current.index:
        return [Trigger(f"{event_id}:{kind}", member_id, event_id, when, kind,
                        f"Your {what} ended on {rules.local(until).date()}; you keep {current.name}, the tier you "
                        "earned.",
                        {"tier": current.name})]
    state.near_tier_notified = None
    record = record_at(state, when, rules)
    reason = (f"{what} ended on {rules.local(until).date()}, and {record_text(current, record, rules)} is under "
              f"{current.name}'s {current.threshold_text}")
    return list(tier_down(event, current, earned, record, reason, kind))


def _raise_floor(state: MemberState, event: MemberEvent, rules: CompiledProgram, tier: str, until: datetime | None,
                 why: str) -> list[Output]:
    """Make ``tier`` the floor (the base tier: none); move the member up to it if they are below."""
    current, floor = held_tier(state, rules), rules.tier(tier)
    if floor.index < current.index:  # what an earlier floor held stays until a review
        state.tier = current.name
    state.tier_floor, state.tier_floor_until = (tier, until) if floor.index else (None, None)
    if floor.index <= current.index:
        return []
    state.near_tier_notified = None
    return list(tier_up(event, current, floor, record_at(state, event.occurred_at, rules), rules, why))
