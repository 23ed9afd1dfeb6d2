"""Read models shared by the UI, the API and the CLI: what may be read, done and shown.

Every rule an entry point would otherwise compute itself lives here: who may read an
instance (and download its documents), whether an actor can complete a task, which
uploads are still missing, the newest version of each process and its first step, the
inbox, the instance detail.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Row, Select, bindparam, exists, func, select, union
from sqlalchemy.orm import Session, contains_eager, joinedload, raiseload
from sqlalchemy.orm.attributes import set_committed_value

from engine import decisions, state
from engine.actors import Actor, Filters
from engine.clock import utcnow
from engine.db import Database
from engine.diagram import ParsedDiagram, Step
from engine.errors import Forbidden, NotFound
from engine.inbox import InboxTask
from engine.models import (
    READY,
    AuditEvent,
    Document,
    DocumentContent,
    DocumentVersion,
    Instance,
    LetterRegisterEntry,
    ProcessDefinition,
    TaskRecord,
)
from engine.office import Office
from engine.rework import Rework, rework
from engine.settings import Settings
from engine.specs import SpecCache
from engine.uow import CALENDAR_STAMP, CALENDAR_STAMP_COLUMNS, unit_of_work


def check_can_read(instance: Instance, actor: Actor, not_found: str | None = None) -> None:
    """An applicant sees only their own agency's requests (and their documents); others look absent,
    with the same message as a missing id (`not_found`: the one for the task or document asked for)."""
    if actor.agency and instance.agency != actor.agency:
        raise NotFound(not_found or f"permohonan {instance.id} tidak ditemukan")


def can_complete(record: TaskRecord, instance: Instance, actor: Actor) -> bool:
    """The task waits, its request runs, and it is in one of the actor's lanes."""
    return record.state == "ready" and instance.status == "running" and record.lane in actor.lanes


def overdue(record: TaskRecord | InboxTask, now: datetime | None = None) -> bool:
    return record.state == "ready" and record.due_at is not None and record.due_at < (now or utcnow())


RECENT_HISTORY = 10  # history entries the instance body and page carry; the rest is paged
HISTORY_PAGE, MAX_HISTORY_PAGE = 50, 200
RECENT_VERSIONS = 5  # versions of each document a page shows; older ones are listed per document


@dataclass(frozen=True)
class HistoryStats:
    """What a request's page says about its whole history (the counts are kept on the instance row)."""

    total: int = 0
    returns: int = 0
    path_standard_minutes: int = 0  # the standards of the completed activations
    completed_steps: frozenset[str] = frozenset()
    returned_steps: frozenset[str] = frozenset()


@dataclass
class InstanceDetail:
    """A request with its history: all of it, or (for pages and the API) its last few entries."""

    instance: Instance
    history: list[TaskRecord]
    documents: list[Document]
    parsed: ParsedDiagram
    lead_seconds: float = 0.0  # started -> ended (or now), wall clock
    lead_working_seconds: int = 0  # the same in office working time
    ready: list[TaskRecord] = field(default_factory=list)
    stats: HistoryStats = field(default_factory=HistoryStats)

    @property
    def path_standard_minutes(self) -> int:
        """The standard of the path this request took: the standards of its completed activations."""
        return self.stats.path_standard_minutes

    @property
    def returns(self) -> int:
        return self.stats.returns

    @property
    def history_total(self) -> int:
        return self.stats.total

    @property
    def older(self) -> int | None:
        """The `seq` to page back from when entries before `history` exist, else None."""
        return self.history[0].seq if self.history and self.history[0].seq > 1 else None

    def can_complete(self, record: TaskRecord, actor: Actor) -> bool:
        return can_complete(record, self.instance, actor)

    @property
    def current_steps(self) -> list[str]:
        """Spec ids of the steps waiting now."""
        return [r.spec_id for r in self.ready]

    @property
    def completed_steps(self) -> list[str]:
        """Spec ids of steps done at least once and not waiting now."""
        return sorted(self.stats.completed_steps - set(self.current_steps))

    @property
    def returned_steps(self) -> list[str]:
        return sorted(self.stats.returned_steps)


