"""Time in one place: UTC, naive, stored as is; shown in the office's time zone."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_fixed: datetime | None = None


def utcnow() -> datetime:
    """Now, naive UTC; the fixed moment while a test holds `fixed_clock`."""
    if _fixed is not None:
        return _fixed
    return datetime.now(UTC).replace(tzinfo=None)


def set_now(moment: datetime | None) -> None:
    """Fix the clock at `moment` (naive UTC) for this process, or let it run again with None."""
    global _fixed
    _fixed = moment


@contextmanager
def fixed_clock(moment: datetime) -> Iterator[None]:
    previous = _fixed
    set_now(moment)
    try:
        yield
    finally:
        set_now(previous)


def local(moment: datetime, timezone: str) -> datetime:
    return moment.replace(tzinfo=UTC).astimezone(ZoneInfo(timezone))


def day_start_utc(day: date, timezone: str) -> datetime:
    """Midnight of a calendar day in the office's time zone, as naive UTC (how moments are stored)."""
    try:
        return datetime.combine(day, time(), ZoneInfo(timezone)).astimezone(UTC).replace(tzinfo=None)
    except OverflowError:  # the first or last day of the calendar
        return datetime.min if day.year == 1 else datetime.max


def days_utc(first: date | None, last: date | None, timezone: str) -> tuple[datetime | None, datetime | None]:
    """[start of `first`, start of the day after `last`) in naive UTC; None where open."""
    start = day_start_utc(first, timezone) if first else None
    if last is None or last == date.max:
        return start, None
    return start, day_start_utc(last + timedelta(days=1), timezone)
