"""Working time: the office's hours, Indonesia's national holidays and the admin's changes to them.

Durations and due times of steps are measured in working time (a request arriving at 15:55
on Thursday is not overdue by Friday morning). Moments come and go as naive UTC, like every
moment Alur stores; the calendar works in the office's time zone inside.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import holidays as holiday_data

from engine.errors import InvalidData

if TYPE_CHECKING:
    from engine.diagram import SopModel
    from engine.models import TaskRecord

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HARI = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
_RANGE = re.compile(r"^(?P<first>[a-z]{3})(?:-(?P<last>[a-z]{3}))?\s+(?P<open>\d{1,2}:\d{2})-(?P<close>\d{1,2}:\d{2})$")
MAX_DAYS_SCANNED = 3700  # ten years: no real span of work is longer, and a loop must end


def parse_office_hours(text: str) -> dict[int, tuple[time, time]]:
    """'Mon-Thu 07:30-16:00, Fri 07:30-16:30' -> {weekday: (open, close)}; a clear error otherwise."""
    hours: dict[int, tuple[time, time]] = {}
    for part in (p.strip().lower() for p in text.split(",")):
        if not part:
            continue
        match = _RANGE.match(part)
        if not match or match["first"] not in WEEKDAYS or (match["last"] and match["last"] not in WEEKDAYS):
            raise InvalidData(f"jam kerja '{part}' tidak dikenali (contoh: 'Mon-Thu 07:30-16:00')",
                              "ALUR_OFFICE_HOURS")
        try:
            opens, closes = time.fromisoformat(match["open"].zfill(5)), time.fromisoformat(match["close"].zfill(5))
        except ValueError:
            raise InvalidData(f"jam '{part}' tidak valid", "ALUR_OFFICE_HOURS") from None
        if opens >= closes:
            raise InvalidData(f"jam buka harus sebelum jam tutup: '{part}'", "ALUR_OFFICE_HOURS")
        first = WEEKDAYS.index(match["first"])
        last = WEEKDAYS.index(match["last"]) if match["last"] else first
        for weekday in range(first, last + 1):
            hours[weekday] = (opens, closes)
    if not hours:
        raise InvalidData("jam kerja kosong", "ALUR_OFFICE_HOURS")
    return hours


@lru_cache(maxsize=64)
def national_holidays(year: int) -> dict[date, str]:
    """Indonesia's national holidays of one year (from the `holidays` package), named in Indonesian."""
    found = holiday_data.country_holidays("ID", years=year, language="id")
    return {day: str(name) for day, name in found.items()}


