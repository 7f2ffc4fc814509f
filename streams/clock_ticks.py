"""The scheduler: one ``ClockTick`` a day for every member, so time-driven rules fall due.

``loyalty run`` sends them each day at ``tick_hour`` in the program's time zone
(just after its midnight, when expiry and birthdays fall due there), and at its
start those of the days it was down; the tick's id names the member and the day,
so sending a day's ticks again changes nothing. Members are the enrolled ones the
analytics store knows.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any

from sinks.clickhouse import ClickHouseStore

SCHEDULER = "scheduler"
TICKS_RECORD = "clock-ticks-sent"  # in the data directory: the last day ticked


def enrolled_members(store: ClickHouseStore) -> list[str]:
    rows = store.rows("SELECT DISTINCT member_id FROM $db.activity WHERE event_type = 'enrolled' ORDER BY member_id")
    return [row["member_id"] for row in rows]


def tick_events(members: list[str], at: datetime, zone: tzinfo = UTC) -> list[tuple[bytes, dict[str, Any]]]:
    """The day's ticks as input messages (key = source); the day is ``at``'s in ``zone``, the program's."""
    day = at.astimezone(zone).date().isoformat()
    return [(SCHEDULER.encode(), {"event_id": f"tick:{member}:{day}", "occurred_at": at, "source": SCHEDULER,
                                  "member_id": member, "card_token": None, "body": ("loyalty.v1.ClockTick", {})})
            for member in members]


class DailyTicks:
    """Says which days' ticks are due: each day's (in ``zone``, the program's) from ``hour`` there on, and the
    days missed while the engine was down, so that no birthday or expiry date passes unseen.

    The last day ticked is kept in ``record`` (a file), and a day's tick is at
    ``hour`` on that day, whenever it is sent: a day sent again is the same
    events, which change nothing. Catching up goes back ``CATCH_UP_DAYS`` at most: the rules
    make up for older days themselves (a birthday since a member's last tick is paid on
    the next, points overdue expire on it).
    """

    RETRY_AFTER = timedelta(minutes=1)
    CATCH_UP_DAYS = 31

    def __init__(self, hour: int, record: Path | None = None, zone: tzinfo = UTC) -> None:
        self._hour = hour
        self._zone = zone
        self._record = record
        self._last_sent: date | None = None
        if record is not None and record.exists():
            self._last_sent = date.fromisoformat(record.read_text().strip())
        self._retry_at: datetime | None = None

    def due(self, now: datetime) -> list[datetime]:
        """The tick times due at ``now``, oldest first: one for each day not ticked yet."""
        now = now.astimezone(self._zone)
        if self._retry_at is not None and now < self._retry_at:
            return []
        latest = now.date() if now.hour >= self._hour else now.date() - timedelta(days=1)
        first = latest if self._last_sent is None else self._last_sent + timedelta(days=1)
        first = max(first, latest - timedelta(days=self.CATCH_UP_DAYS - 1))
        if self._last_sent is None and now.hour < self._hour:  # a new engine starts ticking from its first tick hour
            return []
        return [datetime.combine(first + timedelta(days=n), time(self._hour), self._zone).astimezone(UTC)
                for n in range((latest - first).days + 1)]

    def sent(self, at: datetime) -> None:
        """The ticks at ``at`` are on the broker."""
        self._last_sent = at.astimezone(self._zone).date()
        self._retry_at = None
        if self._record is not None:
            self._record.write_text(self._last_sent.isoformat())

    def failed(self, now: datetime) -> None:
        """The ticks due at ``now`` could not be sent: they are due again a minute later."""
        self._retry_at = now + self.RETRY_AFTER
