"""Overdue reminders: one `overdue` audit event per late task and, with SMTP set, one e-mail to its lane."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterator
from datetime import datetime, timedelta
from email import message_from_bytes
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from engine import reminders
from engine.actors import SYSTEM
from engine.clock import fixed_clock
from engine.services import Alur
from engine.users import create_user
from tests.helpers import current, start, step


def utc(local: str) -> datetime:
    return datetime.fromisoformat(local) - timedelta(hours=7)


class Sink:
    """Keeps every message the local SMTP server receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Any]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Sink, int]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield sink, port
    controller.stop()


def overdue_events(alur: Alur, iid: int) -> list[dict[str, Any]]:
    return [e.payload for e in alur.audit_log(iid) if e.kind == "overdue"]


def test_a_late_task_is_reminded_once_by_mail_to_its_lane(alur: Alur, smtp: tuple[Sink, int]) -> None:
    sink, port = smtp
    alur.settings = dataclasses.replace(alur.settings, smtp_host="127.0.0.1", smtp_port=port,
                                        smtp_from="alur@diskop.example", public_url="https://alur.example")
    create_user(alur, "tu1", "kata-sandi-baru", ["Petugas Informasi/TU"], email="tu1@diskop.example")
    create_user(alur, "tu2", "kata-sandi-baru", ["Petugas Informasi/TU"], email="tu2@diskop.example")
    create_user(alur, "lain", "kata-sandi-baru", ["Sekda"], email="sekda@diskop.example")
    with fixed_clock(utc("2026-11-30T09:00")):  # Monday
        iid = start(alur)
        step(alur, iid)  # step 2 (Petugas Informasi/TU), 5 minutes
    late = current(alur, iid)
    assert late.lane == "Petugas Informasi/TU" and late.due_at == utc("2026-11-30T09:05")
    with fixed_clock(utc("2026-11-30T09:04")):
        assert reminders.remind_overdue(alur) == 0
    with fixed_clock(utc("2026-11-30T09:06")):
        assert reminders.remind_overdue(alur) == 1
        assert reminders.remind_overdue(alur) == 0  # once
    with fixed_clock(utc("2026-12-01T09:06")):
        assert reminders.remind_overdue(alur) == 0  # still late the next day: still once
    [event] = overdue_events(alur, iid)
    assert event["step"] == late.name and event["lane"] == "Petugas Informasi/TU"
    [(to, mail)] = sink.messages
    assert to == ["tu1@diskop.example", "tu2@diskop.example"]
    assert mail["From"] == "alur@diskop.example" and late.name in mail["Subject"]
    assert f"https://alur.example/tugas/{late.id}" in mail.get_payload()
    assert alur.instance(iid, SYSTEM).history[-1].reminded_at == utc("2026-11-30T09:06")


def test_without_smtp_the_reminder_is_only_an_audit_event(alur: Alur, smtp: tuple[Sink, int]) -> None:
    sink, _ = smtp
    assert alur.settings.smtp_host == ""
    with fixed_clock(utc("2026-11-30T09:00")):
        iid = start(alur)
    with fixed_clock(utc("2026-11-30T10:00")):
        assert reminders.remind_overdue(alur) == 1
    assert len(overdue_events(alur, iid)) == 1 and sink.messages == []


def test_a_task_done_in_time_is_never_reminded(alur: Alur) -> None:
    with fixed_clock(utc("2026-11-30T09:00")):
        iid = start(alur)
    with fixed_clock(utc("2026-11-30T09:04")):
        step(alur, iid)
    with fixed_clock(utc("2026-11-30T09:07")):  # step 1 was late only if it were still open
        reminders.remind_overdue(alur)
    assert overdue_events(alur, iid) == []
