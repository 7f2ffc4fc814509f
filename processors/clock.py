"""What falls due as time passes: birthday bonuses, expiry of inactive members' points, tier reviews.

Time-driven rules run on a ``ClockTick``, an event like any other (a scheduler
sends each member one a day, with a deterministic id), so they use the tick's
event time, never the wall clock: the same ticks always give the same ledger,
and a test drives time by sending ticks. A tick is not activity.

- Birthday: on the member's birthday (29 February counts as the 28th in other
  years) the ``birthday_bonus_points``, once a year, with a ``birthday`` trigger.
- Expiry, by age or inactivity (see ``expiry``).
- Tier floors: a paid membership's reminder and lapse, an assigned tier's end (see ``memberships``).
- Tier review: at the program's period end, moving down (see ``tiers``).
- Win-back: a member who stopped buying (see ``nudges``).
"""

from __future__ import annotations

import calendar
from datetime import datetime

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
    balance = state.balance
    outputs: list[Output] = []
    if rules.birthday_bonus_points and _is_birthday(state.birthday, event.occurred_at):
        outputs += _birthday(state, event, rules.birthday_bonus_points, rules)
    if rules.expiry is not None and state.balance > 0:
        outputs += expire(state, event, rules)
    if state.tier_floor_until is not None:
        outputs += end_floor(state, event, rules)
    outputs += review_tier(state, event, rules)
    outputs += win_back(state, event, rules)
    outputs.append(Activity(event.event_id, event.member_id, event.occurred_at, "clock_tick", None, None, None, 0,
                            state.balance - balance, None))
    return Decision(state, tuple(outputs))


def _is_birthday(birthday: str | None, when: datetime) -> bool:
    if birthday is None:
        return False
    if birthday == "02-29" and not calendar.isleap(when.year):
        birthday = "02-28"
    return when.strftime("%m-%d") == birthday


def _birthday(state: MemberState, event: ClockTick, points: int, rules: CompiledProgram) -> list[Output]:
    year = event.occurred_at.year
    if state.birthday_paid_year == year:
        return []
    state.birthday_paid_year = year
    event_id, member_id, when = event.event_id, event.member_id, event.occurred_at
    return [
        credit(state, event, rules, LedgerReason.BIRTHDAY, points,
               f"Happy birthday! {format_points(points)} for your birthday in {year}"),
        Trigger(f"{event_id}:birthday", member_id, event_id, when, "birthday",
                f"Happy birthday! We added {format_points(points)} to your account.", {"points": str(points)}),
    ]
