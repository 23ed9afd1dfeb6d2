"""Issue 14, bytes per request: compact encodings, audit events without copies, migration 0012 of old data."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine import initials, state
from engine.actors import SYSTEM
from engine.demo import run_instance
from engine.migrate import alembic_config
from engine.models import AuditEvent, Instance, InstanceState, TaskRecord
from engine.services import Alur
from engine.testing import PROCESS, SOP_FILE, make_alur
from engine.uow import unit_of_work
from tests.helpers import current, start, step

TASK = "5dd95300-06e9-45ff-9133-f21b622514d2"
OTHER = "e42b7915-a844-43b4-8f9c-cec9af20647c"
READY_AT = datetime(2026, 11, 2, 3, 4, 5, 123456)
DONE_AT = datetime(2026, 11, 3, 8, 0, 0, 7)


def test_a_finished_request_is_stored_compactly_and_its_history_is_whole(alur: Alur, db_url: str) -> None:
    iid = run_instance(alur, PROCESS)
    path = db_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        kinds = {r[0] for r in conn.execute("SELECT DISTINCT typeof(id) || typeof(ready_at) || typeof(completed_at) "
                                            "FROM tasks WHERE instance_id = ?", (iid,))}
        assert kinds == {"blobintegerinteger"}
        assert conn.execute("SELECT typeof(task_id) FROM audit_events WHERE kind = 'complete' LIMIT 1"
                            ).fetchone() == ("blob",)
        payloads = {r[0] for r in conn.execute(
            "SELECT payload FROM audit_events WHERE instance_id = ? AND kind IN ('complete', 'return', 'end')",
            (iid,))}
        assert payloads == {"{}"}
        assert conn.execute("SELECT COUNT(*) FROM instance_states WHERE instance_id = ?", (iid,)).fetchone() == (0,)
    detail = alur.instance(iid, SYSTEM)
    assert detail.instance.end_event == {"id": "end_surat_diterima", "name": "Surat diterima pemohon",
                                         "kind": "biasa"}
    assert detail.instance.status == "completed" and alur.verify(iid) == []
    # every activation keeps its step, decision, note, who and when; each audit event finds its row
    with alur.unit_of_work(write=False) as uow:
        rows = {r.id: r for r in uow.session.scalars(select(TaskRecord).where(TaskRecord.instance_id == iid))}
        events = [e for e in alur.audit_log(iid) if e.kind in ("complete", "return")]
    assert len(events) == len(rows) and {e.task_id for e in events} == set(rows)
    for event in events:
        row = rows[event.task_id]
        assert (row.completed_by, row.completed_at) == (event.actor, event.at)
        assert (event.kind == "return") == (row.keputusan == "tidak_setuju")
        assert row.name and row.ready_at <= row.completed_at
    assert sum(e.kind == "return" for e in events) == 2


def test_a_ready_task_is_found_by_its_id_and_a_malformed_id_by_none(alur: Alur) -> None:
    iid = start(alur)
    record = current(alur, iid)
    with alur.unit_of_work(write=False) as uow:
        assert uow.session.get(TaskRecord, record.id).id == record.id
        assert uow.session.scalars(select(TaskRecord).where(TaskRecord.id == "bukan-uuid")).all() == []
        assert uow.session.scalars(select(TaskRecord).where(TaskRecord.ready_at <= record.ready_at,
                                                            TaskRecord.id == record.id)).one().id == record.id
    step(alur, iid)
    assert current(alur, iid).id != record.id


# ---- migration 0012 on data written by the schema and code before it ------------------------------


def _old_rows(conn: Any, sqlite: bool) -> None:
    """A request as 0008 stored it: text ids and times, audit payloads that repeat their rows."""
    def when(moment: datetime) -> Any:
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else moment

    conn.execute(text("INSERT INTO process_definitions (id, key, version, name, bpmn_xml, sha256, deployed_by, "
                      "deployed_at) VALUES (1, :key, 1, 'SOP', :xml, 'x', 'system', :at)"),
                 {"key": PROCESS, "xml": SOP_FILE.read_text(), "at": when(READY_AT)})
    end_event = {"id": "end_surat_diterima", "name": "Surat diterima pemohon",
                                         "kind": "biasa"}
    conn.execute(text("INSERT INTO instances (id, definition_id, status, state, data, started_by, started_at, "
                      "ended_at, lock_version, task_count, end_event) VALUES (1, 1, 'completed', :state, '{}', "
                      "'pemohon', :started, :ended, 3, 2, :end_event)"),
                 {"state": b"old", "started": when(READY_AT), "ended": when(DONE_AT),
                  "end_event": json.dumps(end_event)})
    task = ("INSERT INTO tasks (id, instance_id, seq, spec_id, name, lane, step_no, state, ready_at, completed_at, "
            "completed_by, keputusan, catatan, returned_by_task) VALUES (:id, 1, :seq, 'langkah_01', 'Langkah satu', "
            "'Pemohon', 1, 'completed', :ready, :done, 'pemohon', :keputusan, :catatan, :returned)")
    conn.execute(text(task), {"id": TASK, "seq": 1, "ready": when(READY_AT), "done": when(DONE_AT),
                              "keputusan": "tidak_setuju", "catatan": "kurang lengkap", "returned": None})
    conn.execute(text(task), {"id": OTHER, "seq": 2, "ready": when(DONE_AT), "done": when(DONE_AT),
                              "keputusan": None, "catatan": None, "returned": TASK})
    conn.execute(text("INSERT INTO documents (id, instance_id, doc_type, created_at) VALUES (1, 1, 'surat', :at)"),
                 {"at": when(READY_AT)})
    conn.execute(text("INSERT INTO document_versions (id, document_id, version, filename, media_type, size, sha256, "
                      "task_id, uploaded_by, uploaded_at) VALUES (7, 1, 1, 'surat.pdf', 'application/pdf', 10, "
                      "'abc', :task, 'pemohon', :at)"), {"task": TASK, "at": when(READY_AT)})
    events = [
        ("return", TASK, {"step": "Langkah satu", "step_no": 1, "keputusan": "tidak_setuju",
                          "catatan": "kurang lengkap"}),
        # disagrees with its task row (written by hand?): kept whole, nothing is lost
        ("complete", OTHER, {"step": "Nama lama", "step_no": 1, "keputusan": None, "catatan": None}),
        ("document_added", TASK, {"doc_type": "surat", "version": 1, "sha256": "abc", "size": 10,
                                  "filename": "surat.pdf"}),
        ("paraf", TASK, {"doc_type": "surat", "version": 1, "version_id": 7, "sha256": "abc",
                         "step": "Langkah satu", "step_no": 1}),
        ("end", None, {"end_event": end_event}),
        ("start", None, {"process": PROCESS, "version": 1}),
    ]
    for number, (kind, task_id, payload) in enumerate(events, 1):
        conn.execute(text("INSERT INTO audit_events (id, at, actor, kind, instance_id, task_id, payload) "
                          "VALUES (:id, :at, 'pemohon', :kind, 1, :task, :payload)"),
                     {"id": number, "at": when(DONE_AT), "kind": kind, "task": task_id, "payload": json.dumps(payload)})


def _check_upgraded(url: str) -> None:
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            first, second = session.scalars(select(TaskRecord).order_by(TaskRecord.seq)).all()
            assert (first.id, first.ready_at, first.completed_at) == (TASK, READY_AT, DONE_AT)
            assert (second.id, second.returned_by_task) == (OTHER, TASK)
            assert session.scalars(select(TaskRecord.seq).where(TaskRecord.completed_at > READY_AT)).all() == [1, 2]
            assert session.get(TaskRecord, TASK).keputusan == "tidak_setuju"
            instance = session.get_one(Instance, 1)
            assert (instance.started_at, instance.ended_at) == (READY_AT, DONE_AT)
            assert instance.state == b"old"  # every stored state moved, an ended request's too
            payloads = {e.kind: e.payload for e in session.scalars(select(AuditEvent))}
            assert {e.task_id for e in session.scalars(select(AuditEvent))} == {TASK, OTHER, None}
            assert session.scalars(select(AuditEvent.at)).all() == [DONE_AT] * 6
        assert payloads == {
            "return": {},
            "complete": {"step": "Nama lama", "step_no": 1, "keputusan": None, "catatan": None},
            "document_added": {"version_id": 7},
            "paraf": {"doc_type": "surat", "version": 1, "version_id": 7, "sha256": "abc"},
            "end": {},
            "start": {"process": PROCESS, "version": 1},
        }
        with Session(engine) as session:
            [initial] = initials.of_instance(session, 1)
        assert (initial.step, initial.step_no, initial.sha256) == ("Langkah satu", 1, "abc")
    finally:
        engine.dispose()


def _migrate_old_data(url: str, sqlite: bool) -> None:
    cfg = alembic_config(url)
    command.upgrade(cfg, "0012_storage-1")  # the schema just before (whatever it revises)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            _old_rows(conn, sqlite)
    finally:
        engine.dispose()
    command.upgrade(cfg, "head")
    _check_upgraded(url)


def test_migration_0012_keeps_old_sqlite_data(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    _migrate_old_data(url, sqlite=True)
    with sqlite3.connect(tmp_path / "old.sqlite") as conn:
        assert conn.execute("SELECT DISTINCT typeof(id), typeof(ready_at) FROM tasks").fetchall() == [
            ("blob", "integer")]
    command.downgrade(alembic_config(url), "0012_storage-1")  # and back: text again, the same values
    with sqlite3.connect(tmp_path / "old.sqlite") as conn:
        assert conn.execute("SELECT id, ready_at, completed_at FROM tasks ORDER BY seq LIMIT 1").fetchone() == (
            TASK, "2026-11-02 03:04:05.123456", "2026-11-03 08:00:00.000007")


def test_migration_0012_keeps_old_postgresql_data(pg_url: str) -> None:
    _migrate_old_data(pg_url, sqlite=False)
    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT data_type FROM information_schema.columns WHERE table_name = 'tasks' "
                                     "AND column_name = 'id'")).scalar_one() == "uuid"
    finally:
        engine.dispose()


def _stored_state(alur: Alur, iid: int) -> bytes | None:
    with alur.unit_of_work(write=False) as uow:
        return uow.session.scalar(select(InstanceState.state).where(InstanceState.instance_id == iid))


def test_only_a_running_request_keeps_a_workflow_state(alur: Alur) -> None:
    running, cancelled = start(alur), start(alur)
    blob = _stored_state(alur, running)
    assert blob is not None and alur.verify(running) == []
    with alur.unit_of_work(write=False) as uow:
        parsed = alur.parsed(uow.session.get_one(Instance, running).definition)
    workflow = state.load(blob, parsed.spec, parsed.subprocess_specs)
    assert [str(t.id) for t in state.ready_user_tasks(workflow)] == [current(alur, running).id]
    alur.cancel(cancelled, SYSTEM, "uji")
    assert _stored_state(alur, cancelled) is None and alur.verify(cancelled) == []
    step(alur, running)
    assert _stored_state(alur, running) is not None and alur.verify(running) == []



def test_a_time_moved_in_sql_keeps_its_meaning(alur: Alur) -> None:
    """`started_at - timedelta` in an UPDATE: SQLite subtracts microseconds, PostgreSQL an interval."""
    iid = start(alur)
    with alur.unit_of_work() as uow:
        before = uow.session.get_one(Instance, iid).started_at
        uow.session.execute(update(Instance).where(Instance.id == iid)
                            .values(started_at=Instance.started_at - timedelta(days=1, microseconds=3)))
    with alur.unit_of_work(write=False) as uow:
        assert uow.session.get_one(Instance, iid).started_at == before - timedelta(days=1, microseconds=3)


def test_a_steps_rows_saved_without_the_orm_flush_keep_the_version_check(alur: Alur) -> None:
    """UnitOfWork.save writes a step's rows with plain statements: the request's UPDATE still checks its
    version (another writer's change is an error, nothing is written), and the saved rows stay in the
    session as clean, readable rows."""
    _saved_with_the_version_check(alur)


def test_a_steps_rows_saved_in_one_postgresql_statement_keep_the_version_check(pg_url: str) -> None:
    """The same on PostgreSQL, where the save is one statement with the audit rows queued before it: a stale
    version refuses the whole statement (no audit row either)."""
    alur = make_alur(pg_url)
    try:
        _saved_with_the_version_check(alur)
    finally:
        alur.db.engine.dispose()


def _saved_with_the_version_check(alur: Alur) -> None:
    instance_id = start(alur)
    with unit_of_work(alur.db) as uow:
        instance = uow.lock_instance(instance_id)
        record = uow.ready_records(instance_id)[0]
        before = instance.lock_version
        instance.perihal, record.catatan = "diubah", "catatan baru"
        uow.save([instance, record])
        assert instance in uow.session and record in uow.session and not uow.session.dirty
        assert instance.lock_version == before + 1 and instance.perihal == "diubah"
    with Session(alur.db.engine) as session:
        assert session.scalar(select(Instance.perihal).where(Instance.id == instance_id)) == "diubah"
        assert session.scalar(select(TaskRecord.catatan).where(TaskRecord.id == record.id)) == "catatan baru"

    with pytest.raises(StaleDataError), unit_of_work(alur.db) as uow:
        instance = uow.lock_instance(instance_id)
        uow.session.execute(text("UPDATE instances SET lock_version = lock_version + 1 WHERE id = :id"),
                            {"id": instance_id})  # as if another writer had saved meanwhile
        instance.perihal = "tidak tersimpan"
        uow.audit("penguji", "basi", datetime(2026, 11, 3), instance_id)
        uow.save([instance])
    with Session(alur.db.engine) as session:
        assert session.scalar(select(Instance.perihal).where(Instance.id == instance_id)) == "diubah"
        assert session.scalar(select(AuditEvent.id).where(AuditEvent.kind == "basi")) is None
