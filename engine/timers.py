"""Timers at run time: the table of waiting timers, claiming them, firing each exactly once.

Every command that changes a workflow calls `sync`, so the `timers` table lists each
waiting timer event with its due time. Schedulers (any number, in any process) `claim`
due timers with a lease in one short transaction (PostgreSQL: SELECT ... FOR UPDATE SKIP
LOCKED; SQLite: the claim runs under the database's write lock), then `fire` each in its
own transaction under the instance lock: the timer row is re-read there and fires only if
still unfired and claimed by this scheduler, and `fired_at` is committed with the
workflow's new state. A scheduler that dies mid-fire commits nothing; its lease runs out
and another scheduler fires the timer.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from engine import reports, state
from engine.actors import TIMER_ACTOR
from engine.clock import utcnow
from engine.diagram import ParsedDiagram
from engine.models import Instance, ProcessDefinition, Timer
from engine.timerspec import SCHEDULED, TimerEvent
from engine.worktime import OfficeCalendar

if TYPE_CHECKING:
    from engine.services import Alur


def _due(event: TimerEvent, now: datetime, calendar: OfficeCalendar, timezone: str) -> tuple[datetime, int]:
    """First due time and the cycles still to come after it."""
    text = event.parse(timezone)
    due = text.first_due(now, calendar if event.working_time else None)
    return due, (text.repeats - 1 if text.repeats > 0 else -1)


def waiting_timers(workflow: Any, parsed: ParsedDiagram) -> dict[str, tuple[Any, TimerEvent]]:
    """WAITING timer events of a workflow (not start events) by task id."""
    found = {}
    for task in workflow.tasks.values():
        spec = task.task_spec
        if (task.state == TaskState.WAITING and isinstance(getattr(spec, "event_definition", None), SCHEDULED)
                and spec.name in parsed.model.timers and parsed.model.timers[spec.name].event != "start"):
            found[str(task.id)] = (task, parsed.model.timers[spec.name])
    return found


def sync(session: Session, instance: Instance, parsed: ParsedDiagram, workflow: Any, now: datetime,
         calendar: OfficeCalendar, timezone: str) -> None:
    """Make the timers table agree with the workflow: new waiting timers in, vanished ones out."""
    if not any(t.event != "start" for t in parsed.model.timers.values()):
        return  # a diagram without such timers never has rows (the common case: no query)
    waiting = waiting_timers(workflow, parsed)
    rows = list(session.scalars(select(Timer).where(Timer.instance_id == instance.id)))
    known = {r.task_id for r in rows}
    for row in rows:
        if row.fired_at is None and row.task_id not in waiting:
            session.delete(row)
    for task_id, (_task, event) in waiting.items():
        if task_id in known:
            continue
        due, left = _due(event, now, calendar, timezone)
        session.add(Timer(instance_id=instance.id, definition_id=instance.definition_id, task_id=task_id,
                          spec_id=event.id, kind=event.kind, expression=event.expression,
                          working_time=event.working_time, cycles_left=left, due_at=due, created_at=now))


def schedule_start_timers(session: Session, definition: ProcessDefinition, parsed: ParsedDiagram,
                          now: datetime, calendar: OfficeCalendar, timezone: str) -> None:
    """At deploy: the new version's timer start events replace those of older versions."""
    older = select(ProcessDefinition.id).where(ProcessDefinition.key == definition.key,
                                               ProcessDefinition.id != definition.id)
    session.execute(delete(Timer).where(Timer.instance_id.is_(None), Timer.fired_at.is_(None),
                                        Timer.definition_id.in_(older)))
    for event in parsed.model.timers.values():
        if event.event == "start":
            due, left = _due(event, now, calendar, timezone)
            session.add(Timer(definition_id=definition.id, spec_id=event.id, kind="start",
                              expression=event.expression, working_time=event.working_time, cycles_left=left,
                              due_at=due, created_at=now))


def fire_start_events(workflow: Any) -> None:
    """A new instance of a process with a timer start event starts at once (the timer is why it started)."""
    waiting = [t for t in workflow.tasks.values() if t.state == TaskState.WAITING
               and isinstance(getattr(t.task_spec, "event_definition", None), SCHEDULED)
               and t.parent is not None and t.parent.task_spec.name == "Start"]
    for task in waiting:
        task._set_internal_data(event_fired=True)
    if waiting:
        workflow.refresh_timers()
        workflow.do_engine_steps()


