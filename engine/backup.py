"""Consistent copies of the database (documents included: they live in it).

SQLite: the online backup API copies a consistent snapshot while the server keeps
running. PostgreSQL: pg_dump/pg_restore in custom format.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from engine.migrate import upgrade


class BackupError(RuntimeError):
    pass


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    return Path(parsed.database) if parsed.get_backend_name() == "sqlite" and parsed.database else None


def _libpq_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def backup(url: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    source = _sqlite_path(url)
    if source is not None:
        partial = target.with_suffix(target.suffix + ".part")
        src, dst = sqlite3.connect(source), sqlite3.connect(partial)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
        partial.replace(target)
        return
    if shutil.which("pg_dump") is None:
        raise BackupError("pg_dump tidak ditemukan: pasang klien PostgreSQL (paket postgresql-client)")
    result = subprocess.run(["pg_dump", "--format=custom", "--no-owner", f"--file={target}", _libpq_url(url)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"pg_dump gagal: {result.stderr.strip()}")


def restore(url: str, source_file: Path) -> None:
    """Replace the database's content with the backup, then bring the schema up to date."""
    if not source_file.is_file():
        raise BackupError(f"berkas cadangan {source_file} tidak ada")
    target = _sqlite_path(url)
    if target is not None:
        src = sqlite3.connect(f"file:{source_file}?mode=ro", uri=True)
        try:
            try:
                ok = src.execute("PRAGMA integrity_check").fetchone()[0]
                tables = {r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            except sqlite3.DatabaseError as exc:
                raise BackupError(f"{source_file} bukan cadangan Alur: {exc}") from None
            if ok != "ok" or "alembic_version" not in tables:
                raise BackupError(f"{source_file} bukan cadangan Alur yang utuh")
            target.parent.mkdir(parents=True, exist_ok=True)
            dst = sqlite3.connect(target)
            try:
                src.backup(dst)
            finally:
                dst.close()
        finally:
            src.close()
    else:
        if shutil.which("pg_restore") is None:
            raise BackupError("pg_restore tidak ditemukan: pasang klien PostgreSQL (paket postgresql-client)")
        result = subprocess.run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
                                 f"--dbname={_libpq_url(url)}", str(source_file)], capture_output=True, text=True)
        if result.returncode != 0:
            raise BackupError(f"pg_restore gagal: {result.stderr.strip()}")
    upgrade(url)
