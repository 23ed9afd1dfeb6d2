"""Where the process is slow: per step, lane and person, rework, lead time per week (read only).

Reports read two small rollups, never the task table: `report_steps` counts finished
activations per (process version, step, who, office month, duration class) and
`report_cases` counts finished requests per (process version, office month and week, duration
class).
Both are kept at each completion by `count_completion` (same transaction as the step) and can
be made again from the task table by `rebuild`. A duration class is one minute wide under an
hour, then 5 minutes to 8 hours, 30 minutes to 3 days, 6 hours to 60 days, then a day: so
medians and p90s are nearest-rank over classes (exact to the minute for short steps), while
counts, maxima, sums and the share within the standard are exact. Every duration is office
working time (engine.worktime): an activation's `waited_working_seconds`, a request's lead time
from its start to its end.
"""

from __future__ import annotations

import functools
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, TextClause, case, delete, func, insert, select, text
from sqlalchemy.orm import Session

from engine import decisions
from engine.clock import local, utcnow
from engine.diagram import BPMN, SopModel, safe_parse
from engine.errors import Forbidden, InvalidData, NotFound
from engine.models import READY, CaseStat, Instance, ProcessDefinition, StepStat, TaskRecord, User, UserLane
from engine.uow import send_later
from engine.worktime import OfficeCalendar

if TYPE_CHECKING:
    from engine.services import Alur

RETURN = decisions.RETURN

# (first second of the range, width of a class in it), ascending
_CLASSES = ((0, 60), (3600, 300), (8 * 3600, 1800), (3 * 86400, 6 * 3600), (60 * 86400, 86400))


def _class_starts() -> list[int]:
    starts, index = [], 0
    for (begin, width), nxt in zip(_CLASSES, [*(_CLASSES[1:]), (None, None)], strict=True):
        starts.append(index)
        if nxt[0] is not None:
            index += (nxt[0] - begin) // width
    return starts


_STARTS = _class_starts()


def bucket(seconds: float) -> int:
    """The duration class of `seconds` (monotone: a longer wait never has a lower class)."""
    s = max(int(seconds), 0)
    for i in range(len(_CLASSES) - 1, -1, -1):
        begin, width = _CLASSES[i]
        if s >= begin:
            return _STARTS[i] + (s - begin) // width
    return 0


def bucket_floor(index: int) -> int:
    """The shortest duration in seconds of a class: what a percentile of that class reports."""
    for i in range(len(_CLASSES) - 1, -1, -1):
        if index >= _STARTS[i]:
            begin, width = _CLASSES[i]
            return begin + (index - _STARTS[i]) * width
    return 0


# ---- time: the one place that says how a wait is measured ---------------------------------

def waited_seconds(record: TaskRecord, calendar: OfficeCalendar) -> int:
    """An activation's wait in office working time (kept on the row since working time exists)."""
    if record.waited_working_seconds is not None:
        return int(record.waited_working_seconds)
    assert record.completed_at is not None
    return calendar.working_seconds(record.ready_at, record.completed_at)


def _month(moment: datetime, timezone: str) -> int:
    shown = local(moment, timezone)
    return shown.year * 100 + shown.month


def _week(moment: datetime, timezone: str) -> int:
    """The Monday of the office-time week of `moment`, as yyyymmdd."""
    day = local(moment, timezone).date()
    monday = day - timedelta(days=day.weekday())
    return monday.year * 10000 + monday.month * 100 + monday.day


# ---- keeping the rollups ------------------------------------------------------------------

def _upsert(session: Session, model: type[Any], keys: dict[str, Any], counts: dict[str, int],
            max_seconds: int, **fixed: Any) -> None:
    """Add `counts` to a rollup row (made when missing, with `fixed`) and raise its maximum: one statement,
    which a PostgreSQL step sends with its other writes (engine.uow.send_later)."""
    shape = (model.__table__.name, tuple(keys), tuple(counts), tuple(fixed))
    send_later(session, _upsert_statement, shape, {**keys, **counts, "max_seconds": max_seconds, **fixed})


