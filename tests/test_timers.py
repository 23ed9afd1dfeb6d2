"""BPMN timers with a fixed clock: intermediate catch, boundary escalation, cycles, timer start events.

Times are Pontianak wall-clock (UTC+7); the default office hours apply.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from engine import timers
from engine.actors import SYSTEM
from engine.clock import fixed_clock
from engine.demo import actor_for_lane
from engine.errors import InvalidDiagram
from engine.models import AuditEvent, Instance, Timer
from engine.scheduler import Scheduler
from engine.services import Alur
from engine.timerspec import TimerError, parse_timer
from tests.test_concurrency import run_together
from tests.test_ui import login

DIAGRAMS = Path(__file__).parent / "diagrams"
ESKALASI = (DIAGRAMS / "eskalasi.bpmn").read_text()


def utc(local: str) -> datetime:
    return datetime.fromisoformat(local) - timedelta(hours=7)


def ready(alur: Alur, iid: int) -> list[tuple[str, str]]:
    return [(r.spec_id, r.lane) for r in alur.ready_of([iid])[iid]]


def timer_rows(alur: Alur, iid: int | None = None) -> list[Timer]:
    with alur.unit_of_work(write=False) as uow:
        stmt = select(Timer).order_by(Timer.id)
        if iid is not None:
            stmt = stmt.where(Timer.instance_id == iid)
        return list(uow.session.scalars(stmt))


def fired_events(alur: Alur, iid: int) -> list[str]:
    return [e.payload["spec"] for e in alur.audit_log(iid) if e.kind == "timer"]


def run_at(alur: Alur, local: str, owner: str = "uji") -> int:
    with fixed_clock(utc(local)):
        return Scheduler(alur, owner).run_once()


def start_eskalasi(alur: Alur, local: str) -> int:
    alur.deploy(ESKALASI.encode(), SYSTEM)
    pemohon = actor_for_lane(alur, "Pemohon")
    with fixed_clock(utc(local)):
        iid = alur.start("uji_eskalasi", pemohon)
        alur.complete(alur.ready_of([iid])[iid][0].id, pemohon, {"perihal": "uji timer"})
    return iid


def test_catch_timer_then_reminder_cycle_then_escalation_to_the_supervisor(alur: Alur) -> None:
    iid = start_eskalasi(alur, "2026-11-30T09:00")  # Monday
    assert ready(alur, iid) == []
    [wait] = timer_rows(alur, iid)
    assert (wait.spec_id, wait.kind, wait.due_at, wait.fired_at) == ("tunggu", "duration", utc("2026-11-30T10:00"),
                                                                      None)
    assert run_at(alur, "2026-11-30T09:59") == 0
    assert run_at(alur, "2026-11-30T10:00:20") == 1  # the intermediate catch event fires
    assert ready(alur, iid) == [("periksa", "Kepala Biro")]
    rows = {r.spec_id: r for r in timer_rows(alur, iid)}
    assert rows["tunggu"].fired_at == utc("2026-11-30T10:00:20")
    assert rows["eskalasi"].due_at == utc("2026-11-30T12:00:20") and rows["eskalasi"].working_time
    assert rows["ingatkan"].due_at == utc("2026-11-30T10:30:20") and rows["ingatkan"].cycles_left == 1

    assert run_at(alur, "2026-11-30T10:31") == 1  # non-interrupting: periksa stays, a follow-up appears
    assert ready(alur, iid) == [("periksa", "Kepala Biro"), ("tindak_lanjut", "Sekda")]
    assert run_at(alur, "2026-11-30T10:31") == 0  # fired once, not again
    assert run_at(alur, "2026-11-30T11:01") == 1  # R2: the second and last pass
    assert [s for s, _ in ready(alur, iid)].count("tindak_lanjut") == 2
    assert run_at(alur, "2026-11-30T11:45") == 0

    assert run_at(alur, "2026-11-30T12:01") == 1  # interrupting: periksa is taken to the supervisor's lane
    assert ready(alur, iid) == [("ambil_alih", "Sekda")]
    history = {r.spec_id: r.state for r in alur.instance(iid, SYSTEM).history if r.spec_id == "periksa"}
    assert history == {"periksa": "cancelled"}
    assert fired_events(alur, iid) == ["tunggu", "ingatkan", "ingatkan", "eskalasi"]
    assert all(r.fired_at is not None for r in timer_rows(alur, iid))
    assert alur.verify(iid) == []
    sekda = actor_for_lane(alur, "Sekda")
    alur.complete(alur.ready_of([iid])[iid][0].id, sekda, {})
    assert alur.instance(iid, SYSTEM).instance.status == "completed"


def test_escalation_counts_working_hours_over_the_night(alur: Alur) -> None:
    iid = start_eskalasi(alur, "2026-11-27T15:00")  # Friday afternoon
    assert run_at(alur, "2026-11-27T16:00") == 1  # PT1H wall time: periksa is ready at 16:00 Friday
    rows = {r.spec_id: r for r in timer_rows(alur, iid)}
    # two working hours: 30 minutes on Friday, 90 on Monday morning
    assert rows["eskalasi"].due_at == utc("2026-11-30T09:00")
    # the wall-time reminder cycle was due Friday 16:30: it fires once, missed passes are skipped, the phase kept
    assert run_at(alur, "2026-11-30T08:59") == 1
    assert [r.due_at for r in timer_rows(alur, iid) if r.spec_id == "ingatkan"] == [utc("2026-11-30T09:00")]
    assert ("ambil_alih", "Sekda") not in ready(alur, iid)
    assert run_at(alur, "2026-11-30T09:00:01") == 1
    assert ("ambil_alih", "Sekda") in ready(alur, iid)


def test_a_step_done_in_time_drops_its_timers(alur: Alur) -> None:
    iid = start_eskalasi(alur, "2026-11-30T09:00")
    run_at(alur, "2026-11-30T10:00:20")
    kabiro = actor_for_lane(alur, "Kepala Biro")
    with fixed_clock(utc("2026-11-30T10:10")):
        alur.complete(alur.ready_of([iid])[iid][0].id, kabiro, {})
    assert alur.instance(iid, SYSTEM).instance.status == "completed"
    assert [r.spec_id for r in timer_rows(alur, iid)] == ["tunggu"]  # the boundary timers are gone
    assert run_at(alur, "2026-11-30T15:00") == 0


def test_timer_start_event_creates_instances_on_its_cycle(alur: Alur) -> None:
    xml = (DIAGRAMS / "mingguan.bpmn").read_bytes()
    with fixed_clock(utc("2026-11-28T10:00")):  # Saturday
        alur.deploy(xml, SYSTEM)
    [row] = timer_rows(alur)
    assert (row.kind, row.instance_id, row.due_at) == ("start", None, utc("2026-11-30T08:00"))
    assert run_at(alur, "2026-11-30T07:59") == 0
    assert run_at(alur, "2026-11-30T08:00:30") == 1
    with alur.unit_of_work(write=False) as uow:
        instances = list(uow.session.scalars(select(Instance)
                                             .where(Instance.started_by == "penjadwal")))
    assert len(instances) == 1
    iid = instances[0].id
    assert ready(alur, iid) == [("susun", "Kepala Biro")]
    assert alur.instance(iid, SYSTEM).history[0].due_at == utc("2026-11-30T09:00:30")
    [row] = timer_rows(alur, None)[:1]
    assert row.due_at == utc("2026-12-07T08:00") and row.fired_at is None
    assert run_at(alur, "2026-12-01T08:00") == 0
    # a new version replaces the old one's start timer
    with fixed_clock(utc("2026-12-01T10:00")):
        alur.deploy(xml.replace(b"Laporan mingguan\"", b"Laporan mingguan v2\""), SYSTEM)
    pending = [r for r in timer_rows(alur) if r.fired_at is None and r.instance_id is None]
    assert len(pending) == 1 and pending[0].due_at == utc("2026-12-07T08:00")
    assert pending[0].definition_id == alur.definition("laporan_mingguan").id


def test_a_timer_claimed_by_a_dead_scheduler_fires_after_its_lease(alur: Alur) -> None:
    iid = start_eskalasi(alur, "2026-11-30T09:00")
    with fixed_clock(utc("2026-11-30T10:01")):
        assert len(timers.claim(alur, "mati")) == 1  # claimed, then the scheduler "dies"
        assert timers.claim(alur, "hidup") == []
    assert run_at(alur, "2026-11-30T10:02", "hidup") == 0  # the lease (120 s) still holds
    assert run_at(alur, "2026-11-30T10:03:30", "hidup") == 1
    with fixed_clock(utc("2026-11-30T10:04")):
        [wait] = [r for r in timer_rows(alur, iid) if r.spec_id == "tunggu"]
        assert timers.fire(alur, wait.id, "mati") is False  # the dead one's late attempt changes nothing
    assert fired_events(alur, iid) == ["tunggu"]


def test_cancel_drops_pending_timers(alur: Alur) -> None:
    iid = start_eskalasi(alur, "2026-11-30T09:00")
    alur.cancel(iid, SYSTEM, "uji")
    assert timer_rows(alur, iid) == []


@pytest.mark.parametrize(("element", "message"), [
    ('<bpmn:intermediateCatchEvent id="x"><bpmn:messageEventDefinition id="m"/></bpmn:intermediateCatchEvent>',
     "intermediate catch event pesan 'x' tidak didukung"),
    ('<bpmn:boundaryEvent id="x" attachedToRef="periksa"><bpmn:signalEventDefinition id="s"/></bpmn:boundaryEvent>',
     "boundary event sinyal 'x' tidak didukung"),
    ('<bpmn:boundaryEvent id="x" attachedToRef="periksa"><bpmn:timerEventDefinition id="t"><bpmn:timeDuration>'
     'PT2X</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>', "bukan durasi ISO 8601"),
    ('<bpmn:boundaryEvent id="x" attachedToRef="periksa"><bpmn:timerEventDefinition id="t"><bpmn:timeCycle>'
     '0 0 9 * * ?</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:boundaryEvent>', "cron tidak didukung"),
    ('<bpmn:boundaryEvent id="x" attachedToRef="periksa"><bpmn:timerEventDefinition id="t"><bpmn:timeDuration>'
     '${jeda}</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>', "tulis teks ISO 8601"),
    ('<bpmn:intermediateCatchEvent id="x"><bpmn:extensionElements><camunda:properties><camunda:property '
     'name="waktu_kerja" value="true"/></camunda:properties></bpmn:extensionElements><bpmn:timerEventDefinition '
     'id="t"><bpmn:timeDuration>P1M</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>',
     "bulan dan tahun"),
])
def test_deploy_refuses_events_that_do_not_run(alur: Alur, element: str, message: str) -> None:
    xml = ESKALASI.replace("</bpmn:process>", element + '<bpmn:endEvent id="y"/>'
                           '<bpmn:sequenceFlow id="fx" sourceRef="x" targetRef="y"/></bpmn:process>')
    xml = xml.replace('<bpmn:flowNodeRef>selesai</bpmn:flowNodeRef>',
                      '<bpmn:flowNodeRef>selesai</bpmn:flowNodeRef><bpmn:flowNodeRef>x</bpmn:flowNodeRef>'
                      '<bpmn:flowNodeRef>y</bpmn:flowNodeRef>')
    with pytest.raises(InvalidDiagram) as err:
        alur.deploy(xml.encode(), SYSTEM)
    assert any(p.element_id == "x" and message in p.message for p in err.value.problems), err.value.problems
    with alur.unit_of_work(write=False) as uow:
        assert uow.session.scalars(select(AuditEvent).where(AuditEvent.kind == "deploy")
                                   .order_by(AuditEvent.id.desc())).first().payload["key"] != "uji_eskalasi"


def test_the_request_page_shows_its_waiting_timers(alur: Alur, client: FlaskClient) -> None:
    iid = start_eskalasi(alur, "2026-11-30T09:00")
    run_at(alur, "2026-11-30T10:00:20")
    login(client, "admin")
    page = client.get(f"/permohonan/{iid}").text
    assert 'id="timers"' in page and "Dua jam kerja lewat" in page and "PT2H jam kerja" in page
    assert "30 Nov 2026 12:00" in page and "Tiap 30 menit" in page


def test_schedulers_racing_on_sqlite_fire_each_timer_once(alur: Alur) -> None:
    ids = [start_eskalasi(alur, "2026-11-30T09:00") for _ in range(12)]
    with fixed_clock(utc("2026-11-30T10:05")):
        results = run_together([lambda n=n: Scheduler(alur, f"s{n}").run_once() for n in range(3)])
    assert sum(results) == 12, results  # type: ignore[arg-type]
    for iid in ids:
        assert fired_events(alur, iid) == ["tunggu"]
        assert ready(alur, iid) == [("periksa", "Kepala Biro")]


def test_iso_8601_timer_text_as_camunda_writes_it() -> None:
    zone = "Asia/Pontianak"
    now = utc("2026-11-30T09:00")
    at = parse_timer("date", "2026-12-01T08:00:00", zone)
    assert at.first_due(now, None) == utc("2026-12-01T08:00")  # no offset: office time
    assert parse_timer("date", "2026-12-01T08:00:00Z", zone).at == datetime(2026, 12, 1, 8, 0)
    assert parse_timer("date", "2026-12-01T08:00:00+08:00", zone).at == datetime(2026, 12, 1, 0, 0)
    assert parse_timer("duration", "PT2H", zone).first_due(now, None) == utc("2026-11-30T11:00")
    assert parse_timer("duration", "P1DT1H30M", zone).first_due(now, None) == utc("2026-12-01T10:30")
    assert parse_timer("duration", "P1M", zone).first_due(utc("2026-01-31T09:00"), None) == utc("2026-02-28T09:00")
    assert parse_timer("duration", "PT0.5S", zone).duration.seconds == 0.5  # type: ignore[union-attr]
    cycle = parse_timer("cycle", "R3/PT1H", zone)
    assert (cycle.repeats, cycle.first_due(now, None)) == (3, utc("2026-11-30T10:00"))
    weekly = parse_timer("cycle", "R/2026-11-02T08:00:00/P7D", zone)
    assert weekly.repeats == -1 and weekly.first_due(now, None) == utc("2026-12-07T08:00")  # the next Monday
    for kind, text in (("duration", "P"), ("duration", "PT"), ("duration", "1H"), ("duration", "PT0S"),
                       ("date", "besok"), ("cycle", "R0/PT1H"), ("cycle", "PT1H"), ("cycle", "R/PT1H/PT2H"),
                       ("duration", "x" * 201), ("duration", "#{jeda}")):
        with pytest.raises(TimerError):
            parse_timer(kind, text, zone)
