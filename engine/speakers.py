"""Speakers (narasumber) and their calendar: the registry, engagements and the one-booking rule.

Which form fields carry the speaker and the event is said by the diagram (process
properties `kalender_*`, docs/diagram-conventions.md); a step with the task property
`kalender=periksa` shows the calendar, one with `kalender=konfirmasi` confirms the booking.
A request's engagement is tentative while the request is in review, confirmed at the
confirming step and released when the request is cancelled or the speaker is not available.
Confirming locks the speaker (PostgreSQL: FOR UPDATE; SQLite: the writer lock), so two
requests cannot confirm the same speaker for overlapping times.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.actors import Actor
from engine.diagram import SopModel, Step
from engine.errors import Forbidden, InvalidData, NotFound, ScheduleConflict
from engine.models import Engagement, Instance, Speaker
from engine.uow import UnitOfWork

AVAILABLE, UNAVAILABLE, SUBSTITUTE = "bersedia", "tidak_bersedia", "usul_pengganti"
CHECK, CONFIRM = "periksa", "konfirmasi"
TENTATIVE, CONFIRMED, RELEASED = "tentative", "confirmed", "released"
STATUS_LABEL = {TENTATIVE: "sementara", CONFIRMED: "pasti", RELEASED: "dilepas"}
DEFAULT_HOURS = 2
WINDOW_DAYS = 3
NIP = re.compile(r"^[0-9]{18}$")
TIME = re.compile(r"^([01][0-9]|2[0-3])[:.]([0-5][0-9])$")


@dataclass(frozen=True)
class CalendarFields:
    """The form fields of one process that carry the speaker and the event (process properties)."""

    requested: str
    day: str
    assigned: str | None = None
    availability: str | None = None
    start: str | None = None
    hours: str | None = None
    title: str | None = None
    place: str | None = None

    @classmethod
    def of(cls, model: SopModel) -> CalendarFields | None:
        p = model.properties
        if not (p.get("kalender_narasumber") and p.get("kalender_tanggal")):
            return None
        return cls(requested=p["kalender_narasumber"], day=p["kalender_tanggal"],
                   assigned=p.get("kalender_ditunjuk") or None, availability=p.get("kalender_ketersediaan") or None,
                   start=p.get("kalender_jam_mulai") or None, hours=p.get("kalender_durasi_jam") or None,
                   title=p.get("kalender_acara") or None, place=p.get("kalender_tempat") or None)

    @property
    def names(self) -> set[str]:
        return {n for n in (self.requested, self.day, self.assigned, self.availability, self.start, self.hours,
                            self.title, self.place) if n}

    def slot(self, data: Mapping[str, Any]) -> tuple[dt.datetime, dt.datetime] | None:
        """The event's time: the day from its date field, the start and hours if given (else the whole day)."""
        try:
            day = dt.date.fromisoformat(str(data.get(self.day) or ""))
        except ValueError:
            return None
        match = TIME.match(str(data.get(self.start) or "").strip()) if self.start else None
        if match is None:
            start = dt.datetime.combine(day, dt.time())
            return start, start + dt.timedelta(days=1)
        start = dt.datetime.combine(day, dt.time(int(match.group(1)), int(match.group(2))))
        try:
            hours = int(data.get(self.hours) or DEFAULT_HOURS) if self.hours else DEFAULT_HOURS
        except (TypeError, ValueError):
            hours = DEFAULT_HOURS
        return start, start + dt.timedelta(hours=max(1, min(hours, 24)))

    def speaker_text(self, data: Mapping[str, Any]) -> str:
        """Who the request is about now: the assigned speaker once step 5 named one, else the requested one."""
        return str((self.assigned and data.get(self.assigned)) or data.get(self.requested) or "").strip()


def resolve(session: Session, text: str | None) -> Speaker | None:
    """The active registry speaker a form value names (by NIP or by name, case ignored); None for free text."""
    text = (text or "").strip()
    if not text:
        return None
    if NIP.match(text.replace(" ", "")):
        found = session.scalars(select(Speaker).where(Speaker.nip == text.replace(" ", ""),
                                                      Speaker.active.is_(True))).first()
        if found:
            return found
    return session.scalars(select(Speaker).where(func.lower(Speaker.name) == text.lower(),
                                                 Speaker.active.is_(True)).order_by(Speaker.id)).first()


