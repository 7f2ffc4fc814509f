"""Time passing, told by clock ticks: birthday bonuses once a year, and inactive members' points expiring."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from builders import Member, club, kr, line

from processors.dates import add_months
from processors.events import ClockTick, MemberEnrolled
from processors.outputs import LedgerReason
from processors.program import Expiry

PROGRAM = club(birthday_bonus_points=50, expiry=Expiry(inactive_months=12, warn_days=14))


def member(birthday: str | None = "05-17", at: datetime = datetime(2024, 3, 1, 12, tzinfo=UTC)) -> Member:
    someone = Member(PROGRAM, "bea", at)
    someone.apply(MemberEnrolled("enrol-bea", "bea", at, "app", "app", birthday, None))  # type: ignore[arg-type]
    return someone


def tick(someone: Member, day: datetime) -> None:
    someone.now = day
    someone.apply(ClockTick(f"tick:bea:{day.date()}", "bea", day, "scheduler"))


def test_the_birthday_bonus_comes_on_the_birthday_once_a_year() -> None:
    bea = member()

    for day in (16, 17, 17, 18):
        tick(bea, datetime(2024, 5, day, 6, tzinfo=UTC))
    tick(bea, datetime(2025, 5, 17, 6, tzinfo=UTC))

    birthdays = [e for e in bea.ledger if e.reason is LedgerReason.BIRTHDAY]
    assert [(e.points, e.occurred_at.year) for e in birthdays] == [(50, 2024), (50, 2025)]
    assert [t.kind for t in bea.triggers if t.kind == "birthday"] == ["birthday", "birthday"]


def test_a_leap_day_birthday_is_celebrated_on_28_february_in_other_years() -> None:
    bea = member("02-29")

    tick(bea, datetime(2025, 2, 28, 6, tzinfo=UTC))

    assert [e.reason for e in bea.ledger][-1] is LedgerReason.BIRTHDAY


def test_points_expire_after_twelve_months_without_activity_with_a_warning_first() -> None:
    bea = member(None)
    bea.buy(line(kr(500)))  # 100 welcome + 50, last activity 2024-03-01 13:00
    last = bea.now

    tick(bea, datetime(2025, 2, 10, tzinfo=UTC))  # nothing yet
    tick(bea, datetime(2025, 2, 20, tzinfo=UTC))  # 14 days before: a warning
    tick(bea, datetime(2025, 2, 21, tzinfo=UTC))  # warned once only
    tick(bea, add_months(last, 12))

    assert [t.kind for t in bea.triggers if t.kind.startswith("points_")] == ["points_expiring", "points_expired"]
    entry = bea.ledger[-1]
    assert (entry.reason, entry.points, entry.balance_after) == (LedgerReason.EXPIRY, -150, 0)
    assert entry.detail == "150 points expired after 12 months without activity (last on 2024-03-01)"


def test_a_birthday_gift_to_an_inactive_member_is_not_expired_by_the_tick_that_gives_it() -> None:
    bea = member()  # 100 welcome points on 1 March 2024, birthday 17 May, nothing else: inactive from then on
    tick(bea, datetime(2025, 3, 2, 6, tzinfo=UTC))  # 12 months without activity: the 100 expire

    tick(bea, datetime(2025, 5, 17, 6, tzinfo=UTC))  # expiry runs first (nothing left), then the gift of 50

    assert [(e.reason, e.points) for e in bea.ledger[1:]] == [(LedgerReason.EXPIRY, -100),
                                                              (LedgerReason.BIRTHDAY, 50)]
    assert bea.balance == 50


def test_activity_keeps_points_alive_and_a_tick_is_not_activity() -> None:
    bea = member(None)
    tick(bea, datetime(2024, 12, 1, tzinfo=UTC))
    bea.now = datetime(2025, 2, 1, tzinfo=UTC)
    bea.buy(line(kr(100)))

    tick(bea, datetime(2025, 3, 2, tzinfo=UTC))

    assert bea.balance == 110 and bea.state is not None
    assert bea.state.last_activity_at.date().isoformat() == "2025-02-01"


def test_months_are_added_to_the_calendar() -> None:
    assert add_months(datetime(2024, 1, 31, tzinfo=UTC), 1) == datetime(2024, 2, 29, tzinfo=UTC)
    assert add_months(datetime(2024, 11, 30, tzinfo=UTC), 3) == datetime(2025, 2, 28, tzinfo=UTC)


def test_the_scheduler_ticks_once_a_day_from_its_hour_with_ids_naming_member_and_day(tmp_path: Path) -> None:
    from streams.clock_ticks import DailyTicks, tick_events

    ticks = DailyTicks(hour=3, record=tmp_path / "ticked")
    at = [datetime(2026, 11, 24, h, tzinfo=UTC) for h in (1, 3, 4)] + [datetime(2026, 11, 25, 3, 30, tzinfo=UTC)]

    def sent_as_due(now: datetime) -> list[datetime]:
        due = ticks.due(now)
        for tick in due:
            ticks.sent(tick)
        return due

    assert [sent_as_due(now) for now in at] == [[], [at[1]], [], [datetime(2026, 11, 25, 3, tzinfo=UTC)]]
    (key, record), _ = tick_events(["a", "b"], at[1])
    assert (key, record["event_id"]) == (b"scheduler", "tick:a:2026-11-24")
    assert record["body"] == ("loyalty.v1.ClockTick", {})


def test_the_scheduler_ticks_at_its_hour_in_the_programs_time_zone_naming_the_day_there(tmp_path: Path) -> None:
    from zoneinfo import ZoneInfo

    from streams.clock_ticks import DailyTicks, tick_events

    new_york = ZoneInfo("America/New_York")
    ticks = DailyTicks(hour=1, record=tmp_path / "ticked", zone=new_york)

    assert ticks.due(datetime(2026, 3, 15, 4, tzinfo=UTC)) == []  # midnight in New York: before its hour
    [due] = ticks.due(datetime(2026, 3, 15, 5, 30, tzinfo=UTC))  # 01:30 there, daylight saving time since the 8th
    assert due == datetime(2026, 3, 15, 5, tzinfo=UTC)
    ticks.sent(due)
    assert ticks.due(datetime(2026, 3, 15, 23, tzinfo=UTC)) == []  # the 16th in UTC, still the 15th there
    assert tick_events(["a"], due, new_york)[0][1]["event_id"] == "tick:a:2026-03-15"


def test_clickhouse_not_answering_puts_the_ticks_off_a_minute_not_a_day() -> None:
    from streams.clock_ticks import DailyTicks

    ticks = DailyTicks(hour=3)
    now = datetime(2026, 11, 25, 3, tzinfo=UTC)
    ticks.failed(now)
    assert [ticks.due(now + timedelta(seconds=s)) for s in (1, 59, 60)] == [[], [], [now]]


def test_a_scheduler_started_again_ticks_the_days_it_missed_each_at_its_own_hour(tmp_path: Path) -> None:
    from streams.clock_ticks import DailyTicks

    DailyTicks(hour=3, record=tmp_path / "ticked").sent(datetime(2026, 11, 21, 3, tzinfo=UTC))
    again = DailyTicks(hour=3, record=tmp_path / "ticked")

    assert again.due(datetime(2026, 11, 24, 1, tzinfo=UTC)) == [  # before the hour: up to yesterday
        datetime(2026, 11, d, 3, tzinfo=UTC) for d in (22, 23)]
    assert again.due(datetime(2026, 11, 24, 9, tzinfo=UTC))[-1] == datetime(2026, 11, 24, 3, tzinfo=UTC)
    assert len(again.due(datetime(2027, 6, 1, 9, tzinfo=UTC))) == DailyTicks.CATCH_UP_DAYS  # not back to November
    assert DailyTicks(hour=3).due(datetime(2026, 11, 24, 1, tzinfo=UTC)) == []  # a new engine: from its first hour


def test_a_birthday_the_engine_was_down_for_is_paid_on_the_next_tick_once() -> None:
    bea = member()
    tick(bea, datetime(2024, 4, 1, 6, tzinfo=UTC))

    tick(bea, datetime(2024, 6, 20, 6, tzinfo=UTC))  # down from 2 April to 19 June: 17 May passed unticked
    tick(bea, datetime(2024, 6, 21, 6, tzinfo=UTC))
    tick(bea, datetime(2024, 5, 30, 6, tzinfo=UTC))  # an older day's tick, sent late, pays nothing more

    birthdays = [e for e in bea.ledger if e.reason is LedgerReason.BIRTHDAY]
    assert [(e.points, e.occurred_at.date().isoformat()) for e in birthdays] == [(50, "2024-06-20")]
    assert birthdays[0].detail == "Happy birthday! 50 points for your birthday in 2024"


def test_a_birthday_before_the_first_tick_is_not_owed() -> None:
    bea = member("03-01")  # joined on her birthday, before the engine ticked for her

    tick(bea, datetime(2024, 3, 2, 6, tzinfo=UTC))

    assert LedgerReason.BIRTHDAY not in [e.reason for e in bea.ledger]


def test_a_birthday_missed_over_new_year_is_paid_for_its_own_year() -> None:
    bea = member("12-30")
    tick(bea, datetime(2024, 12, 20, 6, tzinfo=UTC))

    tick(bea, datetime(2025, 1, 10, 6, tzinfo=UTC))  # 30 December 2024 passed unticked
    tick(bea, datetime(2025, 12, 30, 6, tzinfo=UTC))

    birthdays = [e for e in bea.ledger if e.reason is LedgerReason.BIRTHDAY]
    assert [(e.occurred_at.date().isoformat(), e.detail[-4:]) for e in birthdays] == [
        ("2025-01-10", "2024"), ("2025-12-30", "2025")]