@dataclass
class InstanceRows:
    """A request's answer as plain rows: its columns with its process's `key`, `process_name` and `version`,
    the last few history entries, the ready tasks and the newest versions of each document (by type)."""

    instance: Row[Any]
    history: list[Row[Any]]
    ready: list[Row[Any]]
    documents: dict[str, list[Row[Any]]]
    lead_seconds: float
    lead_working_seconds: int

    @property
    def older(self) -> int | None:
        """The `seq` to page back from when entries before `history` exist, else None."""
        return self.history[0].seq if self.history and self.history[0].seq > 1 else None


@dataclass
class HistoryPage:
    """One page of a request's history, in order; `before`/`after` say where the neighbours start."""

    instance_id: int
    entries: list[TaskRecord]
    total: int
    after: int | None  # more entries after this page: page on with after=<this>
    before: int | None  # more entries before this page: page back with before=<this>


@dataclass
class TaskDetail:
    record: TaskRecord
    instance: Instance
    step: Step
    documents: list[Document]
    rework: Rework | None = None

    @property
    def inputs(self) -> list[Document]:
        """The step's input documents (kelengkapan) that exist; `versions[-1]` is the current one."""
        return [d for d in self.documents if d.doc_type in self.step.inputs]

    @property
    def attached(self) -> list[DocumentVersion]:
        """Versions uploaded during this activation."""
        return [v for d in self.documents for v in d.versions if v.task_id == self.record.id]

    def attached_by_type(self) -> dict[str, list[DocumentVersion]]:
        found: dict[str, list[DocumentVersion]] = {}
        for document in self.documents:
            for version in document.versions:
                if version.task_id == self.record.id:
                    found.setdefault(document.doc_type, []).append(version)
        return found

    @property
    def missing_uploads(self) -> list[str]:
        """Required uploads not yet there; a return keeps what this step attached before (see rework)."""
        have = self.attached_by_type()
        kept = {t for t, d in self.rework.earlier_documents.items() if d.kept} if self.rework else set()
        return [t for t in self.step.required_uploads if t not in have and t not in kept]

    def can_complete(self, actor: Actor) -> bool:
        return can_complete(self.record, self.instance, actor)


