"""The inbox of a real office: search, filters with their counts, sort and paging over ready tasks.

Reads only the open rows of the task table (partial indexes on `state = 'ready'`) and joins
the instance only when the search or the applicant's agency needs it. At most two statements
a page: the counts of every filter, and the page itself as plain columns (the row, the
request's perihal, agency and process key) -- no ORM objects, no form data decoded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, and_, case, func, or_, select

from engine.clock import utcnow
from engine.models import READY, Instance, ProcessDefinition, TaskRecord

if TYPE_CHECKING:
    from engine.services import Actor, Alur

SORTS = ("menunggu", "tenggat")
MAX_SEARCH = 200


@dataclass(frozen=True)
class InboxQuery:
    search: str = ""
    step_no: int | None = None
    lane: str | None = None
    overdue: bool = False
    returned: bool = False
    mine: bool = False      # claimed by the actor
    sort: str = "menunggu"  # longest waiting first; "tenggat": nearest due time first
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True)
class InboxRequest:
    """What the inbox shows of a task's request."""

    id: int
    perihal: str | None
    agency: str | None
    process: str  # the process key


@dataclass(frozen=True)
class InboxTask:
    """A ready task as the inbox shows it (the columns of its TaskRecord that the inbox reads)."""

    id: str
    instance_id: int
    spec_id: str
    name: str
    lane: str
    step_no: int | None
    standard_minutes: int | None
    ready_at: datetime
    due_at: datetime | None
    returned_by_task: str | None
    claimed_by: str | None
    instance: InboxRequest
    state: str = "ready"
    completed_at: datetime | None = None


PAGE_COLUMNS = (TaskRecord.id, TaskRecord.instance_id, TaskRecord.spec_id, TaskRecord.name, TaskRecord.lane,
                TaskRecord.step_no, TaskRecord.standard_minutes, TaskRecord.ready_at, TaskRecord.due_at,
                TaskRecord.returned_by_task, TaskRecord.claimed_by, Instance.perihal, Instance.agency,
                ProcessDefinition.key)


def _task_of(row: Any) -> InboxTask:
    *task, perihal, agency, process = row
    return InboxTask(*task, instance=InboxRequest(task[1], perihal, agency, process))


@dataclass
class InboxPage:
    tasks: list[InboxTask]
    counts: dict[str, int] = field(default_factory=dict)  # semua, terlambat, dikembalikan, saya
    has_next: bool = False


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _base(actor: Actor, query: InboxQuery, lanes: set[str]) -> tuple[Select[Any], bool]:
    """Ready tasks of the lanes with the search and the step filter; whether the instance is joined."""
    stmt = select(TaskRecord).where(TaskRecord.state == READY, TaskRecord.lane.in_(sorted(lanes)))
    joined = bool(query.search.strip()) or bool(actor.agency)
    if joined:
        stmt = stmt.join(Instance, Instance.id == TaskRecord.instance_id)
    if actor.agency:
        stmt = stmt.where(Instance.agency == actor.agency)
    if query.step_no is not None:
        stmt = stmt.where(TaskRecord.step_no == query.step_no)
    text = query.search.strip()[:MAX_SEARCH]
    if text:
        number = text.lstrip("#").strip()
        terms = [Instance.perihal.ilike(_like(text), escape="\\"), Instance.agency.ilike(_like(text), escape="\\"),
                 Instance.letter_number.ilike(_like(text), escape="\\")]
        if number.isdigit() and len(number) < 12:
            terms.append(Instance.id == int(number))
        stmt = stmt.where(or_(*terms))
    return stmt, joined


