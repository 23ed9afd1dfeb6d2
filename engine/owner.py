"""The process owner's desk: check a diagram, list versions, compare them, move running requests.

Migration works on Alur's pruned, spec-less state (engine/state.py): the request's open
tasks (READY steps, and WAITING parallel joins with the branch that reached them) are
placed on a fresh workflow of the target version, keeping their task ids, data and ready
time; SpiffWorkflow then predicts the rest of the path from the target's own flows. The
task rows of ready steps are updated in place, so the inbox, the due time and the history
go on as before. Everything happens under the instance's lock in one unit of work.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from engine import conditions, office, state, timers
from engine.clock import utcnow
from engine.diagram import ParsedDiagram, parse_diagram
from engine.diff import Graph, VersionDiff, diff_versions, read_graph
from engine.errors import DiagramProblem, Forbidden, InvalidData, InvalidDiagram, NotFound, NotReady
from engine.models import READY, Document, Instance, ProcessDefinition, TaskRecord, User, UserLane
from engine.worktime import OfficeCalendar

if TYPE_CHECKING:
    from engine.actors import Actor
    from engine.services import Alur
    from engine.uow import UnitOfWork


class CannotMigrate(NotReady):
    """The request's state does not allow the move; `steps` names the steps in the way (HTTP 409)."""

    code = "cannot_migrate"

    def __init__(self, message: str, steps: list[str], reasons: list[str]) -> None:
        super().__init__(message, steps=steps, reasons=reasons)
        self.steps, self.reasons = steps, reasons


@dataclass
class Validation:
    """A dry run of deploy: nothing is stored."""

    errors: list[DiagramProblem] = field(default_factory=list)
    warnings: list[DiagramProblem] = field(default_factory=list)
    key: str | None = None
    name: str | None = None

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class VersionSummary:
    key: str
    version: int
    name: str
    deployed_by: str
    deployed_at: datetime
    sha256: str
    running: int = 0
    completed: int = 0
    cancelled: int = 0


@dataclass
class MigrationCheck:
    instance_id: int
    can_move: bool
    reasons: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)   # ids of the ready steps that block the move


@dataclass
class MigrationResult:
    instance_id: int
    from_version: int
    to_version: int
    tasks: dict[str, str]                            # ready task id -> step id on the target
    mapping: dict[str, str] = field(default_factory=dict)


@dataclass
class BulkMigration:
    from_version: int
    to_version: int
    moved: list[MigrationResult] = field(default_factory=list)
    refused: list[MigrationCheck] = field(default_factory=list)


def _require_owner(actor: Actor | None, what: str) -> None:
    """Owners and admins only; `None` is a trusted caller (the CLI on the server, tests)."""
    if actor is not None and not (actor.is_process_owner or actor.is_admin):
        raise Forbidden(f"hanya pemilik proses atau admin yang boleh {what}")


# ---- check ---------------------------------------------------------------------------------

def lane_warnings(session: Session, xml: bytes) -> list[DiagramProblem]:
    """A lane no active user belongs to: its tasks would wait in nobody's inbox."""
    lanes = read_graph(xml).lanes.values()
    staffed = set(session.scalars(select(UserLane.lane).join(User, User.id == UserLane.user_id)
                                  .where(User.active.is_(True)).distinct()))
    return [DiagramProblem(f"lane '{lane.name}' belum punya anggota: tugasnya tidak akan muncul di kotak "
                           "tugas siapa pun", lane.line, lane.id)
            for lane in lanes if lane.name and lane.name not in staffed]


def validate(alur: Alur, xml: bytes, filename: str = "diagram.bpmn", actor: Actor | None = None) -> Validation:
    """Everything deploy would say about a diagram, without storing it."""
    _require_owner(actor, "memeriksa diagram")
    try:
        parsed = parse_diagram(xml, alur.handlers, filename)
        xml.decode("utf-8")
    except InvalidDiagram as exc:
        return Validation(errors=list(exc.problems))
    except UnicodeDecodeError:
        return Validation(errors=[DiagramProblem("diagram harus disimpan dalam UTF-8")])
    with alur.unit_of_work(write=False) as uow:
        warnings = lane_warnings(uow.session, xml)
    return Validation(warnings=warnings, key=parsed.model.key, name=parsed.model.name)


# ---- versions and differences --------------------------------------------------------------

