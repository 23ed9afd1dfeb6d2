"""Part 7: reports and the event log on the big database of part 5.

The history rows that part 5 generates all take the same time per step, finish as one
person per lane and never return a request; a report over them would read a handful of
rollup rows. So before measuring, one UPDATE per dialect spreads them the way a real office
would: each finished activation's working-time wait is drawn between a fifth of its
standard and six times it (at least 30 s), its finisher is one of three people of the lane,
and one decision in ten returns the request. The rollups are then made from the 1.2 million
rows by `engine.reports.rebuild` (timed) and the report is asked for, in process and over
HTTP (GET /api/v1/reports/{key} through the benchmark's gunicorn): whole history, one month,
one version.
The event log is measured as XES streamed from the same database: time to the first chunk,
throughput over its first `eventlog_mb` megabytes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import text

from bench.common import PROCESS, ms, percentile
from bench.load import Http, issue_tokens
from bench.server import Server
from engine import reports
from engine.actors import SYSTEM
from engine.clock import local, utcnow
from engine.eventlog import EventLog
from engine.services import Alur


def spread(alur: Alur) -> int:
    """Vary waits, finishers and decisions of the generated history (see the module doc); returns rows changed."""
    with alur.db.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            sql = """UPDATE tasks SET
                waited_working_seconds = 30 + abs(random()) % (coalesce(standard_minutes, 10) * 60 * 6),
                completed_by = completed_by || '-' || (abs(random()) % 3),
                keputusan = CASE WHEN keputusan = 'setuju' AND abs(random()) % 10 = 0
                                 THEN 'tidak_setuju' ELSE keputusan END
                WHERE state = 'completed'"""
        else:
            sql = """UPDATE tasks SET
                waited_working_seconds = 30 + floor(random() * coalesce(standard_minutes, 10) * 60 * 6)::int,
                completed_by = completed_by || '-' || floor(random() * 3)::int,
                keputusan = CASE WHEN keputusan = 'setuju' AND random() < 0.1
                                 THEN 'tidak_setuju' ELSE keputusan END
                WHERE state = 'completed'"""
        changed = conn.execute(text(sql)).rowcount
    return changed


@dataclass
class Timing:
    requests: int
    p50_ms: float
    p95_ms: float


@dataclass
class ReportingResult:
    spread_rows: int
    rebuild_seconds: float
    activations: int
    requests: int
    rollup_rows: int
    report: dict[str, Timing]  # in process: engine.reports.report
    http: dict[str, Timing]  # GET /api/v1/reports/{key} through the server
    eventlog_first_chunk_ms: float
    eventlog_mb: float
    eventlog_mb_per_s: float


def _time(call: object, requests: int, budget: float, warm: int = 1) -> Timing:
    """p50/p95 of `call` after `warm` untimed calls (the diagram, calendar and pools are cached per process)."""
    assert callable(call)
    for _ in range(warm):
        call()
    times: list[float] = []
    deadline = time.monotonic() + budget
    while len(times) < requests and (time.monotonic() < deadline or len(times) < 3):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return Timing(len(times), ms(percentile(times, 50)), ms(percentile(times, 95)))


def run(alur: Alur, server: Server, requests: int, budget: float, eventlog_mb: float) -> ReportingResult:
    changed = spread(alur)
    started = time.monotonic()
    with alur.unit_of_work() as uow:
        activations, finished = reports.rebuild(uow.session, alur.calendar(uow.session))
    rebuild_seconds = time.monotonic() - started
    if alur.db.engine.dialect.name == "postgresql":  # what autovacuum does after such a change, made deterministic
        with alur.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE tasks, report_steps, report_cases"))
    with alur.db.engine.connect() as conn:
        rollup_rows = int(conn.scalar(text("SELECT count(*) FROM report_steps")) or 0) + int(
            conn.scalar(text("SELECT count(*) FROM report_cases")) or 0)
    month = local(utcnow() - timedelta(days=60), alur.settings.timezone)
    one_month = reports.Period(month.year * 100 + month.month, month.year * 100 + month.month)
    calls = {
        "whole history": lambda: reports.report(alur, SYSTEM, PROCESS),
        "one month": lambda: reports.report(alur, SYSTEM, PROCESS, period=one_month),
        "version 1": lambda: reports.report(alur, SYSTEM, PROCESS, 1),
    }
    timings = {name: _time(call, requests, budget) for name, call in calls.items()}
    token = issue_tokens(server.database_url, ["admin"])["admin"]
    client = Http(server.port)
    paths = {"whole history": f"/reports/{PROCESS}",  # Http puts /api/v1 in front
             "one month": f"/reports/{PROCESS}?from={month:%Y-%m}&to={month:%Y-%m}",
             "version 1": f"/reports/{PROCESS}?version=1"}
    try:
        # each gunicorn worker answers its first report once untimed, as in steady service
        http = {name: _time(lambda path=path: _get(client, path, token), requests, budget, 2 * server.workers)
                for name, path in paths.items()}
    finally:
        client.close()
    first_ms, mb, rate = _eventlog(alur, eventlog_mb)
    return ReportingResult(changed, rebuild_seconds, activations, finished, rollup_rows, timings, http, first_ms, mb,
                           rate)


def _get(client: Http, path: str, token: str) -> None:
    status, body = client.call("GET", path, token)
    if status != 200:
        raise RuntimeError(f"GET {path}: {status} {body[:300]!r}")


def _eventlog(alur: Alur, limit_mb: float) -> tuple[float, float, float]:
    started = time.perf_counter()
    first = None
    size = 0
    stream = EventLog(alur, SYSTEM, PROCESS).xes()
    try:
        for chunk in stream:
            if first is None:
                first = time.perf_counter() - started
            size += len(chunk.encode("utf-8"))
            if size >= limit_mb * 1024 * 1024:
                break
    finally:
        stream.close()  # a client that stops reading: the cursor and the session are let go
    seconds = time.perf_counter() - started
    mb = size / (1024 * 1024)
    return ms(first or 0.0), mb, mb / seconds if seconds else 0.0
