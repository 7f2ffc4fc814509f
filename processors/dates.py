"""Calendar arithmetic the rules share."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_ms(when: datetime) -> int:
    """Milliseconds since the epoch, rounded down (``when`` must be aware).

    Exactly ``(when - epoch) // timedelta(milliseconds=1)``, from the timedelta's
    parts, which is cheaper: dividing timedeltas goes through their microseconds
    as big integers, and every applied event's id is remembered with this.
    """
    delta = when - _EPOCH
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def from_epoch_ms(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


def add_months(when: datetime, months: int, day: int = 0) -> datetime:
    """The same day (or ``day``) ``months`` later, the month's last day where it is shorter.

    ``day`` keeps a run of months on the day it started: 31 January + 1 month is 28 February, and 28 February
    + 1 month on day 31 is 31 March, where 28 February + 1 month is 28 March.
    """
    index = when.year * 12 + when.month - 1 + months
    year, month = divmod(index, 12)
    day = min(day or when.day, calendar.monthrange(year, month + 1)[1])
    return when.replace(year=year, month=month + 1, day=day)