def claim(alur: Alur, owner: str, now: datetime | None = None, limit: int = 20) -> list[int]:
    """Claim due timers for `owner` until now + lease; returns their ids (none twice across schedulers)."""
    now = now or utcnow()
    until = now + timedelta(seconds=alur.settings.scheduler_lease_seconds)
    free = (Timer.fired_at.is_(None), Timer.due_at <= now,
            or_(Timer.claimed_until.is_(None), Timer.claimed_until < now))
    with alur.unit_of_work(write=False) as uow:  # most rounds find nothing: no write lock for them
        if uow.session.scalar(select(Timer.id).where(*free).limit(1)) is None:
            return []
    with alur.unit_of_work() as uow:
        stmt = select(Timer.id).where(*free).order_by(Timer.due_at, Timer.id).limit(limit)
        if alur.db.engine.dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        ids = list(uow.session.scalars(stmt))
        if not ids:
            return []
        uow.session.execute(update(Timer).where(Timer.id.in_(ids), *free)
                            .values(claimed_until=until, claimed_by=owner))
        return list(uow.session.scalars(select(Timer.id).where(
            Timer.id.in_(ids), Timer.claimed_by == owner, Timer.claimed_until == until).order_by(Timer.due_at)))


def _reschedule(row: Timer, now: datetime, calendar: OfficeCalendar, timezone: str) -> None:
    """After a fire: a cycle with passes left waits for its next due time; anything else is done."""
    if row.kind in ("cycle", "start") and row.cycles_left != 0:
        text = TimerEvent(row.spec_id, row.spec_id, "", "cycle" if row.kind == "start" else row.kind,
                          row.expression, row.working_time).parse(timezone)
        if text.kind == "cycle":
            row.due_at = text.next_due(row.due_at, now, calendar if row.working_time else None)
            row.cycles_left = row.cycles_left - 1 if (row.cycles_left or 0) > 0 else -1
            row.claimed_until = row.claimed_by = None
            return
    row.fired_at = now


def fire(alur: Alur, timer_id: int, owner: str) -> bool:
    """Fire one claimed timer in its own transaction; False when it was no longer ours or no longer waiting."""
    now = utcnow()
    postgres = alur.db.engine.dialect.name == "postgresql"
    with alur.unit_of_work() as uow:
        session = uow.session
        instance_id = session.scalar(select(Timer.instance_id).where(Timer.id == timer_id))
        instance = uow.lock_instance(instance_id) if instance_id is not None else None  # lock order: instance first
        stmt = select(Timer).where(Timer.id == timer_id)
        row = session.scalars(stmt.with_for_update() if postgres else stmt).one_or_none()
        if row is None or row.fired_at is not None or row.claimed_by != owner:
            return False
        calendar = alur.calendar(session)
        timezone = alur.settings.timezone
        if row.kind == "start":
            definition = session.get_one(ProcessDefinition, row.definition_id)
            started, _, _ = alur.commands._start_in(uow, definition, TIMER_ACTOR, {}, now)
            uow.audit(TIMER_ACTOR.username, "timer", now, started.id, spec=row.spec_id, jenis=row.kind,
                      due_at=row.due_at.isoformat())
            _reschedule(row, now, calendar, timezone)
            return True
        assert instance is not None
        parsed = alur.parsed(instance.definition)
        workflow = state.load(instance.state, parsed.spec, parsed.subprocess_specs) if instance.state else None
        task = workflow.tasks.get(UUID(row.task_id)) if workflow and row.task_id else None
        if instance.status != "running" or workflow is None or task is None or task.state != TaskState.WAITING:
            row.fired_at = now  # stale: the step it watched is over
            return False
        if row.kind == "cycle":
            task._set_internal_data(alur_cycle_due=True)
        else:
            task._set_internal_data(event_fired=True)
        workflow.refresh_timers()
        workflow.do_engine_steps()
        event = parsed.model.timers.get(row.spec_id)
        uow.audit(TIMER_ACTOR.username, "timer", now, instance.id, row.task_id, spec=row.spec_id,
                  name=event.name if event else row.spec_id, jenis=row.kind, due_at=row.due_at.isoformat())
        _reschedule(row, now, calendar, timezone)
        if state.ended(workflow):
            instance.status, instance.ended_at = "completed", now
            instance.end_event = state.end_event(workflow)
            uow.audit(TIMER_ACTOR.username, "end", now, instance.id)
            reports.count_end(uow.session, instance, calendar)
        instance.state = state.dump(workflow) if instance.ended_at is None else None  # an ended one keeps none
        alur.commands._sync_tasks(uow, instance, parsed, workflow, now)
        return True


def pending(alur: Alur, instance_id: int | None = None, limit: int = 200) -> list[Timer]:
    """Timers still to fire, soonest first: of one request, or all (for the admin's view)."""
    with alur.unit_of_work(write=False) as uow:
        stmt = select(Timer).where(Timer.fired_at.is_(None))
        if instance_id is not None:
            stmt = stmt.where(Timer.instance_id == instance_id)
        return list(uow.session.scalars(stmt.order_by(Timer.due_at, Timer.id).limit(limit)))


def drop(session: Session, instance_id: int) -> None:
    """A cancelled request's timers will never fire."""
    session.execute(delete(Timer).where(Timer.instance_id == instance_id, Timer.fired_at.is_(None)))
