"""The unit of work: one transaction, and the locks a writer takes.

This is the only module that knows the database dialects differ in locking: SQLite
serializes writers with BEGIN IMMEDIATE (engine/db.py), PostgreSQL with SELECT ... FOR
UPDATE on the instance (and the letter counter) a command changes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Select,
    Table,
    TextClause,
    bindparam,
    func,
    insert,
    inspect,
    literal_column,
    or_,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, contains_eager, joinedload, make_transient_to_detached, selectinload
from sqlalchemy.orm.attributes import NO_VALUE, set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from engine.db import Database
from engine.errors import NotFound
from engine.models import (
    READY,
    AuditEvent,
    Base,
    CalendarChanges,
    CalendarDay,
    Instance,
    InstanceState,
    ProcessDefinition,
    TaskRecord,
)

FOLDED_ROWS = 16  # new rows of a table that a PostgreSQL save puts in its one statement (a shape per count)
LATER = "alur_later"  # session.info of a PostgreSQL writer: statements sent with its save (send_later)
CALENDAR_STAMP = "alur_calendar_stamp"  # (rows, changes so far) of the office calendar, read with a step's lock
# The stamp's two columns, for a statement that carries them along (engine/office.py checks its cache by them).
CALENDAR_STAMP_COLUMNS = (select(func.count()).select_from(CalendarDay).scalar_subquery(),
                          select(func.coalesce(func.max(CalendarChanges.changes), 0)).scalar_subquery())


class UnitOfWork:
    """One transaction; `write` ones take the database's write lock on SQLite. A reader (`write=False`) must
    not write: on PostgreSQL it runs in autocommit (no BEGIN and ROLLBACK, engine/db.py)."""

    def __init__(self, db: Database, write: bool) -> None:
        self.db, self.write = db, write
        self.session: Session = db.session(write)
        self._audits: list[dict[str, Any]] = []
        if write and not db.is_sqlite:
            self.session.info[LATER] = []

    def for_update(self, stmt: Select[Any], *of: Any) -> Select[Any]:
        """Lock the rows of `of` for the rest of the transaction (SQLite's writer lock already does)."""
        return stmt if self.db.is_sqlite else stmt.with_for_update(of=list(of) or None)

    def insert_ignore(self, model: type[Base], **values: Any) -> None:
        """INSERT ... ON CONFLICT DO NOTHING."""
        insert = sqlite_insert if self.db.is_sqlite else pg_insert
        self.session.execute(insert(model).values(**values).on_conflict_do_nothing())

    def lock_instance(self, instance_id: int) -> Instance:
        stmt = select(Instance).where(Instance.id == instance_id).options(_with_state(self.db.is_sqlite))
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
        row = self.session.execute(_lock_task_statement(self.db.is_sqlite), {"task_id": task_id}).first()
        if row is None:
            raise NotFound(f"tugas {task_id} tidak ditemukan")
        return row[0], self.current_definition(row[1])

    def lock_step(self, task_id: str) -> tuple[TaskRecord, Instance, list[TaskRecord]]:
        """The task, its instance (write-locked) and the instance's ready tasks, for completing a step.

        The office calendar's stamp (engine/office.py) comes along, so the step need not ask for it.
        SQLite: one statement; the writer lock was taken at BEGIN IMMEDIATE, so it sees the newest rows.
        PostgreSQL: the ready rows are read after the lock (a row-lock wait re-checks only the rows the
        locking statement found, not ones another writer has added meanwhile)."""
        stmt = _lock_step_statement(self.db.is_sqlite)
        if not self.db.is_sqlite:
            row = self.session.execute(stmt, {"task_id": task_id}).first()
            if row is None:  # no such task, or its request has ended (and keeps no workflow state)
                row = self.session.execute(_lock_step_statement(False, False), {"task_id": task_id}).first()
            if row is None:
                raise NotFound(f"tugas {task_id} tidak ditemukan")
            self.session.info[CALENDAR_STAMP] = (row[2], row[3])
            return row[0], self.current_definition(row[1]), self.ready_records(row[1].id)
        rows = self.session.execute(stmt, {"task_id": task_id}).all()
        record = next((row[0] for row in rows if row[0].id == task_id), None)
        if record is None:
            raise NotFound(f"tugas {task_id} tidak ditemukan")
        self.session.info[CALENDAR_STAMP] = (rows[0][2], rows[0][3])
        return record, self.current_definition(rows[0][1]), [row[0] for row in rows if row[0].state == "ready"]

    def ready_records(self, instance_id: int) -> list[TaskRecord]:
        """Ready rows, as this transaction sees them (no autoflush: pending changes are in the objects)."""
        rows = self.session.scalars(_READY, {"instance_id": instance_id})
        return [r for r in rows if r.state == "ready"]

    def optimize(self) -> None:
        """Refresh the query planner's statistics (SQLite needs them to pick the partial indexes)."""
        self.session.execute(text("PRAGMA optimize" if self.db.is_sqlite else "ANALYZE"))

    def audit(self, actor: str, kind: str, now: datetime, instance_id: int | None = None,
              task_id: str | None = None, **payload: Any) -> None:
        """Recorded with the commit, in the order of the calls (one INSERT for all of a command's events)."""
        self._audits.append({"at": now, "actor": actor, "kind": kind, "instance_id": instance_id,
                             "task_id": task_id, "payload": payload})

    def save(self, objects: list[Base]) -> None:
        """Write a step's rows (its request, workflow state and task rows) with plain statements.

        The ORM's flush spent about a millisecond of bookkeeping a step on these 3-5 statements, inside
        SQLite's one write lock. Here: an UPDATE of the changed columns of each loaded row (the request's
        with its version check), one INSERT for the new rows of a table; then the objects stay in the
        session as saved rows. Any object of another shape (a row without its key or with defaults to
        fill, a changed relationship, a deletion) sends all of them to the ORM's flush, as before.
        """
        session, plans = self.session, []
        for obj in objects:
            plan = _plan(obj)
            if plan is None:
                session.flush()
                if not self.db.is_sqlite:
                    self._save_together([])  # what is queued, with the flush's rows
                return
            plans.append(plan)
        if self.db.is_sqlite:
            self._save_apart(plans)
        else:
            self._save_together(plans)
        for obj, _, _, version in plans:  # now as the ORM's flush leaves the rows it wrote: clean, in the session
            state = inspect(obj)
            if version is None:
                session.expunge(obj)
                make_transient_to_detached(obj)
                session.add(obj)
            else:
                state._commit_all(state.dict, session.identity_map)  # what the flush itself calls

    def _save_apart(self, plans: list[_ObjectPlan]) -> None:
        """SQLite: one statement per changed row, one INSERT per table of new rows (no round trips to save)."""
        rows: dict[Table, list[dict[str, Any]]] = {}
        connection = self.session.connection()
        for obj, table, values, version in plans:
            if values is None:
                continue
            if version is None:  # new
                rows.setdefault(table, []).append(values)
                continue
            version_key = None if version is False else _version_key(obj)
            result = connection.execute(_update_statement(table, version_key), values)
            if result.rowcount != 1:  # type: ignore[attr-defined]
                raise StaleDataError(f"{table.name} {values['_key']}: changed by another writer")
            if version_key is not None:
                set_committed_value(obj, version_key, version + 1)
        for table, new_rows in rows.items():
            connection.execute(insert(table), new_rows)

    def _save_together(self, plans: list[_ObjectPlan]) -> None:
        """PostgreSQL: the same UPDATEs and INSERTs, the statements and audit rows queued so far, as one statement of
        data-modifying CTEs: one round trip instead of one per table (the server's CPU is the limit there).
        The statement answers how many rows each UPDATE changed; one that changed none (the request's version
        moved on, a row gone) refuses the step as the separate UPDATE did."""
        shape: list[tuple[Any, ...]] = []
        params: dict[str, Any] = {}
        updated: list[tuple[Base, Table, dict[str, Any], Any]] = []
        news: dict[Table, list[dict[str, Any]]] = {}
        for obj, table, values, version in plans:
            if values is None:
                continue
            if version is None:
                news.setdefault(table, []).append(values)
                continue
            at = len(shape)
            version_key = None if version is False else _version_key(obj)
            shape.append(("update", table, tuple(k for k in values if k[0] != "_"), version_key))
            params.update({f"p{at}_{k}": v for k, v in values.items()})
            updated.append((obj, table, values, version))
        for make, statement_shape, values in self.session.info.get(LATER) or ():
            at = len(shape)
            shape.append(("later", make, statement_shape, None))
            params.update({f"p{at}_{k}": v for k, v in values.items()})
        self.session.info[LATER] = []
        if self._audits:
            rows, self._audits = self._audits, []
            news.setdefault(AuditEvent.__table__, []).extend(rows)  # type: ignore[arg-type]
        if not shape and not news:
            return
        connection = self.session.connection()
        for table, new_rows in news.items():
            if len(new_rows) > FOLDED_ROWS:  # many (a bulk command's audit rows): apart, as executemany
                connection.execute(insert(table), new_rows)
                continue
            at, columns = len(shape), tuple(new_rows[0])
            shape.append(("insert", table, columns, len(new_rows)))
            params.update({f"p{at}_{n}_{k}": row[k] for n, row in enumerate(new_rows) for k in columns})
        if not shape:
            return
        counts = connection.execute(_together_statement(tuple(shape)), params).one()
        for (obj, table, values, version), count in zip(updated, counts, strict=False):
            if count != 1:
                raise StaleDataError(f"{table.name} {values['_key']}: changed by another writer")
            if version is not False:
                set_committed_value(obj, _version_key(obj), version + 1)

    def write_queued(self) -> None:
        """What is still queued at the commit: on PostgreSQL the statements (send_later) and the audit rows in
        one statement, on SQLite the audit rows."""
        if not self.db.is_sqlite:
            self._save_together([])
        elif self._audits:
            rows, self._audits = self._audits, []
            self.session.execute(insert(AuditEvent.__table__), rows)


# The hot statements of a step are built once: constructing a select at every call cost more CPU than
# SQLite took to run it (SQLAlchemy still finds the compiled form in its cache).
_READY = (select(TaskRecord).where(TaskRecord.instance_id == bindparam("instance_id"), TaskRecord.state == READY)
          .order_by(TaskRecord.seq))


def _with_state(sqlite: bool) -> Any:
    """Load the workflow state with the instance: joined on SQLite (the writer lock is already held);
    on PostgreSQL in a statement of its own after the row lock, because a FOR UPDATE that waited
    re-reads the locked row but not what is joined to it (it would be a stale state)."""
    return joinedload(Instance.workflow_state) if sqlite else selectinload(Instance.workflow_state)


@functools.cache
def _lock_task_statement(sqlite: bool) -> Select[Any]:
    """No workflow state: its users (an upload, a generated document) do not run the workflow (if one reads
    it, it loads then, under the lock)."""
    stmt = (select(TaskRecord, Instance).join(Instance, TaskRecord.instance_id == Instance.id)
            .where(TaskRecord.id == bindparam("task_id")))
    return stmt if sqlite else stmt.with_for_update(of=[Instance, TaskRecord])


@functools.cache
def _lock_step_statement(sqlite: bool, with_state: bool = True) -> Select[Any]:
    """PostgreSQL: the state row is joined and locked too, so that a lock wait re-reads it with the instance
    (one statement); `with_state=False` finds a step whose request has ended (no state row)."""
    task_id = bindparam("task_id")
    stmt = select(TaskRecord, Instance, *CALENDAR_STAMP_COLUMNS).join(Instance, TaskRecord.instance_id == Instance.id)
    if not sqlite:
        locked = [Instance, TaskRecord]
        if with_state:
            stmt = (stmt.join(InstanceState, InstanceState.instance_id == Instance.id)
                    .options(contains_eager(Instance.workflow_state)))
            locked.append(InstanceState)
        return stmt.where(TaskRecord.id == task_id).with_for_update(of=locked)
    stmt = stmt.options(_with_state(sqlite))
    owner = select(TaskRecord.instance_id).where(TaskRecord.id == task_id).scalar_subquery()
    return (stmt.where(TaskRecord.instance_id == owner, or_(TaskRecord.state == READY, TaskRecord.id == task_id))
            .order_by(TaskRecord.seq))


_ObjectPlan = tuple[Base, Table, dict[str, Any] | None, Any]


def _plan(obj: Base) -> _ObjectPlan | None:
    """(object, table, statement parameters or None if unchanged, old version / False / None if new);
    None: a shape `UnitOfWork.save` leaves to the ORM. The changed attributes are the ones whose loaded
    value the ORM keeps aside (`committed_state`), as its flush finds them."""
    state = inspect(obj)
    mapper = state.mapper
    table = mapper.local_table
    if state.deleted or state.detached or not isinstance(table, Table) or len(mapper.primary_key) != 1:
        return None
    columns = mapper.columns
    if state.pending:
        missing = [key for key in columns.keys() if key not in state.dict]
        if mapper.version_id_col is not None or any(columns[key].default is not None or
                                                    columns[key].server_default is not None for key in missing):
            return None  # the ORM knows the defaults
        for key in missing:  # NULL, as the INSERT writes it (and readable afterwards without a query)
            state.dict[key] = None
        values = {column.key: state.dict[key] for key, column in columns.items()}
        return (obj, table, values, None) if values.get(mapper.primary_key[0].key) is not None else None
    changed = state.committed_state
    if not changed:
        return obj, table, None, False
    if any(key not in columns for key in changed):  # a relationship changed
        return None
    values = {columns[key].key: state.dict[key] for key, old in changed.items()
              if old is NO_VALUE or old != state.dict[key]}  # (NO_VALUE: flag_modified, or never loaded)
    if not values:
        return obj, table, None, False
    values["_key"] = state.identity[0]
    version: Any = False
    if mapper.version_id_col is not None:
        version = state.dict[_version_key(obj)]
        values[mapper.version_id_col.key], values["_version"] = version + 1, version
    return obj, table, values, version


def _version_key(obj: Base) -> str:
    mapper = inspect(obj).mapper
    return mapper.get_property_by_column(mapper.version_id_col).key


@functools.cache
def _update_statement(table: Table, version_key: str | None) -> Any:
    """UPDATE ... WHERE key (and version): the SET clause is the parameters' other keys at each execution."""
    key = next(iter(table.primary_key.columns))
    where = [key == bindparam("_key")]
    if version_key is not None:
        where.append(table.c[version_key] == bindparam("_version"))
    return update(table).where(*where)


def send_later(session: Session, make: Callable[[Any, str], TextClause], shape: Any, params: dict[str, Any]) -> None:
    """Execute the statement `make(shape, "")` with `params`; a PostgreSQL writer sends it with its next save
    (or at the commit): one round trip fewer. `make(shape, prefix)` names its parameters `prefix` + name; it
    must write only rows nothing reads before the commit, and nothing else in the save may write them."""
    queued = session.info.get(LATER)
    if queued is None:
        session.execute(make(shape, ""), params)
    else:
        queued.append((make, shape, params))


@functools.lru_cache(maxsize=256)
def _together_statement(shape: tuple[tuple[Any, ...], ...]) -> Select[Any]:
    """`WITH p0 AS (UPDATE ... RETURNING 1), p1 AS (INSERT ...) ... SELECT` the row count of each UPDATE, for
    the shape of a save (the statement's parameters are named p<n>_<column>); built once per shape (a step
    of one kind saves the same shape each time)."""
    counts, inserts = [], []
    for at, (kind, table, columns, extra) in enumerate(shape):
        def param(name: str, column: str, table: Table = table) -> Any:
            return bindparam(name, type_=table.c[column].type)
        if kind == "update":
            key = next(iter(table.primary_key.columns))
            where = [key == param(f"p{at}__key", key.key)]
            if extra is not None:
                where.append(table.c[extra] == param(f"p{at}__version", extra))
            stmt = (update(table).where(*where).values({c: param(f"p{at}_{c}", c) for c in columns})
                    .returning(literal_column("1")).cte(f"p{at}"))
            counts.append(select(func.count()).select_from(stmt).scalar_subquery())
        elif kind == "later":  # a queued statement's own text, its parameters named p<n>_<name>
            inserts.append(table(columns, f"p{at}_").columns().cte(f"p{at}"))
        elif extra == 1:
            inserts.append(insert(table).values({c: param(f"p{at}_0_{c}", c) for c in columns}).cte(f"p{at}"))
        else:  # INSERT ... SELECT the rows in their order (SQLAlchemy caches no compiled multi-row VALUES; sibling
            # CTEs run in no set order, and a serial id, as the audit rows', must follow the order of the calls)
            rows = union_all(*(select(literal_column(str(n)).label("_n"),
                                      *(param(f"p{at}_{n}_{c}", c).label(c) for c in columns))
                               for n in range(extra))).subquery()
            ordered = select(*(rows.c[c] for c in columns)).order_by(rows.c._n)
            inserts.append(insert(table).from_select(list(columns), ordered).cte(f"p{at}"))
    return select(*counts or [literal_column("1")]).add_cte(*inserts)


@contextmanager
def unit_of_work(db: Database, write: bool = True) -> Iterator[UnitOfWork]:
    """Commit a writer at the end, roll back on any error; always give the session back."""
    uow = UnitOfWork(db, write)
    try:
        yield uow
        if write:
            uow.write_queued()
            uow.session.commit()
    except BaseException:
        uow.session.rollback()
        raise
    finally:
        db.release(uow.session)