def overlapping(session: Session, speaker_id: int, start: dt.datetime, end: dt.datetime,
                statuses: tuple[str, ...] = (TENTATIVE, CONFIRMED), exclude_instance: int | None = None
                ) -> list[Engagement]:
    stmt = select(Engagement).where(Engagement.speaker_id == speaker_id, Engagement.status.in_(statuses),
                                    Engagement.starts_at < end, Engagement.ends_at > start)
    if exclude_instance is not None:
        stmt = stmt.where((Engagement.instance_id.is_(None)) | (Engagement.instance_id != exclude_instance))
    return list(session.scalars(stmt.order_by(Engagement.starts_at)))


def _booking(session: Session, instance_id: int) -> Engagement | None:
    return session.scalars(select(Engagement).where(
        Engagement.instance_id == instance_id, Engagement.source == "request",
        Engagement.status != RELEASED).order_by(Engagement.id.desc()).limit(1)).first()


def after_step(uow: UnitOfWork, model: SopModel, step: Step, instance: Instance, values: Mapping[str, Any],
               returned: bool, actor: str, now: dt.datetime) -> None:
    """Keep the request's engagement in line with its data after a step; confirm it at `kalender=konfirmasi`.

    Runs inside the step's transaction, before the workflow moves on: a conflict refuses the step."""
    fields = CalendarFields.of(model)
    mode = step.prop("kalender")
    if fields is None or returned or not (mode or fields.names & {f.id for f in step.fields}):
        return
    data = {**instance.data, **{k: v for k, v in values.items() if v is not None}}
    booking = _booking(uow.session, instance.id)
    speaker = resolve(uow.session, fields.speaker_text(data))
    slot = fields.slot(data)
    unavailable = fields.availability is not None and data.get(fields.availability) == UNAVAILABLE
    if unavailable or speaker is None or slot is None:
        if booking is not None:
            booking.status, booking.updated_at = RELEASED, now
            uow.audit(actor, "engagement_released", now, instance.id, speaker_id=booking.speaker_id)
        return
    if booking is None:
        booking = Engagement(speaker_id=speaker.id, instance_id=instance.id, source="request", status=TENTATIVE,
                             created_by=actor, created_at=now, starts_at=slot[0], ends_at=slot[1])
        uow.session.add(booking)
    booking.speaker_id, (booking.starts_at, booking.ends_at) = speaker.id, slot
    booking.title = str(data.get(fields.title) or instance.perihal or "")[:500] if fields.title else (
        instance.perihal or "")[:500]
    booking.place = str(data.get(fields.place) or "")[:300] if fields.place else ""
    booking.updated_at = now
    if mode == CONFIRM and booking.status != CONFIRMED:
        uow.session.scalars(uow.for_update(select(Speaker).where(Speaker.id == speaker.id), Speaker)).one()
        clash = overlapping(uow.session, speaker.id, *slot, statuses=(CONFIRMED,), exclude_instance=instance.id)
        if clash:
            other = clash[0]
            where = f"permohonan {other.instance_id}" if other.instance_id else "catatan manual"
            raise ScheduleConflict(
                f"narasumber {speaker.name} sudah pasti pada {other.starts_at:%d-%m-%Y %H:%M}–"
                f"{other.ends_at:%H:%M} ({other.title or where}; {where}): jadwal bentrok")
        booking.status = CONFIRMED
        uow.audit(actor, "engagement_confirmed", now, instance.id, speaker_id=speaker.id,
                  starts_at=slot[0].isoformat(), ends_at=slot[1].isoformat())
    uow.session.flush()


def release_for(uow: UnitOfWork, instance_id: int, actor: str, now: dt.datetime) -> None:
    """A cancelled request gives its speaker's time back."""
    booking = _booking(uow.session, instance_id)
    if booking is not None:
        booking.status, booking.updated_at = RELEASED, now
        uow.audit(actor, "engagement_released", now, instance_id, speaker_id=booking.speaker_id)


# ---- what step 5's page shows ---------------------------------------------------------------


@dataclass
class CalendarRow:
    engagement: Engagement
    conflict: bool
    own: bool

    @property
    def status_label(self) -> str:
        return STATUS_LABEL.get(self.engagement.status, self.engagement.status)


