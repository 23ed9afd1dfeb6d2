"""Reports of a known history: the bundled SOP driven with a controlled clock, numbers checked by hand.

Three requests run on Monday, Tuesday and Wednesday mornings of one week in office hours
(so working time and wall time agree): A straight through, B returned once at step 7,
C left waiting at step 3. Every activation takes a known number of minutes; the test
computes the expected counts, medians, p90s, maxima and shares from those minutes itself.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest

from engine import clock, reports
from engine.actors import SYSTEM, Actor
from engine.reports import Period
from engine.services import Alur
from tests.conftest import make_alur
from tests.helpers import current, start, step

MONDAY = datetime(2026, 3, 2, 1, 0)  # 08:00 in Pontianak (UTC+7)
OWNER = Actor("pemilik", is_process_owner=True)


class Clock:
    """The engine's clock (engine.clock), fixed and moved by hand; let go at the end of the test."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, now: datetime) -> None:
        monkeypatch.setattr(clock, "_fixed", now)
        self.now = now

    @property
    def now(self) -> datetime:
        return self._now

    @now.setter
    def now(self, moment: datetime) -> None:
        self._now = moment
        clock.set_now(moment)

    def advance(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)


@dataclass
class Done:
    instance_id: int
    spec_id: str
    lane: str
    minutes: int
    standard: int | None
    keputusan: str | None


@dataclass
class History:
    done: list[Done]
    leads: dict[int, int]  # instance -> lead time in minutes
    waiting: list[tuple[str, str]]  # (spec_id, lane) of open tasks
    now: datetime


def drive(alur: Alur, clock_: Clock, day: int, returns_at: int | None = None, stop_at: int | None = None,
          ) -> tuple[list[Done], int]:
    """One request on day `day` of the week, each activation i taking 2 + (7 i mod 11) minutes."""
    clock_.now = MONDAY + timedelta(days=day)
    instance_id = start(alur)
    done: list[Done] = []
    returned = False
    for i in range(40):
        ready = alur.ready_of([instance_id])[instance_id]
        if not ready:
            break
        record = current(alur, instance_id)
        if stop_at is not None and record.step_no == stop_at:
            break
        minutes = 2 + (7 * i) % 11
        clock_.advance(minutes)
        decision = None
        if record.step_no == returns_at and not returned:
            decision, returned = "tidak_setuju", True
        step(alur, instance_id, decision)
        done.append(Done(instance_id, record.spec_id, record.lane, minutes, record.standard_minutes,
                         decision or ("setuju" if alur.task(record.id, SYSTEM).step.is_decision else None)))
    return done, instance_id


@pytest.fixture
def history(alur: Alur, monkeypatch: pytest.MonkeyPatch) -> History:
    return make_history(alur, monkeypatch)


def make_history(alur: Alur, monkeypatch: pytest.MonkeyPatch) -> History:
    clock_ = Clock(monkeypatch, MONDAY)
    a, id_a = drive(alur, clock_, 0)
    b, id_b = drive(alur, clock_, 1, returns_at=7)
    c, id_c = drive(alur, clock_, 2, stop_at=3)
    waiting = [(r.spec_id, r.lane) for r in alur.ready_of([id_c])[id_c]]
    clock_.advance(60)  # step 3 of C has waited an hour: past its 5-minute standard
    return History(a + b + c, {id_a: sum(d.minutes for d in a), id_b: sum(d.minutes for d in b)}, waiting,
                   clock_.now)


def nearest_rank(values: list[int], p: float) -> int:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(len(ordered) * p / 100)) - 1]


def check_report(report: reports.Report, history: History) -> None:
    by_step: dict[str, list[Done]] = defaultdict(list)
    for d in history.done:
        by_step[d.spec_id].append(d)
    assert {s.spec_id for s in report.steps if s.done.n} == set(by_step)
    for row in report.steps:
        done = by_step.get(row.spec_id, [])
        minutes = [d.minutes for d in done]
        assert row.done.n == len(done), row.name
        backlog = sum(1 for spec, _ in history.waiting if spec == row.spec_id)
        assert (row.backlog, row.overdue) == (backlog, backlog), row.name
        if not done:
            assert row.done.median is None and row.within_share is None
            continue
        assert row.done.median == nearest_rank(minutes, 50) * 60, row.name
        assert row.done.percentile(90) == nearest_rank(minutes, 90) * 60, row.name
        assert row.done.max_seconds == max(minutes) * 60
        assert row.done.sum_seconds == sum(minutes) * 60
        standard = done[0].standard
        assert row.standard_minutes == standard
        assert row.within_share == pytest.approx(sum(1 for m in minutes if m <= standard) / len(minutes))
        assert row.returned == sum(1 for d in done if d.keputusan == "tidak_setuju")
    step7 = next(s for s in report.steps if s.step_no == 7)
    assert step7.returned == 1 and step7.done.n == 3  # B's return, then approvals of B and A
    # lanes and people
    by_lane: dict[str, list[int]] = defaultdict(list)
    for d in history.done:
        by_lane[d.lane].append(d.minutes)
    for lane in report.lanes:
        assert lane.done.n == len(by_lane.get(lane.name, [])), lane.name
        if by_lane.get(lane.name):
            assert lane.done.median == nearest_rank(by_lane[lane.name], 50) * 60
        waiting = sum(1 for _, ln in history.waiting if ln == lane.name)
        assert (lane.open, lane.overdue) == (waiting, waiting), lane.name
    assert sum(u.done.n for u in report.users) == len(history.done)
    for user in report.users:
        assert user.lanes, user.name  # the demo users are in the lanes they worked in
        assert user.open == sum(ln.open for ln in report.lanes if ln.name in user.lanes)
    # rework and lead time
    assert (report.requests_done, report.requests_returned) == (2, 1)
    assert report.returned_share == pytest.approx(0.5)
    assert [w.monday for w in report.weeks] == [date(2026, 3, 2)]
    week = report.weeks[0]
    assert week.lead.n == 2 and week.returned == 1
    assert week.lead.max_seconds == max(history.leads.values()) * 60
    assert week.lead.sum_seconds == sum(history.leads.values()) * 60
    step7_flows = report.return_flows[step7.spec_id]
    assert step7_flows == ["flow_07_tidak_setuju"]


