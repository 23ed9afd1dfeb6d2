"""The service layer: one method per command, each one transaction (a unit of work).

Entry points (HTTP, CLI) translate their input into these calls and render what comes
back. A writing command locks the instance it changes, checks everything first (READY,
lane, form, documents), then runs SpiffWorkflow, the handlers and persists the workflow
state, task rows, audit events and documents together, or not at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, contains_eager, undefer

from engine import forms, office, reports, state, timers
from engine.clock import utcnow
from engine.conditions import ConditionError
from engine.db import Database
from engine.diagram import ParsedDiagram, Step, parse_diagram
from engine.documents import TooLarge, safe_filename, sniff
from engine.errors import DiagramProblem, Forbidden, InvalidData, InvalidDiagram, NotFound, NotReady
from engine.letters import AGENCY_FIELD, SUBJECT_FIELD
from engine.models import (
    AuditEvent,
    Document,
    DocumentContent,
    DocumentVersion,
    Instance,
    LetterRegisterEntry,
    ProcessDefinition,
    TaskRecord,
)
from engine.settings import Settings
from engine.specs import SpecCache
from engine.worktime import OfficeCalendar
from handlers import REGISTRY, StepContext


@dataclass(frozen=True)
class Actor:
    """Who acts: enough to authorize, nothing of the web. `agency` marks an external applicant."""

    username: str
    lanes: frozenset[str] = frozenset()
    agency: str | None = None
    is_process_owner: bool = False
    is_admin: bool = False

    @property
    def is_staff(self) -> bool:
        return self.agency is None


SYSTEM = Actor("system", is_process_owner=True, is_admin=True)
TIMER_ACTOR = Actor("penjadwal", is_process_owner=True, is_admin=True)  # who acts when a timer fires


@dataclass
class DeployResult:
    definition: ProcessDefinition
    created: bool


@dataclass
class Upload:
    doc_type: str
    filename: str
    content: bytes


@dataclass
class Filters:
    status: str | None = None
    process: str | None = None
    started_from: datetime | None = None
    started_to: datetime | None = None
    overdue: bool | None = None
    limit: int = 100
    offset: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class UnitOfWork:
    """One transaction; `write` ones take the database's write lock on SQLite."""

    def __init__(self, db: Database, write: bool) -> None:
        self.db, self.write = db, write
        self.session: Session = db.session(write)

    def lock_instance(self, instance_id: int) -> Instance:
        stmt = select(Instance).where(Instance.id == instance_id).options(undefer(Instance.state))
        if self.db.engine.dialect.name == "postgresql":
            stmt = stmt.with_for_update(of=Instance)
        instance = self.session.scalars(stmt).one_or_none()
        if instance is None:
            raise NotFound(f"permohonan {instance_id} tidak ditemukan")
        return instance

    def audit(self, actor: str, kind: str, now: datetime, instance_id: int | None = None,
              task_id: str | None = None, **payload: Any) -> None:
        self.session.add(AuditEvent(at=now, actor=actor, kind=kind, instance_id=instance_id, task_id=task_id,
                                    payload=payload))