@dataclass
class SpeakerSchedule:
    """A speaker's calendar around a request's date, with what overlaps it marked."""

    requested: str
    speaker: Speaker | None
    slot: tuple[dt.datetime, dt.datetime] | None
    rows: list[CalendarRow]

    @property
    def conflicts(self) -> list[CalendarRow]:
        return [r for r in self.rows if r.conflict]


def schedules(session: Session, model: SopModel, data: Mapping[str, Any], instance_id: int | None
              ) -> list[SpeakerSchedule]:
    """The requested (and, if different, the assigned) speaker's calendar ±3 days around the event."""
    fields = CalendarFields.of(model)
    if fields is None:
        return []
    names = [str(data.get(fields.requested) or "").strip()]
    if fields.assigned and data.get(fields.assigned):
        names.append(str(data[fields.assigned]).strip())
    slot = fields.slot(data)
    result: list[SpeakerSchedule] = []
    seen: set[int] = set()
    for name in names:
        if not name:
            continue
        speaker = resolve(session, name)
        if speaker is not None and speaker.id in seen:
            continue
        rows: list[CalendarRow] = []
        if speaker is not None and slot is not None:
            seen.add(speaker.id)
            first = dt.datetime.combine(slot[0].date() - dt.timedelta(days=WINDOW_DAYS), dt.time())
            last = dt.datetime.combine(slot[0].date() + dt.timedelta(days=WINDOW_DAYS + 1), dt.time())
            for e in overlapping(session, speaker.id, first, last):
                own = e.instance_id is not None and e.instance_id == instance_id
                rows.append(CalendarRow(e, conflict=not own and e.starts_at < slot[1] and e.ends_at > slot[0],
                                        own=own))
        result.append(SpeakerSchedule(name, speaker, slot, rows))
    return result


# ---- the registry and manual entries (admins and process owners) ------------------------------


def _may_manage(actor: Actor) -> None:
    if not (actor.is_admin or actor.is_process_owner):
        raise Forbidden("hanya admin atau pemilik proses yang boleh mengelola daftar narasumber")


def _text(values: Mapping[str, Any], name: str, label: str, required: bool = False, limit: int = 200) -> str:
    raw = values.get(name)
    if raw is not None and not isinstance(raw, str):
        raise InvalidData(f"'{label}' ({name}) harus berupa teks", name, "bad_type")
    text = (raw or "").strip()
    if required and not text:
        raise InvalidData(f"'{label}' wajib diisi", name, "required")
    if len(text) > limit or "\x00" in text:
        raise InvalidData(f"'{label}' lebih dari {limit} karakter atau memuat karakter tidak sah", name, "too_long")
    return text


def save_speaker(uow: UnitOfWork, actor: Actor, values: Mapping[str, Any], now: dt.datetime,
                 speaker_id: int | None = None) -> Speaker:
    """Add a speaker, or change one (only the keys given)."""
    _may_manage(actor)
    speaker = None
    if speaker_id is not None:
        speaker = uow.session.get(Speaker, speaker_id)
        if speaker is None:
            raise NotFound(f"narasumber {speaker_id} tidak ditemukan")
    if speaker is None or "name" in values:
        name = _text(values, "name", "Nama", required=True)
    else:
        name = speaker.name
    nip = speaker.nip if speaker is not None and "nip" not in values else (
        _text(values, "nip", "NIP", limit=30).replace(" ", "") or None)
    if nip is not None and not NIP.match(nip):
        raise InvalidData("'NIP' harus 18 angka", "nip", "bad_type")
    if nip is not None:
        other = uow.session.scalars(select(Speaker).where(Speaker.nip == nip)).first()
        if other is not None and other is not speaker:
            raise InvalidData(f"NIP {nip} sudah dipakai narasumber '{other.name}'", "nip", "duplicate")
    if speaker is None:
        speaker = Speaker(name=name, created_at=now, jabatan="", unit="", topics="", active=True)
        uow.session.add(speaker)
    speaker.name, speaker.nip, speaker.updated_at = name, nip, now
    for key, label, limit in (("jabatan", "Jabatan", 200), ("unit", "Unit kerja", 200), ("topics", "Topik", 2000)):
        if key in values:
            setattr(speaker, key, _text(values, key, label, limit=limit))
    if "active" in values:
        if not isinstance(values["active"], bool):
            raise InvalidData("'Aktif' (active) harus benar/salah", "active", "bad_type")
        speaker.active = values["active"]
    uow.session.flush()
    uow.audit(actor.username, "speaker_saved", now, speaker_id=speaker.id, name=speaker.name)
    return speaker