@dataclass(frozen=True)
class OfficeCalendar:
    """When the office works. `extra_holidays` add days off; `working_days` cancel a national holiday."""

    hours: dict[int, tuple[time, time]]
    timezone: str
    extra_holidays: dict[date, str] = field(default_factory=dict)
    working_days: frozenset[date] = frozenset()
    # Filled as days are asked for: each day's hours, and per year the working seconds before each day.
    _spans: dict[date, tuple[datetime, datetime] | None] = field(default_factory=dict, compare=False, repr=False)
    _prefix: dict[int, list[float]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def holiday(self, day: date) -> str | None:
        """The name of the holiday on `day`, or None when it is no holiday (after the admin's changes)."""
        if day in self.extra_holidays:
            return self.extra_holidays[day]
        if day in self.working_days:
            return None
        return national_holidays(day.year).get(day)

    def open_hours(self, day: date) -> tuple[datetime, datetime] | None:
        """Opening and closing of a local day as naive UTC, or None on a day off."""
        if day in self._spans:
            return self._spans[day]
        span = self.hours.get(day.weekday())
        found = None
        if span is not None and self.holiday(day) is None:
            zone = self.zone
            found = (datetime.combine(day, span[0], zone).astimezone(UTC).replace(tzinfo=None),
                     datetime.combine(day, span[1], zone).astimezone(UTC).replace(tzinfo=None))
        self._spans[day] = found
        return found

    def _day_seconds(self, day: date) -> float:
        span = self.open_hours(day)
        return (span[1] - span[0]).total_seconds() if span else 0.0

    def _whole_days(self, first: date, last: date) -> float:
        """Working seconds of the whole days first..last (inclusive), from per-year running sums."""
        total = 0.0
        for year in range(first.year, last.year + 1):
            prefix = self._prefix.get(year)
            if prefix is None:
                prefix, day, running = [0.0], date(year, 1, 1), 0.0
                while day.year == year:
                    running += self._day_seconds(day)
                    prefix.append(running)
                    day += timedelta(days=1)
                self._prefix[year] = prefix
            lo = (first - date(year, 1, 1)).days if year == first.year else 0
            hi = (last - date(year, 1, 1)).days + 1 if year == last.year else len(prefix) - 1
            total += prefix[hi] - prefix[lo]
        return total

    def _local_date(self, moment: datetime) -> date:
        return moment.replace(tzinfo=UTC).astimezone(self.zone).date()

    def working_seconds(self, start: datetime, end: datetime) -> int:
        """Working seconds between two naive-UTC moments (0 when end is not after start)."""
        if end <= start:
            return 0
        first, last = self._local_date(start), self._local_date(end)
        total = 0.0
        for day in {first, last}:
            span = self.open_hours(day)
            if span is not None:
                lo, hi = max(span[0], start), min(span[1], end)
                if hi > lo:
                    total += (hi - lo).total_seconds()
        if (last - first).days > 1:
            total += self._whole_days(first + timedelta(days=1), last - timedelta(days=1))
        return int(total)

    def add_working(self, start: datetime, seconds: float) -> datetime:
        """The naive-UTC moment `seconds` of working time after `start`, always inside office hours.

        Time used up exactly at closing gives the next opening: overdue starts when work could go on.
        """
        remaining = max(0.0, float(seconds))
        day = self._local_date(start)
        for _ in range(MAX_DAYS_SCANNED):
            span = self.open_hours(day)
            if span is not None and span[1] > start:
                lo = max(span[0], start)
                available = (span[1] - lo).total_seconds()
                # exactly used up at closing: due at the next opening, the same point of working time
                if remaining < available or remaining == 0:
                    return lo + timedelta(seconds=remaining)
                remaining -= available
            day += timedelta(days=1)
        raise InvalidData("kalender kantor tidak punya hari kerja dalam sepuluh tahun", "kalender")

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The same working-time position `days` working days later (end of that day when past its close)."""
        begin = self.add_working(start, 0)  # outside hours: from the next opening
        local_begin = begin.replace(tzinfo=UTC).astimezone(self.zone)
        day, counted = local_begin.date(), 0
        for _ in range(MAX_DAYS_SCANNED):
            if counted == days:
                break
            day += timedelta(days=1)
            if self.open_hours(day) is not None:
                counted += 1
        span = self.open_hours(day)
        if span is None:
            raise InvalidData("kalender kantor tidak punya hari kerja dalam sepuluh tahun", "kalender")
        moment = datetime.combine(day, local_begin.time(), self.zone).astimezone(UTC).replace(tzinfo=None)
        return min(max(moment, span[0]), span[1])

    def working_days_between(self, first: date, last: date) -> Iterable[date]:
        day = first
        while day <= last:
            if self.open_hours(day) is not None:
                yield day
            day += timedelta(days=1)


# ---- the expected end of a request -----------------------------------------------------


def expected_end(model: SopModel, ready: Sequence[TaskRecord], calendar: OfficeCalendar) -> datetime | None:
    """When the request ends (UTC) if every step from the earliest waiting one takes its standard, in office time."""
    numbered = [r for r in ready if r.step_no is not None]
    if not numbered:
        return None
    first = min(numbered, key=lambda r: (r.step_no, r.ready_at))
    minutes = sum(s.standard_minutes or 0 for s in model.steps.values()
                  if s.step_no is not None and s.step_no >= (first.step_no or 0))
    return calendar.add_working(first.ready_at, minutes * 60)
