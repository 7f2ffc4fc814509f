"""What falls due as time passes: birthday bonuses, expiry of inactive members' points, tier reviews.

Time-driven rules run on a ``ClockTick``, an event like any other (a scheduler
sends each member one a day, with a deterministic id), so they use the tick's
event time, never the wall clock: the same ticks always give the same ledger,
and a test drives time by sending ticks. A tick is not activity.

- Birthday: on the member's birthday (29 February counts as the 28th in other
  years) the ``birthday_bonus_points``, once a year, with a ``birthday`` trigger.
- Inactivity expiry: ``inactive_months`` after the member's last activity every
  point left expires (a ledger entry, so the balance stays the sum of the
  ledger), with a ``points_expiring`` trigger ``warn_days`` before and a
  ``points_expired`` one when it happens.
- Tier review: at the program's period end, moving down (see ``tiers``).
"""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta

from processors.compiled import CompiledProgram
from processors.events import ClockTick
from processors.money import format_points
from processors.outputs import Activity, Decision, LedgerEntry, LedgerReason, Output, Trigger
from processors.state import MemberState
from processors.tiers import review_tier


def tick(state: MemberState, event: ClockTick, rules: CompiledProgram) -> Decision:
    """What falls due at the tick, and an activity row like every accepted event has (with the net points)."""
    balance = state.balance
    outputs: list[Output] = []
    if rules.birthday_bonus_points and _is_birthday(state.birthday, event.occurred_at):
        outputs += _birthday(state, event, rules.birthday_bonus_points)
    if rules.expiry is not None and state.balance > 0:
        outputs += _expiry(state, event, rules)
    outputs += review_tier(state, event, rules)
    outputs.append(Activity(event.event_id, event.member_id, event.occurred_at, "clock_tick", None, None, None, 0,
                            state.balance - balance, None))
    return Decision(state, tuple(outputs))


def _is_birthday(birthday: str | None, when: datetime) -> bool:
    if birthday is None:
        return False
    if birthday == "02-29" and not calendar.isleap(when.year):
        birthday = "02-28"
    return when.strftime("%m-%d") == birthday


def _birthday(state: MemberState, event: ClockTick, points: int) -> list[Output]:
    year = event.occurred_at.year
    if state.birthday_paid_year == year:
        return []
    state.birthday_paid_year = year
    state.balance += points
    state.lifetime_points += points
    event_id, member_id, when = event.event_id, event.member_id, event.occurred_at
    return [
        LedgerEntry(f"{event_id}:birthday", member_id, event_id, when, LedgerReason.BIRTHDAY, points, state.balance,
                    None, None, f"Happy birthday! {format_points(points)} for your birthday in {year}"),
        Trigger(f"{event_id}:birthday", member_id, event_id, when, "birthday",
                f"Happy birthday! We added {format_points(points)} to your account.", {"points": str(points)}),
    ]


def _expiry(state: MemberState, event: ClockTick, rules: CompiledProgram) -> list[Output]:
    expiry = rules.expiry
    assert expiry is not None
    expires_at = add_months(state.last_activity_at, expiry.inactive_months)
    event_id, member_id, when = event.event_id, event.member_id, event.occurred_at
    if when >= expires_at:
        points = state.balance
        state.balance = 0
        state.expiry_warned = False
        detail = (f"{format_points(points)} expired after {expiry.inactive_months} months without activity "
                  f"(last on {state.last_activity_at.date()})")
        return [
            LedgerEntry(f"{event_id}:expiry", member_id, event_id, when, LedgerReason.EXPIRY, -points, 0, None, None,
                        detail),
            Trigger(f"{event_id}:points_expired", member_id, event_id, when, "points_expired", detail,
                    {"points": str(points)}),
        ]
    if not state.expiry_warned and when >= expires_at - timedelta(days=expiry.warn_days):
        state.expiry_warned = True
        return [Trigger(f"{event_id}:points_expiring", member_id, event_id, when, "points_expiring",
                        f"Your {format_points(state.balance)} expire on {expires_at.date()}: "
                        "any purchase keeps them.",
                        {"points": str(state.balance), "expires_at": expires_at.isoformat()})]
    return []


def add_months(when: datetime, months: int) -> datetime:
    """The same day ``months`` later (the month's last day where it is shorter)."""
    index = when.year * 12 + when.month - 1 + months
    year, month = divmod(index, 12)
    day = min(when.day, calendar.monthrange(year, month + 1)[1])
    return when.replace(year=year, month=month + 1, day=day)
