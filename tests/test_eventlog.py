"""The event log: XES read back by pm4py and CSV by the csv module, both checked against the task table."""

from __future__ import annotations

import csv
import io
from datetime import UTC
from pathlib import Path

import pytest
from sqlalchemy import select

from engine import eventlog
from engine.actors import Actor
from engine.errors import Forbidden, NotFound
from engine.models import Instance, TaskRecord
from engine.services import Alur
from tests.helpers import PROCESS
from tests.test_reports import OWNER, History, make_history


@pytest.fixture
def history(alur: Alur, monkeypatch: pytest.MonkeyPatch) -> History:
    history = make_history(alur, monkeypatch)
    with alur.unit_of_work() as uow:  # a note with characters XML and spreadsheets care about
        record = uow.session.scalars(select(TaskRecord).where(TaskRecord.keputusan == "tidak_setuju")).one()
        record.catatan = '=Mohon <perbaiki> "draft" & lampiran\nbaris dua'
    return history


def _tasks(alur: Alur) -> list[TaskRecord]:
    with alur.unit_of_work(write=False) as uow:
        return list(uow.session.scalars(select(TaskRecord).order_by(TaskRecord.instance_id, TaskRecord.seq)))


def test_xes_read_by_pm4py_matches_the_database(alur: Alur, history: History, tmp_path: Path) -> None:
    import pm4py

    path = tmp_path / "log.xes"
    chunks = list(eventlog.EventLog(alur, OWNER, PROCESS).xes())
    path.write_text("".join(chunks), encoding="utf-8")
    log = pm4py.read_xes(str(path), return_legacy_log_object=True)
    tasks = _tasks(alur)
    with alur.unit_of_work(write=False) as uow:
        instances = {i.id: i for i in uow.session.scalars(select(Instance))}
    assert len(log) == len(instances) == 3
    assert log.attributes["concept:name"] == PROCESS
    events_seen = 0
    for trace in log:
        iid = int(trace.attributes["concept:name"])
        assert trace.attributes["process"] == PROCESS and trace.attributes["version"] == 1
        assert trace.attributes["status"] == instances[iid].status
        expected = []
        for r in (t for t in tasks if t.instance_id == iid):
            expected.append((r.name, "start", r.ready_at, r.lane, None, None, None, r.id))
            if r.state == "completed":
                expected.append((r.name, "complete", r.completed_at, r.lane, r.completed_by, r.keputusan,
                                 r.catatan, r.id))
        got = [(e["concept:name"], e["lifecycle:transition"], e["time:timestamp"].astimezone(UTC).replace(tzinfo=None),
                e["org:role"], e.get("org:resource"), e.get("keputusan"), e.get("catatan"), e["concept:instance"])
               for e in trace]
        # pm4py keeps milliseconds: compare at that precision
        expected = [(*x[:2], x[2].replace(microsecond=x[2].microsecond // 1000 * 1000), *x[3:]) for x in expected]
        assert got == expected
        events_seen += len(got)
    completed = sum(1 for t in tasks if t.state == "completed")
    assert events_seen == len(tasks) + completed
    assert completed == len(history.done)
    returned = [e for trace in log for e in trace if e.get("keputusan") == "tidak_setuju"]
    assert len(returned) == 1 and returned[0]["catatan"] == '=Mohon <perbaiki> "draft" & lampiran\nbaris dua'


def test_csv_has_the_same_events(alur: Alur, history: History) -> None:
    text = "".join(eventlog.EventLog(alur, OWNER, PROCESS, version=1).csv())
    rows = list(csv.DictReader(io.StringIO(text)))
    tasks = _tasks(alur)
    assert len(rows) == len(tasks) + sum(1 for t in tasks if t.state == "completed")
    assert list(rows[0]) == eventlog.CSV_COLUMNS
    by_id = {t.id: t for t in tasks}
    for row in rows:
        record = by_id[row["activity_instance"]]
        assert row["case_id"] == str(record.instance_id) and row["process"] == PROCESS and row["version"] == "1"
        assert row["activity"] == record.name and row["role"] == record.lane
        moment = record.ready_at if row["lifecycle"] == "start" else record.completed_at
        assert row["timestamp"].startswith(moment.strftime("%Y-%m-%dT%H:%M:%S"))
        if row["lifecycle"] == "complete":
            assert row["resource"] == record.completed_by
    note = next(r["catatan"] for r in rows if r["keputusan"] == "tidak_setuju")
    assert note == "'=Mohon <perbaiki> \"draft\" & lampiran\nbaris dua"  # no formula for a spreadsheet


def test_a_big_log_comes_in_many_chunks(alur: Alur, history: History, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(eventlog, "CHUNK", 2000)
    monkeypatch.setattr(eventlog, "BATCH", 5)
    log = eventlog.EventLog(alur, OWNER, PROCESS)
    xes = list(log.xes())
    assert len(xes) >= 3 and all(len(c) < 2000 + 20_000 for c in xes)
    assert "".join(xes).count("<trace>") == 3
    assert len(list(log.csv())) >= 2


def test_who_may_read_the_log(alur: Alur) -> None:
    with pytest.raises(Forbidden):
        eventlog.EventLog(alur, Actor("kabag", frozenset({"Kepala Bagian Terkait"})), PROCESS)
    with pytest.raises(NotFound):
        eventlog.EventLog(alur, OWNER, "tidak_ada")


def test_streamed_from_postgresql(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A server-side cursor on PostgreSQL, batches smaller than the log: the same events as in the table."""
    from tests.conftest import make_alur

    monkeypatch.setattr(eventlog, "BATCH", 7)
    alur = make_alur(pg_url)
    try:
        history = make_history(alur, monkeypatch)
        rows = list(csv.DictReader(io.StringIO("".join(eventlog.EventLog(alur, OWNER, PROCESS).csv()))))
        assert len(rows) == 2 * len(history.done) + len(history.waiting)
        assert len({r["case_id"] for r in rows}) == 3
        assert "".join(eventlog.EventLog(alur, OWNER, PROCESS).xes()).count("<event>") == len(rows)
    finally:
        alur.db.engine.dispose()
