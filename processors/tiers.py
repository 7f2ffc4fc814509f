"""Tiers by a member's record in a qualifying period: spend, visits or points earned.

The record is kept per calendar month (``"YYYY-MM"``): qualifying spend (what
was paid for lines outside the excluded categories), visits (purchases with
some qualifying spend; a return that leaves an order none takes its visit
back) and the points purchases earned, the last two only when a tier uses them. The
record of a period is the sum of its months: the ``qualifying_months`` ending
with this one (rolling), or the calendar block of them holding it (calendar).

A member moves up as soon as the record reaches any of a higher tier's
thresholds (several tiers at once if one purchase covers them). Moving down
happens only at the program's ``tier_review``: at each period end (seen on the
first clock tick of a new period) a member whose record of the period just
ended no longer supports the tier keeps it for ``grace_periods`` reviews, then
moves one step down or to the tier the record supports. Moving up starts a
tier's grace afresh.

That is the tier the member earned (``MemberState.tier``). A tier floor
(assigned by staff or bought as a paid membership, see ``memberships``) only
ever lifts it: the member holds the higher of the two (``held_tier``), and
reviews go on judging the earned tier underneath, so that when the floor ends
the member holds what they would have held without it. A review that moves
only the earned tier, under a floor at or above it, is not announced: the
member's tier does not change.

When the record comes within ``near_tier_threshold_bp`` of the next tier, the
member hears about it once per tier (``near_tier_notified``), so that "you are
close to Gold" is not repeated on every purchase.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from processors.compiled import CompiledProgram, TierStep, format_measure
from processors.events import MemberEvent
from processors.money import format_points
from processors.outputs import TierChanged, Trigger
from processors.program import BASIS_POINTS
from processors.state import MemberState

MEASURE_NAMES = ("spend", "visits", "points")


@dataclass(slots=True)  # not frozen: a frozen dataclass sets each field through object.__setattr__, twice as dear
class Record:
    """What a member did in a qualifying period: spend (minor units), visits and points earned."""

    values: tuple[int, int, int]
    first_month: str

    @property
    def spend_minor(self) -> int:
        return self.values[0]


def add_to_record(state: MemberState, when: datetime, rules: CompiledProgram, spend_minor: int, points: int,
                  ) -> Record:
    """Count a purchase in ``when``'s month, drop months that can no longer count; the period's record."""
    month, first, keep = rules.month_window(when)
    spend, state.spend_by_month = _tally(state.spend_by_month, month, spend_minor, first, keep)
    visits = earned = 0
    if rules.counts_visits:
        visits, state.visits_by_month = _tally(state.visits_by_month, month, 1 if spend_minor else 0, first, keep)
    if rules.counts_points:
        earned, state.points_by_month = _tally(state.points_by_month, month, points, first, keep)
    return Record((spend, visits, earned), first)


def record_at(state: MemberState, when: datetime, rules: CompiledProgram) -> Record:
    """The record of the qualifying period holding ``when`` (the state is not changed)."""
    month, first, _ = rules.month_window(when)
    return Record((_tally(state.spend_by_month, month, 0, first, "")[0],
                   _tally(state.visits_by_month, month, 0, first, "")[0] if rules.counts_visits else 0,
                   _tally(state.points_by_month, month, 0, first, "")[0] if rules.counts_points else 0), first)


def remove_from_record(state: MemberState, bought_at: datetime, when: datetime, rules: CompiledProgram,
                       spend_minor: int, points: int, spend_left_minor: int) -> None:
    """Take a return's spend and points off the month of the purchase, if it still counts, and the purchase's
    visit if the return leaves the order no qualifying spend (``spend_left_minor``)."""
    bought_month, _, _ = rules.month_window(bought_at)
    _, _, keep = rules.month_window(when)
    if bought_month < keep:
        return
    visit = 1 if spend_minor and not spend_left_minor else 0
    for buckets, amount in ((state.spend_by_month, spend_minor), (state.points_by_month, points),
                            (state.visits_by_month, visit)):
        if amount and bought_month in buckets:
            buckets[bought_month] = max(0, buckets[bought_month] - amount)


def tier_reached(current: TierStep, record: Record, rules: CompiledProgram) -> TierStep:
    """The highest tier the record qualifies for, and never below ``current``."""
    reached = current
    spend, visits, points = record.values
    for step in rules.tiers_above[current.index]:
        spend_at, visits_at, points_at = step.thresholds
        if ((spend_at is not None and spend >= spend_at) or (visits_at is not None and visits >= visits_at)
                or (points_at is not None and points >= points_at)):
            reached = step
    return reached


def floor_of(state: MemberState, rules: CompiledProgram) -> TierStep:
    """The tier the member cannot fall below: the floor, while it lasts, else the base tier."""
    return rules.tier(state.tier_floor) if state.tier_floor is not None else rules.tiers[0]


def held_tier(state: MemberState, rules: CompiledProgram) -> TierStep:
    """The tier the member holds, earns at and is told about: the tier earned, lifted to the floor while it lasts."""
    earned, floor = rules.tier(state.tier), floor_of(state, rules)
    return floor if floor.index > earned.index else earned


def raise_earned_tier(state: MemberState, record: Record, rules: CompiledProgram) -> TierStep:
    """Move the earned tier up as far as ``record`` reaches; the tier the member now holds.

    A tier reached afresh starts with all its grace: reviews failed in a lower tier do not count against it.
    """
    earned = rules.tier(state.tier)
    reached = tier_reached(earned, record, rules)
    if reached is not earned:
        state.tier, state.tier_grace = reached.name, 0
    return held_tier(state, rules)


def tier_up(event: MemberEvent, before: TierStep, after: TierStep, record: Record, rules: CompiledProgram,
            reason: str | None = None) -> tuple[TierChanged, Trigger]:
    """The change and its trigger; ``reason`` says why when it is not the record (a floor, a membership)."""
    if reason is None:
        measure = next(m for m, (threshold, value) in enumerate(zip(after.thresholds, record.values, strict=True))
                       if threshold is not None and value >= threshold)
        reason = (f"{_measured(measure, record.values[measure], rules)} {rules.period_text(record.first_month)} "
                  f"reached {after.name}'s {format_measure(measure, after.thresholds[measure] or 0, rules.currency)}")
    change = TierChanged(f"{event.event_id}:tier", event.member_id, event.event_id, event.occurred_at, before.name,
                         after.name, record.spend_minor, reason)
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


def tier_down(event: MemberEvent, before: TierStep, after: TierStep, record: Record, reason: str, kind: str,
              ) -> list[TierChanged | Trigger]:
    return [
        TierChanged(f"{event.event_id}:{kind}", event.member_id, event.event_id, event.occurred_at, before.name,
                    after.name, record.spend_minor, reason),
        Trigger(f"{event.event_id}:{kind}", event.member_id, event.event_id, event.occurred_at, kind,
                f"Your tier is now {after.name}: {reason}.", {"from_tier": before.name, "to_tier": after.name}),
    ]


def near_tier(event: MemberEvent, tier: TierStep, record: Record, notified: str | None, rules: CompiledProgram,
              ) -> Trigger | None:
    """A ``near_tier`` trigger the first time the record comes close to the next tier (by its closest measure)."""
    if tier.next_name is None or notified == tier.next_name:
        return None
    best: tuple[int, int] | None = None  # (progress in bp, measure)
    values = record.values
    for measure, threshold, near_at in tier.near_next:
        value = values[measure]
        if value * BASIS_POINTS >= near_at:
            progress = value * BASIS_POINTS // threshold
            if best is None or progress > best[0]:
                best = (progress, measure)
    if best is None:
        return None
    above = rules.tiers[tier.index + 1]
    measure = best[1]
    missing = (above.thresholds[measure] or 0) - record.values[measure]
    attributes = {"next_tier": above.name, "measure": MEASURE_NAMES[measure], "missing": str(missing)}
    if measure == 0:
        attributes["missing_minor"] = str(missing)
    return Trigger(f"{event.event_id}:near_tier", event.member_id, event.event_id, event.occurred_at, "near_tier",
                   f"You are {format_measure(measure, missing, rules.currency)} from {above.name}", attributes)


def review_tier(state: MemberState, event: MemberEvent, rules: CompiledProgram) -> list[TierChanged | Trigger]:
    """The period-end review, on the first tick of a new period (the first tick ever only notes the period).

    The review judges the record of the period that just ended (its last month).
    """
    review = rules.tier_review
    if review is None:
        return []
    when = rules.local(event.occurred_at)  # periods end as the program's time zone counts them
    period = f"{when.year}" if review.at == "year_end" else f"{when.year}-{when.month:02d}"
    if state.tier_period == period:
        return []
    first_look, state.tier_period = not state.tier_period, period
    current = rules.tier(state.tier)
    if first_look or current.index == 0:
        return []
    ended = datetime(when.year - 1, 12, 1, tzinfo=when.tzinfo) if review.at == "year_end" else _month_before(when)
    record = record_at(state, ended, rules)
    supported = tier_reached(rules.tiers[0], record, rules)
    if supported.index >= current.index:
        state.tier_grace = 0
        return []
    floor = floor_of(state, rules)
    shortfall = f"{record_text(current, record, rules)} is under {current.name}'s {current.threshold_text}"
    if state.tier_grace < review.grace_periods:
        state.tier_grace += 1
        if floor.index >= current.index:
            return []
        left = review.grace_periods - state.tier_grace
        return [Trigger(f"{event.event_id}:tier_at_risk", event.member_id, event.event_id, event.occurred_at,
                        "tier_at_risk",
                        f"You keep {current.name} for now: {shortfall}"
                        + (f" ({left} more review{'s' if left != 1 else ''} of grace)." if left else
                           " (the last review of grace)."),
                        {"tier": current.name, "grace_left": str(left)})]
    after = rules.tiers[current.index - 1] if review.policy == "one_step" else supported
    state.tier, state.tier_grace = after.name, 0
    if floor.index >= current.index:
        return []
    state.near_tier_notified = None
    return tier_down(event, current, held_tier(state, rules), record,
                     f"review at {review.at.replace('_', ' ')}: {shortfall}", "tier_down")


def record_text(tier: TierStep, record: Record, rules: CompiledProgram) -> str:
    """The record in the measures ``tier`` uses: "qualifying spend 3,000.00 SEK or 4 visits in 2025"."""
    measured = [_measured(m, value, rules) for m, value in enumerate(record.values) if tier.thresholds[m] is not None]
    return f"{' or '.join(measured)} {rules.period_text(record.first_month)}"


def _measured(measure: int, value: int, rules: CompiledProgram) -> str:
    if measure == 0:
        return f"qualifying spend {format_measure(0, value, rules.currency)}"
    return format_measure(1, value, rules.currency) if measure == 1 else f"{format_points(value)} earned"


def _tally(buckets: dict[str, int], month: str, amount: int, first: str, keep: str) -> tuple[int, dict[str, int]]:
    """Add ``amount`` to ``month``; the sum of the months from ``first`` to ``month``, and the buckets
    without the months before ``keep``. One pass: this runs on every purchase."""
    if amount:
        buckets[month] = buckets.get(month, 0) + amount
    total = 0
    stale = False
    for key, value in buckets.items():
        if key < first:
            stale = stale or key < keep
        elif key <= month:
            total += value
    if stale:
        buckets = {key: value for key, value in buckets.items() if key >= keep}
    return total, buckets


def _month_before(when: datetime) -> datetime:
    year, month = (when.year - 1, 12) if when.month == 1 else (when.year, when.month - 1)
    return datetime(year, month, 1, tzinfo=when.tzinfo)
