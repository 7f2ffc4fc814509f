"""What falls due as time passes: birthday bonuses, expiry of inactive members' points, tier reviews.

Time-driven rules run on a ``ClockTick``, an event like any other (a scheduler
sends each member one a day, with a deterministic id), so they use the tick's
event time, never the wall clock: the same ticks always give the same ledger,
and a test drives time by sending ticks. A tick is not activity.

- Expiry, by age or inactivity (see ``expiry``), first: a birthday gift the
  same tick gives is not expired with the points that were due.
- Birthday: on the member's birthday (29 February counts as the 28th in other
  years) the ``birthday_bonus_points``, once a year, with a ``birthday`` trigger.
  A birthday that fell between two ticks days apart (the engine was down longer
  than the scheduler catches up) is paid on the later one: the member's state
  keeps the day of its last tick.
- Tier floors: a paid membership's reminder and lapse, an assigned tier's end (see ``memberships``).
- Tier review: at the program's period end, moving down (see ``tiers``).
- Win-back: a member who stopped buying (see ``nudges``).
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

from processors.compiled import CompiledProgram
from processors.events import ClockTick
from processors.expiry import expire
from processors.memberships import end_floor
from processors.money import format_points
from processors.nudges import win_back
from processors.outputs import Activity, Decision, LedgerReason, Output, Trigger
from processors.points import credit
from processors.state import MemberState
from processors.tiers import review_tier


def tick(state: MemberState, event: ClockTick, rules: CompiledProgram) -> Decision:
    """What falls due at the tick, and an activity row like every accepted event has (with the net points)."""
    balance, today = state.balance, rules.local(event.occurred_at).date()
    outputs: list[Output] = []
    if rules.expiry is not None and state.balance > 0:  # first: a birthday gift is not taken as it is given
        outputs += expire(state, event, rules)
    if rules.birthday_bonus_points and state.birthday is not None:
        year = _birthday_since(state.birthday, state.last_tick_on, today)
        if year is not None and year != state.birthday_paid_year:
            outputs += _birthday(state, event, year, rules.birthday_bonus_points, rules)
    if today.isoformat() > state.last_tick_on:
        state.last_tick_on = today.isoformat()
    if state.tier_floor_until is not None:
        outputs += end_floor(state, event, rules)
    outputs += review_tier(state, event, rules)
    outputs += win_back(state, event, rules)
    outputs.append(Activity(event.event_id, event.member_id, event.occurred_at, "clock_tick", None, None, None, 0,
                            state.balance - balance, None))
    return Decision(state, tuple(outputs))


def _birthday_since(birthday: str, last_tick_on: str, today: date) -> int | None:
    """The year of the member's birthday after the day of their last tick, up to ``today``; with no tick before,
    only a birthday today counts (a member's birthdays before the engine ticked for them are not owed).
    """
    month, day = int(birthday[:2]), int(birthday[3:])
    for year in (today.year, today.year - 1):
        celebrated = date(year, month, 28 if (month, day) == (2, 29) and not calendar.isleap(year) else day)
        if celebrated <= today:
            since = date.fromisoformat(last_tick_on) if last_tick_on else today - timedelta(days=1)
            return year if celebrated > since else None
    return None


def _birthday(state: MemberState, event: ClockTick, year: int, points: int, rules: CompiledProgram) -> list[Output]:
    state.birthday_paid_year = year
    event_id, member_id, when = event.event_id, event.member_id, event.occurred_at
    return [
        credit(state, event, rules, LedgerReason.BIRTHDAY, points,
               f"Happy birthday! {format_points(points)} for your birthday in {year}"),
        Trigger(f"{event_id}:birthday", member_id, event_id, when, "birthday",
                f"Happy birthday! We added {format_points(points)} to your account.", {"points": str(points)}),
    ]