@functools.cache
def _upsert_statement(shape: tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]],
                      prefix: str = "") -> TextClause:
    """The upsert of one shape, its parameters named `prefix` + column. The same SQL on SQLite and PostgreSQL,
    written once per shape: building and compiling the ORM's upsert at every step cost more than running it."""
    table, keys, counts, fixed = shape
    names = [*keys, *counts, "max_seconds", *fixed]
    sets = [f"{n} = {table}.{n} + excluded.{n}" for n in counts]
    sets.append(f"max_seconds = CASE WHEN excluded.max_seconds > {table}.max_seconds "
                f"THEN excluded.max_seconds ELSE {table}.max_seconds END")
    return text(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(':' + prefix + n for n in names)}) "
                f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {', '.join(sets)}")


def count_completion(session: Session, instance: Instance, record: TaskRecord, ended: bool,
                     calendar: OfficeCalendar) -> None:
    """Count one finished activation (and the request, when it ended) in the rollups."""
    assert record.completed_at is not None and record.completed_by is not None
    seconds = waited_seconds(record, calendar)
    within = int(record.standard_minutes is not None and seconds <= record.standard_minutes * 60)
    returned = int(record.keputusan == RETURN)
    _upsert(session, StepStat,
            {"definition_id": instance.definition_id, "spec_id": record.spec_id,
             "completed_by": record.completed_by, "month": _month(record.completed_at, calendar.timezone),
             "bucket": bucket(seconds)},
            {"n": 1, "within": within, "returned": returned, "sum_seconds": seconds}, seconds, lane=record.lane)
    if ended:
        count_end(session, instance, calendar, returned=bool(returned))


def count_end(session: Session, instance: Instance, calendar: OfficeCalendar, returned: bool = False) -> None:
    """Count a request that has just ended (`returned`: its last step, not yet flushed, returned it)."""
    assert instance.ended_at is not None
    ever = returned or bool(session.scalar(select(func.count()).select_from(TaskRecord).where(
        TaskRecord.instance_id == instance.id, TaskRecord.keputusan == RETURN)))
    _count_case(session, instance.definition_id, instance.started_at, instance.ended_at, ever, calendar)


def _count_case(session: Session, definition_id: int, started: datetime, ended: datetime, returned: bool,
                calendar: OfficeCalendar) -> None:
    seconds = calendar.working_seconds(started, ended)  # lead time in office working time
    _upsert(session, CaseStat,
            {"definition_id": definition_id, "month": _month(ended, calendar.timezone),
             "week": _week(ended, calendar.timezone), "bucket": bucket(seconds)},
            {"n": 1, "returned": int(returned), "sum_seconds": seconds}, seconds)


def rebuild(session: Session, calendar: OfficeCalendar, batch: int = 5000) -> tuple[int, int]:
    """Make both rollups again from the task and instance tables; returns (activations, requests) counted."""
    session.execute(delete(StepStat))
    session.execute(delete(CaseStat))
    steps: dict[tuple[int, str, str, int, int], list[int]] = {}
    lanes: dict[tuple[int, str], str] = {}
    rows = session.execute(
        select(Instance.definition_id, TaskRecord.spec_id, TaskRecord.lane, TaskRecord.completed_by,
               TaskRecord.ready_at, TaskRecord.completed_at, TaskRecord.standard_minutes, TaskRecord.keputusan,
               TaskRecord.waited_working_seconds)
        .join(Instance, Instance.id == TaskRecord.instance_id)
        .where(TaskRecord.state == "completed", TaskRecord.completed_by.is_not(None))
        .execution_options(yield_per=batch))
    activations = 0
    tz = calendar.timezone
    for definition_id, spec_id, lane, who, ready_at, completed_at, standard, keputusan, waited in rows:
        seconds = int(waited) if waited is not None else calendar.working_seconds(ready_at, completed_at)
        key = (definition_id, spec_id, who, _month(completed_at, tz), bucket(seconds))
        acc = steps.get(key)
        if acc is None:
            acc = steps[key] = [0, 0, 0, 0, 0]
        acc[0] += 1
        acc[1] += int(standard is not None and seconds <= standard * 60)
        acc[2] += int(keputusan == RETURN)
        acc[3] = max(acc[3], seconds)
        acc[4] += seconds
        lanes[(definition_id, spec_id)] = lane
        activations += 1
    returned_ids = select(TaskRecord.instance_id).where(TaskRecord.keputusan == RETURN)
    cases: dict[tuple[int, int, int, int], list[int]] = {}
    requests = 0
    for definition_id, started, ended, ever in session.execute(
            select(Instance.definition_id, Instance.started_at, Instance.ended_at, Instance.id.in_(returned_ids))
            .where(Instance.status == "completed", Instance.ended_at.is_not(None))
            .execution_options(yield_per=batch)):
        seconds = calendar.working_seconds(started, ended)
        key = (definition_id, _month(ended, tz), _week(ended, tz), bucket(seconds))
        acc = cases.get(key)
        if acc is None:
            acc = cases[key] = [0, 0, 0, 0]
        acc[0] += 1
        acc[1] += int(bool(ever))
        acc[2] = max(acc[2], seconds)
        acc[3] += seconds
        requests += 1
    step_rows = [{"definition_id": k[0], "spec_id": k[1], "completed_by": k[2], "month": k[3], "bucket": k[4],
                  "lane": lanes[(k[0], k[1])], "n": v[0], "within": v[1], "returned": v[2], "max_seconds": v[3],
                  "sum_seconds": v[4]} for k, v in steps.items()]
    case_rows = [{"definition_id": k[0], "month": k[1], "week": k[2], "bucket": k[3], "n": v[0], "returned": v[1],
                  "max_seconds": v[2], "sum_seconds": v[3]} for k, v in cases.items()]
    for start in range(0, len(step_rows), batch):
        session.execute(insert(StepStat), step_rows[start:start + batch])
    for start in range(0, len(case_rows), batch):
        session.execute(insert(CaseStat), case_rows[start:start + batch])
    return activations, requests


