"""Database engine and sessions: SQLite (embedded default) or PostgreSQL.

SQLite runs in WAL mode, and a writing unit of work begins with BEGIN IMMEDIATE so that
writers queue on the database lock instead of failing half-way. PostgreSQL serializes
writers of one instance with SELECT ... FOR UPDATE (engine/uow.py).
"""

from __future__ import annotations

from contextvars import ContextVar
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

_immediate: ContextVar[bool] = ContextVar("sqlite_immediate", default=False)


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # No parallel workers: each query is one of many requests at once on a few cores, where a Gather adds
        # its workers' start-up to the answer (5-12 ms seen on 2 cores for the inbox search) and takes cores
        # from the other requests.
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20,
                             connect_args={"options": "-c max_parallel_workers_per_gather=0"})
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

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
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _immediate.get() else "BEGIN")

    return engine


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


class Database:
    """One engine and its session factory; created once per process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        # No autoflush: the service layer flushes where a query must see its own writes.
        self.sessions = sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self.is_sqlite = is_sqlite(self.engine)

    def session(self, write: bool) -> Session:
        token = _immediate.set(write)
        session = self.sessions()
        session.info["immediate_token"] = token
        return session

    @staticmethod
    def release(session: Session) -> None:
        token = session.info.pop("immediate_token", None)
        session.close()
        if token is not None:
            _immediate.reset(token)
