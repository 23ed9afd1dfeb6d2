"""Issue 14 on PostgreSQL: the server's CPU is the limit, and every statement sent is a round trip it serves.

A reader runs in autocommit (no BEGIN and ROLLBACK) and a step's writes go in one statement (engine/uow.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pytest
from flask.testing import FlaskClient
from psycopg.pq import TransactionStatus
from sqlalchemy import Engine, event, func, select
from sqlalchemy.engine.interfaces import CacheStats

from api import create_app
from engine import db
from engine.actors import SYSTEM
from engine.demo import fill
from engine.models import AuditEvent, Instance, StepStat, TaskRecord
from engine.services import Alur
from engine.uow import FOLDED_ROWS, unit_of_work
from engine.users import DEMO_PASSWORD, slug
from tests.conftest import make_alur
from tests.helpers import current, start, step


@contextmanager
def round_trips(engine: Engine) -> Iterator[list[str]]:
    """The statements psycopg sends to the server, by first word: BEGIN before a transaction's first
    statement, COMMIT and ROLLBACK only when a transaction is open (psycopg sends none in autocommit).
    A statement SQLAlchemy cannot cache (compiled anew at each request) shows as UNCACHED."""
    sent: list[str] = []

    def statement(conn: Any, _cursor: Any, sql: str, _params: Any, context: Any, _many: bool) -> None:
        dbapi = conn.connection.dbapi_connection
        if not dbapi.autocommit and dbapi.info.transaction_status == TransactionStatus.IDLE:
            sent.append("BEGIN")
        sent.append(sql.split()[0].upper() if context.cache_hit != CacheStats.NO_CACHE_KEY else "UNCACHED")

    def ending(word: str) -> Any:
        def listener(conn: Any) -> None:
            if conn.connection.dbapi_connection.info.transaction_status != TransactionStatus.IDLE:
                sent.append(word)
        return listener

    listeners = [("before_cursor_execute", statement), ("commit", ending("COMMIT")),
                 ("rollback", ending("ROLLBACK"))]
    for name, listener in listeners:
        event.listen(engine, name, listener)
    try:
        yield sent
    finally:
        for name, listener in listeners:
            event.remove(engine, name, listener)


@pytest.fixture
def pg_alur(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Alur]:
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 3600.0)  # no idle ping in the counts
    alur = make_alur(pg_url)
    yield alur
    alur.db.engine.dispose()


def _bearer(client: FlaskClient, lane: str) -> dict[str, str]:
    token = client.post("/api/v1/auth/token", json={"username": slug(lane), "password": DEMO_PASSWORD}).json
    return {"Authorization": f"Bearer {token['token']}"}  # type: ignore[index]


def test_a_read_and_a_step_on_postgresql_take_few_round_trips(pg_alur: Alur) -> None:
    """GET a request: the token's SELECT and the request's three, nothing around them. Complete a plain
    step: the token, the transaction's BEGIN, the locked step and its ready rows, ONE statement with every
    write (the request with its version check, its workflow state, the task rows, the report rollup, the
    audit row) and the COMMIT. The rows are all written."""
    instance_id = start(pg_alur)
    step(pg_alur, instance_id)
    record = current(pg_alur, instance_id)  # step 2: no upload, no document, no letter number
    client = create_app(pg_alur.settings, pg_alur, TESTING=True, WTF_CSRF_ENABLED=False).test_client()
    headers = _bearer(client, record.lane)
    with pg_alur.unit_of_work(write=False) as uow:
        version = uow.session.scalar(select(Instance.lock_version).where(Instance.id == instance_id))
        counted = uow.session.scalar(select(func.coalesce(func.sum(StepStat.n), 0)))

    with round_trips(pg_alur.db.engine) as sent:
        response = client.get(f"/api/v1/instances/{instance_id}", headers=headers)
    assert response.status_code == 200 and response.json["ready_tasks"][0]["id"] == record.id  # type: ignore[index]
    assert sent == ["SELECT"] * 4

    spec = pg_alur.task(record.id, SYSTEM).step
    with round_trips(pg_alur.db.engine) as sent:
        response = client.post(f"/api/v1/tasks/{record.id}/complete", headers=headers,
                               json={"data": fill(spec, None)})
    assert response.status_code == 200, response.json
    assert sent == ["SELECT", "BEGIN", "SELECT", "SELECT", "WITH", "COMMIT"]

    with pg_alur.unit_of_work(write=False) as uow:
        tasks = uow.session.execute(select(TaskRecord.id, TaskRecord.state, TaskRecord.completed_by)
                                    .where(TaskRecord.instance_id == instance_id).order_by(TaskRecord.seq)).all()
        audits = uow.session.execute(select(AuditEvent.kind, AuditEvent.task_id)
                                     .where(AuditEvent.instance_id == instance_id).order_by(AuditEvent.id)).all()
        assert uow.session.scalar(select(Instance.lock_version).where(Instance.id == instance_id)) == version + 1
        assert uow.session.scalar(select(func.sum(StepStat.n))) == counted + 1
    assert [state for _, state, _ in tasks] == ["completed", "completed", "ready"]
    assert tasks[1][0] == record.id and tasks[1][2] == slug(record.lane)
    assert audits[-1] == ("complete", record.id)


@pytest.mark.parametrize("count", [4, FOLDED_ROWS + 4])
def test_the_audit_rows_of_one_postgresql_save_keep_the_order_of_the_calls(pg_alur: Alur, count: int) -> None:
    """The save's one statement inserts its audit rows in the order they were recorded (their ids say it);
    so do the separate INSERT of a bulk command's many rows."""
    instance_id = start(pg_alur)
    kinds = [f"urutan-{n}" for n in range(count)]
    with unit_of_work(pg_alur.db) as uow:
        instance = uow.lock_instance(instance_id)
        for kind in kinds:
            uow.audit("penguji", kind, datetime(2026, 11, 3), instance_id)
        instance.perihal = "diurutkan"
        uow.save([instance])
    with pg_alur.unit_of_work(write=False) as uow:
        written = list(uow.session.scalars(select(AuditEvent.kind).where(AuditEvent.kind.in_(kinds))
                                           .order_by(AuditEvent.id)))
    assert written == kinds


def test_a_worker_keeps_its_hot_statements_prepared_on_postgresql(pg_alur: Alur) -> None:
    """psycopg prepares a statement on the server after its 5th run on a connection, and a ROLLBACK makes it
    drop them all (and send DEALLOCATE ALL). Readers send no ROLLBACK, so a worker's hot statements stay
    parsed and planned across requests: the server then only binds and runs them (a plan costs it more CPU
    than the run). Sequential requests reuse one pooled connection (LIFO), which the test then asks."""
    instance_id = start(pg_alur)
    record = current(pg_alur, instance_id)
    client = create_app(pg_alur.settings, pg_alur, TESTING=True, WTF_CSRF_ENABLED=False).test_client()
    headers = _bearer(client, record.lane)
    for _ in range(8):
        assert client.get(f"/api/v1/instances/{instance_id}", headers=headers).status_code == 200
    with pg_alur.db.engine.connect() as conn:
        prepared = conn.exec_driver_sql("SELECT statement FROM pg_prepared_statements").scalars().all()
    assert any("FROM instances" in sql and "WHERE instances.id" in sql for sql in prepared), prepared
    assert any("FROM users JOIN api_tokens" in sql for sql in prepared), prepared
