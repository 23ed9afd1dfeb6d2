"""The inbox of a real office: search, filters with their counts, sort and paging over ready tasks.

Reads only the open rows of the task table (partial indexes on `state = 'ready'`) and joins
the instance only when the search or the applicant's agency needs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import contains_eager

from engine.clock import utcnow
from engine.models import Instance, TaskRecord

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


@dataclass
class InboxPage:
    tasks: list[TaskRecord]
    counts: dict[str, int] = field(default_factory=dict)  # semua, terlambat, dikembalikan, saya
    has_next: bool = False


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _base(actor: Actor, query: InboxQuery, lanes: set[str]) -> tuple[Select[Any], bool]:
    """Ready tasks of the lanes with the search and the step filter; whether the instance is joined."""
    stmt = select(TaskRecord).where(TaskRecord.state == "ready", TaskRecord.lane.in_(sorted(lanes)))
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
        return InboxPage([], {"semua": 0, "terlambat": 0, "dikembalikan": 0, "saya": 0})
    now = utcnow()
    base, joined = _base(actor, query, lanes)
    is_overdue = and_(TaskRecord.due_at.is_not(None), TaskRecord.due_at < now)
    is_returned = TaskRecord.returned_by_task.is_not(None)
    is_mine = TaskRecord.claimed_by == actor.username
    with alur.unit_of_work(write=False) as uow:
        counted = base.with_only_columns(
            func.count(),
            func.coalesce(func.sum(case((is_overdue, 1), else_=0)), 0),
            func.coalesce(func.sum(case((is_returned, 1), else_=0)), 0),
            func.coalesce(func.sum(case((is_mine, 1), else_=0)), 0),
        ).order_by(None)
        total, late, returned, mine = uow.session.execute(counted).one()
        # the page's ids first (from the covering index alone unless searching), then only those rows
        stmt = base.with_only_columns(TaskRecord.id)
        if query.overdue:
            stmt = stmt.where(is_overdue)
        if query.returned:
            stmt = stmt.where(is_returned)
        if query.mine:
            stmt = stmt.where(is_mine)
        if query.sort == "tenggat":
            stmt = stmt.order_by(TaskRecord.due_at.is_(None), TaskRecord.due_at, TaskRecord.seq)
        else:
            stmt = stmt.order_by(TaskRecord.ready_at, TaskRecord.seq)
        ids = list(uow.session.scalars(stmt.limit(query.limit + 1).offset(query.offset)))
        page = ids[:query.limit]
        rows = {r.id: r for r in uow.session.scalars(
            select(TaskRecord).join(Instance, Instance.id == TaskRecord.instance_id)
            .options(contains_eager(TaskRecord.instance)).where(TaskRecord.id.in_(page)))} if page else {}
    return InboxPage([rows[i] for i in page if i in rows],
                     {"semua": int(total), "terlambat": int(late), "dikembalikan": int(returned),
                      "saya": int(mine)}, has_next=len(ids) > query.limit)

