"""Reminders: a task past its due time gets one `overdue` audit event and, with SMTP set, one e-mail.

The reminder is claimed by an atomic UPDATE of `tasks.reminded_at` (only one process wins
it) committed with the audit event; the e-mail goes out after that commit, so a failure
to send never repeats the reminder (at most once, never twice).
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select, update

from engine.clock import local, utcnow
from engine.models import READY, TaskRecord, User, UserLane
from engine.settings import Settings

if TYPE_CHECKING:
    from engine.services import Alur

log = logging.getLogger("alur.reminders")


def remind_overdue(alur: Alur, limit: int = 200) -> int:
    """Remind about tasks that became overdue; returns how many reminders this call wrote.

    One transaction a round, not one a task: every app process runs this, and a backlog (a restart after a
    long weekend, a changed calendar) cost each of them `limit` write transactions a round, most of them
    lost races, while users waited for the write lock. The UPDATE claims the batch: a task another process
    reminded meanwhile no longer matches its WHERE (PostgreSQL re-checks it after the row lock)."""
    now = utcnow()
    with alur.unit_of_work(write=False) as uow:  # nothing due (the usual round): no write lock at all
        ids = list(uow.session.scalars(_DUE, {"now": now, "limit": limit}))
    if not ids:
        return 0
    mails: list[tuple[Any, list[str]]] = []
    with alur.unit_of_work() as uow:
        claimed = sorted(uow.session.execute(_CLAIM, {"ids": ids, "now": now}).all(), key=lambda r: (r.due_at, r.id))
        emails: dict[str, list[str]] = {}
        for record in claimed:
            uow.audit("penjadwal", "overdue", now, record.instance_id, record.id, step=record.name,
                      lane=record.lane, due_at=record.due_at.isoformat() if record.due_at else None)
            if alur.settings.smtp_host:
                if record.lane not in emails:
                    emails[record.lane] = lane_emails(uow.session, record.lane)
                mails.append((record, emails[record.lane]))
    for record, to in mails:  # after the commit: a failed send never repeats a reminder
        if to:
            try:
                send(alur.settings, to, *message(alur.settings, record))
            except (OSError, smtplib.SMTPException):
                log.exception("e-mail pengingat tugas %s gagal dikirim", record.id)
    return len(claimed)


_TASKS = TaskRecord.__table__
_DUE = (select(TaskRecord.id).where(TaskRecord.state == READY, TaskRecord.due_at < bindparam("now"),
                                    TaskRecord.reminded_at.is_(None))
        .order_by(TaskRecord.due_at).limit(bindparam("limit")))
_CLAIM = (update(_TASKS).where(_TASKS.c.id.in_(bindparam("ids", expanding=True)), _TASKS.c.state == READY,
                               _TASKS.c.reminded_at.is_(None))
          .values(reminded_at=bindparam("now"))
          .returning(_TASKS.c.id, _TASKS.c.instance_id, _TASKS.c.name, _TASKS.c.lane, _TASKS.c.due_at))


def lane_emails(session: object, lane: str) -> list[str]:
    return list(session.scalars(  # type: ignore[attr-defined]
        select(User.email).join(UserLane, UserLane.user_id == User.id).where(
            UserLane.lane == lane, User.active.is_(True), User.email.is_not(None), User.email != "")
        .order_by(User.email)))


def message(settings: Settings, record: Any) -> tuple[str, str]:
    """The mail about a claimed task (its row: id, instance_id, name, lane, due_at)."""
    due = local(record.due_at, settings.timezone).strftime("%d-%m-%Y %H:%M") if record.due_at else "-"
    subject = f"Tugas terlambat: {record.name} (permohonan {record.instance_id})"
    body = (f"Tugas '{record.name}' di lane {record.lane} untuk permohonan {record.instance_id} "
            f"melewati batas waktu standar ({due}).\n\n"
            f"Buka tugas: {settings.public_url}/tugas/{record.id}\n\n-- Alur")
    return subject, body


def send(settings: Settings, to: list[str], subject: str, body: str) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = settings.smtp_from, ", ".join(to), subject
    msg.set_content(body)
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password)
        smtp.send_message(msg)
