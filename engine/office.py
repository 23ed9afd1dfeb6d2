"""The office calendar as a service: built from settings and the admin's stored changes, cached.

Admins add days off (cuti bersama, local holidays) and turn national holidays into working
days; each change is one row of `calendar_days` and one audit event. Every process keeps
the calendar cached and rebuilds it when the table's stamp (row count, newest change)
differs, so a change made in one worker is seen by all at their next command.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.actors import Actor
from engine.clock import utcnow
from engine.db import Database
from engine.errors import Forbidden, InvalidData, NotFound
from engine.models import CalendarChanges, CalendarDay, TaskRecord
from engine.settings import Settings
from engine.uow import CALENDAR_STAMP, CALENDAR_STAMP_COLUMNS, UnitOfWork, unit_of_work
from engine.worktime import OfficeCalendar, national_holidays, parse_office_hours

LIBUR, MASUK = "libur", "masuk"
SESSION_KEY = "alur_calendar"  # the calendar one session (one command) has already checked


@dataclass(frozen=True)
class DayEntry:
    """One non-ordinary day of a year as the holidays page shows it."""

    day: date
    name: str
    source: str  # nasional | admin
    kind: str  # libur (a day off) | masuk (a national holiday the office works on)


class CalendarCache:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.hours = parse_office_hours(settings.office_hours)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._calendar: OfficeCalendar | None = None

    def get(self, session: Session) -> OfficeCalendar:
        """Checked against the table once per session (one command): a step asks for it several times."""
        seen = session.info.get(SESSION_KEY)
        if seen is not None:
            return seen  # type: ignore[no-any-return]
        stamp = session.info.get(CALENDAR_STAMP) or tuple(session.execute(select(*CALENDAR_STAMP_COLUMNS)).one())
        calendar = self._current(session, stamp)  # type: ignore[arg-type]
        session.info[SESSION_KEY] = calendar
        return calendar

    def _current(self, session: Session, stamp: tuple[int, int]) -> OfficeCalendar:
        with self._lock:
            if self._calendar is not None and self._stamp == stamp:
                return self._calendar
        rows = list(session.scalars(select(CalendarDay)))
        calendar = OfficeCalendar(
            hours=self.hours, timezone=self.settings.timezone,
            extra_holidays={r.day: r.name for r in rows if r.kind == LIBUR},
            working_days=frozenset(r.day for r in rows if r.kind == MASUK))
        with self._lock:
            self._calendar, self._stamp = calendar, stamp  # type: ignore[assignment]
        return calendar

    def invalidate(self) -> None:
        with self._lock:
            self._calendar = self._stamp = None


def year_days(session: Session, year: int) -> list[DayEntry]:
    """National holidays and the admin's changes of one year, by date."""
    changes = {r.day: r for r in session.scalars(select(CalendarDay).where(
        CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31)))}
    entries = [DayEntry(d, n, "nasional", MASUK if d in changes and changes[d].kind == MASUK else LIBUR)
               for d, n in national_holidays(year).items()]
    entries += [DayEntry(r.day, r.name, "admin", LIBUR) for r in changes.values() if r.kind == LIBUR]
    return sorted(entries, key=lambda e: (e.day, e.source))


def check_admin(is_admin: bool) -> None:
    if not is_admin:
        raise Forbidden("hanya admin yang boleh mengubah kalender kantor")


def parse_day(text: str | None, field: str = "tanggal") -> date:
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        raise InvalidData(f"{field} harus tanggal yang ada, berformat YYYY-MM-DD (bukan '{text or ''}')",
                          field) from None


def add_holiday(session: Session, day: date, name: str, actor: str) -> CalendarDay:
    """A day off the office adds (cuti bersama, a local holiday)."""
    name = (name or "").strip()
    if not 0 < len(name) <= 200:
        raise InvalidData("nama hari libur harus diisi (paling banyak 200 karakter)", "nama")
    existing = session.get(CalendarDay, day)
    if existing is not None and existing.kind == LIBUR:
        raise InvalidData(f"tanggal {day.isoformat()} sudah hari libur tambahan '{existing.name}'", "tanggal")
    if national_holidays(day.year).get(day) and existing is None:
        raise InvalidData(f"tanggal {day.isoformat()} sudah libur nasional", "tanggal")
    if existing is not None:
        session.delete(existing)
        session.flush()
    row = CalendarDay(day=day, kind=LIBUR, name=name, created_by=actor, created_at=utcnow())
    session.add(row)
    return row