def rebuild_if_empty(session: Session, calendar: OfficeCalendar) -> bool:
    """After a migration: fill the rollups from history once (an upgraded database starts empty)."""
    if session.scalar(select(StepStat.n).limit(1)) is not None:
        return False
    if session.scalar(select(TaskRecord.id).where(TaskRecord.state == "completed").limit(1)) is None:
        return False
    rebuild(session, calendar)
    return True


# ---- reading them ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Period:
    """Months in office time, both ends included; None where open."""

    first: int | None = None  # yyyymm
    last: int | None = None

    @staticmethod
    def parse(first: str | None, last: str | None) -> Period:
        return Period(parse_month(first, "dari"), parse_month(last, "sampai"))


def parse_month(text: str | None, name: str) -> int | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        if not re.fullmatch(r"\d{4}-\d{2}", text):
            raise ValueError(text)
        moment = datetime.strptime(text, "%Y-%m")
    except ValueError:
        raise InvalidData(f"{name}: bulan '{text[:20]}' tidak valid (format TTTT-BB, mis. 2026-03)", name) from None
    return moment.year * 100 + moment.month


class Histogram:
    """Counts per duration class; nearest-rank percentiles."""

    def __init__(self) -> None:
        self.counts: dict[int, int] = defaultdict(int)
        self.n = 0
        self.max_seconds = 0
        self.sum_seconds = 0

    def add(self, klass: int, n: int, max_seconds: int, sum_seconds: int) -> None:
        self.counts[klass] += n
        self.n += n
        self.max_seconds = max(self.max_seconds, max_seconds)
        self.sum_seconds += sum_seconds

    def percentile(self, p: float) -> int | None:
        if not self.n:
            return None
        rank = max(1, math.ceil(self.n * p / 100))
        seen = 0
        for klass in sorted(self.counts):
            seen += self.counts[klass]
            if seen >= rank:
                return bucket_floor(klass)
        return None  # pragma: no cover - counts sum to n

    @property
    def median(self) -> int | None:
        return self.percentile(50)


@dataclass
class StepRow:
    spec_id: str
    step_no: int | None
    name: str
    lane: str
    standard_minutes: int | None
    is_decision: bool
    done: Histogram = field(default_factory=Histogram)
    within: int = 0
    returned: int = 0
    backlog: int = 0
    overdue: int = 0

    @property
    def within_share(self) -> float | None:
        return self.within / self.done.n if self.done.n and self.standard_minutes is not None else None

    @property
    def heat(self) -> str:
        """How the median stands against the standard: ok, warn (up to 1.5 x), bad, none."""
        median = self.done.median
        if median is None or not self.standard_minutes:
            return "none"
        ratio = median / (self.standard_minutes * 60)
        return "ok" if ratio <= 1 else "warn" if ratio <= 1.5 else "bad"


@dataclass
class GroupRow:
    """A lane or a person: finished activations, their median, and what waits now."""

    name: str
    done: Histogram = field(default_factory=Histogram)
    open: int = 0
    overdue: int = 0
    lanes: tuple[str, ...] = ()


