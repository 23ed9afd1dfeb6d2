"""Part 6a: bytes stored per completed instance, documents excluded."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import create_engine, text

# What an instance leaves in the database apart from its documents.
INSTANCE_TABLES = ("instances", "instance_states", "tasks", "audit_events", "letter_register")


@dataclass
class StorageResult:
    method: str
    completed_instances: int
    bytes_per_instance: float
    by_table: dict[str, float] = field(default_factory=dict)  # bytes per instance


def _sqlite_pages(path: str) -> dict[str, int]:
    """Bytes of pages (tables and their indexes) per table, as the file holds them (dbstat)."""
    with sqlite3.connect(path) as conn:
        owner = dict(conn.execute("SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')"))
        sizes: dict[str, int] = {}
        for name, pgsize in conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
            table = owner.get(name, name)
            sizes[table] = sizes.get(table, 0) + int(pgsize)
    return sizes


def _sqlite_path(url: str) -> str:
    return url.removeprefix("sqlite:///")


def sqlite_file_bytes(url: str, baseline_url: str) -> StorageResult:
    """Growth of the file's pages (rows and indexes) of the instance tables over a fresh database, per instance."""
    path = _sqlite_path(url)
    after, before = _sqlite_pages(path), _sqlite_pages(_sqlite_path(baseline_url))
    with sqlite3.connect(path) as conn:
        completed = conn.execute("SELECT COUNT(*) FROM instances WHERE status = 'completed'").fetchone()[0]
        total = conn.execute("SELECT COUNT(*) FROM instances").fetchone()[0]
    if completed == 0 or completed != total:
        raise RuntimeError(f"storage needs only completed instances ({completed} of {total})")
    by_table = {t: (after.get(t, 0) - before.get(t, 0)) / completed for t in INSTANCE_TABLES}
    return StorageResult("SQLite file pages incl. indexes (dbstat growth)", completed, sum(by_table.values()),
                         by_table)


def pg_row_bytes(url: str, at_least_one: Callable[[], None]) -> StorageResult:
    """Sum of pg_column_size of each row that belongs to a completed instance (indexes excluded).

    `at_least_one` completes an instance when the load finished none (a tiny run).
    """
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            completed = conn.execute(text("SELECT COUNT(*) FROM instances WHERE status = 'completed'")).scalar_one()
            if completed == 0:
                at_least_one()
                completed = conn.execute(text("SELECT COUNT(*) FROM instances WHERE status = 'completed'")
                                         ).scalar_one()
            done = "(SELECT id FROM instances WHERE status = 'completed')"
            by_table: dict[str, float] = {
                "instances": conn.execute(text(
                    "SELECT SUM(pg_column_size(t.*)) FROM instances t WHERE status = 'completed'")).scalar_one()}
            for table in INSTANCE_TABLES[1:]:
                by_table[table] = conn.execute(text(
                    f"SELECT COALESCE(SUM(pg_column_size(t.*)), 0) FROM {table} t "
                    f"WHERE instance_id IN {done}")).scalar_one()
    finally:
        engine.dispose()
    per = {t: float(v) / completed for t, v in by_table.items()}
    return StorageResult("PostgreSQL row sizes (pg_column_size, no indexes)", completed, sum(per.values()), per)
