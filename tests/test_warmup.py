"""A server process warms its hot reads before taking requests (engine/warmup.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine.interfaces import CacheStats

from api import create_app
from engine.bootstrap import build
from engine.services import Alur
from engine.settings import Settings
from engine.testing import PROCESS, make_alur, sop_model
from engine.users import DEMO_PASSWORD, slug
from engine.warmup import warm_up

LANE = "Petugas Informasi/TU"
READS = ["/tasks", "/tasks?limit=50", "/tasks?q=Dinas&limit=50", "/tasks?q=%231",
         "/tasks?overdue=true&sort=due&limit=50", "/tasks?returned=true&limit=50", "/tasks?mine=true"]
ADMIN_READS = ["/instances", "/instances?status=running", "/instances?overdue=true",
               "/instances?from=2026-01-01&to=2026-02-01", f"/instances?process={PROCESS}"]


@contextmanager
def compiled_anew(alur: Alur) -> Iterator[list[str]]:
    """The statements this Alur's engine had to compile (not found in its cache) while the block ran."""
    misses: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool) -> None:
        if getattr(context, "cache_hit", None) is CacheStats.CACHE_MISS:
            misses.append(statement.split("\n")[0][:120])

    event.listen(alur.db.engine, "before_cursor_execute", seen)
    try:
        yield misses
    finally:
        event.remove(alur.db.engine, "before_cursor_execute", seen)


def first_reads(url: str, tokens: dict[str, str], applicant: str, instance_id: int, warm: bool) -> list[str]:
    """A new server process's first API reads (a new engine: nothing compiled yet); what it compiled."""
    fresh = build(Settings(database_url=url, scheduler=False))
    try:
        if warm:
            warm_up(fresh)
        client = create_app(fresh.settings, fresh, TESTING=True).test_client()
        with compiled_anew(fresh) as misses:
            for who, paths in ((LANE, READS), (applicant, ["/tasks", "/instances"]),
                               ("admin", ADMIN_READS + [f"/instances/{instance_id}"])):
                for path in paths:
                    response = client.get(f"/api/v1{path}", headers={"Authorization": f"Bearer {tokens[who]}"})
                    assert response.status_code == 200, (path, response.json)
        return misses
    finally:
        fresh.db.engine.dispose()


def check_warm_up(url: str, alur: Alur) -> None:
    client = create_app(alur.settings, alur, TESTING=True).test_client()
    first = sop_model().ordered_steps()[0].lane
    tokens = {who: client.post("/api/v1/auth/token", json={"username": slug(who), "password": DEMO_PASSWORD})
              .json["token"] for who in (first, LANE, "admin")}
    started = client.post("/api/v1/instances", json={"process": PROCESS, "data": {}},
                          headers={"Authorization": f"Bearer {tokens[first]}"})
    assert started.status_code == 201, started.json
    cold = first_reads(url, tokens, first, started.json["id"], warm=False)
    assert len(cold) >= 5  # the reads do compile in a new process: what the warm-up is for
    assert first_reads(url, tokens, first, started.json["id"], warm=True) == []


def test_a_warmed_up_process_compiles_none_of_the_inbox_and_list_reads_on_sqlite(alur: Alur, db_url: str) -> None:
    check_warm_up(db_url, alur)


def test_a_warmed_up_process_compiles_none_of_the_inbox_and_list_reads_on_postgresql(pg_url: str) -> None:
    alur = make_alur(pg_url)
    try:
        check_warm_up(pg_url, alur)
    finally:
        alur.db.engine.dispose()


def test_a_database_that_cannot_answer_yet_is_logged_not_raised(tmp_path: Path,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    """Before `alur init` the tables are missing: the worker must still start (and say why it did not warm)."""
    fresh = build(Settings(database_url=f"sqlite:///{tmp_path / 'empty.sqlite'}", scheduler=False))
    with caplog.at_level(logging.WARNING, logger="engine.warmup"):
        warm_up(fresh)
    assert "pemanasan awal dilewati" in caplog.text
    fresh.db.engine.dispose()
