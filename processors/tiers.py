"""Tiers by qualifying spend over a rolling window of calendar months.

Qualifying spend is what a member paid for lines outside the excluded
categories, kept per calendar month (``"YYYY-MM"``). A member's rolling spend is
the sum of the ``qualifying_months`` months ending with the event's month;
older months are dropped, since they can never count again.

A member moves up as soon as the rolling spend reaches a higher tier's
``qualifying_spend_minor`` (several tiers at once if one purchase covers them).
Moving down happens only at the program's ``tier_review``: at each period end
(seen on the first clock tick of a new period) a member whose rolling spend no
longer supports the tier keeps it for ``grace_periods`` reviews, then moves one
step down or to the tier the spend supports.

When the spend comes within ``near_tier_threshold_bp`` of the next tier, the
member hears about it once per tier (``near_tier_notified``), so that "you are
close to Gold" is not repeated on every purchase.
"""

from __future__ import annotations

from datetime import datetime

from processors.compiled import CompiledProgram, TierStep
from processors.events import MemberEvent
from processors.money import format_money
from processors.outputs import TierChanged, Trigger
from processors.program import BASIS_POINTS
from processors.state import MemberState


def add_qualifying_spend(state: MemberState, when: datetime, amount_minor: int, rules: CompiledProgram) -> int:
    """Add ``amount_minor`` to ``when``'s month, drop months that can no longer count; the rolling spend."""
    month, first = rules.month_window(when)
    buckets = state.spend_by_month
    if amount_minor:
        buckets[month] = buckets.get(month, 0) + amount_minor
    rolling = 0
    stale = False
    for key, spent in buckets.items():
        if key < first:
            stale = True
        elif key <= month:
            rolling += spent
    if stale:
        state.spend_by_month = {key: spent for key, spent in buckets.items() if key >= first}
    return rolling


def remove_qualifying_spend(
    state: MemberState, bought_at: datetime, amount_minor: int, when: datetime, rules: CompiledProgram
) -> None:
    """Take a returned amount off the month it was bought in, if that month still counts."""
    bought_month, _ = rules.month_window(bought_at)
    _, first = rules.month_window(when)
    buckets = state.spend_by_month
    if amount_minor and bought_month >= first and bought_month in buckets:
        buckets[bought_month] = max(0, buckets[bought_month] - amount_minor)


def tier_reached(current: TierStep, rolling_minor: int, rules: CompiledProgram) -> TierStep:
    """The highest tier the rolling spend qualifies for, and never below the current one."""
    if current.next_name is None or rolling_minor < current.next_spend_minor:
        return current
    reached = current
    for step in rules.tiers[current.index + 1 :]:
        if rolling_minor < step.qualifying_spend_minor:
            break
        reached = step
    return reached


def tier_up(
    event: MemberEvent, before: TierStep, after: TierStep, rolling_minor: int, rules: CompiledProgram
) -> tuple[TierChanged, Trigger]:
    spend = format_money(rolling_minor, rules.currency)
    threshold = format_money(after.qualifying_spend_minor, rules.currency)
    reason = (
        f"qualifying spend {spend} in the last {rules.qualifying_months} months "
        f"reached {after.name}'s {threshold}"
    )
    change = TierChanged(
        f"{event.event_id}:tier",
        event.member_id,
        event.event_id,
        event.occurred_at,
        before.name,
        after.name,
        rolling_minor,
        reason,
    )
    trigger = Trigger(
        f"{event.event_id}:tier_up",
        event.member_id,
        event.event_id,
        event.occurred_at,
        "tier_up",
        f"Welcome to {after.name}! From your next purchase on you earn points {after.multiplier_text}."
        + (f" Your perks: {', '.join(after.perks)}." if after.perks else ""),
        {"from_tier": before.name, "to_tier": after.name} | ({"perks": ",".join(after.perks)} if after.perks else {}),
    )
    return change, trigger


def near_tier(
    event: MemberEvent, tier: TierStep, rolling_minor: int, notified: str | None, rules: CompiledProgram
) -> Trigger | None:
    """A ``near_tier`` trigger the first time the spend comes close to the next tier."""
    if (
        tier.next_name is None
        or notified == tier.next_name
        or rolling_minor * BASIS_POINTS < tier.near_next_scaled
    ):
        return None
    missing = tier.next_spend_minor - rolling_minor
    return Trigger(
        f"{event.event_id}:near_tier",
        event.member_id,
        event.event_id,
        event.occurred_at,
        "near_tier",
        f"You are {format_money(missing, rules.currency)} from {tier.next_name}",
        {"next_tier": tier.next_name, "missing_minor": str(missing)},
    )


def review_tier(state: MemberState, event: MemberEvent, rules: CompiledProgram) -> list[TierChanged | Trigger]:
    """The period-end review, on the first tick of a new period (the first tick ever only notes the period)."""
    review = rules.tier_review
    if review is None:
        return []
    when = event.occurred_at
    period = f"{when.year}" if review.at == "year_end" else f"{when.year}-{when.month:02d}"
    if state.tier_period == period:
        return []
    first_look, state.tier_period = not state.tier_period, period
    current = rules.tier(state.tier)
    if first_look or current.index == 0:
        return []
    rolling = add_qualifying_spend(state, when, 0, rules)
    supported = tier_reached(rules.tiers[0], rolling, rules)
    if supported.index >= current.index:
        state.tier_grace = 0
        return []
    spend = format_money(rolling, rules.currency)
    if state.tier_grace < review.grace_periods:
        state.tier_grace += 1
        left = review.grace_periods - state.tier_grace
        return [Trigger(f"{event.event_id}:tier_at_risk", event.member_id, event.event_id, when, "tier_at_risk",
                        f"You keep {current.name} for now: {spend} in the last {rules.qualifying_months} months is "
                        f"under its {format_money(current.qualifying_spend_minor, rules.currency)}"
                        + (f" ({left} more review{'s' if left != 1 else ''} of grace)." if left else
                           " (the last review of grace)."),
                        {"tier": current.name, "grace_left": str(left)})]
    after = rules.tiers[current.index - 1] if review.policy == "one_step" else supported
    state.tier, state.tier_grace, state.near_tier_notified = after.name, 0, None
    reason = (f"review at {review.at.replace('_', ' ')}: qualifying spend {spend} in the last "
              f"{rules.qualifying_months} months is under {current.name}'s "
              f"{format_money(current.qualifying_spend_minor, rules.currency)}")
    return [
        TierChanged(f"{event.event_id}:tier_down", event.member_id, event.event_id, when, current.name, after.name,
                    rolling, reason),
        Trigger(f"{event.event_id}:tier_down", event.member_id, event.event_id, when, "tier_down",
                f"Your tier is now {after.name}: {reason}.", {"from_tier": current.name, "to_tier": after.name}),
    ]