def versions(alur: Alur, key: str, actor: Actor | None = None) -> list[VersionSummary]:
    _require_owner(actor, "melihat daftar versi proses")
    with alur.unit_of_work(write=False) as uow:
        definitions = list(uow.session.scalars(select(ProcessDefinition).where(ProcessDefinition.key == key)
                                               .order_by(ProcessDefinition.version)))
        if not definitions:
            raise NotFound(f"proses '{key}' tidak ditemukan")
        counts = uow.session.execute(
            select(Instance.definition_id, Instance.status, func.count())
            .where(Instance.definition_id.in_([d.id for d in definitions]))
            .group_by(Instance.definition_id, Instance.status)).all()
    summaries = {d.id: VersionSummary(d.key, d.version, d.name, d.deployed_by, d.deployed_at, d.sha256)
                 for d in definitions}
    for definition_id, status, count in counts:
        if status in ("running", "completed", "cancelled"):
            setattr(summaries[definition_id], status, count)
    return list(summaries.values())


def diff(alur: Alur, key: str, from_version: int, to_version: int, actor: Actor | None = None) -> VersionDiff:
    _require_owner(actor, "membandingkan versi proses")
    old, new = alur.definition(key, from_version), alur.definition(key, to_version)
    return diff_versions(key, from_version, to_version, alur.parsed(old).model, alur.parsed(new).model,
                         read_graph(alur.diagram_xml(old)), read_graph(alur.diagram_xml(new)))


# ---- migration -----------------------------------------------------------------------------

@dataclass
class _Plan:
    """How one request would move: the target step of each open task, or why it cannot."""

    targets: dict[str, str] = field(default_factory=dict)   # open task id -> target spec name
    reasons: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)

    def refuse(self, step_id: str, reason: str) -> None:
        self.steps.append(step_id)
        self.reasons.append(reason)


def _check_mapping(mapping: Mapping[str, str], target: ParsedDiagram, to_version: int) -> dict[str, str]:
    if not isinstance(mapping, Mapping) or not all(isinstance(k, str) and isinstance(v, str)
                                                   for k, v in mapping.items()):
        raise InvalidData("mapping harus objek {\"id_langkah_lama\": \"id_langkah_baru\"}", "mapping")
    for old_id, new_id in mapping.items():
        if new_id not in target.model.steps:
            raise InvalidData(f"mapping '{old_id}' -> '{new_id}': langkah '{new_id}' tidak ada di versi "
                              f"{to_version}", "mapping")
    return dict(mapping)


def _plan(workflow: Any, source: ParsedDiagram, target: ParsedDiagram, target_graph: Graph, to_version: int,
          mapping: dict[str, str], documents: set[str], data: Mapping[str, Any]) -> _Plan:
    plan = _Plan()
    open_tasks = [t for t in workflow.tasks.values()
                  if t.state in (TaskState.READY, TaskState.WAITING) and t is not workflow.task_tree]
    for task in open_tasks:
        spec_name = task.task_spec.name
        step = source.model.steps.get(spec_name)
        label = f"'{step.name}' ({spec_name})" if step else f"'{task.task_spec.bpmn_name or spec_name}' ({spec_name})"
        if task.state == TaskState.READY and task.task_spec.manual:
            new_id = mapping.get(spec_name, spec_name)
            new_step = target.model.steps.get(new_id)
            if new_step is None:
                plan.refuse(spec_name, f"langkah {label} tidak ada di versi {to_version}"
                                       + ("" if spec_name in mapping else "; petakan ke langkah lain (mapping)"))
                continue
            # only documents the target newly expects before this step: not its own outputs, not what
            # the step needed already on the source version
            already = set(step.inputs) if step else set()
            missing = [d for d in new_step.inputs if d not in documents and d not in already
                       and d not in new_step.outputs and d not in new_step.required_uploads]
            if missing:
                plan.refuse(spec_name, f"langkah '{new_step.name}' di versi {to_version} memerlukan dokumen "
                                       f"{', '.join(missing)} yang belum ada pada permohonan ini")
                continue
            plan.targets[str(task.id)] = new_id
        elif task.state == TaskState.WAITING:
            # a parallel join reached by some branches: it and the branch that reached it must exist
            parent = task.parent
            if parent is None or parent is workflow.task_tree:
                plan.refuse(spec_name, f"gabungan cabang {label} tidak dapat dipindah (cabangnya tidak tercatat)")
                continue
            names = [task.task_spec.name, parent.task_spec.name]
            if any(mapping.get(n, n) not in target.spec.task_specs for n in names):
                plan.refuse(spec_name, f"gabungan cabang {label} tidak ada di versi {to_version}")
                continue
            plan.targets[str(task.id)] = mapping.get(spec_name, spec_name)
        else:
            plan.refuse(spec_name, f"langkah {label} sedang berjalan otomatis dan tidak dapat dipindah")
    if not plan.reasons:
        known = set(data).union(*(t.data.keys() for t in open_tasks))   # values left empty count as given
        _check_data_needs(plan, target, target_graph, known)
    return plan


