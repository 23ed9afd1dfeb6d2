"""Overdue reminders: one `overdue` audit event per late task and, with SMTP set, one e-mail to its lane."""

from __future__ import annotations

import dataclasses
import socket
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from email import message_from_bytes
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import event

from engine import reminders
from engine.actors import SYSTEM
from engine.bootstrap import build
from engine.clock import fixed_clock
from engine.services import Alur
from engine.settings import Settings
from engine.testing import make_alur
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


def test_a_backlog_is_reminded_in_one_write_transaction(alur: Alur) -> None:
    """Every app process runs the reminders: a backlog costs one writer a round, not one per task."""
    with fixed_clock(utc("2026-11-30T09:00")):
        iids = [start(alur) for _ in range(6)]
    writes: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith(("BEGIN IMMEDIATE", "UPDATE", "INSERT")):
            writes.append(statement.split()[0] + " " + statement.split()[1])

    event.listen(alur.db.engine, "before_cursor_execute", seen)
    try:
        with fixed_clock(utc("2026-11-30T10:00")):
            assert reminders.remind_overdue(alur, limit=4) == 4  # the four longest overdue first
            assert writes == ["BEGIN IMMEDIATE", "UPDATE tasks", "INSERT INTO"]
            assert reminders.remind_overdue(alur, limit=4) == 2
            assert reminders.remind_overdue(alur, limit=4) == 0
    finally:
        event.remove(alur.db.engine, "before_cursor_execute", seen)
    assert [len(overdue_events(alur, iid)) for iid in iids] == [1] * 6
    assert writes.count("BEGIN IMMEDIATE") == 2  # the empty round took no write lock


def test_processes_reminding_at_once_remind_each_task_once_on_postgresql(pg_url: str) -> None:
    """Four processes' schedulers (separate engines) race over the same backlog: each task gets one event."""
    alur = make_alur(pg_url)
    others = [build(Settings(database_url=pg_url, scheduler=False)) for _ in range(4)]
    try:
        with fixed_clock(utc("2026-11-30T09:00")):
            iids = [start(alur) for _ in range(12)]
        barrier = threading.Barrier(len(others))
        counts: list[int] = []

        def remind(other: Alur) -> None:
            barrier.wait()
            counts.append(reminders.remind_overdue(other, limit=8))
            counts.append(reminders.remind_overdue(other, limit=8))

        threads = [threading.Thread(target=remind, args=(other,)) for other in others]
        with fixed_clock(utc("2026-11-30T10:00")):  # the process's clock, set once for all the threads
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
        assert sum(counts) == 12
        assert [len(overdue_events(alur, iid)) for iid in iids] == [1] * 12
    finally:
        for engine in [alur.db.engine] + [other.db.engine for other in others]:
            engine.dispose()