class Alur:
    """The application's services over one database."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.settings = db, settings
        self.specs = SpecCache(db)
        self.calendars = office.CalendarCache(settings)

    @contextmanager
    def unit_of_work(self, write: bool = True) -> Iterator[UnitOfWork]:
        uow = UnitOfWork(self.db, write)
        try:
            yield uow
            if write:
                uow.session.commit()
        except BaseException:
            uow.session.rollback()
            raise
        finally:
            Database.release(uow.session)

    def optimize(self) -> None:
        """Refresh the query planner's statistics (SQLite needs them to pick the partial indexes)."""
        with self.unit_of_work() as uow:
            uow.session.execute(text("PRAGMA optimize" if self.db.engine.dialect.name == "sqlite" else "ANALYZE"))

    def calendar(self, session: Session | None = None) -> OfficeCalendar:
        """The office calendar (hours, national holidays, the admin's changes), cached per process."""
        if session is not None:
            return self.calendars.get(session)
        with self.unit_of_work(write=False) as uow:
            return self.calendars.get(uow.session)

    def calendar_days(self, year: int) -> list[office.DayEntry]:
        with self.unit_of_work(write=False) as uow:
            return office.year_days(uow.session, year)

    def add_holiday(self, day: date, name: str, actor: Actor) -> None:
        """An extra day off (cuti bersama, a local holiday); due times of open tasks stay as computed."""
        office.check_admin(actor.is_admin)
        with self.unit_of_work() as uow:
            row = office.add_holiday(uow.session, day, name, actor.username)
            uow.audit(actor.username, "calendar_holiday_added", utcnow(), day=day.isoformat(), name=row.name)
        self.calendars.invalidate()

    def work_on_holiday(self, day: date, actor: Actor) -> None:
        """Make a national holiday a working day of this office."""
        office.check_admin(actor.is_admin)
        with self.unit_of_work() as uow:
            row = office.work_on_holiday(uow.session, day, actor.username)
            uow.audit(actor.username, "calendar_working_day", utcnow(), day=day.isoformat(), name=row.name)
        self.calendars.invalidate()

    def remove_calendar_change(self, day: date, actor: Actor) -> None:
        office.check_admin(actor.is_admin)
        with self.unit_of_work() as uow:
            row = office.remove_change(uow.session, day)
            uow.audit(actor.username, "calendar_change_removed", utcnow(), day=day.isoformat(), jenis=row.kind,
                      name=row.name)
        self.calendars.invalidate()

    # ---- process definitions -------------------------------------------------------------

    def deploy(self, xml: bytes, actor: Actor, filename: str = "diagram.bpmn") -> DeployResult:
        """Validate and store a diagram as the next version of its process; identical content is a no-op."""
        if not (actor.is_process_owner or actor.is_admin):
            raise Forbidden("hanya pemilik proses yang boleh men-deploy diagram")
        parsed = parse_diagram(xml, REGISTRY, filename)
        try:
            text = xml.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidDiagram([DiagramProblem("diagram harus disimpan dalam UTF-8")]) from None
        digest = hashlib.sha256(xml).hexdigest()
        now = utcnow()
        with self.unit_of_work() as uow:
            latest = uow.session.scalars(
                select(ProcessDefinition).where(ProcessDefinition.key == parsed.model.key)
                .order_by(ProcessDefinition.version.desc()).limit(1)).first()
            if latest is not None and latest.sha256 == digest:
                return DeployResult(latest, created=False)
            definition = ProcessDefinition(
                key=parsed.model.key, version=(latest.version + 1) if latest else 1, name=parsed.model.name,
                bpmn_xml=text, sha256=digest, deployed_by=actor.username, deployed_at=now)
            uow.session.add(definition)
            uow.session.flush()
            timers.schedule_start_timers(uow.session, definition, parsed, now, self.calendar(uow.session),
                                         self.settings.timezone)
            uow.audit(actor.username, "deploy", now, key=definition.key, version=definition.version,
                      sha256=digest)
        return DeployResult(definition, created=True)

    def definitions(self) -> list[ProcessDefinition]:
        with self.unit_of_work(write=False) as uow:
            return list(uow.session.scalars(
                select(ProcessDefinition).order_by(ProcessDefinition.key, ProcessDefinition.version)))

    def definition(self, key: str, version: int | None = None) -> ProcessDefinition:
        with self.unit_of_work(write=False) as uow:
            return self._definition(uow.session, key, version)

    def _definition(self, session: Session, key: str, version: int | None) -> ProcessDefinition:
        stmt = select(ProcessDefinition).where(ProcessDefinition.key == key)
        stmt = stmt.where(ProcessDefinition.version == version) if version is not None else stmt.order_by(
            ProcessDefinition.version.desc()).limit(1)
        found = session.scalars(stmt).first()
        if found is None:
            raise NotFound(f"proses '{key}'{f' versi {version}' if version else ''} tidak ditemukan")
        return found

    def parsed(self, definition: ProcessDefinition) -> ParsedDiagram:
        return self.specs.get(definition)

    def diagram_xml(self, definition: ProcessDefinition) -> str:
        """The BPMN XML of a process version, as deployed."""
        return self.specs.xml(definition)

    # ---- instances ---------------------------------------------------------------------

    def start(self, process_key: str, actor: Actor, data: Mapping[str, Any] | None = None,
              uploads: Sequence[Upload] = (), complete_first: bool = False,
              first_data: Mapping[str, Any] | None = None) -> int:
        """Start an instance on the newest version; optionally complete its first step in the same action."""
        now = utcnow()
        with self.unit_of_work() as uow:
            definition = self._definition(uow.session, process_key, None)
            instance, parsed, workflow = self._start_in(uow, definition, actor, data, now)
            if complete_first:
                first = self._ready_records(uow.session, instance.id)
                if len(first) != 1:
                    raise NotReady("langkah pertama tidak tunggal; selesaikan dari kotak tugas")
                for upload in uploads:
                    self._attach(uow, instance, parsed, first[0], actor, upload, now)
                self._complete(uow, instance, parsed, first[0], actor, dict(first_data or {}), now,
                               workflow)
            return instance.id

    def _start_in(self, uow: UnitOfWork, definition: ProcessDefinition, actor: Actor,
                  data: Mapping[str, Any] | None, now: datetime) -> tuple[Instance, ParsedDiagram, Any]:
        """Create an instance in the caller's transaction (a user's start, or a timer start event firing)."""
        parsed = self.parsed(definition)
        initial = forms.validate([f for s in parsed.model.steps.values() for f in s.fields],
                                 dict(data or {}), partial=True)
        if actor.agency:
            initial[AGENCY_FIELD] = actor.agency
        workflow = state.new_workflow(parsed.spec, parsed.subprocess_specs)
        workflow.task_tree.data.update(initial)
        workflow.do_engine_steps()
        timers.fire_start_events(workflow)
        ready = _ready_user_tasks(workflow)
        lanes = {parsed.model.steps[t.task_spec.name].lane for t in ready if t.task_spec.name in
                 parsed.model.steps}
        if not actor.is_admin and not (lanes & actor.lanes):
            raise Forbidden("anda tidak berada di lane langkah pertama proses ini")
        instance = Instance(
            definition=definition, status="running", state=state.dump(workflow), data=dict(initial),
            task_count=0,
            perihal=initial.get(SUBJECT_FIELD), agency=initial.get(AGENCY_FIELD),
            started_by=actor.username, started_at=now)
        uow.session.add(instance)
        uow.session.flush()
        uow.audit(actor.username, "start", now, instance.id, process=definition.key,
                  version=definition.version)
        self._sync_tasks(uow, instance, parsed, workflow, now)
        return instance, parsed, workflow

    def complete(self, task_id: str, actor: Actor, data: Mapping[str, Any]) -> int:
        """Complete a READY task of the actor's lane with form data; returns the instance id."""
        now = utcnow()
        with self.unit_of_work() as uow:
            record, instance = self._task_for_update(uow, task_id, actor)
            parsed = self.parsed(instance.definition)
            self._complete(uow, instance, parsed, record, actor, dict(data), now, None)
            return instance.id

    def attach_document(self, task_id: str, actor: Actor, upload: Upload) -> DocumentVersion:
        now = utcnow()
        with self.unit_of_work() as uow:
            record, instance = self._task_for_update(uow, task_id, actor)
            version = self._attach(uow, instance, self.parsed(instance.definition), record, actor, upload, now)
            return version

    def cancel(self, instance_id: int, actor: Actor, reason: str = "") -> None:
        if not (actor.is_admin or actor.is_process_owner):
            raise Forbidden("hanya admin atau pemilik proses yang boleh membatalkan permohonan")
        now = utcnow()
        with self.unit_of_work() as uow:
            instance = uow.lock_instance(instance_id)
            if instance.status != "running":
                raise NotReady(f"permohonan {instance_id} sudah {instance.status}")
            parsed = self.parsed(instance.definition)
            workflow = state.load(instance.state, parsed.spec, parsed.subprocess_specs)
            workflow.cancel()
            calendar = self.calendar(uow.session)
            for record in self._ready_records(uow.session, instance.id):
                office.close_task(record, "cancelled", now, calendar)
            instance.status, instance.ended_at = "cancelled", now
            instance.state = state.dump(workflow)
            timers.drop(uow.session, instance.id)
            uow.audit(actor.username, "cancel", now, instance.id, reason=reason)

    # ---- internals of a step -----------------------------------------------------------

    def _task_for_update(self, uow: UnitOfWork, task_id: str, actor: Actor) -> tuple[TaskRecord, Instance]:
        """The task and its instance, read under the instance's write lock (one statement)."""
        stmt = (select(TaskRecord, Instance).join(Instance, TaskRecord.instance_id == Instance.id)
                .where(TaskRecord.id == task_id).options(undefer(Instance.state)))
        if self.db.engine.dialect.name == "postgresql":
            stmt = stmt.with_for_update(of=[Instance, TaskRecord])
        row = uow.session.execute(stmt).first()
        if row is None:
            raise NotFound(f"tugas {task_id} tidak ditemukan")
        record, instance = row
        self._check_can_read(instance, actor)
        if record.lane not in actor.lanes:
            raise Forbidden(f"tugas '{record.name}' milik lane '{record.lane}', bukan lane anda")
        if record.state != "ready" or instance.status != "running":
            raise NotReady(f"tugas '{record.name}' tidak siap lagi (status: {record.state})")
        return record, instance

    def _attach(self, uow: UnitOfWork, instance: Instance, parsed: ParsedDiagram, record: TaskRecord,
                actor: Actor, upload: Upload, now: datetime) -> DocumentVersion:
        step = parsed.model.steps[record.spec_id]
        if upload.doc_type not in step.upload_types:
            raise InvalidData(f"dokumen '{upload.doc_type}' tidak dihasilkan di langkah '{step.name}' "
                              f"(boleh: {', '.join(sorted(step.upload_types)) or '-'})", "type")
        if not upload.content:
            raise InvalidData("berkas kosong", "file")
        if len(upload.content) > self.settings.max_upload_bytes:
            raise TooLarge(f"berkas {len(upload.content)} byte melebihi batas "
                           f"{self.settings.max_upload_bytes} byte", "file")
        media_type = sniff(upload.content)
        filename = safe_filename(upload.filename, media_type)
        document = uow.session.scalars(select(Document).where(
            Document.instance_id == instance.id, Document.doc_type == upload.doc_type)).first()
        if document is None:
            document = Document(instance_id=instance.id, doc_type=upload.doc_type, created_at=now)
            uow.session.add(document)
            uow.session.flush()
        number = (uow.session.scalar(select(func.max(DocumentVersion.version))
                                     .where(DocumentVersion.document_id == document.id)) or 0) + 1
        version = DocumentVersion(
            document_id=document.id, version=number, filename=filename, media_type=media_type,
            size=len(upload.content), sha256=hashlib.sha256(upload.content).hexdigest(), task_id=record.id,
            uploaded_by=actor.username, uploaded_at=now)
        uow.session.add(version)
        uow.session.flush()
        uow.session.add(DocumentContent(version_id=version.id, content=upload.content))
        uow.audit(actor.username, "document_added", now, instance.id, record.id, doc_type=upload.doc_type,
                  version=number, sha256=version.sha256, size=version.size, filename=filename)
        return version

    def _complete(self, uow: UnitOfWork, instance: Instance, parsed: ParsedDiagram, record: TaskRecord,
                  actor: Actor, data: dict[str, Any], now: datetime, workflow: Any) -> None:
        if record.lane not in actor.lanes:
            raise Forbidden(f"tugas '{record.name}' milik lane '{record.lane}', bukan lane anda")
        if workflow is None:
            workflow = state.load(instance.state, parsed.spec, parsed.subprocess_specs)
        task = workflow.tasks.get(UUID(record.id))
        if task is None or task.state != TaskState.READY or not task.task_spec.manual:
            raise NotReady(f"tugas '{record.name}' tidak siap lagi")
        step = parsed.model.steps[record.spec_id]
        values = forms.validate(step.fields, data)
        if actor.agency and step.field(AGENCY_FIELD):
            values[AGENCY_FIELD] = actor.agency  # an applicant speaks only for their own agency
        ctx = StepContext(session=uow.session, settings=self.settings, instance=instance, step=step,
                          task_id=record.id, actor=actor.username, now=now, values=values,
                          task_data=dict(task.data))
        handlers = [REGISTRY[name] for name in step.handlers]
        for handler in handlers:
            handler.check(ctx)
        for handler in handlers:
            handler.apply(ctx)
        task.set_data(**ctx.values)
        try:
            task.run()
            workflow.do_engine_steps()
        except (SpiffWorkflowException, ConditionError) as exc:
            # e.g. no outgoing condition of a gateway holds for this data: a diagram problem, said plainly
            raise InvalidData(f"alur kerja tidak dapat dilanjutkan setelah '{step.name}': {exc}") from None
        office.close_task(record, "completed", now, self.calendar(uow.session))
        record.completed_by = actor.username
        record.keputusan, record.catatan = ctx.values.get("keputusan"), ctx.values.get("catatan")
        returned = ctx.is_return
        uow.audit(actor.username, "return" if returned else "complete", now, instance.id, record.id,
                  step=step.name, step_no=step.step_no, keputusan=record.keputusan, catatan=record.catatan)
        instance.data = _json_safe({**instance.data, **{k: v for k, v in ctx.values.items() if v is not None}})
        instance.perihal = instance.data.get(SUBJECT_FIELD) or instance.perihal
        instance.agency = instance.agency or instance.data.get(AGENCY_FIELD)
        if state.ended(workflow):
            instance.status, instance.ended_at = "completed", now
            uow.audit(actor.username, "end", now, instance.id)
        reports.count_completion(uow.session, instance, record, instance.ended_at is not None,
                                 self.calendar(uow.session))
        instance.state = state.dump(workflow)  # before the flush below: one UPDATE of the instance
        self._sync_tasks(uow, instance, parsed, workflow, now)

    def _ready_records(self, session: Session, instance_id: int) -> list[TaskRecord]:
        """Ready rows, as this transaction sees them (no autoflush: pending changes are in the objects)."""
        rows = session.scalars(select(TaskRecord).where(
            TaskRecord.instance_id == instance_id, TaskRecord.state == "ready").order_by(TaskRecord.seq))
        return [r for r in rows if r.state == "ready"]

    def _sync_tasks(self, uow: UnitOfWork, instance: Instance, parsed: ParsedDiagram, workflow: Any,
                    now: datetime) -> None:
        """Make the task table agree with the workflow: new activations in, vanished ones cancelled."""
        ready = {str(t.id): t for t in _ready_user_tasks(workflow)}
        known = {r.id: r for r in self._ready_records(uow.session, instance.id)}
        calendar = self.calendar(uow.session)
        for task_id, record in known.items():
            if task_id not in ready:
                office.close_task(record, "cancelled", now, calendar)
        for task_id, task in ready.items():
            if task_id in known:
                continue
            step = parsed.model.steps.get(task.task_spec.name)
            minutes = step.standard_minutes if step else None
            instance.task_count += 1
            uow.session.add(TaskRecord(
                id=task_id, instance_id=instance.id, seq=instance.task_count, spec_id=task.task_spec.name,
                name=step.name if step else task.task_spec.bpmn_name or task.task_spec.name,
                lane=step.lane if step else (task.task_spec.lane or ""), step_no=step.step_no if step else None,
                standard_minutes=minutes, state="ready", ready_at=now,
                due_at=office.due_at(now, minutes, calendar)))
        timers.sync(uow.session, instance, parsed, workflow, now, calendar, self.settings.timezone)
        uow.session.flush()

    # ---- queries -----------------------------------------------------------------------

    def _check_can_read(self, instance: Instance, actor: Actor) -> None:
        if actor.agency and instance.agency != actor.agency:
            raise NotFound(f"permohonan {instance.id} tidak ditemukan")

    def ready_tasks(self, actor: Actor, lane: str | None = None, limit: int = 500) -> list[TaskRecord]:
        """The inbox: ready tasks of the actor's lanes, oldest first, with `record.instance` loaded."""
        lanes = actor.lanes & {lane} if lane else actor.lanes
        if not lanes:
            return []
        with self.unit_of_work(write=False) as uow:
            stmt = (select(TaskRecord).join(TaskRecord.instance).options(contains_eager(TaskRecord.instance))
                    .where(TaskRecord.state == "ready", TaskRecord.lane.in_(sorted(lanes)))
                    .order_by(TaskRecord.ready_at, TaskRecord.seq).limit(limit))
            if actor.agency:
                stmt = stmt.where(Instance.agency == actor.agency)
            return list(uow.session.scalars(stmt))

    def task(self, task_id: str, actor: Actor) -> TaskDetail:
        """A task with its step, its input documents and what was attached in this activation."""
        with self.unit_of_work(write=False) as uow:
            record = uow.session.get(TaskRecord, task_id)
            if record is None:
                raise NotFound(f"tugas {task_id} tidak ditemukan")
            instance = uow.session.get_one(Instance, record.instance_id)
            self._check_can_read(instance, actor)
            step = self.parsed(instance.definition).model.steps[record.spec_id]
            documents = list(uow.session.scalars(select(Document).where(Document.instance_id == instance.id)
                                                 .order_by(Document.id)))
            return TaskDetail(record, instance, step, documents)

    def instance(self, instance_id: int, actor: Actor) -> InstanceDetail:
        with self.unit_of_work(write=False) as uow:
            instance = uow.session.get(Instance, instance_id)
            if instance is None:
                raise NotFound(f"permohonan {instance_id} tidak ditemukan")
            self._check_can_read(instance, actor)
            history = list(uow.session.scalars(select(TaskRecord).where(TaskRecord.instance_id == instance_id)
                                               .order_by(TaskRecord.seq)))
            documents = list(uow.session.scalars(select(Document).where(Document.instance_id == instance_id)
                                                 .order_by(Document.id)))
            lead_end = instance.ended_at or utcnow()
            return InstanceDetail(instance, history, documents, self.parsed(instance.definition),
                                  (lead_end - instance.started_at).total_seconds(),
                                  self.calendar(uow.session).working_seconds(instance.started_at, lead_end))

    def instances(self, actor: Actor, filters: Filters) -> list[Instance]:
        with self.unit_of_work(write=False) as uow:
            stmt = select(Instance).order_by(Instance.id.desc())
            if actor.agency:
                stmt = stmt.where(Instance.agency == actor.agency)
            if filters.status:
                stmt = stmt.where(Instance.status == filters.status)
            if filters.process:
                stmt = stmt.join(ProcessDefinition).where(ProcessDefinition.key == filters.process)
            if filters.started_from:
                stmt = stmt.where(Instance.started_at >= filters.started_from)
            if filters.started_to:
                stmt = stmt.where(Instance.started_at < filters.started_to)
            if filters.overdue is not None:
                overdue_ids = select(TaskRecord.instance_id).where(
                    TaskRecord.state == "ready", TaskRecord.due_at < utcnow())
                stmt = stmt.where(Instance.id.in_(overdue_ids) if filters.overdue
                                  else Instance.id.not_in(overdue_ids))
            return list(uow.session.scalars(stmt.limit(filters.limit).offset(filters.offset)))

    def ready_of(self, instance_ids: Sequence[int]) -> dict[int, list[TaskRecord]]:
        with self.unit_of_work(write=False) as uow:
            result: dict[int, list[TaskRecord]] = {i: [] for i in instance_ids}
            for record in uow.session.scalars(select(TaskRecord).where(
                    TaskRecord.instance_id.in_(list(instance_ids)), TaskRecord.state == "ready")
                    .order_by(TaskRecord.seq)):
                result[record.instance_id].append(record)
            return result

    def document(self, version_id: int, actor: Actor) -> tuple[DocumentVersion, bytes]:
        with self.unit_of_work(write=False) as uow:
            version = uow.session.get(DocumentVersion, version_id)
            if version is None:
                raise NotFound(f"dokumen {version_id} tidak ditemukan")
            instance = uow.session.get_one(Instance, version.document.instance_id)
            self._check_can_read(instance, actor)
            content = uow.session.get_one(DocumentContent, version_id).content
            return version, content

    def register(self, actor: Actor, year: int | None = None) -> list[LetterRegisterEntry]:
        if not actor.is_staff:
            raise Forbidden("buku agenda surat keluar hanya untuk petugas")
        with self.unit_of_work(write=False) as uow:
            stmt = select(LetterRegisterEntry).order_by(LetterRegisterEntry.year.desc(),
                                                        LetterRegisterEntry.sequence.desc())
            if year:
                stmt = stmt.where(LetterRegisterEntry.year == year)
            return list(uow.session.scalars(stmt))

    def verify(self, instance_id: int) -> list[str]:
        """Problems where the stored workflow and the task table disagree (empty when consistent)."""
        with self.unit_of_work(write=False) as uow:
            instance = uow.session.get(Instance, instance_id, options=[undefer(Instance.state)])
            if instance is None:
                raise NotFound(f"permohonan {instance_id} tidak ditemukan")
            parsed = self.parsed(instance.definition)
            workflow = state.load(instance.state, parsed.spec, parsed.subprocess_specs)
            in_workflow = {str(t.id) for t in _ready_user_tasks(workflow)}
            in_table = {r.id for r in self._ready_records(uow.session, instance_id)}
            problems = [f"tugas {t} siap di alur kerja tetapi tidak di tabel tugas" for t in in_workflow - in_table]
            problems += [f"tugas {t} siap di tabel tugas tetapi tidak di alur kerja" for t in in_table - in_workflow]
            if instance.status == "completed" and not state.ended(workflow):
                problems.append("status selesai tetapi alur kerja belum mencapai end event")
            if instance.status == "running" and state.ended(workflow):
                problems.append("alur kerja sudah selesai tetapi status masih berjalan")
            orphans = uow.session.scalars(select(DocumentVersion.id).join(Document).outerjoin(
                DocumentContent, DocumentContent.version_id == DocumentVersion.id).where(
                Document.instance_id == instance_id, DocumentContent.version_id.is_(None))).all()
            problems += [f"versi dokumen {v} tanpa isi" for v in orphans]
            return problems

    def audit_log(self, instance_id: int) -> list[AuditEvent]:
        with self.unit_of_work(write=False) as uow:
            return list(uow.session.scalars(select(AuditEvent).where(AuditEvent.instance_id == instance_id)
                                            .order_by(AuditEvent.id)))