def _check_data_needs(plan: _Plan, target: ParsedDiagram, graph: Graph, known: set[str]) -> None:
    """Conditions ahead of the moved steps may only use data the request has or will be asked for."""
    ahead = graph.reachable(list(plan.targets.values()))
    will_ask = {f.id for s in target.model.steps.values() if s.id in ahead for f in s.fields}
    for flow in graph.flows.values():
        if flow.source not in ahead or not flow.condition:
            continue
        unknown = conditions.names(flow.condition) - will_ask - known
        if unknown:
            plan.refuse(flow.id, f"kondisi '{flow.condition}' pada alur '{flow.name or flow.id}' di versi "
                                 f"tujuan memakai data {', '.join(sorted(unknown))} yang tidak dimiliki permohonan "
                                 "ini dan tidak akan diisi lagi")


def _rebuild(workflow: Any, target: ParsedDiagram, targets: dict[str, str], mapping: dict[str, str]) -> Any:
    """A workflow on the target spec whose open tasks are the old ones, same ids, same data."""
    new = state.new_workflow(target.spec, target.subprocess_specs)
    root = new.task_tree
    for task_id in [t for t in new.tasks if t != root.id]:
        del new.tasks[task_id]
    root._children = []
    root.data = dict(workflow.task_tree.data)
    new.data = dict(workflow.data)
    specs = target.spec.task_specs
    placed = []
    for task_id, spec_name in targets.items():
        old = workflow.tasks[UUID(task_id)]
        parent = root
        if old.state == TaskState.WAITING:   # keep the branch that reached the join (the plan checked it)
            branch = old.parent
            parent = Task(new, specs[mapping.get(branch.task_spec.name, branch.task_spec.name)], root,
                          state=TaskState.COMPLETED)
            parent.data = dict(branch.data)
        task = Task(new, specs[spec_name], parent, state=old.state, id=old.id)
        task.data, task.internal_data = dict(old.data), dict(old.internal_data)
        task.last_state_change, task.thread_id = old.last_state_change, old.thread_id
        placed.append(task)
    for task in placed:
        task.task_spec._predict(task, mask=TaskState.NOT_FINISHED_MASK)
    return new


def _load_for_migration(alur: Alur, uow: UnitOfWork, instance: Instance, target_def: ProcessDefinition,
                        mapping: Mapping[str, str] | None) -> tuple[Any, ParsedDiagram, dict[str, str], _Plan]:
    source, target = alur.parsed(instance.definition), alur.parsed(target_def)
    checked = _check_mapping(mapping or {}, target, target_def.version)
    workflow = state.load(instance.state, source.spec, source.subprocess_specs)
    documents = set(uow.session.scalars(select(Document.doc_type).where(Document.instance_id == instance.id)))
    graph = read_graph(alur.diagram_xml(target_def))
    plan = _plan(workflow, source, target, graph, target_def.version, checked, documents, instance.data)
    return workflow, target, checked, plan


def _check_instance(instance: Instance, target_def: ProcessDefinition) -> str | None:
    if instance.status != "running":
        return f"permohonan {instance.id} sudah {instance.status}"
    if instance.definition.key != target_def.key:
        return f"permohonan {instance.id} berjalan pada proses '{instance.definition.key}', bukan '{target_def.key}'"
    if instance.definition_id == target_def.id:
        return f"permohonan {instance.id} sudah berjalan pada versi {target_def.version}"
    return None


def migrate(alur: Alur, instance_id: int, to_version: int, actor: Actor,
            mapping: Mapping[str, str] | None = None) -> MigrationResult:
    """Move one running request to another version of its process, or refuse naming the steps."""
    _require_owner(actor, "memindahkan permohonan ke versi lain")
    with alur.unit_of_work() as uow:
        instance = uow.lock_instance(instance_id)
        return _migrate_locked(alur, uow, instance, to_version, actor, mapping)


