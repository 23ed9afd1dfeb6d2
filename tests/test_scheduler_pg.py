"""Schedulers as real processes (`alur scheduler`) on one PostgreSQL database: each timer fires once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text, update

from engine.actors import SYSTEM
from engine.clock import utcnow
from engine.demo import actor_for_lane
from engine.models import AuditEvent, Timer
from engine.services import Alur
from engine.settings import ROOT
from tests.conftest import make_alur

ESKALASI = (Path(__file__).parent / "diagrams" / "eskalasi.bpmn").read_bytes()


@pytest.fixture
def pg_alur(pg_url: str) -> Iterator[Alur]:
    alur = make_alur(pg_url)
    alur.deploy(ESKALASI, SYSTEM)
    yield alur
    alur.db.engine.dispose()


def waiting_requests(alur: Alur, count: int) -> list[int]:
    """`count` requests waiting at their one-hour catch timer."""
    pemohon = actor_for_lane(alur, "Pemohon")
    ids = []
    for _ in range(count):
        iid = alur.start("uji_eskalasi", pemohon)
        alur.complete(alur.ready_of([iid])[iid][0].id, pemohon, {"perihal": "uji"})
        ids.append(iid)
    return ids


def make_due(alur: Alur) -> None:
    with alur.unit_of_work() as uow:
        uow.session.execute(update(Timer).where(Timer.spec_id == "tunggu").values(due_at=utcnow()))


def scheduler(url: str, lease: int = 120) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": url, "ALUR_SCHEDULER_POLL": "0.2", "ALUR_SCHEDULER_LEASE": str(lease)}
    return subprocess.Popen([sys.executable, "-m", "api.cli", "scheduler"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_until(condition, seconds: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def unfired(alur: Alur) -> int:
    with alur.unit_of_work(write=False) as uow:
        return uow.session.scalar(select(func.count()).select_from(Timer).where(
            Timer.spec_id == "tunggu", Timer.fired_at.is_(None))) or 0


def stop(*procs: subprocess.Popen[bytes]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_two_scheduler_processes_fire_each_timer_once(pg_alur: Alur, pg_url: str) -> None:
    ids = waiting_requests(pg_alur, 60)
    procs = [scheduler(pg_url), scheduler(pg_url)]
    try:
        for proc in procs:
            assert b"berjalan" in proc.stdout.readline()  # type: ignore[union-attr]
        make_due(pg_alur)  # both are polling when the timers fall due
        wait_until(lambda: unfired(pg_alur) == 0, 90)
        time.sleep(1)  # give a double fire the chance to happen
    finally:
        stop(*procs)
    with pg_alur.unit_of_work(write=False) as uow:
        fired = Counter(uow.session.scalars(select(AuditEvent.instance_id).where(AuditEvent.kind == "timer")))
        owners = Counter(uow.session.scalars(select(Timer.claimed_by).where(Timer.spec_id == "tunggu")))
    assert fired == Counter({iid: 1 for iid in ids})
    assert {owner.split(":")[1] for owner in owners} == {str(p.pid) for p in procs}, owners  # both took part
    for iid in ids:
        assert [r.spec_id for r in pg_alur.ready_of([iid])[iid]] == ["periksa"]
        assert pg_alur.verify(iid) == []


def test_a_killed_scheduler_leaves_its_timer_to_fire_after_restart(pg_alur: Alur, pg_url: str) -> None:
    [iid] = waiting_requests(pg_alur, 1)
    make_due(pg_alur)
    holder = create_engine(pg_url).connect()
    holder.begin()
    holder.execute(text("SELECT id FROM instances WHERE id = :i FOR UPDATE"), {"i": iid})  # fire will block here
    first = scheduler(pg_url, lease=3)
    try:
        def claimed() -> bool:
            with pg_alur.unit_of_work(write=False) as uow:
                return uow.session.scalar(select(Timer.claimed_by).where(Timer.spec_id == "tunggu")) is not None
        wait_until(claimed, 30)
        time.sleep(0.5)
        first.kill()  # killed mid-fire, while waiting for the instance lock
        first.wait()
    finally:
        holder.rollback()
        holder.close()
    with pg_alur.unit_of_work(write=False) as uow:
        row = uow.session.scalars(select(Timer).where(Timer.spec_id == "tunggu")).one()
    assert row.fired_at is None and str(first.pid) in (row.claimed_by or "")
    second = scheduler(pg_url, lease=3)
    try:
        wait_until(lambda: unfired(pg_alur) == 0, 30)
    finally:
        stop(second)
    with pg_alur.unit_of_work(write=False) as uow:
        row = uow.session.scalars(select(Timer).where(Timer.spec_id == "tunggu")).one()
    assert str(second.pid) in (row.claimed_by or "")
    assert [e.kind for e in pg_alur.audit_log(iid)].count("timer") == 1
    assert [r.spec_id for r in pg_alur.ready_of([iid])[iid]] == ["periksa"]
