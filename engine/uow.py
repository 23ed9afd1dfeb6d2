"""The unit of work: one transaction, and the locks a writer takes.

This is the only module that knows the database dialects differ in locking: SQLite
serializes writers with BEGIN IMMEDIATE (engine/db.py), PostgreSQL with SELECT ... FOR
UPDATE on the instance (and the letter counter) a command changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, joinedload, selectinload

from engine.db import Database
from engine.errors import NotFound
from engine.models import AuditEvent, Base, Instance, ProcessDefinition, TaskRecord


class UnitOfWork:
    """One transaction; `write` ones take the database's write lock on SQLite."""

    def __init__(self, db: Database, write: bool) -> None:
        self.db, self.write = db, write
        self.session: Session = db.session(write)

    def for_update(self, stmt: Select[Any], *of: Any) -> Select[Any]:
        """Lock the rows of `of` for the rest of the transaction (SQLite's writer lock already does)."""
        return stmt if self.db.is_sqlite else stmt.with_for_update(of=list(of) or None)

    def insert_ignore(self, model: type[Base], **values: Any) -> None:
        """INSERT ... ON CONFLICT DO NOTHING."""
        insert = sqlite_insert if self.db.is_sqlite else pg_insert
        self.session.execute(insert(model).values(**values).on_conflict_do_nothing())

    def _with_state(self) -> Any:
        """Load the workflow state with the instance: joined on SQLite (the writer lock is already held);
        on PostgreSQL in a statement of its own after the row lock, because a FOR UPDATE that waited
        re-reads the locked row but not what is joined to it (a stale state)."""
        return joinedload(Instance.workflow_state) if self.db.is_sqlite else selectinload(Instance.workflow_state)

    def lock_instance(self, instance_id: int) -> Instance:
        stmt = select(Instance).where(Instance.id == instance_id).options(self._with_state())
        instance = self.session.scalars(self.for_update(stmt, Instance)).one_or_none()
        if instance is None:
            raise NotFound(f"permohonan {instance_id} tidak ditemukan")
        return self.current_definition(instance)

    def current_definition(self, instance: Instance) -> Instance:
        """After waiting for the lock, PostgreSQL re-reads the locked row but not the definition joined to
        it: a request migrated meanwhile would carry the old (or no) version. Load the one it points to."""
        if instance.definition is None or instance.definition.id != instance.definition_id:
            instance.definition = self.session.get_one(ProcessDefinition, instance.definition_id)
        return instance

    def lock_task(self, task_id: str) -> tuple[TaskRecord, Instance]:
        """The task and its instance, read under the instance's write lock (one statement)."""
        stmt = (select(TaskRecord, Instance).join(Instance, TaskRecord.instance_id == Instance.id)
                .where(TaskRecord.id == task_id).options(self._with_state()))
        row = self.session.execute(self.for_update(stmt, Instance, TaskRecord)).first()
        if row is None:
            raise NotFound(f"tugas {task_id} tidak ditemukan")
        return row[0], self.current_definition(row[1])

    def ready_records(self, instance_id: int) -> list[TaskRecord]:
        """Ready rows, as this transaction sees them (no autoflush: pending changes are in the objects)."""
        rows = self.session.scalars(select(TaskRecord).where(
            TaskRecord.instance_id == instance_id, TaskRecord.state == "ready").order_by(TaskRecord.seq))
        return [r for r in rows if r.state == "ready"]

    def optimize(self) -> None:
        """Refresh the query planner's statistics (SQLite needs them to pick the partial indexes)."""
        self.session.execute(text("PRAGMA optimize" if self.db.is_sqlite else "ANALYZE"))

    def audit(self, actor: str, kind: str, now: datetime, instance_id: int | None = None,
              task_id: str | None = None, **payload: Any) -> None:
        self.session.add(AuditEvent(at=now, actor=actor, kind=kind, instance_id=instance_id, task_id=task_id,
                                    payload=payload))


@contextmanager
def unit_of_work(db: Database, write: bool = True) -> Iterator[UnitOfWork]:
    """Commit a writer at the end, roll back on any error; always give the session back."""
    uow = UnitOfWork(db, write)
    try:
        yield uow
        if write:
            uow.session.commit()
    except BaseException:
        uow.session.rollback()
        raise
    finally:
        Database.release(uow.session)