def test_report_of_a_known_history(alur: Alur, history: History) -> None:
    report = reports.report(alur, OWNER, "fasilitasi_narasumber", now=history.now)
    check_report(report, history)
    assert report.step(history.waiting[0][0]).heat in {"ok", "warn", "bad", "none"}


def test_rebuilt_rollups_give_the_same_report(alur: Alur, history: History) -> None:
    kept = reports.report(alur, OWNER, "fasilitasi_narasumber", now=history.now)
    with alur.unit_of_work() as uow:
        counted = reports.rebuild(uow.session, alur.calendar(uow.session))
    assert counted == (len(history.done), 2)
    again = reports.report(alur, OWNER, "fasilitasi_narasumber", now=history.now)
    check_report(again, history)
    assert [(s.spec_id, dict(s.done.counts), s.within, s.returned) for s in again.steps] == \
        [(s.spec_id, dict(s.done.counts), s.within, s.returned) for s in kept.steps]


def test_period_and_version_filters(alur: Alur, history: History) -> None:
    march = reports.report(alur, OWNER, "fasilitasi_narasumber", 1, Period.parse("2026-03", "2026-03"),
                           now=history.now)
    assert sum(s.done.n for s in march.steps) == len(history.done)
    april = reports.report(alur, OWNER, "fasilitasi_narasumber", None, Period.parse("2026-04", None),
                           now=history.now)
    assert sum(s.done.n for s in april.steps) == 0 and april.requests_done == 0 and april.weeks == []
    assert sum(s.backlog for s in april.steps) == 1  # what waits now is not a matter of period


def test_bad_filters_and_who_may_read(alur: Alur) -> None:
    from engine.errors import Forbidden, InvalidData, NotFound

    with pytest.raises(InvalidData, match="dari") as bad:
        reports.report(alur, OWNER, "fasilitasi_narasumber", period=Period.parse("2026-13", None))
    assert bad.value.field == "dari"
    with pytest.raises(NotFound, match="versi 9"):
        reports.report(alur, OWNER, "fasilitasi_narasumber", 9)
    with pytest.raises(Forbidden):
        reports.report(alur, Actor("petugas", frozenset({"Petugas Informasi/TU"})), "fasilitasi_narasumber")


def test_duration_classes_are_monotone_and_exact_under_an_hour() -> None:
    previous = -1
    for seconds in [*range(0, 4000, 7), *range(4000, 400_000, 997), 6_000_000, 9_000_000]:
        klass = reports.bucket(seconds)
        assert klass >= previous
        assert reports.bucket_floor(klass) <= seconds
        assert reports.bucket(reports.bucket_floor(klass)) == klass
        previous = klass
    assert all(reports.bucket_floor(reports.bucket(m * 60)) == m * 60 for m in range(60))