class Queries:
    """Reads: each one short read-only transaction."""

    def __init__(self, db: Database, settings: Settings, specs: SpecCache, office: Office | None = None) -> None:
        self.db, self.settings, self.specs = db, settings, specs
        self.office = office or Office(db, settings)

    # ---- process definitions -------------------------------------------------------------

    def definitions(self) -> list[ProcessDefinition]:
        with unit_of_work(self.db, write=False) as uow:
            return list(uow.session.scalars(
                select(ProcessDefinition).order_by(ProcessDefinition.key, ProcessDefinition.version)))

    def latest_definitions(self) -> list[ProcessDefinition]:
        """The newest version of each process, by name."""
        latest: dict[str, ProcessDefinition] = {}
        for definition in self.definitions():
            if definition.key not in latest or definition.version > latest[definition.key].version:
                latest[definition.key] = definition
        return sorted(latest.values(), key=lambda d: d.name)

    def definition(self, key: str, version: int | None = None) -> ProcessDefinition:
        with unit_of_work(self.db, write=False) as uow:
            return find_definition(uow.session, key, version)

    def first_step(self, definition: ProcessDefinition) -> Step | None:
        """The step a new request starts with (the lowest step number)."""
        steps = self.specs.get(definition).model.ordered_steps()
        return steps[0] if steps else None

    def can_start(self, actor: Actor, definition: ProcessDefinition) -> bool:
        first = self.first_step(definition)
        return first is not None and first.lane in actor.lanes  # an admin outside it could not complete it

    def startable(self, actor: Actor) -> list[ProcessDefinition]:
        """Newest versions of the processes whose first step is in one of the actor's lanes."""
        return [d for d in self.latest_definitions() if self.can_start(actor, d)]

    # ---- tasks and instances -------------------------------------------------------------

    def ready_tasks(self, actor: Actor, lane: str | None = None, limit: int = 500) -> list[TaskRecord]:
        """The inbox: ready tasks of the actor's lanes, oldest first, with `record.instance` loaded."""
        lanes = actor.lanes & {lane} if lane else actor.lanes
        if not lanes:
            return []
        with unit_of_work(self.db, write=False) as uow:
            stmt = (select(TaskRecord).join(TaskRecord.instance).options(contains_eager(TaskRecord.instance))
                    .where(TaskRecord.state == READY, TaskRecord.lane.in_(sorted(lanes)))
                    .order_by(TaskRecord.ready_at, TaskRecord.seq).limit(limit))
            if actor.agency:
                stmt = stmt.where(Instance.agency == actor.agency)
            return list(uow.session.scalars(stmt))

    def task(self, task_id: str, actor: Actor) -> TaskDetail:
        """A task with its step, its input documents and what was attached in this activation."""
        with unit_of_work(self.db, write=False) as uow:
            record = uow.session.get(TaskRecord, task_id)
            if record is None:
                raise NotFound(f"tugas {task_id} tidak ditemukan")
            instance = uow.session.get_one(Instance, record.instance_id)
            check_can_read(instance, actor, f"tugas {task_id} tidak ditemukan")
            step = self._step(uow.session, instance.definition, record.spec_id)
            documents = _documents(uow.session, instance.id, RECENT_VERSIONS, record.id)
            return TaskDetail(record, instance, step, documents, rework(uow.session, record, instance, step, documents))

    def _step(self, session: Session, definition: ProcessDefinition, spec_id: str) -> Step:
        """The step of a task row: a request migrated to another version may have done steps it lacks."""
        step = self.specs.get(definition).model.steps.get(spec_id)
        if step is None:
            for other in session.scalars(select(ProcessDefinition).where(
                    ProcessDefinition.key == definition.key, ProcessDefinition.id != definition.id)
                    .order_by(ProcessDefinition.version.desc())):
                step = self.specs.get(other).model.steps.get(spec_id)
                if step is not None:
                    break
        if step is None:
            raise NotFound(f"langkah '{spec_id}' tidak ada di versi mana pun dari proses '{definition.key}'")
        return step

    def instance(self, instance_id: int, actor: Actor, recent: int | None = None, before: int | None = None,
                 steps: bool = False) -> InstanceDetail:
        """A request with its whole history, or only its last `recent` entries (before `before`, a `seq`):
        then a page costs the same after any number of returns (a range of `seq` or a LIMIT, and the counts the
        instance row keeps).
        `steps`: also which steps were completed and returned (the diagram's colours; one aggregate query)."""
        with unit_of_work(self.db, write=False) as uow:
            row = uow.session.execute(_INSTANCE_WITH_STAMP, {"instance_id": instance_id}).first()
            if row is None:
                raise NotFound(f"permohonan {instance_id} tidak ditemukan")
            instance, uow.session.info[CALENDAR_STAMP] = row[0], (row[1], row[2])  # the calendar: no query of its own
            check_can_read(instance, actor)
            if recent is None:
                history = list(uow.session.scalars(select(TaskRecord).where(TaskRecord.instance_id == instance_id)
                                                   .order_by(TaskRecord.seq)))
                ready = [r for r in history if r.state == "ready"]
                stats = _stats_of(history)
            else:
                if before is None:  # the newest entries and the ready ones: one statement
                    rows = list(uow.session.scalars(_RECENT_AND_READY, _recent(instance, recent)))
                    history, ready = rows[-recent:], [r for r in rows if r.state == "ready"]
                else:
                    history = list(uow.session.scalars(
                        select(TaskRecord).where(TaskRecord.instance_id == instance_id, TaskRecord.seq < before)
                        .order_by(TaskRecord.seq.desc()).limit(recent)))[::-1]
                    ready = list(uow.session.scalars(_READY_TASKS, {"instance_id": instance_id}))
                completed, returned = _step_sets(uow.session, instance_id) if steps else (frozenset(), frozenset())
                stats = HistoryStats(instance.task_count, instance.return_count, instance.path_standard_minutes,
                                     completed, returned)
            lead_end = instance.ended_at or utcnow()
            documents = _documents(uow.session, instance_id, None if recent is None else RECENT_VERSIONS)
            return InstanceDetail(instance, history, documents,
                                  self.specs.get(instance.definition), (lead_end - instance.started_at).total_seconds(),
                                  self.office.calendar(uow.session).working_seconds(instance.started_at, lead_end),
                                  ready, stats)

    def instance_rows(self, instance_id: int, actor: Actor, recent: int) -> InstanceRows:
        """`instance(recent=...)` as the API answers it: plain rows, not ORM objects (building those cost more
        CPU than the three statements), and no parsed diagram."""
        with unit_of_work(self.db, write=False) as uow:
            conn = uow.session.connection()
            instance = conn.execute(_INSTANCE_ROW, {"instance_id": instance_id}).first()
            if instance is None:
                raise NotFound(f"permohonan {instance_id} tidak ditemukan")
            uow.session.info[CALENDAR_STAMP] = (instance.calendar_rows, instance.calendar_changed)
            check_can_read(instance, actor)  # type: ignore[arg-type]
            rows = conn.execute(_RECENT_AND_READY_ROWS, _recent(instance, recent)).all()
            documents: dict[str, list[Row[Any]]] = {}
            for version in conn.execute(_NEWEST_VERSION_ROWS, {"instance_id": instance_id,
                                                                "recent": RECENT_VERSIONS}):
                documents.setdefault(version.doc_type, []).append(version)
            lead_end = instance.ended_at or utcnow()
            return InstanceRows(instance, rows[-recent:], [r for r in rows if r.state == "ready"], documents,
                                (lead_end - instance.started_at).total_seconds(),
                                self.office.calendar(uow.session).working_seconds(instance.started_at, lead_end))

    def progress(self, instance_id: int, actor: Actor) -> tuple[Instance, list[TaskRecord]]:
        """A request's row and its ready tasks: what a client needs after a completion (no history)."""
        with unit_of_work(self.db, write=False) as uow:
            instance = uow.session.get(Instance, instance_id)
            if instance is None:
                raise NotFound(f"permohonan {instance_id} tidak ditemukan")
            check_can_read(instance, actor)
            return instance, list(uow.session.scalars(select(TaskRecord).where(
                TaskRecord.instance_id == instance_id, TaskRecord.state == READY).order_by(TaskRecord.seq)))

    def document_versions(self, instance_id: int, actor: Actor, doc_type: str) -> Document:
        """One document of a request with every version."""
        with unit_of_work(self.db, write=False) as uow:
            instance = uow.session.get(Instance, instance_id)
            if instance is None:
                raise NotFound(f"permohonan {instance_id} tidak ditemukan")
            check_can_read(instance, actor)
            document = uow.session.scalars(select(Document).where(
                Document.instance_id == instance_id, Document.doc_type == doc_type)).first()
            if document is None or not document.versions:
                raise NotFound(f"dokumen '{doc_type}' belum ada pada permohonan {instance_id}")
            return document

    def history(self, instance_id: int, actor: Actor, after: int | None = None, before: int | None = None,
                limit: int = HISTORY_PAGE) -> HistoryPage:
        """A page of a request's history by `seq`: the `limit` entries after `after` (and before `before`),
        or the `limit` entries just before `before`."""
        limit = max(1, min(limit, MAX_HISTORY_PAGE))
        with unit_of_work(self.db, write=False) as uow:
            instance = uow.session.get(Instance, instance_id)
            if instance is None:
                raise NotFound(f"permohonan {instance_id} tidak ditemukan")
            check_can_read(instance, actor)
            stmt = select(TaskRecord).where(TaskRecord.instance_id == instance_id)
            if before is not None and after is not None:  # the entries between them, forward
                stmt = stmt.where(TaskRecord.seq < before)
            elif before is not None:
                rows = list(uow.session.scalars(stmt.where(TaskRecord.seq < before)
                                                .order_by(TaskRecord.seq.desc()).limit(limit + 1)))[::-1]
                more, rows = len(rows) > limit, rows[-limit:]
                return HistoryPage(instance_id, rows, instance.task_count, None,
                                   rows[0].seq if more and rows else None)
            rows = list(uow.session.scalars(stmt.where(TaskRecord.seq > (after or 0))
                                            .order_by(TaskRecord.seq).limit(limit + 1)))
            more, rows = len(rows) > limit, rows[:limit]
            return HistoryPage(instance_id, rows, instance.task_count, rows[-1].seq if more and rows else None, None)

    def instances(self, actor: Actor, filters: Filters) -> list[Row[Any]]:
        """A page of requests, newest first, as plain rows (what a list shows: no form data) with their
        process's `key`, `process_name` and `version`; ORM objects cost more CPU than the statement."""
        late = None if filters.overdue is None else utcnow()
        stmt = _instance_list(bool(actor.agency), bool(filters.status), bool(filters.process),
                              filters.started_from is not None, filters.started_to is not None, filters.overdue)
        with unit_of_work(self.db, write=False) as uow:
            return uow.session.connection().execute(stmt, {
                "agency": actor.agency, "status": filters.status, "process": filters.process,
                "started_from": filters.started_from, "started_to": filters.started_to, "now": late,
                "limit": filters.limit, "offset": filters.offset}).all()

    def ready_of(self, instance_ids: Sequence[int]) -> dict[int, list[Row[Any]]]:
        """The ready tasks of these requests in order of `seq`, as plain rows (a task's columns)."""
        with unit_of_work(self.db, write=False) as uow:
            result: dict[int, list[Row[Any]]] = {i: [] for i in instance_ids}
            for record in uow.session.connection().execute(_READY_OF, {"ids": list(instance_ids)}).all():
                result[record.instance_id].append(record)
            return result

    def document(self, version_id: int, actor: Actor) -> tuple[DocumentVersion, bytes]:
        """A document version and its bytes, for whoever may read its request."""
        with unit_of_work(self.db, write=False) as uow:
            version = uow.session.get(DocumentVersion, version_id)
            if version is None:
                raise NotFound(f"dokumen {version_id} tidak ditemukan")
            check_can_read(uow.session.get_one(Instance, version.document.instance_id), actor,
                           f"dokumen {version_id} tidak ditemukan")
            content = uow.session.get_one(DocumentContent, version_id).content
            return version, content

    def register(self, actor: Actor, year: int | None = None) -> list[LetterRegisterEntry]:
        if not actor.is_staff:
            raise Forbidden("buku agenda surat keluar hanya untuk petugas")
        with unit_of_work(self.db, write=False) as uow:
            stmt = select(LetterRegisterEntry).order_by(LetterRegisterEntry.year.desc(),
                                                        LetterRegisterEntry.sequence.desc())
            if year:
                stmt = stmt.where(LetterRegisterEntry.year == year)
            return list(uow.session.scalars(stmt))

    def verify(self, instance_id: int) -> list[str]:
        """Problems where the stored workflow and the task table disagree (empty when consistent)."""
        with unit_of_work(self.db, write=False) as uow:
            instance = uow.session.get(Instance, instance_id, options=[joinedload(Instance.workflow_state)])
            if instance is None:
                raise NotFound(f"permohonan {instance_id} tidak ditemukan")
            in_table = {r.id for r in uow.ready_records(instance_id)}
            if instance.state is None:  # an ended request keeps no workflow (engine.models.InstanceState)
                problems = [f"tugas {t} siap di tabel tugas tetapi permohonan sudah {instance.status}"
                            for t in in_table]
                if instance.status == "running":
                    problems.append("permohonan berjalan tanpa status alur kerja")
            else:
                parsed = self.specs.get(instance.definition)
                workflow = state.load(instance.state, parsed.spec, parsed.subprocess_specs)
                in_workflow = {str(t.id) for t in state.ready_user_tasks(workflow)}
                problems = [f"tugas {t} siap di alur kerja tetapi tidak di tabel tugas" for t in in_workflow - in_table]
                problems += [f"tugas {t} siap di tabel tugas tetapi tidak di alur kerja"
                             for t in in_table - in_workflow]
                if instance.status == "completed" and not state.ended(workflow):
                    problems.append("status selesai tetapi alur kerja belum mencapai end event")
                if instance.status == "running" and state.ended(workflow):
                    problems.append("alur kerja sudah selesai tetapi status masih berjalan")
            orphans = uow.session.scalars(select(DocumentVersion.id).join(Document).outerjoin(
                DocumentContent, DocumentContent.version_id == DocumentVersion.id).where(
                Document.instance_id == instance_id, DocumentContent.version_id.is_(None))).all()
            problems += [f"versi dokumen {v} tanpa isi" for v in orphans]
            kept = (instance.task_count, instance.return_count, instance.path_standard_minutes)
            stats = _stats_of(list(uow.session.scalars(
                select(TaskRecord).where(TaskRecord.instance_id == instance_id))))
            if kept != (stats.total, stats.returns, stats.path_standard_minutes):
                problems.append(f"hitungan di baris permohonan {kept} tidak sesuai tabel tugas "
                                f"{(stats.total, stats.returns, stats.path_standard_minutes)}")
            return problems

    def audit_log(self, instance_id: int) -> list[AuditEvent]:
        with unit_of_work(self.db, write=False) as uow:
            return list(uow.session.scalars(select(AuditEvent).where(AuditEvent.instance_id == instance_id)
                                            .order_by(AuditEvent.id)))


