"""The outgoing-letter register (buku agenda surat keluar): gap-free, unique per year.

The counter row of the year is locked for the rest of the transaction (the unit of
work's lock, engine/uow.py), so concurrent requests queue and a rolled-back completion
gives its number back.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from engine.clock import local
from engine.models import Instance, LetterCounter, LetterRegisterEntry
from engine.settings import Settings
from engine.uow import UnitOfWork

# Form fields the register reads (see docs/diagram-conventions.md).
SUBJECT_FIELD = "perihal"
AGENCY_FIELD = "instansi_pemohon"


def format_number(settings: Settings, sequence: int, year: int) -> str:
    return settings.letter_format.format(
        kode_klasifikasi=settings.kode_klasifikasi, nomor=sequence, kode_unit=settings.kode_unit, tahun=year)


def draw_number(uow: UnitOfWork, settings: Settings, instance: Instance, now: datetime, actor: str,
                recipient: str | None, subject: str | None) -> LetterRegisterEntry:
    today = local(now, settings.timezone).date()
    year = today.year
    uow.insert_ignore(LetterCounter, year=year, last_number=0)
    counter = uow.session.scalars(
        uow.for_update(select(LetterCounter).where(LetterCounter.year == year), LetterCounter)).one()
    counter.last_number += 1
    entry = LetterRegisterEntry(
        year=year, sequence=counter.last_number, number=format_number(settings, counter.last_number, year),
        letter_date=today.isoformat(), instance_id=instance.id, recipient=recipient, subject=subject,
        created_by=actor, created_at=now)
    uow.session.add(entry)
    instance.letter_number = entry.number
    return entry