def test_report_on_postgresql(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    alur = make_alur(pg_url)
    try:
        history = make_history(alur, monkeypatch)
        check_report(reports.report(alur, OWNER, "fasilitasi_narasumber", now=history.now), history)
        with alur.unit_of_work() as uow:
            reports.rebuild(uow.session, alur.calendar(uow.session))
        check_report(reports.report(alur, OWNER, "fasilitasi_narasumber", now=history.now), history)
    finally:
        alur.db.engine.dispose()


def test_durations_are_in_office_working_time(alur: Alur, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ready on Thursday 15:50, done on Friday 08:00 (Pontianak): 10 + 30 working minutes, not 16 hours."""
    clock_ = Clock(monkeypatch, datetime(2026, 3, 5, 8, 50))
    instance_id = start(alur)
    clock_.now = datetime(2026, 3, 6, 1, 0)
    done = step(alur, instance_id)
    report = reports.report(alur, OWNER, "fasilitasi_narasumber", now=clock_.now)
    row = report.step(done.spec_id)
    assert row is not None and row.done.n == 1
    assert row.done.median == row.done.max_seconds == 40 * 60
    assert row.within_share == 0.0  # 40 working minutes against a 5-minute standard


def test_cli_rebuild_and_init_fill_empty_rollups(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner
    from sqlalchemy import delete, func, select

    from api.cli import main
    from engine.bootstrap import build, init
    from engine.models import CaseStat, StepStat
    from engine.settings import Settings

    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    monkeypatch.setenv("DATABASE_URL", url)
    runner = CliRunner()
    assert runner.invoke(main, ["demo"], catch_exceptions=False).exit_code == 0  # 17 steps, 2 returns
    result = runner.invoke(main, ["reports-rebuild"], catch_exceptions=False)
    assert result.exit_code == 0
    assert "17 langkah selesai, 1 permohonan selesai" in result.output
    alur = build(Settings(database_url=url))
    try:
        with alur.unit_of_work() as uow:  # as after the migration of an existing database
            uow.session.execute(delete(StepStat))
            uow.session.execute(delete(CaseStat))
        init(alur, demo=False)
        with alur.unit_of_work(write=False) as uow:
            assert uow.session.scalar(select(func.sum(StepStat.n))) == 17
            assert uow.session.scalar(select(func.sum(StepStat.returned))) == 2
            assert uow.session.scalar(select(func.sum(CaseStat.returned))) == 1
    finally:
        alur.db.engine.dispose()


def test_backlog_of_one_version_counts_only_its_requests(alur: Alur, history: History) -> None:
    check_versions(alur, history)


def test_backlog_of_one_version_on_postgresql(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    alur = make_alur(pg_url)
    try:
        check_versions(alur, make_history(alur, monkeypatch))
    finally:
        alur.db.engine.dispose()


def check_versions(alur: Alur, history: History) -> None:
    from engine.testing import SOP_FILE

    xml = SOP_FILE.read_bytes().replace(b'name="Fasilitasi Narasumber"', b'name="Fasilitasi Narasumber v2"', 1)
    assert alur.deploy(xml, SYSTEM, "v2.bpmn").definition.version == 2
    newer = start(alur)  # on version 2, waiting at step 1
    assert current(alur, newer).step_no == 1
    everything = reports.report(alur, OWNER, "fasilitasi_narasumber", now=history.now)
    first = reports.report(alur, OWNER, "fasilitasi_narasumber", 1, now=history.now)
    second = reports.report(alur, OWNER, "fasilitasi_narasumber", 2, now=history.now)
    assert sum(s.backlog for s in everything.steps) == 2
    assert sum(s.backlog for s in first.steps) == 1 and first.step(current(alur, newer).spec_id).backlog == 0
    assert sum(s.backlog for s in second.steps) == 1 and second.step(current(alur, newer).spec_id).backlog == 1
    assert sum(s.done.n for s in second.steps) == 0 and sum(s.done.n for s in first.steps) == len(history.done)


WAIT_THEN_END = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    id="defs_tunggu" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="uji_tunggu_selesai" name="Uji tunggu lalu selesai" isExecutable="true">
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="lane_pemohon" name="Pemohon">
        <bpmn:flowNodeRef>mulai</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>isi</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>tunggu</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>selesai</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="mulai" name="Mulai" />
    <bpmn:userTask id="isi" name="Isi permohonan">
      <bpmn:extensionElements>
        <camunda:properties><camunda:property name="waktu_menit" value="5" /></camunda:properties>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:intermediateCatchEvent id="tunggu" name="Tunggu satu jam">
      <bpmn:timerEventDefinition id="timer_tunggu">
        <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">PT1H</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="selesai" name="Selesai" />
    <bpmn:sequenceFlow id="f1" sourceRef="mulai" targetRef="isi" />
    <bpmn:sequenceFlow id="f2" sourceRef="isi" targetRef="tunggu" />
    <bpmn:sequenceFlow id="f3" sourceRef="tunggu" targetRef="selesai" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_a_request_ended_by_a_timer_counts_in_the_lead_time(alur: Alur, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.demo import actor_for_lane
    from engine.scheduler import Scheduler

    alur.deploy(WAIT_THEN_END.encode(), SYSTEM)
    pemohon = actor_for_lane(alur, "Pemohon")
    clock_ = Clock(monkeypatch, datetime(2026, 11, 30, 2, 0))  # Monday 09:00 in Pontianak
    iid = alur.start("uji_tunggu_selesai", pemohon)
    clock_.advance(3)
    alur.complete(alur.ready_of([iid])[iid][0].id, pemohon, {})
    clock_.now = datetime(2026, 11, 30, 3, 4)  # the hour is over
    assert Scheduler(alur, "uji").run_once() == 1
    assert alur.instance(iid, SYSTEM).instance.status == "completed"
    report = reports.report(alur, OWNER, "uji_tunggu_selesai", now=clock_.now)
    assert report.requests_done == 1 and report.requests_returned == 0
    assert report.weeks[0].lead.max_seconds == 64 * 60  # start 09:00 to the timer's end 10:04, all office time
    assert report.step("isi").done.n == 1 and report.step("isi").done.median == 3 * 60
