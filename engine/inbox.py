"""The inbox of a real office: search, filters with their counts, sort and paging over ready tasks.

Reads only the open rows of the task table (partial indexes on `state = 'ready'`); a search tests
each of those rows' request, and only the page's rows (or, for an applicant, the agency's) are
joined to their requests. At most two statements a page: the counts of every filter, and the page
itself as plain Core rows (the task's columns, the request's perihal, agency and process key) -- no
ORM objects, no form data decoded; a search's or an applicant's page is one statement with its counts.
Each statement is built once per process for its shape.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Integer, Select, and_, bindparam, case, func, or_, select, true

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
    rows: list[Any]  # plain rows of PAGE_COLUMNS: the API reads them as they are
    counts: dict[str, int] = field(default_factory=dict)  # semua, terlambat, dikembalikan, saya
    has_next: bool = False

    @property
    def tasks(self) -> list[InboxTask]:
        """The rows as InboxTasks (what the UI's page and the tests read)."""
        return [_task_of(r) for r in self.rows]


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass(frozen=True)
class _Shape:
    """What decides a statement's text; everything else is a bound parameter, so each statement is built
    once per process (building and keying it cost more CPU than running it)."""

    search: bool
    by_number: bool
    agency: bool
    step: bool
    wanted: tuple[str, ...]  # the filters on: late, returned, mine
    by_due: bool

    @property
    def joined(self) -> bool:
        return self.search or self.agency


_FLAGS = {"late": and_(TaskRecord.due_at.is_not(None), TaskRecord.due_at < bindparam("now")),
          "returned": TaskRecord.returned_by_task.is_not(None),
          "mine": TaskRecord.claimed_by == bindparam("me")}


def _base(shape: _Shape) -> Select[Any]:
    """Ready tasks of the lanes with the applicant's agency and the step filter (without a search)."""
    stmt = select(TaskRecord).where(TaskRecord.state == READY, TaskRecord.lane.in_(bindparam("lanes", expanding=True)))
    if shape.joined:
        stmt = stmt.join(Instance, Instance.id == TaskRecord.instance_id)
    if shape.agency:
        stmt = stmt.where(Instance.agency == bindparam("agency"))
    if shape.step:
        stmt = stmt.where(TaskRecord.step_no == bindparam("step_no"))
    return stmt


def _found(shape: _Shape) -> Select[Any]:
    """Ready tasks of the lanes (and step) whose request matches the search (and the applicant's agency).

    The request is tested in a correlated EXISTS, once for each of the lanes' ready tasks (a few thousand at
    most). OFFSET 0 keeps PostgreSQL from making it a join, which it may start from the requests: given the
    ILIKEs it guesses that a dozen match and reads every request (a seq scan, 150-300 ms at 100k)."""
    like = bindparam("like")
    terms = [Instance.perihal.ilike(like, escape="\\"), Instance.agency.ilike(like, escape="\\"),
             Instance.letter_number.ilike(like, escape="\\")]
    if shape.by_number:
        terms.append(Instance.id == bindparam("number"))
    request = select(Instance.id).where(Instance.id == TaskRecord.instance_id, or_(*terms))
    if shape.agency:
        request = request.where(Instance.agency == bindparam("agency"))
    stmt = select(TaskRecord).where(TaskRecord.state == READY, TaskRecord.lane.in_(bindparam("lanes", expanding=True)),
                                    request.offset(0).exists())
    if shape.step:
        stmt = stmt.where(TaskRecord.step_no == bindparam("step_no"))
    return stmt


def _counted(stmt: Select[Any]) -> Select[Any]:
    sums = [func.coalesce(func.sum(case((flag, 1), else_=0)), 0) for flag in _FLAGS.values()]
    return stmt.with_only_columns(func.count(), *sums).order_by(None)


def _flagged(stmt: Select[Any], *columns: Any) -> Select[Any]:
    """The columns of each row and its filter flags (1 or 0)."""
    return stmt.with_only_columns(*columns, TaskRecord.seq,
                                  *[case((flag, 1), else_=0).label(name) for name, flag in _FLAGS.items()])


TASK_COLUMNS = PAGE_COLUMNS[:11]
COUNTS = ("n_all", "n_late", "n_returned", "n_mine")


@functools.cache
def _plain(shape: _Shape) -> tuple[Select[Any], Select[Any]]:
    """A shape without a search or an agency: the counts statement and the page statement.

    The counts from the lane's covering partial index; the page's keys from the index alone (sorted, cut to
    the page), then only those rows are joined to their requests."""
    base = _base(shape)
    keys = _ordered(base.with_only_columns(TaskRecord.id, TaskRecord.due_at, TaskRecord.ready_at,
                                           TaskRecord.seq).where(*[_FLAGS[name] for name in shape.wanted]),
                    shape, TaskRecord.due_at, TaskRecord.ready_at, TaskRecord.seq).subquery()
    page = _with_process(select(*PAGE_COLUMNS).select_from(keys)
                         .join(TaskRecord, TaskRecord.id == keys.c.id)
                         .join(Instance, Instance.id == TaskRecord.instance_id))
    return _counted(base), page.order_by(*_order(shape, keys.c.due_at, keys.c.ready_at, keys.c.seq))


@functools.cache
def _joined(shape: _Shape) -> Select[Any]:
    """A search's or an applicant's page and counts in one statement.

    Their matching rows cost a probe into the requests each (the search's test, the applicant's agency), a few
    ms for a lane's thousand ready tasks, so they are found once (a CTE, with their filter flags): the counts
    from them, LEFT JOINed with the page from them. The statement always returns a row: the counts, with NULL
    page columns when the page is empty (a filter or an offset past the end). Of a search's page only its rows
    are joined to their requests (for perihal, agency and process); an applicant's rows are joined already."""
    if shape.search:
        matching = _flagged(_found(shape), *TASK_COLUMNS).cte("matching")
        keys = _ordered(select(matching).where(*[matching.c[name] == 1 for name in shape.wanted]),
                        shape, matching.c.due_at, matching.c.ready_at, matching.c.seq).subquery("keys")
        page = _with_process(select(*[keys.c[c.key] for c in TASK_COLUMNS], Instance.perihal, Instance.agency,
                                    ProcessDefinition.key, keys.c.seq).select_from(keys)
                             .join(Instance, Instance.id == keys.c.instance_id)).subquery("page")
    else:
        matching = _flagged(_with_process(_base(shape)), *PAGE_COLUMNS).cte("matching")
        page = _ordered(select(matching).where(*[matching.c[name] == 1 for name in shape.wanted]),
                        shape, matching.c.due_at, matching.c.ready_at, matching.c.seq).subquery("page")
    counts = select(func.count().label("n_all"),
                    *[func.coalesce(func.sum(matching.c[name]), 0).label(f"n_{name}") for name in _FLAGS]
                    ).subquery("counts")
    return (select(*[page.c[c.key] for c in PAGE_COLUMNS], *[counts.c[n] for n in COUNTS])
            .select_from(counts.outerjoin(page, true()))
            .order_by(*_order(shape, page.c.due_at, page.c.ready_at, page.c.seq)))


def inbox(alur: Alur, actor: Actor, query: InboxQuery) -> InboxPage:
    """One page of the actor's inbox and the count of each filter (over the same search)."""
    lanes = actor.lanes & {query.lane} if query.lane else set(actor.lanes)
    if not lanes:
        return InboxPage([], _counts(0, 0, 0, 0))
    text = query.search.strip()[:MAX_SEARCH]
    number = text.lstrip("#").strip()
    by_number = bool(text) and number.isdigit() and len(number) < 12
    wanted = tuple(name for name, on in (("late", query.overdue), ("returned", query.returned),
                                         ("mine", query.mine)) if on)
    shape = _Shape(bool(text), by_number, bool(actor.agency), query.step_no is not None, wanted,
                   query.sort == "tenggat")
    params = {"lanes": sorted(lanes), "now": utcnow(), "me": actor.username, "agency": actor.agency,
              "step_no": query.step_no, "like": _like(text), "number": int(number) if by_number else None,
              "limit": query.limit + 1, "offset": query.offset}
    with alur.unit_of_work(write=False) as uow:
        conn = uow.session.connection()  # Core rows: no ORM result machinery for plain columns
        if shape.joined:
            found = conn.execute(_joined(shape), params).all()  # at least one row: the counts
            total, late, returned, mine = found[0][-4:]
            rows = [row[:-4] for row in found if row[0] is not None]
        else:
            counted, page = _plain(shape)
            total, late, returned, mine = conn.execute(counted, params).one()
            rows = conn.execute(page, params).all()
    return InboxPage(rows[:query.limit], _counts(total, late, returned, mine), has_next=len(rows) > query.limit)


def _counts(total: int, late: int, returned: int, mine: int) -> dict[str, int]:
    return {"semua": int(total), "terlambat": int(late), "dikembalikan": int(returned), "saya": int(mine)}


def _with_process(stmt: Select[Any]) -> Select[Any]:
    return stmt.join(ProcessDefinition, ProcessDefinition.id == Instance.definition_id)


def _order(shape: _Shape, due_at: Any, ready_at: Any, seq: Any) -> tuple[Any, ...]:
    """Longest waiting first, or nearest due time first (tasks without one last: the index's order on
    PostgreSQL, which can then stop after the page)."""
    return (due_at.asc().nulls_last(), seq) if shape.by_due else (ready_at, seq)


def _ordered(stmt: Select[Any], shape: _Shape, due_at: Any, ready_at: Any, seq: Any) -> Select[Any]:
    """The sort and the page (`limit` is one row more than the page, to know if another follows)."""
    return (stmt.order_by(*_order(shape, due_at, ready_at, seq)).limit(bindparam("limit", type_=Integer))
            .offset(bindparam("offset", type_=Integer)))
