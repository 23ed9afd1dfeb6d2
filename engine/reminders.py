"""Reminders: a task past its due time gets one `overdue` audit event and, with SMTP set, one e-mail.

The reminder is claimed by an atomic UPDATE of `tasks.reminded_at` (only one process wins
it) committed with the audit event; the e-mail goes out after that commit, so a failure
to send never repeats the reminder (at most once, never twice).
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from engine.clock import local, utcnow
from engine.models import READY, TaskRecord, User, UserLane
from engine.settings import Settings

if TYPE_CHECKING:
    from engine.services import Alur

log = logging.getLogger("alur.reminders")


def remind_overdue(alur: Alur, limit: int = 200) -> int:
    """Remind about tasks that became overdue; returns how many reminders this call wrote."""
    now = utcnow()
    with alur.unit_of_work(write=False) as uow:
        ids = list(uow.session.scalars(select(TaskRecord.id).where(
            TaskRecord.state == READY, TaskRecord.due_at < now, TaskRecord.reminded_at.is_(None))
            .order_by(TaskRecord.due_at).limit(limit)))
    written = 0
    for task_id in ids:
        mail: tuple[TaskRecord, list[str]] | None = None
        with alur.unit_of_work() as uow:
            won = uow.session.execute(update(TaskRecord).where(
                TaskRecord.id == task_id, TaskRecord.state == READY, TaskRecord.reminded_at.is_(None))
                .values(reminded_at=now)).rowcount
            if won != 1:
                continue
            record = uow.session.get_one(TaskRecord, task_id)
            uow.audit("penjadwal", "overdue", now, record.instance_id, record.id, step=record.name,
                      lane=record.lane, due_at=record.due_at.isoformat() if record.due_at else None)
            if alur.settings.smtp_host:
                mail = (record, lane_emails(uow.session, record.lane))
        written += 1
        if mail and mail[1]:
            try:
                send(alur.settings, mail[1], *message(alur.settings, mail[0]))
            except (OSError, smtplib.SMTPException):
                log.exception("e-mail pengingat tugas %s gagal dikirim", task_id)
    return written


def lane_emails(session: object, lane: str) -> list[str]:
    return list(session.scalars(  # type: ignore[attr-defined]
        select(User.email).join(UserLane, UserLane.user_id == User.id).where(
            UserLane.lane == lane, User.active.is_(True), User.email.is_not(None), User.email != "")
        .order_by(User.email)))


def message(settings: Settings, record: TaskRecord) -> tuple[str, str]:
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
