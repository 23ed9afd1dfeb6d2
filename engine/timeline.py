"""The readable history of one request: step, lane, who, when, duration against standard."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from engine import decisions
from engine.clock import local, utcnow
from engine.models import TaskRecord
from engine.worktime import OfficeCalendar


@dataclass(frozen=True)
class Row:
    record: TaskRecord
    ready_at: datetime
    completed_at: datetime | None
    duration_seconds: float
    standard_minutes: int | None
    working_seconds: float | None = None  # in office working time, what the standard is measured against

    @property
    def over_standard(self) -> bool:
        measured = self.working_seconds if self.working_seconds is not None else self.duration_seconds
        return self.standard_minutes is not None and measured > self.standard_minutes * 60

    @property
    def decision(self) -> str:
        return decisions.label(self.record.keputusan)


def rows(history: list[TaskRecord], timezone: str, now: datetime | None = None,
         calendar: OfficeCalendar | None = None) -> list[Row]:
    now = now or utcnow()
    return [Row(r, local(r.ready_at, timezone), local(r.completed_at, timezone) if r.completed_at else None,
                ((r.completed_at or now) - r.ready_at).total_seconds(), r.standard_minutes,
                _working(r, now, calendar)) for r in history]


def _working(record: TaskRecord, now: datetime, calendar: OfficeCalendar | None) -> float | None:
    if record.waited_working_seconds is not None:
        return record.waited_working_seconds
    if calendar is None:
        return None
    return calendar.working_seconds(record.ready_at, record.completed_at or now)


def duration_text(seconds: float) -> str:
    seconds = int(round(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days} hr"] if days else []
    if hours:
        parts.append(f"{hours} j")
    if minutes:
        parts.append(f"{minutes} mnt")
    if not days and not hours:
        parts.append(f"{secs} dtk")
    return " ".join(parts)


def text(history: list[TaskRecord], timezone: str, calendar: OfficeCalendar | None = None) -> str:
    """A plain-text table for the command line; durations in working time when known."""
    lines = [f"{'#':>3}  {'Langkah':<34} {'Lane':<30} {'Oleh':<22} {'Selesai':<17} "
             f"{'Durasi / standar':<22} {'Keputusan':<13} Catatan"]
    for row in rows(history, timezone, calendar=calendar):
        r = row.record
        step = f"{r.step_no or '-'}. {r.name}"[:34]
        done = row.completed_at.strftime("%Y-%m-%d %H:%M") if row.completed_at else f"({r.state})"
        std = f"{r.standard_minutes} mnt" if r.standard_minutes is not None else "-"
        mark = " !" if row.over_standard else ""
        measured = row.working_seconds if row.working_seconds is not None else row.duration_seconds
        duration = f"{duration_text(measured)} / {std}{mark}"
        lines.append(f"{r.seq:>3}  {step:<34} {r.lane[:30]:<30} {(r.completed_by or '-')[:22]:<22} {done:<17} "
                     f"{duration:<22} {row.decision:<13} {r.catatan or ''}")
    return "\n".join(lines)