@dataclass
class WeekRow:
    monday: date
    lead: Histogram = field(default_factory=Histogram)
    returned: int = 0


@dataclass
class Report:
    definition: ProcessDefinition  # the version whose diagram and standards are shown
    versions: list[int]
    period: Period
    steps: list[StepRow]
    lanes: list[GroupRow]
    users: list[GroupRow]
    weeks: list[WeekRow]
    requests_done: int
    requests_returned: int
    return_flows: dict[str, list[str]]  # decision step id -> its return flows in the diagram
    generated_at: datetime

    @property
    def returned_share(self) -> float | None:
        return self.requests_returned / self.requests_done if self.requests_done else None

    def step(self, spec_id: str) -> StepRow | None:
        return next((s for s in self.steps if s.spec_id == spec_id), None)


def require_reader(actor: Any) -> None:
    if not (actor.is_process_owner or actor.is_admin):
        raise Forbidden("laporan hanya untuk pemilik proses dan admin")


def definitions_of(session: Session, key: str, version: int | None) -> list[ProcessDefinition]:
    stmt = select(ProcessDefinition).where(ProcessDefinition.key == key).order_by(ProcessDefinition.version)
    if version is not None:
        stmt = stmt.where(ProcessDefinition.version == version)
    found = list(session.scalars(stmt))
    if not found:
        raise NotFound(f"proses '{key}'{f' versi {version}' if version is not None else ''} tidak ditemukan")
    return found


def _where_period(stmt: Select[Any], column: Any, first: int | None, last: int | None) -> Select[Any]:
    if first is not None:
        stmt = stmt.where(column >= first)
    if last is not None:
        stmt = stmt.where(column <= last)
    return stmt