def _migrate_locked(alur: Alur, uow: UnitOfWork, instance: Instance, to_version: int, actor: Actor,
                    mapping: Mapping[str, str] | None) -> MigrationResult:
    target_def = uow.session.scalars(select(ProcessDefinition).where(
        ProcessDefinition.key == instance.definition.key, ProcessDefinition.version == to_version)).first()
    if target_def is None:
        raise NotFound(f"proses '{instance.definition.key}' versi {to_version} tidak ditemukan")
    problem = _check_instance(instance, target_def)
    if problem:
        raise CannotMigrate(problem, [], [problem])
    workflow, target, checked, plan = _load_for_migration(alur, uow, instance, target_def, mapping)
    if plan.reasons:
        raise CannotMigrate(f"permohonan {instance.id} tidak dapat dipindah ke versi {to_version}: "
                            + "; ".join(plan.reasons), plan.steps, plan.reasons)
    now = utcnow()
    calendar = alur.calendar(uow.session)
    new = _rebuild(workflow, target, plan.targets, checked)
    from_version = instance.definition.version
    ready_targets = {}
    for record in uow.session.scalars(select(TaskRecord).where(TaskRecord.instance_id == instance.id,
                                                               TaskRecord.state == READY)):
        spec_name = plan.targets.get(record.id)
        if spec_name is None:
            continue
        step = target.model.steps[spec_name]
        ready_targets[record.id] = spec_name
        _retarget(record, step, calendar)
    placed = {str(t.id) for t in new.tasks.values() if t.state == TaskState.READY and t.task_spec.manual}
    if placed != set(ready_targets):
        raise NotReady(f"permohonan {instance.id}: tabel tugas dan alur kerja tidak sepakat; tidak dipindah")
    instance.definition_id, instance.definition = target_def.id, target_def
    instance.state = state.dump(new)
    timers.sync(uow.session, instance, target, new, now, calendar, alur.settings.timezone)  # the target's timers
    uow.audit(actor.username, "migrate", now, instance.id, process=target_def.key, from_version=from_version,
              to_version=target_def.version, mapping=checked, tasks=ready_targets)
    uow.session.flush()
    return MigrationResult(instance.id, from_version, target_def.version, ready_targets, checked)


def _retarget(record: TaskRecord, step: Any, calendar: OfficeCalendar) -> None:
    """The same activation, now of the target's step: ready time kept, due time from the new standard."""
    record.spec_id, record.name, record.lane, record.step_no = step.id, step.name, step.lane, step.step_no
    record.standard_minutes = step.standard_minutes
    record.due_at = office.due_at(record.ready_at, step.standard_minutes, calendar)


def plan_migration(alur: Alur, key: str, from_version: int, to_version: int,
                   mapping: Mapping[str, str] | None = None, actor: Actor | None = None) -> list[MigrationCheck]:
    """Dry run for every running request of a version: which can move, and why the others cannot."""
    _require_owner(actor, "memeriksa pemindahan permohonan")
    source_def, target_def = alur.definition(key, from_version), alur.definition(key, to_version)
    checks = []
    with alur.unit_of_work(write=False) as uow:
        ids = list(uow.session.scalars(select(Instance.id).where(
            Instance.definition_id == source_def.id, Instance.status == "running").order_by(Instance.id)))
        for instance_id in ids:
            instance = uow.session.get_one(Instance, instance_id, options=[joinedload(Instance.workflow_state)])
            problem = _check_instance(instance, target_def)
            if problem:
                checks.append(MigrationCheck(instance_id, False, [problem]))
                continue
            _, _, _, plan = _load_for_migration(alur, uow, instance, target_def, mapping)
            checks.append(MigrationCheck(instance_id, not plan.reasons, plan.reasons, plan.steps))
    return checks


def migrate_all(alur: Alur, key: str, from_version: int, to_version: int, actor: Actor,
                mapping: Mapping[str, str] | None = None) -> BulkMigration:
    """Move every running request of a version that can move; each in its own unit of work."""
    _require_owner(actor, "memindahkan permohonan ke versi lain")
    result = BulkMigration(from_version, to_version)
    for check in plan_migration(alur, key, from_version, to_version, mapping):
        if not check.can_move:
            result.refused.append(check)
            continue
        try:
            result.moved.append(migrate(alur, check.instance_id, to_version, actor, mapping))
        except CannotMigrate as exc:  # it moved on between the dry run and now
            result.refused.append(MigrationCheck(check.instance_id, False, exc.reasons, exc.steps))
    return result