def find_definition(session: Session, key: str, version: int | None) -> ProcessDefinition:
    """A version of a process, or its newest one."""
    stmt = select(ProcessDefinition).where(ProcessDefinition.key == key)
    stmt = stmt.where(ProcessDefinition.version == version) if version is not None else stmt.order_by(
        ProcessDefinition.version.desc()).limit(1)
    found = session.scalars(stmt).first()
    if found is None:
        raise NotFound(f"proses '{key}'{f' versi {version}' if version else ''} tidak ditemukan")
    return found


def _stats_of(history: list[TaskRecord]) -> HistoryStats:
    return HistoryStats(
        total=len(history), returns=sum(1 for r in history if r.keputusan == decisions.RETURN),
        path_standard_minutes=sum(r.standard_minutes or 0 for r in history if r.state == "completed"),
        completed_steps=frozenset(r.spec_id for r in history if r.state == "completed"),
        returned_steps=frozenset(r.spec_id for r in history if r.keputusan == decisions.RETURN))


def _step_sets(session: Session, instance_id: int) -> tuple[frozenset[str], frozenset[str]]:
    """The steps completed and the steps that returned, from one GROUP BY (a few rows per step)."""
    returned = TaskRecord.keputusan == decisions.RETURN
    rows = session.execute(select(TaskRecord.spec_id, TaskRecord.state, returned)
                           .where(TaskRecord.instance_id == instance_id, TaskRecord.state == "completed")
                           .group_by(TaskRecord.spec_id, TaskRecord.state, returned)).all()
    return (frozenset(spec for spec, _, _ in rows), frozenset(spec for spec, _, back in rows if back))