def build_report(session: Session, definitions: Sequence[ProcessDefinition], models: dict[int, SopModel],
                 xml: str, period: Period, now: datetime | None = None) -> Report:
    """The whole report of these versions of one process over `period` (rollups plus open tasks now)."""
    now = now or utcnow()
    db = session.connection()  # plain rows: the ORM's per-row work would cost more than the queries
    ids = [d.id for d in definitions]
    shown = definitions[-1]
    steps: dict[str, StepRow] = {}
    for definition in definitions:  # newest last: its names and standards win
        for step in models[definition.id].ordered_steps():
            steps[step.id] = StepRow(step.id, step.step_no, step.name, step.lane, step.standard_minutes,
                                     step.is_decision)
    lanes: dict[str, GroupRow] = {}
    users: dict[str, GroupRow] = {}

    def lane_row(name: str) -> GroupRow:
        if name not in lanes:
            lanes[name] = GroupRow(name)
        return lanes[name]

    def user_row(name: str) -> GroupRow:
        if name not in users:
            users[name] = GroupRow(name)
        return users[name]

    stmt = (select(StepStat.spec_id, StepStat.lane, StepStat.completed_by, StepStat.bucket, func.sum(StepStat.n),
                   func.sum(StepStat.within), func.sum(StepStat.returned), func.max(StepStat.max_seconds),
                   func.sum(StepStat.sum_seconds))
            .where(StepStat.definition_id.in_(ids))
            .group_by(StepStat.spec_id, StepStat.lane, StepStat.completed_by, StepStat.bucket))
    for spec_id, lane, who, klass, n, within, returned, top, total in db.execute(
            _where_period(stmt, StepStat.month, period.first, period.last)):
        n, top, total = int(n), int(top), int(total)
        row = steps.get(spec_id) or steps.setdefault(spec_id, StepRow(spec_id, None, spec_id, lane, None, False))
        row.done.add(klass, n, top, total)
        row.within += int(within)
        row.returned += int(returned)
        lane_row(lane).done.add(klass, n, top, total)
        user_row(who).done.add(klass, n, top, total)

    open_stmt = (select(TaskRecord.spec_id, TaskRecord.lane, func.count(),
                        func.sum(case((TaskRecord.due_at < now, 1), else_=0)))
                 .where(TaskRecord.state == READY).group_by(TaskRecord.spec_id, TaskRecord.lane))
    if set(session.scalars(select(ProcessDefinition.id))) - set(ids):
        # Other processes are stored too: keep the open tasks of these versions' running requests.
        # On SQLite `+ 0` keeps an index on tasks.instance_id from driving the join (without fresh
        # statistics it would read every task of every request of the process).
        task_instance = TaskRecord.instance_id + 0 if session.get_bind().dialect.name == "sqlite" \
            else TaskRecord.instance_id
        open_stmt = open_stmt.join(Instance, Instance.id == task_instance).where(
            Instance.status == "running", Instance.definition_id.in_(ids))
    for spec_id, lane, n, late in db.execute(open_stmt):
        row = steps.get(spec_id) or steps.setdefault(spec_id, StepRow(spec_id, None, spec_id, lane, None, False))
        row.backlog += int(n)
        row.overdue += int(late or 0)
        lane_row(lane).open += int(n)
        lane_row(lane).overdue += int(late or 0)
    for row in steps.values():
        lane_row(row.lane)
    if users:
        member_of: dict[str, list[str]] = defaultdict(list)
        for username, lane in db.execute(
                select(User.username, UserLane.lane).join(UserLane, UserLane.user_id == User.id)
                .where(User.username.in_(sorted(users)))):
            member_of[username].append(lane)
        for username, row in users.items():
            row.lanes = tuple(sorted(name for name in member_of.get(username, ()) if name in lanes))
            row.open = sum(lanes[name].open for name in row.lanes)
            row.overdue = sum(lanes[name].overdue for name in row.lanes)

    weeks: dict[date, WeekRow] = {}
    done = returned_requests = 0
    case_stmt = (select(CaseStat.week, CaseStat.bucket, func.sum(CaseStat.n), func.sum(CaseStat.returned),
                        func.max(CaseStat.max_seconds), func.sum(CaseStat.sum_seconds))
                 .where(CaseStat.definition_id.in_(ids)).group_by(CaseStat.week, CaseStat.bucket))
    for key, klass, n, returned, top, total in db.execute(
            _where_period(case_stmt, CaseStat.month, period.first, period.last)):
        monday = date(key // 10000, key // 100 % 100, key % 100)
        week = weeks.get(monday)
        if week is None:
            week = weeks[monday] = WeekRow(monday)
        week.lead.add(klass, int(n), int(top), int(total))
        week.returned += int(returned)
        done += int(n)
        returned_requests += int(returned)

    order = sorted(steps.values(), key=lambda s: (s.step_no is None, s.step_no or 0, s.name))
    return Report(
        definition=shown, versions=[d.version for d in definitions], period=period, steps=order,
        lanes=sorted(lanes.values(), key=lambda g: g.name),
        users=sorted(users.values(), key=lambda g: g.name),
        weeks=[weeks[k] for k in sorted(weeks)], requests_done=done, requests_returned=returned_requests,
        return_flows=return_flows(xml, [s.spec_id for s in order if s.is_decision]), generated_at=now)


def return_flows(xml: str, decision_steps: Iterable[str]) -> dict[str, list[str]]:
    """The sequence flows a decision step's `tidak_setuju` takes: out of the step, through its gateway."""
    root = safe_parse(xml.encode("utf-8")).getroot()
    ns = {"bpmn": BPMN}
    flows = root.findall(".//bpmn:sequenceFlow", ns)
    outgoing: dict[str, list[Any]] = defaultdict(list)
    for flow in flows:
        outgoing[flow.get("sourceRef", "")].append(flow)
    gateways = {g.get("id") for g in root.findall(".//bpmn:exclusiveGateway", ns)}
    found: dict[str, list[str]] = {}
    for step_id in decision_steps:
        ids: list[str] = []
        for first in outgoing.get(step_id, []):
            target = first.get("targetRef", "")
            candidates = outgoing.get(target, []) if target in gateways else [first]
            for flow in candidates:
                condition = flow.find("bpmn:conditionExpression", ns)
                if condition is not None and RETURN in (condition.text or ""):
                    ids.append(flow.get("id", ""))
        found[step_id] = ids
    return found


def report(alur: Alur, actor: Any, key: str, version: int | None = None, period: Period | None = None,
           now: datetime | None = None) -> Report:
    """The report of one process (all versions, or one), for a process owner or admin."""
    require_reader(actor)
    with alur.unit_of_work(write=False) as uow:
        definitions = definitions_of(uow.session, key, version)
        models = {d.id: alur.parsed(d).model for d in definitions}
        xml = alur.diagram_xml(definitions[-1])
        return build_report(uow.session, definitions, models, xml, period or Period(), now)
