"""Compact workflow state: no spec inside, no history beyond what the next step needs.

SpiffWorkflow's serializer embeds the whole spec in every blob and keeps every completed
task, so state and per-step cost grow with history (and past 1000 tasks its iterator
loses the ready task). Alur keeps history in its own tables, so before saving it prunes
the task tree to the open tasks plus a few finished ancestors (joins look at parents)
and stores the rest as zlib-compressed JSON without the spec. The cached spec is put
back on load.
"""

from __future__ import annotations

import json
import threading
import zlib
from collections import OrderedDict
from typing import Any

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.serializer import DEFAULT_CONFIG as CAMUNDA_CONFIG
from SpiffWorkflow.util.task import TaskState

from engine.conditions import RestrictedScriptEngine

FINISHED_ANCESTORS_KEPT = 2
SCRIPT_ENGINE = RestrictedScriptEngine()


class CompactWorkflowConverter(BpmnWorkflowConverter):
    """Writes a workflow without its spec; reads one back with a spec object supplied."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any]) -> BpmnWorkflow:
        from uuid import UUID

        spec, subprocess_specs = dct.pop("spec"), dct.pop("subprocess_specs", {})
        workflow = self.target_class(spec, subprocess_specs, deserializing=True, script_engine=SCRIPT_ENGINE)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


_config = dict(CAMUNDA_CONFIG)
_config[BpmnWorkflow] = CompactWorkflowConverter
SERIALIZER = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(_config))


def new_workflow(spec: Any, subprocess_specs: dict[str, Any]) -> BpmnWorkflow:
    return BpmnWorkflow(spec, subprocess_specs, script_engine=SCRIPT_ENGINE)


def prune(workflow: BpmnWorkflow, keep_finished: int = FINISHED_ANCESTORS_KEPT) -> None:
    """Drop finished tasks that no open task needs; graft what remains under the root.

    Completed end events are kept: they are how a stored workflow says it has ended.
    """
    root = workflow.task_tree
    open_tasks = [t for t in workflow.tasks.values() if not t.has_state(TaskState.FINISHED_MASK)]
    ended_tasks = [t for t in workflow.tasks.values()
                   if isinstance(t.task_spec, EndEvent) and t.state == TaskState.COMPLETED]
    keep = {root.id} | {t.id for t in open_tasks} | {t.id for t in ended_tasks}
    for task in open_tasks:
        finished, parent = 0, task.parent
        while parent is not None and parent is not root:
            keep.add(parent.id)
            if parent.has_state(TaskState.FINISHED_MASK):
                finished += 1
                if finished >= keep_finished:
                    break
            parent = parent.parent
    if len(keep) == len(workflow.tasks):
        return
    for task_id in [tid for tid in workflow.tasks if tid not in keep]:
        del workflow.tasks[task_id]
    for task in workflow.tasks.values():
        if task is not root and task._parent not in keep:
            task._parent = root.id
    root._children = [t.id for t in workflow.tasks.values() if t._parent == root.id and t is not root]
    for task in workflow.tasks.values():
        task._children = [c for c in task._children if c in keep]
    if workflow.last_task is not None and workflow.last_task.id not in keep:
        workflow.last_task = None


def ended(workflow: BpmnWorkflow) -> bool:
    """Completed means: an end event completed and nothing is left open (not is_completed())."""
    end_done = open_left = False
    for task in workflow.tasks.values():
        if isinstance(task.task_spec, EndEvent) and task.state == TaskState.COMPLETED:
            end_done = True
        elif not task.has_state(TaskState.FINISHED_MASK) and task is not workflow.task_tree:
            open_left = True
    return end_done and not open_left


END_KINDS = {"ErrorEventDefinition": "error", "TerminateEventDefinition": "terminate"}


def end_event(workflow: BpmnWorkflow) -> dict[str, str] | None:
    """The end event a finished workflow reached (a terminate one wins): id, name and kind."""
    reached = [t for t in workflow.tasks.values()
               if isinstance(t.task_spec, EndEvent) and t.state == TaskState.COMPLETED]
    if not reached:
        return None
    kind_of = {t.id: END_KINDS.get(type(t.task_spec.event_definition).__name__, "biasa") for t in reached}
    last = max(reached, key=lambda t: (kind_of[t.id] == "terminate", t.last_state_change))
    spec = last.task_spec
    return {"id": spec.bpmn_id or spec.name, "name": spec.bpmn_name or spec.bpmn_id or spec.name,
            "kind": kind_of[last.id]}


def dump(workflow: BpmnWorkflow) -> bytes:
    """Prune, then serialize without the spec and compress (only running requests keep one)."""
    prune(workflow)
    dct = SERIALIZER.to_dict(workflow)
    dct["serializer_version"] = SERIALIZER.VERSION
    return zlib.compress(json.dumps(dct, separators=(",", ":")).encode(), 6)


def load(blob: bytes, spec: Any, subprocess_specs: dict[str, Any]) -> BpmnWorkflow:
    dct = json.loads(zlib.decompress(blob))
    dct.pop("serializer_version", None)
    dct["spec"], dct["subprocess_specs"] = spec, subprocess_specs
    return SERIALIZER.from_dict(dct)


def ready_user_tasks(workflow: BpmnWorkflow) -> list[Any]:
    """READY manual tasks, read from the flat task map (never the depth-limited iterator)."""
    return [t for t in workflow.tasks.values() if t.state == TaskState.READY and t.task_spec.manual]


class WorkflowCache:
    """The workflow object a command of this process left behind, per instance, with the blob it stored.

    A command takes it instead of loading the blob again, but only when the stored blob is still byte for
    byte the one this object was dumped to (any other writer, worker or restore changes it). Taking
    removes the entry: an object is never shared, and a command that fails puts nothing back."""

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[int, tuple[bytes, BpmnWorkflow]] = OrderedDict()

    def take(self, instance_id: int, blob: bytes, spec: Any, subprocess_specs: dict[str, Any]) -> BpmnWorkflow:
        with self._lock:
            entry = self._entries.pop(instance_id, None)
        if entry is not None and entry[0] == blob and entry[1].spec is spec:
            return entry[1]
        return load(blob, spec, subprocess_specs)

    def put(self, instance_id: int, blob: bytes, workflow: BpmnWorkflow) -> None:
        with self._lock:
            self._entries[instance_id] = (blob, workflow)
            self._entries.move_to_end(instance_id)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
