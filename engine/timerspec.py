"""BPMN timers as Alur reads them: ISO 8601 text parsed here, never evaluated as Python.

Camunda Modeler writes a timer as plain text in `timeDate` (a date-time), `timeDuration`
(`PT2H`, `P1D`) or `timeCycle` (`R3/PT1H`, `R/2026-12-07T08:00/P7D`). SpiffWorkflow would
hand that text to the script engine (eval) and compare with the machine's clock; Alur's
timer event definitions instead fire only when the scheduler marks them (engine/timers.py),
and the due time is computed here, in wall time or in office working time when the event
carries the camunda:property `waktu_kerja=true`.
"""

from __future__ import annotations

import calendar as month_calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.specs.defaults import BoundaryEvent, IntermediateCatchEvent, StartEvent
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
)
from SpiffWorkflow.camunda.parser import CamundaParser
from SpiffWorkflow.camunda.parser.event_parsers import (
    CamundaBoundaryEventParser,
    CamundaIntermediateCatchEventParser,
    CamundaStartEventParser,
)

from engine.worktime import OfficeCalendar

WORKING_TIME_PROPERTY = "waktu_kerja"
_DURATION = re.compile(
    r"^P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:[.,]\d+)?)S)?)?$")
_CYCLE = re.compile(r"^R(?P<count>\d*)/(?P<rest>.+)$")
MAX_CYCLE_STEPS = 100_000


class TimerError(ValueError):
    """Timer text Alur cannot run; the message is for the process owner."""


@dataclass(frozen=True)
class Duration:
    years: int = 0
    months: int = 0
    weeks: int = 0
    days: int = 0
    hours: int = 0
    minutes: int = 0
    seconds: float = 0.0

    @property
    def clock_seconds(self) -> float:
        return self.hours * 3600 + self.minutes * 60 + self.seconds

    def after(self, start: datetime, calendar: OfficeCalendar | None = None) -> datetime:
        """`start` plus this duration: wall time, or working time (days and weeks as working days)."""
        if calendar is not None:
            moment = start
            if self.weeks or self.days:
                moment = calendar.add_working_days(moment, self.weeks * 5 + self.days)
            return calendar.add_working(moment, self.clock_seconds)
        moment = _add_months(start, self.years * 12 + self.months)
        return moment + timedelta(weeks=self.weeks, days=self.days, seconds=self.clock_seconds)


def _add_months(moment: datetime, months: int) -> datetime:
    if not months:
        return moment
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, month_calendar.monthrange(year, month)[1]))


def parse_duration(text: str) -> Duration:
    match = _DURATION.match(text.strip().upper())
    if not match:
        raise TimerError(f"durasi '{text}' bukan durasi ISO 8601 (contoh: PT2H, P1D, PT30M)")
    parts = {k: v for k, v in match.groupdict().items() if v is not None}
    seconds = float(parts.pop("seconds", "0").replace(",", "."))
    duration = Duration(seconds=seconds, **{k: int(v) for k, v in parts.items()})
    if duration == Duration():
        raise TimerError(f"durasi '{text}' nol")
    return duration