def _documents(session: Session, instance_id: int, recent: int | None = None,
               task_id: str | None = None) -> list[Document]:
    """The request's documents with all their versions, or only the newest `recent` of each (and those attached
    in activation `task_id`): a document replaced at every return does not make a page grow.

    Versions are numbered 1..n without gaps, so `versions[-1].version` is how many there are.
    """
    if recent is None:
        return list(session.scalars(select(Document).where(Document.instance_id == instance_id)
                                    .order_by(Document.id)))
    if task_id is None:  # one statement for all documents (versions are 1..n: the newest are n-recent+1..n)
        grouped: dict[int, tuple[Document, list[DocumentVersion]]] = {}
        for document, version in session.execute(_NEWEST_VERSIONS, {"instance_id": instance_id, "recent": recent}):
            grouped.setdefault(document.id, (document, []))[1].append(version)
        for document, versions in grouped.values():
            set_committed_value(document, "versions", versions)
        return [document for document, _ in grouped.values()]
    documents = list(session.scalars(select(Document).options(raiseload(Document.versions))
                                     .where(Document.instance_id == instance_id).order_by(Document.id)))
    for document in documents:
        newest = list(session.scalars(select(DocumentVersion).where(DocumentVersion.document_id == document.id)
                                      .order_by(DocumentVersion.version.desc()).limit(recent)))
        known = {v.id for v in newest}
        if task_id is not None:
            newest += [v for v in session.scalars(select(DocumentVersion).where(
                DocumentVersion.document_id == document.id, DocumentVersion.task_id == task_id)) if v.id not in known]
        set_committed_value(document, "versions", sorted(newest, key=lambda v: v.version))
    return documents


