"""Tiers by qualifying spend over a rolling window of calendar months.

Qualifying spend is what a member paid for lines outside the excluded
categories, kept per calendar month (``"YYYY-MM"``). A member's rolling spend is
the sum of the ``qualifying_months`` months ending with the event's month;
older months are dropped, since they can never count again.

A member moves up as soon as the rolling spend reaches a higher tier's
``qualifying_spend_minor`` (several tiers at once if one purchase covers them).
Nobody moves down yet: downgrades come with the periodic tier review.

When the spend comes within ``near_tier_threshold_bp`` of the next tier, the
member hears about it once per tier (``near_tier_notified``), so that "you are
close to Gold" is not repeated on every purchase.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from processors.compiled import CompiledProgram, TierStep
from processors.events import MemberEvent
from processors.money import format_money
from processors.outputs import TierChanged, Trigger
from processors.program import BASIS_POINTS


def add_qualifying_spend(
    spend_by_month: Mapping[str, int], when: datetime, amount_minor: int, rules: CompiledProgram
) -> tuple[dict[str, int], int]:
    """New month buckets with ``amount_minor`` added to ``when``'s month, and the rolling spend."""
    month, first = rules.month_window(when)
    buckets: dict[str, int] = {}
    rolling = amount_minor
    for key, spent in spend_by_month.items():
        if key >= first:
            buckets[key] = spent
            if key <= month:
                rolling += spent
    buckets[month] = buckets.get(month, 0) + amount_minor
    return buckets, rolling


def remove_qualifying_spend(
    spend_by_month: Mapping[str, int],
    bought_at: datetime,
    amount_minor: int,
    when: datetime,
    rules: CompiledProgram,
) -> Mapping[str, int]:
    """Take a returned amount off the month it was bought in, if that month still counts."""
    bought_month, _ = rules.month_window(bought_at)
    _, first = rules.month_window(when)
    if amount_minor == 0 or bought_month < first or bought_month not in spend_by_month:
        return spend_by_month
    buckets = dict(spend_by_month)
    buckets[bought_month] = max(0, buckets[bought_month] - amount_minor)
    return buckets


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
        f"Welcome to {after.name}! From your next purchase on you earn points {after.multiplier_text}.",
        {"from_tier": before.name, "to_tier": after.name},
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