@dataclass
class InstanceDetail:
    instance: Instance
    history: list[TaskRecord]
    documents: list[Document]
    parsed: ParsedDiagram
    lead_seconds: float = 0.0  # started -> ended (or now), wall clock
    lead_working_seconds: int = 0  # the same in office working time

    @property
    def path_standard_minutes(self) -> int:
        """The standard of the path this request took: the standards of its completed activations."""
        return sum(r.standard_minutes or 0 for r in self.history if r.state == "completed")

    @property
    def ready(self) -> list[TaskRecord]:
        return [r for r in self.history if r.state == "ready"]

    @property
    def returns(self) -> int:
        return sum(1 for r in self.history if r.keputusan == "tidak_setuju")


@dataclass
class TaskDetail:
    record: TaskRecord
    instance: Instance
    step: Step
    documents: list[Document]

    @property
    def inputs(self) -> list[Document]:
        """The step's input documents (kelengkapan) that exist; `versions[-1]` is the current one."""
        return [d for d in self.documents if d.doc_type in self.step.inputs]

    @property
    def attached(self) -> list[DocumentVersion]:
        """Versions uploaded during this activation."""
        return [v for d in self.documents for v in d.versions if v.task_id == self.record.id]

    @property
    def missing_uploads(self) -> list[str]:
        have = {d.doc_type for d in self.documents for v in d.versions if v.task_id == self.record.id}
        return [t for t in self.step.required_uploads if t not in have]


def _ready_user_tasks(workflow: Any) -> list[Any]:
    """READY manual tasks, read from the flat task map (never the depth-limited iterator)."""
    return [t for t in workflow.tasks.values() if t.state == TaskState.READY and t.task_spec.manual]


def _json_safe(data: dict[str, Any]) -> dict[str, Any]:
    safe: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, str | int | float | bool) or value is None:
            safe[key] = value
        else:
            safe[key] = str(value)
    return safe


def overdue(record: TaskRecord, now: datetime | None = None) -> bool:
    return record.state == "ready" and record.due_at is not None and record.due_at < (now or utcnow())
