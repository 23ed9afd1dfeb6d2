"""Part 5: the inbox and the instance list with a big database behind them.

Two real instances are made through the service layer (one running, one completed); their
state blobs and data are copied into many generated rows, inserted in bulk through
SQLAlchemy Core into the migrated database. Instance ids follow time (a year of requests);
running instances are among the newest, each with its history and one open task, spread
over all 13 steps (so over all lanes) with `ready_at` anywhere between the instance's start
and now. The 13 history rows of every completed instance are made in the database by one
INSERT ... SELECT per step. Audit events are not generated: neither query reads them.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    String,
    Uuid,
    cast,
    event,
    func,
    insert,
    literal,
    select,
    text,
    type_coerce,
    union_all,
)

from bench.common import PROCESS, median, ms, percentile
from bench.load import Http, issue_tokens
from bench.server import Server
from bench.service import Steps
from engine.clock import utcnow
from engine.diagram import SopModel, Step
from engine.models import Instance, InstanceState, TaskRecord
from engine.services import Alur
from engine.users import slug

CHUNK = 5_000
# the office inbox (issue 12): search over perihal/agency/number, filters, sort by due time, a page of 50
INBOX_FILTERS = {
    "q=Dinas Contoh 7&limit=50": "q=Dinas%20Contoh%207&limit=50",
    "overdue=true&sort=due&limit=50": "overdue=true&sort=due&limit=50",
    "returned=true&limit=50": "returned=true&limit=50",
}
AGENCIES = [f"Dinas Contoh {n}" for n in range(1, 40)]


@dataclass
class Template:
    definition_id: int
    running_state: bytes  # a finished request keeps no workflow state (engine.models.InstanceState)
    data: dict[str, Any]


def _templates(alur: Alur) -> Template:
    steps = Steps(alur)
    running = steps.start()
    steps.to_step(running, 3)
    done = steps.whole_instance()
    with alur.unit_of_work(write=False) as uow:
        run_row = uow.session.get_one(Instance, running)
        done_row = uow.session.get_one(Instance, done)
        return Template(done_row.definition_id, run_row.state, dict(done_row.data))


def _timeline(steps: list[Step]) -> list[tuple[int, int, int]]:
    """(minutes after the start when ready, standard minutes, minutes taken) of each step of a finished request."""
    result, at = [], 0
    for step in steps:
        standard = step.standard_minutes or 0
        taken = standard + 10
        result.append((at, standard, taken))
        at += taken + 45  # waiting in the next inbox
    return result


def _rows(model: SopModel, tpl: Template, first_id: int, count: int, open_tasks: int, now: datetime,
          rng: random.Random) -> Iterator[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """Chunks of (instance rows, task rows of the running instances)."""
    steps = model.ordered_steps()
    timeline = _timeline(steps)
    span = timedelta(days=365)
    begin = now - span
    newest = max(open_tasks, min(count, 3 * open_tasks))
    running = set(rng.sample(range(count - newest, count), open_tasks))
    instances: list[dict[str, Any]] = []
    tasks: list[dict[str, Any]] = []
    for n in range(count):
        iid = first_id + n
        started = (begin + span * (n / count) + timedelta(seconds=rng.randint(0, 600))).replace(microsecond=0)
        is_running = n in running
        agency = rng.choice(AGENCIES) if rng.random() < 0.9 else tpl.data.get("instansi_pemohon")
        ended = None
        if is_running:
            open_at = rng.randrange(len(steps))
            ready_at = started + (now - started) * rng.random()  # the open task: ready any time until now
            for i, step in enumerate(steps[:open_at + 1]):
                at, standard, taken = timeline[i]
                is_open = i == open_at
                ready = ready_at if is_open else started + timedelta(minutes=at)
                tasks.append({
                    "id": f"{iid:08x}-{i:04x}-4000-8000-{rng.getrandbits(48):012x}", "instance_id": iid,
                    "seq": i + 1, "spec_id": step.id, "name": step.name, "lane": step.lane,
                    "step_no": step.step_no, "standard_minutes": standard, "state": "ready" if is_open else "completed",
                    "ready_at": ready, "due_at": ready + timedelta(minutes=standard),
                    "completed_at": None if is_open else ready + timedelta(minutes=taken),
                    "completed_by": None if is_open else slug(step.lane),
                    "keputusan": "setuju" if step.is_decision and not is_open else None, "catatan": None})
        else:
            at, _, taken = timeline[-1]
            ended = started + timedelta(minutes=at + taken)
        instances.append({
            "id": iid, "definition_id": tpl.definition_id, "status": "running" if is_running else "completed",
            "data": tpl.data,
            "perihal": f"Permohonan narasumber {iid}", "agency": agency, "letter_number": None,
            "started_by": "pemohon", "started_at": started, "ended_at": ended, "lock_version": 1})
        if len(instances) >= CHUNK:
            yield instances, tasks
            instances, tasks = [], []
    if instances:
        yield instances, tasks


def _history_of_completed(conn: Connection, steps: list[Step], first_id: int) -> None:
    """The 13 task rows of every generated completed instance: one INSERT ... SELECT, in (instance, seq) order."""
    sqlite = conn.dialect.name == "sqlite"
    parts = []
    for i, (step, (at, standard, taken)) in enumerate(zip(steps, _timeline(steps), strict=True)):
        parts.append(select(
            literal(i + 1).label("seq"), literal(step.id).label("spec_id"), literal(step.name).label("name"),
            literal(step.lane).label("lane"), literal(step.step_no).label("step_no"),
            literal(standard).label("standard"), literal(at).label("at"), literal(taken).label("taken"),
            literal(slug(step.lane)).label("completed_by"),
            literal("setuju" if step.is_decision else None, String).label("keputusan")))
    plan = union_all(*parts).subquery("plan")

    def plus(minutes: ColumnElement[Any]) -> ColumnElement[Any]:
        if sqlite:  # times are integer microseconds there (engine.db.Timestamp)
            return type_coerce(Instance.started_at, BigInteger) + minutes * 60_000_000
        return Instance.started_at + func.make_interval(0, 0, 0, 0, 0, minutes)

    def hex_(value: Any, width: int) -> ColumnElement[Any]:
        return func.lpad(func.to_hex(value), width, "0")

    if sqlite:  # task ids are 16-byte blobs there (engine.db.TaskId)
        task_id = func.randomblob(16)
    else:
        noise = cast(func.floor(func.random() * (1 << 47)), BigInteger)
        task_id = cast(func.concat(hex_(Instance.id, 8), "-", hex_(plan.c.seq, 4), "-4000-8000-", hex_(noise, 12)),
                       Uuid)
    rows = (select(task_id, Instance.id, plan.c.seq, plan.c.spec_id, plan.c.name, plan.c.lane, plan.c.step_no,
                   plan.c.standard, literal("completed"), plus(plan.c.at), plus(plan.c.at + plan.c.standard),
                   plus(plan.c.at + plan.c.taken), plan.c.completed_by, plan.c.keputusan)
            .select_from(Instance).join(plan, literal(True))
            .where(Instance.status == "completed", Instance.id >= first_id)
            .order_by(Instance.id, plan.c.seq))
    columns = ["id", "instance_id", "seq", "spec_id", "name", "lane", "step_no", "standard_minutes", "state",
               "ready_at", "due_at", "completed_at", "completed_by", "keputusan"]
    conn.execute(insert(TaskRecord).from_select(columns, rows))


@dataclass
class Generated:
    instances: int
    open_tasks: int
    task_rows: int
    seconds: float
    open_by_lane: dict[str, int] = field(default_factory=dict)


def generate(alur: Alur, count: int, open_tasks: int, seed: int = 7) -> Generated:
    started = time.monotonic()
    model = alur.parsed(alur.definition(PROCESS)).model
    tpl = _templates(alur)
    rng = random.Random(seed)
    engine = alur.db.engine
    with engine.begin() as conn:
        first_id = (conn.scalar(select(func.max(Instance.id))) or 0) + 1
        for instances, tasks in _rows(model, tpl, first_id, count - 2, open_tasks - 1, utcnow(), rng):
            conn.execute(insert(Instance), instances)
            states = [{"instance_id": r["id"], "state": tpl.running_state}
                      for r in instances if r["status"] == "running"]
            if states:  # a chunk of only finished requests has none (an empty list would insert one empty row)
                conn.execute(insert(InstanceState), states)
            if tasks:
                conn.execute(insert(TaskRecord), tasks)
        if engine.dialect.name == "postgresql":  # rows are consistent by construction: skip the per-row FK triggers
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        _history_of_completed(conn, model.ordered_steps(), first_id)
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT setval(pg_get_serial_sequence('instances', 'id'), "
                              "(SELECT MAX(id) FROM instances))"))
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            # what autovacuum does after a bulk load, made deterministic (as part 7 does): the statistics, and
            # the visibility map that lets an index-only scan skip the heap (the machines that run this may
            # have autovacuum off; a production server has it on)
            conn.execute(text("VACUUM ANALYZE"))
    with engine.connect() as conn:
        total = conn.scalar(select(func.count()).select_from(Instance)) or 0
        rows = conn.scalar(select(func.count()).select_from(TaskRecord)) or 0
        by_lane = dict(_open_by_lane(conn))
    return Generated(total, sum(by_lane.values()), rows, time.monotonic() - started, by_lane)


def counted(alur: Alur) -> Generated:
    """What a kept database holds (`--keep`: generated by an earlier run)."""
    with alur.db.engine.connect() as conn:
        total = conn.scalar(select(func.count()).select_from(Instance)) or 0
        rows = conn.scalar(select(func.count()).select_from(TaskRecord)) or 0
        by_lane = dict(_open_by_lane(conn))
    return Generated(total, sum(by_lane.values()), rows, 0.0, by_lane)


def _open_by_lane(conn: Connection) -> list[tuple[str, int]]:
    stmt = (select(TaskRecord.lane, func.count()).where(TaskRecord.state == "ready").group_by(TaskRecord.lane))
    return [(lane, int(n)) for lane, n in conn.execute(stmt)]


@dataclass
class Latency:
    requests: int
    p50_ms: float
    p95_ms: float
    items_median: float


def _measure(server: Server, calls: list[tuple[str, str]], key: str, requests: int, budget: float) -> Latency:
    """Sequential GETs (token, path) round-robin, each warmed once untimed; stops at `requests` or `budget` s."""
    client = Http(server.port)
    times: list[float] = []
    items: list[float] = []
    try:
        for token, path in calls:
            client.json("GET", path, token)
        deadline = time.monotonic() + budget
        n = 0
        while len(times) < requests and (time.monotonic() < deadline or len(times) < len(calls)):
            token, path = calls[n % len(calls)]
            n += 1
            t0 = time.perf_counter()
            status, body = client.call("GET", path, token)
            times.append(time.perf_counter() - t0)
            if status != 200:
                raise RuntimeError(f"GET {path}: {status} {body[:300]!r}")
            items.append(float(len(json.loads(body)[key])))
    finally:
        client.close()
    return Latency(len(times), ms(percentile(times, 50)), ms(percentile(times, 95)), median(items))


@dataclass
class InboxResult:
    generated: Generated
    inbox: Latency
    inbox_limit_50: Latency
    instances: dict[str, Latency]
    inbox_filtered: dict[str, Latency] = field(default_factory=dict)
    plans: dict[str, Any] = field(default_factory=dict)  # per query: statements of one request and their plans


def instance_queries() -> dict[str, str]:
    today = utcnow().date()
    return {
        "status=running": "/instances?status=running",
        "overdue=true": "/instances?overdue=true",
        "from..to (30 days, 3 months ago)":
            f"/instances?from={today - timedelta(days=120)}&to={today - timedelta(days=90)}",
    }


def measure(server: Server, model: SopModel, requests: int, budget: float, generated: Generated) -> InboxResult:
    users = [slug(lane) for lane in model.lanes]
    by_user = issue_tokens(server.database_url, [*users, "admin"])
    inbox = [(by_user[u], "/tasks") for u in users]
    inbox_50 = [(by_user[u], "/tasks?limit=50") for u in users]
    admin = by_user["admin"]
    queries = instance_queries()
    return InboxResult(
        generated=generated,
        inbox=_measure(server, inbox, "tasks", requests, budget),
        inbox_limit_50=_measure(server, inbox_50, "tasks", requests, budget),
        inbox_filtered={name: _measure(server, [(by_user[u], f"/tasks?{query}") for u in users], "tasks",
                                       max(3, requests // 3), budget / 2)
                        for name, query in INBOX_FILTERS.items()},
        instances={name: _measure(server, [(admin, path)], "instances", max(3, requests // 3), budget / 2)
                   for name, path in queries.items()},
        plans=plans(server.database_url, model))


def plans(url: str, model: SopModel) -> dict[str, Any]:
    """Every statement of one request of each measured query, made in process through the Flask app,
    with its plan: EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL, EXPLAIN QUERY PLAN on SQLite.
    The inbox is asked as the user of the lane with the most open tasks."""
    from api import create_app
    from engine.bootstrap import build
    from engine.settings import Settings

    alur = build(Settings(database_url=url, scheduler=False))
    app = create_app(alur.settings, alur, TESTING=True)
    engine = alur.db.engine
    try:
        with engine.connect() as conn:
            busiest = max(_open_by_lane(conn), key=lambda item: item[1])[0]
        user = slug(busiest)
        tokens = issue_tokens(url, [user, "admin"])
        paths = {"/tasks": (user, "/tasks"), "/tasks?limit=50": (user, "/tasks?limit=50")}
        paths |= {f"/tasks?{name}": (user, f"/tasks?{query}") for name, query in INBOX_FILTERS.items()}
        paths |= {f"/instances?{name}": ("admin", path) for name, path in instance_queries().items()}
        seen: list[tuple[str, Any]] = []

        def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
            seen.append((statement, parameters))

        result: dict[str, Any] = {}
        client = app.test_client()
        for name, (who, path) in paths.items():
            client.get(f"/api/v1{path}", headers={"Authorization": f"Bearer {tokens[who]}"})  # warm
            event.listen(engine, "before_cursor_execute", capture)
            try:
                response = client.get(f"/api/v1{path}", headers={"Authorization": f"Bearer {tokens[who]}"})
            finally:
                event.remove(engine, "before_cursor_execute", capture)
            captured, seen[:] = list(seen), []
            selects = [(sql, params) for sql, params in captured if sql.lstrip().upper().startswith("SELECT")]
            result[name] = {"user": who, "status": response.status_code, "statements": len(captured),
                            "plans": [{"sql": sql, "plan": _explain(engine, sql, params)} for sql, params in selects]}
        return result
    finally:
        engine.dispose()


def _explain(engine: Any, sql: str, params: Any) -> list[str]:
    sqlite = engine.dialect.name == "sqlite"
    prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN (ANALYZE, BUFFERS) "
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(prefix + sql, params).all()
    if sqlite:
        return [f"{row[0]}<{row[1]}: {row[3]}" for row in rows]
    return [row[0] for row in rows]