# Built once (every GET of a request runs them). The instance comes with the office calendar's stamp (what
# engine/office.py would otherwise ask in a query of its own).
_INSTANCE_WITH_STAMP = select(Instance, *CALENDAR_STAMP_COLUMNS).where(Instance.id == bindparam("instance_id"))
_READY_TASKS = (select(TaskRecord)
                .where(TaskRecord.instance_id == bindparam("instance_id"), TaskRecord.state == READY)
                .order_by(TaskRecord.seq))
_NEWER = DocumentVersion.__table__.alias("newer")
_NEWEST_VERSIONS = (
    select(Document, DocumentVersion).join(DocumentVersion, DocumentVersion.document_id == Document.id)
    .options(raiseload(Document.versions))
    .where(Document.instance_id == bindparam("instance_id"),
           DocumentVersion.version > select(func.max(_NEWER.c.version)).where(
               _NEWER.c.document_id == Document.id).scalar_subquery() - bindparam("recent"))
    .order_by(Document.id, DocumentVersion.version))


def _recent(instance: Instance | Row[Any], recent: int) -> dict[str, int]:
    """Parameters of `_RECENT_AND_READY`: activations are numbered 1..task_count (`seq`) without gaps."""
    return {"instance_id": instance.id, "after": instance.task_count - recent}