def parse_datetime(text: str, timezone: str) -> datetime:
    """An ISO 8601 date-time as naive UTC; without an offset it is the office's local time."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        raise TimerError(f"tanggal-waktu '{text}' bukan ISO 8601 (contoh: 2026-12-01T08:00:00+07:00)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return moment.astimezone(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class TimerText:
    """Parsed timer text: one date, one duration, or a cycle of a duration (from a start, maybe)."""

    kind: str  # date | duration | cycle
    at: datetime | None = None
    duration: Duration | None = None
    repeats: int = 1  # cycles in all; -1: without end

    def first_due(self, now: datetime, calendar: OfficeCalendar | None) -> datetime:
        if self.kind == "date":
            return self.at  # type: ignore[return-value]
        if self.kind == "cycle" and self.at is not None:
            return self.next_due(self.at, now, calendar) if self.at < now else self.at
        return self.duration.after(now, calendar)  # type: ignore[union-attr]

    def next_due(self, previous: datetime, now: datetime, calendar: OfficeCalendar | None) -> datetime:
        """The first moment of the cycle after `now`, stepping from `previous` (missed ones are skipped)."""
        moment = self.duration.after(previous, calendar)  # type: ignore[union-attr]
        for _ in range(MAX_CYCLE_STEPS):
            if moment > now:
                return moment
            moment = self.duration.after(moment, calendar)  # type: ignore[union-attr]
        return self.duration.after(now, calendar)  # type: ignore[union-attr]


def parse_timer(kind: str, text: str, timezone: str, working: bool = False) -> TimerText:
    """Check timer text of `timeDate`, `timeDuration` or `timeCycle`; raise TimerError saying why not."""
    text = (text or "").strip()
    if not text:
        raise TimerError("teks timer kosong")
    if len(text) > 200:
        raise TimerError("teks timer lebih dari 200 karakter")
    if "$" in text or "#" in text:
        raise TimerError(f"ekspresi '{text}' tidak didukung: tulis teks ISO 8601 langsung")
    if kind == "date":
        return TimerText("date", at=parse_datetime(text, timezone))
    if kind == "duration":
        duration = parse_duration(text)
        _check_working(duration, working, text)
        return TimerText("duration", duration=duration)
    match = _CYCLE.match(text.upper())
    if not match:
        raise TimerError(f"siklus '{text}' bukan pengulangan ISO 8601 (contoh: R3/PT1H, "
                         "R/2026-12-07T08:00/P7D); ekspresi cron tidak didukung")
    parts = match["rest"].split("/")
    if len(parts) == 1:
        start, duration = None, parse_duration(parts[0])
    elif len(parts) == 2 and not parts[0].startswith("P"):
        start, duration = parse_datetime(text.split("/")[1], timezone), parse_duration(parts[1])
    else:
        raise TimerError(f"siklus '{text}': tulis R[n]/durasi atau R[n]/tanggal-mulai/durasi")
    _check_working(duration, working, text)
    repeats = int(match["count"]) if match["count"] else -1
    if repeats == 0:
        raise TimerError(f"siklus '{text}' tidak pernah berulang (R0)")
    return TimerText("cycle", at=start, duration=duration, repeats=repeats)


def _check_working(duration: Duration, working: bool, text: str) -> None:
    if working and (duration.years or duration.months):
        raise TimerError(f"durasi '{text}': bulan dan tahun tidak dapat dihitung dalam waktu kerja "
                         "(pakai hari: P20D)")


@dataclass(frozen=True)
class TimerEvent:
    """A timer event of a diagram, as the scheduler needs it."""

    id: str
    name: str
    event: str  # start | boundary | catch
    kind: str  # date | duration | cycle
    expression: str
    working_time: bool
    attached_to: str | None = None
    interrupting: bool = True

    def parse(self, timezone: str) -> TimerText:
        return parse_timer(self.kind, self.expression, timezone, self.working_time)


# ---- SpiffWorkflow: timers that fire when the scheduler says so ---------------------------


class _ScheduledFire:
    def has_fired(self, my_task) -> bool:  # type: ignore[no-untyped-def]
        return my_task._get_internal_data("event_fired", False)


class ScheduledDate(_ScheduledFire, TimeDateEventDefinition):
    pass


class ScheduledDuration(_ScheduledFire, DurationTimerEventDefinition):
    pass


class ScheduledCycle(CycleTimerEventDefinition):
    """A cycle spawns one pass of its path each time the scheduler marks it due; it never ends itself."""

    def cycle_complete(self, my_task) -> bool:  # type: ignore[no-untyped-def]
        return bool(my_task.internal_data.pop("alur_cycle_due", False))


SCHEDULED = (ScheduledDate, ScheduledDuration, ScheduledCycle)
_OURS = {TimeDateEventDefinition: ScheduledDate, DurationTimerEventDefinition: ScheduledDuration,
         CycleTimerEventDefinition: ScheduledCycle}


class _TimerParsing:
    def parse_timer_event(self, event):  # type: ignore[no-untyped-def]
        definition = super().parse_timer_event(event)  # type: ignore[misc]
        ours = _OURS[type(definition)]
        return ours(definition.name, definition.expression, description=definition.description)


class _StartParser(CamundaStartEventParser):
    """Inside an instance a timer start event only passes: its schedule is the scheduler's (start timers)."""

    def parse_timer_event(self, event):  # type: ignore[no-untyped-def]
        definition = super().parse_timer_event(event)
        return ScheduledDate(definition.name, definition.expression, description=definition.description)


class _CatchParser(_TimerParsing, CamundaIntermediateCatchEventParser):
    pass


class _BoundaryParser(_TimerParsing, CamundaBoundaryEventParser):
    pass


class AlurParser(CamundaParser):
    """The Camunda parser with Alur's scheduled timers."""

    OVERRIDE_PARSER_CLASSES = {
        **CamundaParser.OVERRIDE_PARSER_CLASSES,
        full_tag("startEvent"): (_StartParser, StartEvent),
        full_tag("intermediateCatchEvent"): (_CatchParser, IntermediateCatchEvent),
        full_tag("boundaryEvent"): (_BoundaryParser, BoundaryEvent),
    }