def inbox(alur: Alur, actor: Actor, query: InboxQuery) -> InboxPage:
    """One page of the actor's inbox and the count of each filter (over the same search)."""
    lanes = actor.lanes & {query.lane} if query.lane else set(actor.lanes)
    if not lanes:
        return InboxPage([], _counts(0, 0, 0, 0))
    now = utcnow()
    base, joined = _base(actor, query, lanes)
    flags = {"late": and_(TaskRecord.due_at.is_not(None), TaskRecord.due_at < now),
             "returned": TaskRecord.returned_by_task.is_not(None),
             "mine": TaskRecord.claimed_by == actor.username}
    wanted = [name for name, on in (("late", query.overdue), ("returned", query.returned), ("mine", query.mine))
              if on]
    sums = [func.coalesce(func.sum(case((flag, 1), else_=0)), 0) for flag in flags.values()]
    counted = base.with_only_columns(func.count(), *sums).order_by(None)
    with alur.unit_of_work(write=False) as uow:
        if not joined:
            # the counts from the lane's covering partial index; the page's keys from the index alone (sorted,
            # cut to the page), then only those rows are joined to their requests
            total, late, returned, mine = uow.session.execute(counted).one()
            keys = _ordered(base.with_only_columns(TaskRecord.id, TaskRecord.due_at, TaskRecord.ready_at,
                                                   TaskRecord.seq).where(*[flags[name] for name in wanted]),
                            query, TaskRecord.due_at, TaskRecord.ready_at, TaskRecord.seq).subquery()
            stmt = _with_process(select(*PAGE_COLUMNS).select_from(keys)
                                 .join(TaskRecord, TaskRecord.id == keys.c.id)
                                 .join(Instance, Instance.id == TaskRecord.instance_id))
            order = _order(query, keys.c.due_at, keys.c.ready_at, keys.c.seq)
            rows = uow.session.execute(stmt.order_by(*order)).all()
        else:
            # searching or an applicant: every matching row is joined to its request anyway, so the counts
            # ride along as window sums over the same rows (one pass, one statement)
            inner = _with_process(base).with_only_columns(
                *PAGE_COLUMNS, TaskRecord.seq, func.count().over().label("n_all"),
                *[func.sum(case((flag, 1), else_=0)).over().label(f"n_{name}") for name, flag in flags.items()],
                *[case((flag, 1), else_=0).label(name) for name, flag in flags.items()]).subquery()
            outer = select(*[inner.c[c.key] for c in PAGE_COLUMNS], inner.c.n_all, inner.c.n_late,
                           inner.c.n_returned, inner.c.n_mine).where(*[inner.c[name] == 1 for name in wanted])
            found = uow.session.execute(_ordered(outer, query, inner.c.due_at, inner.c.ready_at, inner.c.seq)).all()
            if found:
                total, late, returned, mine = found[0][-4:]
            elif query.offset or wanted:  # an empty page of a filter: its tab counts still count the others
                total, late, returned, mine = uow.session.execute(counted).one()
            else:
                total = late = returned = mine = 0
            rows = [row[:-4] for row in found]
    return InboxPage([_task_of(r) for r in rows[:query.limit]], _counts(total, late, returned, mine),
                     has_next=len(rows) > query.limit)


def _counts(total: int, late: int, returned: int, mine: int) -> dict[str, int]:
    return {"semua": int(total), "terlambat": int(late), "dikembalikan": int(returned), "saya": int(mine)}


def _with_process(stmt: Select[Any]) -> Select[Any]:
    return stmt.join(ProcessDefinition, ProcessDefinition.id == Instance.definition_id)


def _order(query: InboxQuery, due_at: Any, ready_at: Any, seq: Any) -> tuple[Any, ...]:
    """Longest waiting first, or nearest due time first (tasks without one last: the index's order on
    PostgreSQL, which can then stop after the page)."""
    return (due_at.asc().nulls_last(), seq) if query.sort == "tenggat" else (ready_at, seq)


def _ordered(stmt: Select[Any], query: InboxQuery, due_at: Any, ready_at: Any, seq: Any) -> Select[Any]:
    """The sort and the page, one row more to know if another follows."""
    return stmt.order_by(*_order(query, due_at, ready_at, seq)).limit(query.limit + 1).offset(query.offset)