# The newest entries (seq after task_count - recent) and the ready ones: a UNION of two parts, each on its own
# index (an OR of the two leaves the choice to the planner, which may read the whole history of the request).
_TASKS = TaskRecord.__table__
_RECENT_AND_READY_ROWS = union(
    select(_TASKS).where(_TASKS.c.instance_id == bindparam("instance_id"), _TASKS.c.seq > bindparam("after")),
    select(_TASKS).where(_TASKS.c.instance_id == bindparam("instance_id"), _TASKS.c.state == READY),
).order_by("seq")
_RECENT_AND_READY = select(TaskRecord).from_statement(_RECENT_AND_READY_ROWS)
_DEFINITIONS, _VERSIONS = ProcessDefinition.__table__, DocumentVersion.__table__
_INSTANCE_ROW = (select(Instance.__table__, _DEFINITIONS.c.key, _DEFINITIONS.c.name.label("process_name"),
                        _DEFINITIONS.c.version, CALENDAR_STAMP_COLUMNS[0].label("calendar_rows"),
                        CALENDAR_STAMP_COLUMNS[1].label("calendar_changed"))
                 .join(_DEFINITIONS, _DEFINITIONS.c.id == Instance.__table__.c.definition_id)
                 .where(Instance.__table__.c.id == bindparam("instance_id")))
_NEWEST_VERSION_ROWS = (
    select(Document.__table__.c.doc_type, _VERSIONS)
    .join(_VERSIONS, _VERSIONS.c.document_id == Document.__table__.c.id)
    .where(Document.__table__.c.instance_id == bindparam("instance_id"),
           _VERSIONS.c.version > select(func.max(_NEWER.c.version)).where(
               _NEWER.c.document_id == Document.__table__.c.id).scalar_subquery() - bindparam("recent"))
    .order_by(Document.__table__.c.id, _VERSIONS.c.version))


_INSTANCES = Instance.__table__
_READY_OF = (select(_TASKS).where(_TASKS.c.instance_id.in_(bindparam("ids", expanding=True)), _TASKS.c.state == READY)
             .order_by(_TASKS.c.seq))


@cache
def _instance_list(agency: bool, status: bool, process: bool, started_from: bool, started_to: bool,
                   overdue: bool | None) -> Select[Any]:
    """The list's statement for one combination of filters (built once: building and hashing it cost more
    CPU than running it); the values are bound parameters."""
    i = _INSTANCES.c
    # newest first by start time: a date range or a status reads its index backwards and stops
    stmt = (select(i.id, i.status, i.perihal, i.agency, i.letter_number, i.started_by, i.started_at, i.ended_at,
                   i.end_event, _DEFINITIONS.c.key, _DEFINITIONS.c.name.label("process_name"), _DEFINITIONS.c.version)
            # LEFT JOIN (every request has its process): SQLite then keeps the requests as the outer loop, read
            # in the list's order; an inner join lets it read them by process and sort them all
            .outerjoin(_DEFINITIONS, _DEFINITIONS.c.id == i.definition_id)
            .order_by(i.started_at.desc(), i.id.desc())
            .limit(bindparam("limit")).offset(bindparam("offset")))
    if agency:
        stmt = stmt.where(i.agency == bindparam("agency"))
    if status:
        stmt = stmt.where(i.status == bindparam("status"))
    if process:
        stmt = stmt.where(_DEFINITIONS.c.key == bindparam("process"))
    if started_from:
        stmt = stmt.where(i.started_at >= bindparam("started_from"))
    if started_to:
        stmt = stmt.where(i.started_at < bindparam("started_to"))
    if overdue is not None:
        # (NOT) EXISTS: probes the request's open tasks (ix_tasks_ready_instance) row by row while the
        # list is read in its order, instead of collecting every overdue task first
        late = exists().where(_TASKS.c.instance_id == i.id, _TASKS.c.state == READY,
                              _TASKS.c.due_at < bindparam("now"))
        stmt = stmt.where(late if overdue else ~late)
    return stmt
