"""The scheduler runs inside the app's processes (the production gunicorn command): nothing extra to start."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from engine.actors import SYSTEM
from engine.clock import utcnow
from engine.demo import actor_for_lane
from engine.models import Timer
from engine.services import Alur
from tests.livesrv import LiveServer

ESKALASI = (Path(__file__).parent / "diagrams" / "eskalasi.bpmn").read_bytes()


@pytest.mark.slow  # a live gunicorn server
def test_a_timer_fires_within_a_minute_while_the_app_runs(alur: Alur, db_url: str) -> None:
    alur.deploy(ESKALASI, SYSTEM)
    pemohon = actor_for_lane(alur, "Pemohon")
    iid = alur.start("uji_eskalasi", pemohon)
    alur.complete(alur.ready_of([iid])[iid][0].id, pemohon, {"perihal": "uji"})
    due = utcnow() + timedelta(seconds=3)
    with alur.unit_of_work() as uow:
        uow.session.execute(update(Timer).where(Timer.instance_id == iid).values(due_at=due))
    server = LiveServer(db_url, workers=2).start()
    try:
        deadline = time.monotonic() + 75
        while time.monotonic() < deadline and not alur.ready_of([iid])[iid]:
            time.sleep(0.5)
    finally:
        server.kill()
    with alur.unit_of_work(write=False) as uow:
        row = uow.session.scalars(select(Timer).where(Timer.instance_id == iid, Timer.spec_id == "tunggu")).one()
    assert row.fired_at is not None and row.fired_at - due < timedelta(seconds=60)
    assert [r.spec_id for r in alur.ready_of([iid])[iid]] == ["periksa"]
    assert [e.kind for e in alur.audit_log(iid)].count("timer") == 1
