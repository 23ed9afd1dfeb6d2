"""Database engine and sessions: SQLite (embedded default) or PostgreSQL.

SQLite runs in WAL mode, and a writing unit of work begins with BEGIN IMMEDIATE so that
writers queue on the database lock instead of failing half-way (in the kernel: WriterQueue).
PostgreSQL serializes writers of one instance with SELECT ... FOR UPDATE (engine/uow.py).
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from contextvars import ContextVar
from datetime import datetime, time, timedelta
from pathlib import Path
from time import monotonic
from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, DateTime, Dialect, Engine, Interval, String, TypeDecorator, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import Executable

_immediate: ContextVar[bool] = ContextVar("sqlite_immediate", default=False)
_bare: ContextVar[bool] = ContextVar("sqlite_bare", default=False)  # one statement: no BEGIN (Database.read_one)


def _json(value: Any) -> str:
    """JSON columns without the blanks after `,` and `:` and without \\u escapes (bytes per request)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # No parallel workers: each query is one of many requests at once on a few cores, where a Gather adds
        # its workers' start-up to the answer (5-12 ms seen on 2 cores for the inbox search) and takes cores
        # from the other requests.
        engine = create_engine(url, pool_size=10, max_overflow=20, pool_use_lifo=True, json_serializer=_json,
                               connect_args={"options": "-c max_parallel_workers_per_gather=0"})
        _ping_after_idle(engine)
        return engine
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, json_serializer=_json)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if not _bare.get():
            conn.exec_driver_sql("BEGIN IMMEDIATE" if _immediate.get() else "BEGIN")

    return engine


PING_AFTER_IDLE_SECONDS = 1.0


def _ping_after_idle(engine: Engine) -> None:
    """A pooled PostgreSQL connection is tried (SELECT 1) before use only if it has been idle a while.

    A connection a database restart has cut is found before a request uses it, as with `pool_pre_ping`,
    but under load, when connections come back within milliseconds, without its round trip at every
    checkout (2-4 a request: 12% of a worker's time under 16 clients). LIFO keeps the busy ones busy."""

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or monotonic() - since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as exc:
            if engine.dialect.is_disconnect(exc, dbapi_conn, None):
                raise DisconnectionError(str(exc)) from exc  # the pool drops it and connects anew
            raise


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


class WriterQueue:
    """SQLite's writers of this machine wait in the kernel (flock on `<database>-writer`), not in SQLite.

    SQLite's busy handler polls: it sleeps 1, 2, 5, 10 ... 100 ms between tries, so under load a
    waiting writer often sleeps on while the lock is free, and a step's latency depends on luck
    (a p99 of hundreds of ms at 16 clients). A writer blocked in flock() is woken when the holder
    releases it. SQLite's own lock still decides; this only orders who asks for it. One open file
    per thread (flock belongs to the open file); a thread that already holds it does not wait again.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()

    def _file(self) -> _LockFile:
        held = getattr(self._local, "file", None)
        if held is None or held.pid != os.getpid():  # a forked worker opens its own
            held = self._local.file = _LockFile(self.path)
        return held

    def acquire(self) -> None:
        held = self._file()
        if held.depth == 0:
            fcntl.flock(held.fd, fcntl.LOCK_EX)
        held.depth += 1

    def release(self) -> None:
        held = self._local.file
        held.depth -= 1
        if held.depth == 0:
            fcntl.flock(held.fd, fcntl.LOCK_UN)


class _LockFile:
    """A thread's open lock file; closed when the thread (or the queue) is gone."""

    def __init__(self, path: Path) -> None:
        self.fd, self.pid, self.depth = os.open(path, os.O_RDWR | os.O_CREAT, 0o600), os.getpid(), 0

    def __del__(self) -> None:
        if self.pid == os.getpid():
            os.close(self.fd)