def work_on_holiday(session: Session, day: date, actor: str) -> CalendarDay:
    """Turn a national holiday into a working day (the office works on it)."""
    name = national_holidays(day.year).get(day)
    if name is None:
        raise InvalidData(f"tanggal {day.isoformat()} bukan libur nasional", "tanggal")
    if session.get(CalendarDay, day) is not None:
        raise InvalidData(f"tanggal {day.isoformat()} sudah diubah; hapus perubahannya dulu", "tanggal")
    row = CalendarDay(day=day, kind=MASUK, name=name, created_by=actor, created_at=utcnow())
    session.add(row)
    return row


def changed(uow: UnitOfWork) -> None:
    """Count a change of the calendar, in its transaction: every server's cache sees the new count."""
    uow.insert_ignore(CalendarChanges, id=1, changes=0)
    uow.session.execute(update(CalendarChanges).where(CalendarChanges.id == 1)
                        .values(changes=CalendarChanges.changes + 1))


def remove_change(session: Session, day: date) -> CalendarDay:
    """Undo the admin's change of a day: an added holiday goes, a national one comes back."""
    row = session.get(CalendarDay, day)
    if row is None:
        raise NotFound(f"tidak ada perubahan kalender pada {day.isoformat()}")
    session.delete(row)
    return row


def close_task(record: TaskRecord, state: str, now: datetime, calendar: OfficeCalendar) -> None:
    """End an activation: completed or cancelled, with its waiting time in working seconds."""
    record.state, record.completed_at = state, now
    record.waited_working_seconds = calendar.working_seconds(record.ready_at, now)


def due_at(ready_at: datetime, standard_minutes: int | None, calendar: OfficeCalendar) -> datetime | None:
    """The step's standard counted in working time from when it became ready."""
    if standard_minutes is None:
        return None
    return calendar.add_working(ready_at, standard_minutes * 60)


def backfill_waiting(session: Session, calendar: OfficeCalendar, batch: int = 2000) -> int:
    """Working waiting time for finished activations recorded before it existed; one batch, returns its size."""
    rows = session.execute(select(TaskRecord.id, TaskRecord.ready_at, TaskRecord.completed_at).where(
        TaskRecord.completed_at.is_not(None), TaskRecord.waited_working_seconds.is_(None)).limit(batch)).all()
    if rows:
        session.execute(update(TaskRecord), [
            {"id": r.id, "waited_working_seconds": calendar.working_seconds(r.ready_at, r.completed_at)}
            for r in rows])
    return len(rows)


class Office:
    """The office calendar for the other services: the cached calendar and the admin's changes to it."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.cache = CalendarCache(settings)

    @property
    def hours(self) -> dict[int, tuple[time, time]]:
        return self.cache.hours

    def calendar(self, session: Session | None = None) -> OfficeCalendar:
        """In the caller's transaction when given (commands), else in a read of its own."""
        if session is not None:
            return self.cache.get(session)
        with unit_of_work(self.db, write=False) as uow:
            return self.cache.get(uow.session)

    def days(self, year: int) -> list[DayEntry]:
        with unit_of_work(self.db, write=False) as uow:
            return year_days(uow.session, year)

    def add_holiday(self, day: date, name: str, actor: Actor) -> None:
        """An extra day off (cuti bersama, a local holiday); due times already computed stay as they are."""
        check_admin(actor.is_admin)
        with unit_of_work(self.db) as uow:
            row = add_holiday(uow.session, day, name, actor.username)
            changed(uow)
            uow.audit(actor.username, "calendar_holiday_added", utcnow(), day=day.isoformat(), name=row.name)
        self.cache.invalidate()

    def work_on_holiday(self, day: date, actor: Actor) -> None:
        check_admin(actor.is_admin)
        with unit_of_work(self.db) as uow:
            row = work_on_holiday(uow.session, day, actor.username)
            changed(uow)
            uow.audit(actor.username, "calendar_working_day", utcnow(), day=day.isoformat(), name=row.name)
        self.cache.invalidate()

    def remove_change(self, day: date, actor: Actor) -> None:
        check_admin(actor.is_admin)
        with unit_of_work(self.db) as uow:
            row = remove_change(uow.session, day)
            changed(uow)
            uow.audit(actor.username, "calendar_change_removed", utcnow(), day=day.isoformat(), jenis=row.kind,
                      name=row.name)
        self.cache.invalidate()

    def backfill(self) -> int:
        """Working waiting time of activations finished before it was recorded; returns how many were filled."""
        total = 0
        while True:
            with unit_of_work(self.db) as uow:
                done = backfill_waiting(uow.session, self.cache.get(uow.session))
            total += done
            if not done:
                return total
