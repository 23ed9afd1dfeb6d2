"""Commands: start, complete (with its uploads), attach, cancel, deploy; each one unit of work.

A command locks the instance it changes, checks everything first (READY, lane, form,
required uploads, handlers), then runs SpiffWorkflow and the handlers and persists the
workflow state, task rows, audit events and documents together, or not at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import lazyload

from engine import decisions, forms, generated, initials, letters, office, reports, signing, speakers, state, timers
from engine.actors import Actor, Upload
from engine.claims import check_holder
from engine.clock import local, utcnow
from engine.conditions import ConditionError
from engine.db import Database
from engine.diagram import ParsedDiagram, Step, parse_diagram
from engine.documents import TooLarge, doc_label, safe_filename, size_text, sniff
from engine.errors import DiagramProblem, Forbidden, InvalidData, InvalidDiagram, MissingDocument, NotReady
from engine.hooks import Letter, Registry, StepContext
from engine.letters import AGENCY_FIELD, SUBJECT_FIELD
from engine.models import (
    Document,
    DocumentContent,
    DocumentVersion,
    Instance,
    InstanceState,
    ProcessDefinition,
    TaskRecord,
)
from engine.office import Office
from engine.owner import lane_warnings
from engine.queries import check_can_read, find_definition
from engine.rework import check_upload_allowed
from engine.settings import Settings
from engine.specs import SpecCache
from engine.uow import UnitOfWork, unit_of_work

# Built once (a step asks them for each document it needs); constructing them cost more than running them.
_UPLOADED = (select(DocumentVersion.id).join(Document)
             .where(Document.instance_id == bindparam("instance_id"), Document.doc_type == bindparam("doc_type"),
                    DocumentVersion.task_id == bindparam("task_id")).limit(1))
_UPLOADED_BY_STEP = (select(DocumentVersion.id).join(Document)
                     .join(TaskRecord, TaskRecord.id == DocumentVersion.task_id)
                     .where(Document.instance_id == bindparam("instance_id"),
                            Document.doc_type == bindparam("doc_type"),
                            TaskRecord.instance_id == bindparam("instance_id"),
                            TaskRecord.spec_id == bindparam("spec_id")).limit(1))

# the document of a type with its last version number (one statement; not every version: selectin by default)
_DOCUMENT = (select(Document, select(func.max(DocumentVersion.version))
                    .where(DocumentVersion.document_id == Document.id).scalar_subquery())
             .options(lazyload(Document.versions))
             .where(Document.instance_id == bindparam("instance_id"), Document.doc_type == bindparam("doc_type")))

# which step a task is of, of which process version (is a document to be generated before the lock?), and
# its request's workflow state (the step runs on it before the lock)
_STEP_OF = (select(TaskRecord.spec_id, Instance.definition_id, Instance.id, InstanceState.state)
            .join(Instance, TaskRecord.instance_id == Instance.id)
            .outerjoin(InstanceState, InstanceState.instance_id == Instance.id)
            .where(TaskRecord.id == bindparam("task_id")))


EXAMINED = "alur_examined"  # session.info: {id(upload): (media type or None, sha256)} made before the lock


def examine(uploads: Sequence[Upload], limit: int) -> dict[int, tuple[str | None, str]]:
    """Each upload's media type and hash, worked out before the lock (a large file is hashed while no writer
    waits). A refused type is None: the step says so under the lock, after its other checks, as before."""
    examined: dict[int, tuple[str | None, str]] = {}
    for upload in uploads:
        if not upload.content or len(upload.content) > limit:
            continue
        try:
            media_type: str | None = sniff(upload.content)
        except InvalidData:
            media_type = None
        examined[id(upload)] = (media_type, hashlib.sha256(upload.content).hexdigest())
    return examined


@dataclass
class RunAhead:
    """A step run before SQLite's write lock on the request's state as stored then; the step under the lock
    uses it only if the stored state is still `blob` and the values it records are still `values`."""

    blob: bytes  # the stored state it ran from
    spec: Any  # of the process version it ran on
    values: dict[str, Any]  # the form values it ran with
    task_data: dict[str, Any]  # the task's data before the run
    workflow: Any  # after the run (and the dump)
    dumped: bytes | None  # `state.dump` of it; None: the workflow ended


@dataclass
class Ahead:
    """What a step did before its write lock (SQLite): its generated documents, its run."""

    prerendered: dict[str, generated.Prerendered] = field(default_factory=dict)
    run: RunAhead | None = None


@dataclass
class DeployResult:
    definition: ProcessDefinition
    created: bool
    warnings: list[DiagramProblem] = field(default_factory=list)  # e.g. a lane nobody belongs to


class Commands:
    """Writes: each method one transaction that changes everything or nothing."""

    def __init__(self, db: Database, settings: Settings, specs: SpecCache, handlers: Registry,
                 office: Office | None = None) -> None:
        self.db, self.settings, self.specs, self.handlers = db, settings, specs, handlers
        self.office = office or Office(db, settings)  # the calendar due times and waiting times count in
        self.workflows = state.WorkflowCache()  # each instance's workflow as this process's last step left it
        self.templated: dict[int, frozenset[str]] = {}  # each process version's steps that may fill a template

    def deploy(self, xml: bytes, actor: Actor, filename: str = "diagram.bpmn") -> DeployResult:
        """Validate and store a diagram as the next version of its process; identical content is a no-op."""
        if not (actor.is_process_owner or actor.is_admin):
            raise Forbidden("hanya pemilik proses yang boleh men-deploy diagram")
        parsed = parse_diagram(xml, self.handlers, filename)
        try:
            text = xml.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidDiagram([DiagramProblem("diagram harus disimpan dalam UTF-8")]) from None
        digest = hashlib.sha256(xml).hexdigest()
        now = utcnow()
        with unit_of_work(self.db) as uow:
            warnings = lane_warnings(uow.session, xml)
            latest = uow.session.scalars(
                select(ProcessDefinition).where(ProcessDefinition.key == parsed.model.key)
                .order_by(ProcessDefinition.version.desc()).limit(1)).first()
            if latest is not None and latest.sha256 == digest:
                return DeployResult(latest, created=False, warnings=warnings)
            definition = ProcessDefinition(
                key=parsed.model.key, version=(latest.version + 1) if latest else 1, name=parsed.model.name,
                bpmn_xml=text, sha256=digest, deployed_by=actor.username, deployed_at=now)
            uow.session.add(definition)
            uow.session.flush()
            timers.schedule_start_timers(uow.session, definition, parsed, now, self.office.calendar(uow.session),
                                         self.settings.timezone)
            uow.audit(actor.username, "deploy", now, key=definition.key, version=definition.version,
                      sha256=digest)
        return DeployResult(definition, created=True, warnings=warnings)

    def start(self, process_key: str, actor: Actor, data: Mapping[str, Any] | None = None,
              uploads: Sequence[Upload] = (), complete_first: bool = False,
              first_data: Mapping[str, Any] | None = None) -> int:
        """Start an instance on the newest version; optionally complete its first step (with uploads)."""
        now = utcnow()
        with unit_of_work(self.db) as uow:
            definition = find_definition(uow.session, process_key, None)
            instance, parsed, workflow = self._start_in(uow, definition, actor, data, now)
            if complete_first:
                first = uow.ready_records(instance.id)
                if len(first) != 1:
                    raise NotReady("langkah pertama tidak tunggal; selesaikan dari kotak tugas")
                self._complete(uow, instance, parsed, first[0], actor, dict(first_data or {}), uploads, now,
                               workflow)
            elif uploads:
                raise InvalidData("dokumen hanya dapat dilampirkan bila langkah pertama diselesaikan",
                                  "file", reason="not_allowed")
            return instance.id

    def _start_in(self, uow: UnitOfWork, definition: ProcessDefinition, actor: Actor,
                  data: Mapping[str, Any] | None, now: datetime) -> tuple[Instance, ParsedDiagram, Any]:
        """Create an instance in the caller's transaction (a user's start, or a timer start event firing)."""
        parsed = self.specs.get(definition)
        workflow = state.new_workflow(parsed.spec, parsed.subprocess_specs)
        workflow.do_engine_steps()
        timers.fire_start_events(workflow)
        ready = state.ready_user_tasks(workflow)
        first_steps = [parsed.model.steps[t.task_spec.name] for t in ready if t.task_spec.name in
                       parsed.model.steps]
        # Only the first step's fields: later steps' fields belong to the staff who do them.
        initial = forms.validate([f for s in first_steps for f in s.fields], dict(data or {}), partial=True)
        if actor.agency:
            initial[AGENCY_FIELD] = actor.agency
        workflow.task_tree.data.update(initial)
        for task in ready:
            task.set_data(**initial)
        lanes = {s.lane for s in first_steps}
        if not actor.is_admin and not (lanes & actor.lanes):
            raise Forbidden("anda tidak berada di lane langkah pertama proses ini")
        instance = Instance(
            definition=definition, status="running", state=state.dump(workflow), data=dict(initial),
            task_count=0, perihal=initial.get(SUBJECT_FIELD), agency=initial.get(AGENCY_FIELD),
            started_by=actor.username, started_at=now)
        uow.session.add(instance)
        uow.session.flush()
        uow.audit(actor.username, "start", now, instance.id, process=definition.key,
                  version=definition.version)
        self._sync_tasks(uow, instance, parsed, workflow, now)
        return instance, parsed, workflow

    def complete(self, task_id: str, actor: Actor, data: Mapping[str, Any], uploads: Sequence[Upload] = ()) -> int:
        """Attach `uploads` and complete a READY task of the actor's lane, together or not at all.

        Returns the instance id. A refused completion stores none of the files."""
        return self.complete_step(task_id, actor, data, uploads)[0].id

    def complete_step(self, task_id: str, actor: Actor, data: Mapping[str, Any],
                      uploads: Sequence[Upload] = ()) -> tuple[Instance, list[TaskRecord]]:
        """`complete`, answering with the request's row and its ready tasks as committed: the API's answer
        needs no second read (a transaction and two queries a step)."""
        now = utcnow()
        ahead = self._before_lock(task_id, actor, data, uploads, now) if self.db.is_sqlite else Ahead()
        examined = examine(uploads, self.settings.max_upload_bytes)
        with unit_of_work(self.db) as uow:
            uow.session.info[generated.PRERENDERED] = ahead.prerendered
            uow.session.info[EXAMINED] = examined
            record, instance, ready = self._task_for_update(uow, task_id, actor, with_ready=True)
            parsed = self.specs.get(instance.definition)
            run = ahead.run
            if run is not None and (run.blob != instance.state or run.spec is not parsed.spec):
                run = None  # another writer changed the request meanwhile: the step runs here, as without it
            workflow = None if run is not None else self.workflows.take(instance.id, instance.state, parsed.spec,
                                                                         parsed.subprocess_specs)
            ready, workflow = self._complete(uow, instance, parsed, record, actor, dict(data), uploads, now,
                                             workflow, ready, run)
        if instance.state is not None:  # committed: the next step may start from it (none after the end)
            self.workflows.put(instance.id, instance.state, workflow)
        return instance, ready

    def attach(self, task_id: str, actor: Actor, upload: Upload) -> DocumentVersion:
        """Attach one document to a READY task without completing it (the API's separate upload)."""
        now = utcnow()
        examined = examine([upload], self.settings.max_upload_bytes)
        with unit_of_work(self.db) as uow:
            uow.session.info[EXAMINED] = examined
            record, instance = self._task_for_update(uow, task_id, actor)
            step = self.specs.get(instance.definition).model.steps[record.spec_id]
            return self._attach(uow, instance, step, record, actor, upload, now)

    def cancel(self, instance_id: int, actor: Actor, reason: str = "") -> None:
        if not (actor.is_admin or actor.is_process_owner):
            raise Forbidden("hanya admin atau pemilik proses yang boleh membatalkan permohonan")
        now = utcnow()
        with unit_of_work(self.db) as uow:
            instance = uow.lock_instance(instance_id)
            if instance.status != "running":
                raise NotReady(f"permohonan {instance_id} sudah {instance.status}")
            parsed = self.specs.get(instance.definition)
            workflow = state.load(instance.state, parsed.spec, parsed.subprocess_specs)
            workflow.cancel()
            calendar = self.office.calendar(uow.session)
            for record in uow.ready_records(instance.id):
                office.close_task(record, "cancelled", now, calendar)
            instance.status, instance.ended_at = "cancelled", now
            instance.state = None  # an ended request keeps no workflow (engine.models.InstanceState)
            timers.drop(uow.session, instance.id)
            speakers.release_for(uow, instance.id, actor.username, now)
            uow.audit(actor.username, "cancel", now, instance.id, reason=reason)

    def optimize(self) -> None:
        with unit_of_work(self.db) as uow:
            uow.optimize()

    # ---- internals of a step -----------------------------------------------------------

    def _task_for_update(self, uow: UnitOfWork, task_id: str, actor: Actor, with_ready: bool = False) -> Any:
        """The locked task and instance, checked for the actor; `with_ready`: the instance's ready tasks too."""
        if with_ready:
            record, instance, ready = uow.lock_step(task_id)
        else:
            (record, instance), ready = uow.lock_task(task_id), None
        check_can_read(instance, actor, f"tugas {task_id} tidak ditemukan")
        if record.lane not in actor.lanes:
            raise Forbidden(f"tugas '{record.name}' milik lane '{record.lane}', bukan lane anda")
        if record.state != "ready" or instance.status != "running":
            done = {"completed": "sudah diselesaikan", "cancelled": "dibatalkan"}.get(record.state,
                                                                                   "tidak menunggu lagi")
            raise NotReady(f"tugas '{record.name}' tidak siap lagi: {done}"
                           f"{f' oleh {record.completed_by}' if record.completed_by else ''}")
        check_holder(record, actor)
        return (record, instance, ready) if with_ready else (record, instance)

    def _attach(self, uow: UnitOfWork, instance: Instance, step: Step, record: TaskRecord,
                actor: Actor, upload: Upload, now: datetime, note: str | None = None) -> DocumentVersion:
        where = {"doc_type": upload.doc_type}
        if note is None:  # an upload by a person; with a note it is a document Alur makes (template, signature)
            if not signing.accepts_upload(step, upload.doc_type):
                raise InvalidData(f"langkah '{step.name}' hanya menerima tanda tangan elektronik: setujui tanpa "
                                  f"mengunggah '{upload.doc_type}'", "file", reason="not_allowed", params=where)
            check_upload_allowed(step, upload.doc_type)
        elif upload.doc_type not in step.outputs:
            raise InvalidData(f"dokumen '{upload.doc_type}' bukan output langkah '{step.name}'", "type",
                              reason="not_in_options", params=where)
        if not upload.content:
            raise InvalidData("berkas kosong", "file", reason="empty", params=where)
        limit = self.settings.max_upload_bytes
        if len(upload.content) > limit:
            raise TooLarge(f"berkas {size_text(len(upload.content))} melebihi batas {size_text(limit)}", "file",
                           reason="too_large", params={**where, "size": len(upload.content), "limit": limit})
        media_type, digest = uow.session.info.get(EXAMINED, {}).get(id(upload), (None, None))
        try:
            media_type = media_type or sniff(upload.content)
            filename = safe_filename(upload.filename, media_type)
        except InvalidData as exc:
            exc.params.setdefault("doc_type", upload.doc_type)
            raise
        row = uow.session.execute(_DOCUMENT, {"instance_id": instance.id, "doc_type": upload.doc_type}).first()
        if row is None:
            document, number = Document(instance_id=instance.id, doc_type=upload.doc_type, created_at=now), 1
            uow.session.add(document)
            uow.session.flush()
        else:
            document, number = row[0], (row[1] or 0) + 1
        version = DocumentVersion(
            document_id=document.id, version=number, filename=filename, media_type=media_type,
            size=len(upload.content), sha256=digest or hashlib.sha256(upload.content).hexdigest(), task_id=record.id,
            uploaded_by=actor.username, uploaded_at=now, note=note)
        uow.session.add(version)
        uow.session.flush()
        uow.session.add(DocumentContent(version_id=version.id, content=upload.content))
        # type, number, hash, size, file name and note are the version's row: the event points to it
        uow.audit(actor.username, "document_added", now, instance.id, record.id, version_id=version.id)
        return version

    def generate(self, task_id: str, actor: Actor, doc_type: str) -> DocumentVersion:
        """Render the step's template for `doc_type` and attach it, as the actor, in this activation."""
        now = utcnow()
        with unit_of_work(self.db) as uow:
            record, instance = self._task_for_update(uow, task_id, actor)
            parsed = self.specs.get(instance.definition)
            step = parsed.model.steps[record.spec_id]
            return self._generate(uow, instance, parsed, step, record, actor, doc_type, {}, now)

    def _generate(self, uow: UnitOfWork, instance: Instance, parsed: ParsedDiagram, step: Step, record: TaskRecord,
                  actor: Actor, doc_type: str, values: Mapping[str, Any], now: datetime) -> DocumentVersion:
        name = generated.step_templates(step).get(doc_type)
        if name is None:
            raise InvalidData(f"langkah '{step.name}' tidak membuat '{doc_type}' dari templat", "type",
                              reason="not_in_options", params={"doc_type": doc_type})
        content, template_version = generated.generate(
            uow.session, parsed.model, instance, step, values, name, actor.username,
            local(now, self.settings.timezone).date(),
            prerendered=uow.session.info.get(generated.PRERENDERED, {}).get(doc_type))
        why = f"dibuat dari templat {name} " + (f"versi {template_version}" if template_version else "bawaan")
        return self._attach(uow, instance, step, record, actor, Upload(doc_type, f"{name}.docx", content), now,
                            note=why)

    def _before_lock(self, task_id: str, actor: Actor, data: Mapping[str, Any], uploads: Sequence[Upload],
                     now: datetime) -> Ahead:
        """SQLite: what a step can do before its write lock, since every other writer waits while it is held
        (PostgreSQL locks only the request's row: there the step does it all under that lock).

        - The step runs on the request's workflow as stored now (`_run_ahead`).
        - The documents `_complete` will generate are rendered (`_prerender`).
        Neither is needed: when unsure (a refusal, any error) the step does its work under the lock."""
        try:
            found = self.db.read_one(_STEP_OF, {"task_id": task_id})
        except Exception:  # noqa: BLE001 - only a head start: the locked step meets the same problem and says it
            return Ahead()
        if not found:
            return Ahead()
        spec_id, definition_id, instance_id, blob = found[0]
        ahead, parsed = Ahead(), self.specs.cached(definition_id)
        if blob is not None and parsed is not None:
            ahead.run = self._run_ahead(task_id, instance_id, blob, parsed, spec_id, actor, data)
        if spec_id in self.templated.get(definition_id, {spec_id}):  # most steps fill no template
            ahead.prerendered = self._prerender(task_id, actor, data, uploads, now)
        return ahead

    def _run_ahead(self, task_id: str, instance_id: int, blob: bytes, parsed: ParsedDiagram, spec_id: str,
                   actor: Actor, data: Mapping[str, Any]) -> RunAhead | None:
        """Run the step with its submitted values on `blob` (this process's last object of it, or loaded) and
        dump the result: SpiffWorkflow's part of a step depends on nothing but the state and the values (no
        scripts or service tasks run; engine/diagram.py refuses them). None when anything is in doubt."""
        step = parsed.model.steps.get(spec_id)
        if step is None:
            return None
        try:
            values = _validated(step, actor, data)
            workflow = self.workflows.take(instance_id, blob, parsed.spec, parsed.subprocess_specs)
            task = workflow.tasks.get(UUID(task_id))
            if task is None or task.state != TaskState.READY or not task.task_spec.manual:
                self.workflows.put(instance_id, blob, workflow)  # untouched: still this state's object
                return None
            task_data = dict(task.data)
            task.set_data(**values)
            task.run()
            workflow.do_engine_steps()
            dumped = None if state.ended(workflow) else state.dump(workflow)
        except Exception:  # noqa: BLE001 - the step under the lock meets the same problem and words it
            return None
        return RunAhead(blob, parsed.spec, values, task_data, workflow, dumped)

    def _prerender(self, task_id: str, actor: Actor, data: Mapping[str, Any], uploads: Sequence[Upload],
                   now: datetime) -> dict[str, generated.Prerendered]:
        """The documents `_complete` will generate for this step, rendered before the write lock: a render is
        ~1 ms of CPU, but a worker's first of a template ~60 ms (engine/docx_parts.py reads the template).
        Read in a read-only transaction; `generated.generate` uses one only if its template and context are
        still the same under the lock. When unsure (a return, a refusal, any error) none: the step renders
        and reports as before."""
        try:
            with unit_of_work(self.db, write=False) as uow:
                record = uow.session.get(TaskRecord, task_id)
                if record is None or record.state != "ready" or record.lane not in actor.lanes:
                    return {}
                instance = uow.session.get_one(Instance, record.instance_id)
                if instance.status != "running":
                    return {}
                check_can_read(instance, actor, "")
                parsed = self.specs.get(instance.definition)
                self.templated[instance.definition_id] = frozenset(
                    s.id for s in parsed.model.steps.values() if generated.made_at_completion(s))
                step = parsed.model.steps[record.spec_id]
                uploaded = {upload.doc_type for upload in uploads}
                wanted = {doc_type: name for doc_type, name in generated.made_at_completion(step).items()
                          if doc_type not in uploaded and not self._has_upload(uow, instance, record, doc_type)}
                if not wanted:
                    return {}
                values = _validated(step, actor, data)
                if decisions.is_return(values):
                    return {}
                today = local(now, self.settings.timezone).date()
                return {doc_type: generated.prerender(uow.session, parsed.model, instance, step, values, name,
                                                      actor.username, today) for doc_type, name in wanted.items()}
        except Exception:  # noqa: BLE001 - only a head start: the locked step meets the same problem and says it
            return {}

    def _has_upload(self, uow: UnitOfWork, instance: Instance, record: TaskRecord, doc_type: str) -> bool:
        return uow.session.scalar(_UPLOADED, {"instance_id": instance.id, "doc_type": doc_type,
                                              "task_id": record.id}) is not None

    def _has_required(self, uow: UnitOfWork, instance: Instance, step: Step, record: TaskRecord,
                      doc_type: str) -> bool:
        """A required upload is there: attached now, or by this step in an earlier activation (a return)
        unless the diagram asks for a new version (`versi_baru_wajib`)."""
        if self._has_upload(uow, instance, record, doc_type):
            return True
        if doc_type in step.new_version_required:
            return False
        return uow.session.scalar(_UPLOADED_BY_STEP, {"instance_id": instance.id, "doc_type": doc_type,
                                                      "spec_id": step.id}) is not None

    def _complete(self, uow: UnitOfWork, instance: Instance, parsed: ParsedDiagram, record: TaskRecord,
                  actor: Actor, data: dict[str, Any], uploads: Sequence[Upload], now: datetime,
                  workflow: Any, ready: list[TaskRecord] | None = None,
                  run: RunAhead | None = None) -> tuple[list[TaskRecord], Any]:
        """Run the step (or take `run`, its run before the lock on this very state, if it ran with the values
        the step records); the instance's ready tasks after it, by `seq`, and the workflow."""
        if record.lane not in actor.lanes:
            raise Forbidden(f"tugas '{record.name}' milik lane '{record.lane}', bukan lane anda")
        if run is None:
            task, workflow = self._ready_task(instance, parsed, record, workflow)
            task_data = dict(task.data)
        else:
            task_data = run.task_data
        step = parsed.model.steps[record.spec_id]
        for upload in uploads:
            self._attach(uow, instance, step, record, actor, upload, now)
        values = _validated(step, actor, data)
        returned = decisions.is_return(values)
        if not returned:  # a step's generated documents that nobody must produce by hand: made now
            for doc_type in generated.made_at_completion(step):
                if not self._has_upload(uow, instance, record, doc_type):
                    self._generate(uow, instance, parsed, step, record, actor, doc_type, values, now)
        def attach(doc_type: str, filename: str, content: bytes, note: str) -> DocumentVersion:
            return self._attach(uow, instance, step, record, actor, Upload(doc_type, filename, content), now, note)

        signed = signing.signs_electronically(step)
        if not returned and signed and not self._has_upload(uow, instance, record, signed):
            signing.sign(uow, self.settings, instance, step, actor, record.lane, now, attach)
        if not returned:  # a returned step produces nothing; otherwise its required documents must be there
            for doc_type in step.required_uploads:
                if not self._has_required(uow, instance, step, record, doc_type):
                    again = " (versi baru)" if doc_type in step.new_version_required else ""
                    raise MissingDocument(f"dokumen {doc_label(doc_type)} wajib diunggah{again} pada langkah ini",
                                          doc_type)
            initials.record(uow, instance, step, record, actor.username, now)

        drawn: list[Letter] = []

        def draw(recipient: str | None, subject: str | None) -> Letter:
            entry = letters.draw_number(uow, self.settings, instance, now, actor.username, recipient, subject)
            drawn.append(Letter(entry.number, entry.letter_date))
            return drawn[-1]

        ctx = StepContext(step=step, values=values, task_data=task_data, letter_number=instance.letter_number,
                          _has_upload=lambda doc_type: self._has_upload(uow, instance, record, doc_type),
                          _draw_number=draw)
        handlers = [self.handlers[name] for name in step.handlers]
        for handler in handlers:
            handler.check(ctx)
        for handler in handlers:
            handler.apply(ctx)
        if not returned and drawn and step.prop(signing.STAMP):
            signing.stamp(uow, self.settings, instance, step, actor, drawn[-1].number, drawn[-1].letter_date,
                          attach, now)
        speakers.after_step(uow, parsed.model, step, instance, ctx.values, ctx.is_return, actor.username, now)
        if run is not None and run.values != ctx.values:
            run = None  # a handler added to what the step records (a letter's number): run it here with that
            task, workflow = self._ready_task(instance, parsed, record, None)
        if run is None:
            task.set_data(**ctx.values)
            try:
                task.run()
                workflow.do_engine_steps()
            except (SpiffWorkflowException, ConditionError) as exc:
                # e.g. no outgoing condition of a gateway holds for this data: a diagram problem, said plainly
                raise InvalidData(f"alur kerja tidak dapat dilanjutkan setelah '{step.name}': {exc}",
                                  reason="workflow_stuck") from None
        else:
            workflow = run.workflow
        office.close_task(record, "completed", now, self.office.calendar(uow.session))
        record.completed_by = actor.username
        record.keputusan, record.catatan = ctx.values.get(decisions.FIELD), ctx.values.get(decisions.NOTE)
        instance.return_count += record.keputusan == decisions.RETURN
        instance.path_standard_minutes += record.standard_minutes or 0
        # step, decision and note are the task row's (task_id): the event adds only kind, actor and time
        uow.audit(actor.username, "return" if ctx.is_return else "complete", now, instance.id, record.id)
        data = {**instance.data, **{k: v for k, v in ctx.values.items() if v is not None}}
        for form_field in step.fields:  # a field this step left empty no longer holds an older value
            if ctx.values.get(form_field.id) is None:
                data.pop(form_field.id, None)
        instance.data = _json_safe(data)
        instance.perihal = instance.data.get(SUBJECT_FIELD) or instance.perihal
        instance.agency = instance.agency or instance.data.get(AGENCY_FIELD)
        if state.ended(workflow):
            instance.status, instance.ended_at = "completed", now
            instance.end_event = state.end_event(workflow)
            uow.audit(actor.username, "end", now, instance.id)  # which end event: instances.end_event
        reports.count_completion(uow.session, instance, record, instance.ended_at is not None,
                                 self.office.calendar(uow.session))
        # before the flush below: one UPDATE of the instance; an ended request keeps no workflow
        if instance.ended_at is not None:
            instance.state = None
        else:
            instance.state = run.dumped if run is not None and run.dumped is not None else state.dump(workflow)
        return self._sync_tasks(uow, instance, parsed, workflow, now, ready, record if ctx.is_return else None), \
            workflow

    @staticmethod
    def _ready_task(instance: Instance, parsed: ParsedDiagram, record: TaskRecord,
                    workflow: Any) -> tuple[Any, Any]:
        """The record's task, checked READY, and `workflow` (loaded from the instance's state if None)."""
        if workflow is None:
            workflow = state.load(instance.state, parsed.spec, parsed.subprocess_specs)
        task = workflow.tasks.get(UUID(record.id))
        if task is None or task.state != TaskState.READY or not task.task_spec.manual:
            raise NotReady(f"tugas '{record.name}' tidak siap lagi")
        return task, workflow

    def _sync_tasks(self, uow: UnitOfWork, instance: Instance, parsed: ParsedDiagram, workflow: Any,
                    now: datetime, records: list[TaskRecord] | None = None,
                    returning: TaskRecord | None = None) -> list[TaskRecord]:
        """Make the task table agree with the workflow: new activations in, vanished ones cancelled; the ready
        rows after it, by `seq`.

        `records`: the instance's ready rows when the caller has read them under its lock; `returning`: the
        activation whose return made the new ones (they remember it)."""
        ready = {str(t.id): t for t in state.ready_user_tasks(workflow)}
        known = {r.id: r for r in (uow.ready_records(instance.id) if records is None else records)
                 if r.state == "ready"}
        calendar = self.office.calendar(uow.session)
        for task_id, record in known.items():
            if task_id not in ready:
                office.close_task(record, "cancelled", now, calendar)
        after = [r for r in known.values() if r.state == "ready"]
        for task_id, task in ready.items():
            if task_id in known:
                continue
            step = parsed.model.steps.get(task.task_spec.name)
            minutes = step.standard_minutes if step else None
            instance.task_count += 1
            after.append(TaskRecord(
                id=task_id, instance_id=instance.id, seq=instance.task_count, spec_id=task.task_spec.name,
                name=step.name if step else task.task_spec.bpmn_name or task.task_spec.name,
                lane=step.lane if step else (task.task_spec.lane or ""), step_no=step.step_no if step else None,
                standard_minutes=minutes, state="ready", ready_at=now,
                due_at=office.due_at(now, minutes, calendar), returned_by_task=returning.id if returning else None))
            uow.session.add(after[-1])
        timers.sync(uow.session, instance, parsed, workflow, now, calendar, self.settings.timezone)
        rows = [instance, *([instance.workflow_state] if instance.workflow_state is not None else []),
                *(records or known.values()), *(r for r in after if r.id not in known)]
        uow.save(rows)
        return sorted(after, key=lambda r: r.seq)


def _validated(step: Step, actor: Actor, data: Mapping[str, Any]) -> dict[str, Any]:
    """A step's form values as submitted; an applicant speaks only for their own agency."""
    if actor.agency and step.field(AGENCY_FIELD):
        data = {**data, AGENCY_FIELD: actor.agency}
    return forms.validate(step.fields, dict(data))


def _json_safe(data: dict[str, Any]) -> dict[str, Any]:
    safe: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, str | int | float | bool) or value is None:
            safe[key] = value
        else:
            safe[key] = str(value)
    return safe