class Database:
    """One engine and its session factory; created once per process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        # No autoflush: the service layer flushes where a query must see its own writes.
        self.sessions = sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self.is_sqlite = is_sqlite(self.engine)
        # PostgreSQL's readers in autocommit: at READ COMMITTED each statement reads its own snapshot anyway,
        # so a BEGIN and a ROLLBACK around a read buy nothing but two round trips (same pool, same ping).
        self.autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self.readers = self.sessions if self.is_sqlite else sessionmaker(
            self.autocommit, expire_on_commit=False, autoflush=False)
        path = make_url(url).database if self.is_sqlite else None
        self.writers = WriterQueue(Path(f"{path}-writer")) if path and path != ":memory:" else None

    def session(self, write: bool) -> Session:
        """A writer's session (in a transaction; on SQLite queued for the write lock) or a reader's, which
        must not write: on PostgreSQL its statements commit one by one."""
        if write and self.writers is not None:
            self.writers.acquire()
        token = _immediate.set(write)
        session = (self.sessions if write else self.readers)()
        session.info["immediate_token"] = token
        session.info["queued_writer"] = write and self.writers is not None
        return session

    def read_one(self, stmt: Executable, params: dict[str, Any]) -> list[Row[Any]]:
        """The rows of one read statement, on a connection of its own. A single SELECT reads one snapshot by
        itself: on SQLite it runs without BEGIN (the rollback at the end then has nothing to do), on PostgreSQL
        in autocommit (no BEGIN and ROLLBACK round trips)."""
        if not self.is_sqlite:
            with self.autocommit.connect() as conn:
                return list(conn.execute(stmt, params).all())
        token = _bare.set(True)
        try:
            with self.engine.connect() as conn:
                return list(conn.execute(stmt, params).all())
        finally:
            _bare.reset(token)

    def release(self, session: Session) -> None:
        token = session.info.pop("immediate_token", None)
        queued = session.info.pop("queued_writer", False)
        try:
            session.close()
        finally:
            if token is not None:
                _immediate.reset(token)
            if queued and self.writers is not None:
                self.writers.release()


# ---- compact column encodings (issue 14: bytes per request) ------------------------------------
# SQLite stores what it is given: a datetime as 26 characters of text and a task id as 36. These
# types keep the Python values (naive datetimes, UUID strings) and store 8-byte integers and
# 16-byte blobs on SQLite; PostgreSQL keeps its own timestamp and gets its native uuid (16 bytes).
# The declared SQLite column types stay as they were (DATETIME, VARCHAR(36)): SQLite keeps an
# integer in a DATETIME column and a blob in any column as they are.

_EPOCH = datetime(1970, 1, 1)
_MICRO = timedelta(microseconds=1)


def micros(moment: datetime) -> int:
    """A naive datetime as microseconds since 1970 (how SQLite stores it; the migration does the same)."""
    return (moment.replace(tzinfo=None) - _EPOCH) // _MICRO


class _SqliteMicros(sqlite.DATETIME):
    """SQLite's DATETIME column without its text conversion: Timestamp hands it integers."""

    def bind_processor(self, dialect: Dialect) -> None:
        return None

    def result_processor(self, dialect: Dialect, coltype: object) -> None:
        return None


class _Delta(TypeDecorator[timedelta]):
    """A timedelta added to or taken from a Timestamp in SQL: microseconds on SQLite, an interval elsewhere."""

    impl = Interval
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        return dialect.type_descriptor(BigInteger() if dialect.name == "sqlite" else Interval())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return value // _MICRO if value is not None and dialect.name == "sqlite" else value


class Timestamp(TypeDecorator[datetime]):
    """DateTime; on SQLite stored as integer microseconds since 1970 (8 bytes instead of 26)."""

    impl = DateTime
    cache_ok = True

    def coerce_compared_value(self, op: Any, value: Any) -> Any:
        return _Delta() if isinstance(value, timedelta) else super().coerce_compared_value(op, value)

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        return _SqliteMicros() if dialect.name == "sqlite" else dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None or dialect.name != "sqlite":
            return value
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        elif not isinstance(value, datetime):  # a date
            value = datetime.combine(value, time())
        return micros(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None or dialect.name != "sqlite":
            return value
        if isinstance(value, str):  # written before migration 0012 (never left after it)
            return datetime.fromisoformat(value)
        return _EPOCH + timedelta(microseconds=value)

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        """process_result_value without TypeDecorator's wrapper call a value (a list reads thousands); none at
        all where it changes nothing (PostgreSQL's driver hands datetimes)."""
        if dialect.name != "sqlite":
            return self.load_dialect_impl(dialect).result_processor(dialect, coltype)

        def process(value: Any) -> Any:
            if value.__class__ is int:
                return _EPOCH + timedelta(microseconds=value)
            return self.process_result_value(value, dialect)

        return process


class TaskId(TypeDecorator[str]):
    """A SpiffWorkflow task's UUID as its canonical string; stored in 16 bytes (uuid on PostgreSQL).

    A string that is no UUID matches nothing (binds as NULL): an unknown id is simply not found."""

    impl = String(36)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.UUID(as_uuid=False))
        return dialect.type_descriptor(String(36))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        try:
            parsed = value if isinstance(value, UUID) else UUID(str(value))
        except ValueError:
            return None
        return parsed.bytes if dialect.name == "sqlite" else str(parsed)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, bytes):
            if len(value) != 16:
                return str(UUID(bytes=value))  # raises, as it always did
            text = value.hex()  # str(UUID(bytes=value)) at a fifth of its cost (a list reads a hundred)
            return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
        return str(value)
