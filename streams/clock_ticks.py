"""The scheduler: one ``ClockTick`` a day for every member, so time-driven rules fall due.

``loyalty run`` sends them each day at ``tick_hour_utc``; the tick's id names
the member and the day, so sending a day's ticks again (a restart) changes
nothing. Members are the enrolled ones the analytics store knows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sinks.clickhouse import ClickHouseStore

SCHEDULER = "scheduler"


def enrolled_members(store: ClickHouseStore) -> list[str]:
    rows = store.rows("SELECT DISTINCT member_id FROM $db.activity WHERE event_type = 'enrolled' ORDER BY member_id")
    return [row["member_id"] for row in rows]


def tick_events(members: list[str], at: datetime) -> list[tuple[bytes, dict[str, Any]]]:
    """The day's ticks as input messages (key = source)."""
    day = at.date().isoformat()
    return [(SCHEDULER.encode(), {"event_id": f"tick:{member}:{day}", "occurred_at": at, "source": SCHEDULER,
                                  "member_id": member, "card_token": None, "body": ("loyalty.v1.ClockTick", {})})
            for member in members]


class DailyTicks:
    """Says when the day's ticks are due: once per UTC day, from ``hour`` on, and again after a failed send."""

    RETRY_AFTER = timedelta(minutes=1)

    def __init__(self, hour: int) -> None:
        self._hour = hour
        self._sent_for: str | None = None
        self._retry_at: datetime | None = None

    def due(self, now: datetime) -> bool:
        now = now.astimezone(UTC)
        day = now.date().isoformat()
        if now.hour < self._hour or self._sent_for == day or (self._retry_at is not None and now < self._retry_at):
            return False
        self._sent_for = day
        return True

    def failed(self, now: datetime) -> None:
        """The ticks due at ``now`` could not be sent: they are due again a minute later."""
        self._sent_for = None
        self._retry_at = now + self.RETRY_AFTER