def speaker(session: Session, speaker_id: int) -> Speaker:
    found = session.get(Speaker, speaker_id)
    if found is None:
        raise NotFound(f"narasumber {speaker_id} tidak ditemukan")
    return found


def list_speakers(session: Session, active_only: bool = False) -> list[Speaker]:
    stmt = select(Speaker).order_by(Speaker.name, Speaker.id)
    if active_only:
        stmt = stmt.where(Speaker.active.is_(True))
    return list(session.scalars(stmt))


def calendar(session: Session, speaker_id: int, first: dt.date | None = None, last: dt.date | None = None,
             include_released: bool = False) -> list[Engagement]:
    """A speaker's engagements between two days (inclusive), oldest first."""
    speaker(session, speaker_id)
    stmt = select(Engagement).where(Engagement.speaker_id == speaker_id)
    if first is not None:
        stmt = stmt.where(Engagement.ends_at > dt.datetime.combine(first, dt.time()))
    if last is not None:
        stmt = stmt.where(Engagement.starts_at < dt.datetime.combine(last + dt.timedelta(days=1), dt.time()))
    if not include_released:
        stmt = stmt.where(Engagement.status != RELEASED)
    return list(session.scalars(stmt.order_by(Engagement.starts_at, Engagement.id)))


def _moment(values: Mapping[str, Any], name: str, label: str) -> dt.datetime:
    raw = values.get(name)
    try:
        moment = dt.datetime.fromisoformat(str(raw).strip()) if isinstance(raw, str) and raw.strip() else None
    except ValueError:
        moment = None
    if moment is None:
        raise InvalidData(f"'{label}' ({name}) harus tanggal dan jam, mis. 2026-12-10T09:00", name, "bad_type")
    return moment.replace(tzinfo=None, second=0, microsecond=0)


def add_entry(uow: UnitOfWork, actor: Actor, speaker_id: int, values: Mapping[str, Any], now: dt.datetime
              ) -> Engagement:
    """A manual calendar entry (leave, other duties): it blocks confirmations like a confirmed request."""
    _may_manage(actor)
    found = uow.session.scalars(uow.for_update(select(Speaker).where(Speaker.id == speaker_id), Speaker)).first()
    if found is None:
        raise NotFound(f"narasumber {speaker_id} tidak ditemukan")
    title = _text(values, "title", "Keterangan", required=True, limit=500)
    place = _text(values, "place", "Tempat", limit=300)
    start, end = _moment(values, "starts_at", "Mulai"), _moment(values, "ends_at", "Selesai")
    if end <= start:
        raise InvalidData("'Selesai' (ends_at) harus sesudah 'Mulai'", "ends_at", "too_small")
    entry = Engagement(speaker_id=speaker_id, instance_id=None, source="manual", status=CONFIRMED, title=title,
                       place=place, starts_at=start, ends_at=end, created_by=actor.username, created_at=now,
                       updated_at=now)
    uow.session.add(entry)
    uow.session.flush()
    uow.audit(actor.username, "engagement_added", now, speaker_id=speaker_id, engagement_id=entry.id,
              title=title, starts_at=start.isoformat(), ends_at=end.isoformat())
    return entry


def remove_entry(uow: UnitOfWork, actor: Actor, speaker_id: int, entry_id: int, now: dt.datetime,
                 reason: str = "") -> Engagement:
    """Release a manual entry (kept, marked released); a request's engagement follows its request."""
    _may_manage(actor)
    entry = uow.session.get(Engagement, entry_id)
    if entry is None or entry.speaker_id != speaker_id:
        raise NotFound(f"jadwal {entry_id} tidak ditemukan")
    if entry.source != "manual":
        raise Forbidden("jadwal dari permohonan mengikuti permohonannya; batalkan permohonan untuk melepasnya")
    entry.status, entry.updated_at = RELEASED, now
    uow.audit(actor.username, "engagement_released", now, speaker_id=speaker_id, engagement_id=entry_id,
              reason=reason)
    uow.session.flush()
    return entry
