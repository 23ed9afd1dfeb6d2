"""Reading a BPMN diagram safely and checking it before anything is stored.

A diagram is user input: it is parsed here with entities, DTDs and network access off,
validated against the BPMN XSD that SpiffWorkflow bundles, checked by Alur's own rules
(references, reachability, conditions, properties, handlers) and only then handed to
SpiffWorkflow's Camunda parser. Every problem carries the line and element id.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.exceptions import SpiffWorkflowException

from engine import conditions, decisions
from engine.errors import DiagramProblem, InvalidDiagram
from engine.timerspec import WORKING_TIME_PROPERTY, AlurParser, TimerError, TimerEvent, parse_timer

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
NS = {"bpmn": BPMN, "bpmndi": BPMNDI, "camunda": CAMUNDA}

MAX_DIAGRAM_BYTES = 2 * 1024 * 1024
MAX_DEPTH = 40
FIELD_TYPES = {"string", "long", "boolean", "date", "enum"}
DOCUMENT_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_FLOW_NODES = 300  # SpiffWorkflow's parser recurses along the flow and fails near 490 nodes in a row
MAX_ELEMENTS = 20_000  # XML elements in the whole file (shapes, forms and all)
MAX_FORM_FIELDS = 1_000  # form fields in all steps together
STEP_TASKS = ("userTask", "manualTask", "task")  # each runs as a person's step in its lane
FLOW_NODES = {
    "startEvent", "endEvent", "userTask", "manualTask", "task", "exclusiveGateway",
    "parallelGateway", "intermediateThrowEvent", "boundaryEvent", "intermediateCatchEvent",
}
UNSUPPORTED = {
    "scriptTask": "tugas skrip (scriptTask) tidak diizinkan: kode dalam diagram tidak dijalankan",
    "serviceTask": "serviceTask tidak didukung",
    "sendTask": "sendTask tidak didukung",
    "receiveTask": "receiveTask tidak didukung",
    "businessRuleTask": "businessRuleTask tidak didukung",
    "callActivity": "callActivity tidak didukung",
    "subProcess": "subProcess tidak didukung",
    "transaction": "transaction tidak didukung",
    "adHocSubProcess": "adHocSubProcess tidak didukung",
    "complexGateway": "complexGateway tidak didukung",
    "inclusiveGateway": "inclusiveGateway tidak didukung",
    "eventBasedGateway": "eventBasedGateway tidak didukung",
}
LOOPS = {"standardLoopCharacteristics", "multiInstanceLoopCharacteristics"}
EVENTS = {"startEvent", "endEvent", "intermediateThrowEvent", "intermediateCatchEvent", "boundaryEvent"}
EVENT_KINDS = {
    "messageEventDefinition": "pesan", "timerEventDefinition": "timer", "signalEventDefinition": "sinyal",
    "conditionalEventDefinition": "kondisi", "errorEventDefinition": "error",
    "escalationEventDefinition": "eskalasi", "compensateEventDefinition": "kompensasi",
    "terminateEventDefinition": "terminate", "linkEventDefinition": "link", "cancelEventDefinition": "batal",
}
EVENT_LABELS = {
    "startEvent": "start event", "endEvent": "end event", "intermediateThrowEvent": "intermediate throw event",
    "intermediateCatchEvent": "intermediate catch event", "boundaryEvent": "boundary event",
}
# The events Alur runs: (element, event definition or None). Everything else is refused at deploy.
EVENTS_RUN = {
    ("startEvent", None), ("endEvent", None), ("endEvent", "errorEventDefinition"),
    ("endEvent", "terminateEventDefinition"), ("intermediateThrowEvent", None),
    # timers: fired by the scheduler (engine/timers.py); their text is checked by `_read_timers`
    ("startEvent", "timerEventDefinition"), ("intermediateCatchEvent", "timerEventDefinition"),
    ("boundaryEvent", "timerEventDefinition"),
}
EVENT_REASONS = {
    "timerEventDefinition": "timer hanya didukung pada start event, intermediate catch event dan boundary event",
    "messageEventDefinition": "Alur tidak mengirim atau menerima pesan BPMN",
    "signalEventDefinition": "Alur tidak mengirim atau menerima sinyal BPMN",
    "conditionalEventDefinition": "Alur tidak menunggu kondisi; pakai gateway eksklusif",
    "escalationEventDefinition": "Alur tidak menjalankan eskalasi",
    "compensateEventDefinition": "Alur tidak menjalankan kompensasi",
    "linkEventDefinition": "Alur tidak menjalankan link event; sambungkan dengan alur (sequence flow)",
    "errorEventDefinition": "error hanya didukung pada end event",
    "terminateEventDefinition": "terminate hanya didukung pada end event",
    "cancelEventDefinition": "Alur tidak menjalankan transaksi",
}


def _event_definition(el: etree._Element) -> str | None:
    """The one event definition of an event ("multiple" if several or a reference)."""
    found = [_local(c.tag) for c in el if _local(c.tag).endswith("EventDefinition")
             or _local(c.tag) == "eventDefinitionRef"]
    if not found:
        return None
    return found[0] if len(found) == 1 and found[0] != "eventDefinitionRef" else "multiple"


def refusal(el: etree._Element) -> str | None:
    """Why Alur does not run this element, naming it; None when it runs.

    The one place that decides which BPMN shapes run. When a new kind runs, add its
    (element, definition) pair to EVENTS_RUN and the element to FLOW_NODES (timers: their
    text is checked by `_read_timers`; a boundary event's host is its predecessor in
    `_check_flow`'s reachability).
    """
    tag = _local(el.tag)
    label = f"'{el.get('name') or el.get('id', '')}'"
    if tag in EVENTS:
        kind = _event_definition(el)
        if (tag, kind) in EVENTS_RUN:
            return None
        what = EVENT_LABELS[tag] + (f" {EVENT_KINDS[kind]}" if kind in EVENT_KINDS else "")
        if kind == "multiple":
            return f"{what} {label} dengan beberapa definisi event tidak didukung"
        if kind is None:
            return f"{what} {label} tidak didukung: Alur hanya menjalankan start, end dan throw event biasa"
        return f"{what} {label} tidak didukung: {EVENT_REASONS[kind]}"
    if tag in UNSUPPORTED:
        return f"{label}: {UNSUPPORTED[tag]}"
    if tag in STEP_TASKS:
        if any(_local(c.tag) in LOOPS for c in el):
            return f"{label}: pengulangan (loop/multi-instance) pada tugas tidak didukung"
        if el.get("isForCompensation") == "true":
            return f"{label}: tugas kompensasi tidak didukung"
    return None


@dataclass(frozen=True)
class FormField:
    id: str
    label: str
    type: str
    required: bool = False
    required_when: str | None = None
    options: tuple[tuple[str, str], ...] = ()
    constraints: tuple[tuple[str, str], ...] = ()
    default: str | None = None

    def constraint(self, name: str) -> str | None:
        return dict(self.constraints).get(name)


@dataclass(frozen=True)
class Step:
    """One user task of the SOP: who does it, how long it may take, what it needs."""

    id: str
    name: str
    lane: str
    documentation: str
    step_no: int | None
    standard_minutes: int | None
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    required_uploads: tuple[str, ...]
    handlers: tuple[str, ...]
    fields: tuple[FormField, ...]
    # required uploads that need a NEW version on every activation (`versi_baru_wajib`); the others
    # are satisfied by the version this step attached in an earlier activation (a return)
    new_version_required: tuple[str, ...] = ()

    @property
    def upload_types(self) -> list[str]:
        """Documents this step may attach: its required uploads, then its own outputs.

        An output that is also an input (`kelengkapan`) is read-only here: a step passes such a
        document on, it does not replace it (the applicant at step 13 receives the signed letter).
        """
        own = [t for t in self.outputs if t not in self.inputs]
        return list(dict.fromkeys([*self.required_uploads, *own]))

    @property
    def is_decision(self) -> bool:
        return any(f.id == decisions.FIELD for f in self.fields)

    def field(self, field_id: str) -> FormField | None:
        return next((f for f in self.fields if f.id == field_id), None)


@dataclass(frozen=True)
class SopModel:
    """What the engine, the UI and the printed SOP read from one diagram version."""

    key: str
    name: str
    documentation: str
    properties: dict[str, str]
    lanes: tuple[str, ...]
    steps: dict[str, Step]
    timers: dict[str, TimerEvent] = field(default_factory=dict)  # by element id

    def ordered_steps(self) -> list[Step]:
        return sorted(self.steps.values(), key=lambda s: (s.step_no is None, s.step_no or 0, s.name))

    @property
    def total_standard_minutes(self) -> int:
        return sum(s.standard_minutes or 0 for s in self.steps.values())


@dataclass
class ParsedDiagram:
    model: SopModel
    spec: Any
    subprocess_specs: dict[str, Any]


@dataclass
class _Checker:
    problems: list[DiagramProblem] = field(default_factory=list)

    def add(self, message: str, node: etree._Element | None = None, element_id: str | None = None) -> None:
        line = node.sourceline if node is not None else None
        self.problems.append(DiagramProblem(message, line, element_id or (node.get("id") if node is not None
                                                                          else None)))


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _csv(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


@lru_cache(maxsize=1)
def _validator() -> BpmnValidator:
    return BpmnValidator()


def safe_parse(xml: bytes) -> etree._ElementTree:
    """Parse untrusted XML: no entities, no DTD, no network; raise InvalidDiagram otherwise."""
    if len(xml) > MAX_DIAGRAM_BYTES:
        raise InvalidDiagram([DiagramProblem(
            f"diagram {len(xml)} byte melebihi batas {MAX_DIAGRAM_BYTES} byte")])
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                             huge_tree=False, remove_blank_text=False)
    try:
        tree = etree.ElementTree(etree.fromstring(xml, parser))
    except etree.XMLSyntaxError as exc:
        raise InvalidDiagram([DiagramProblem(f"XML tidak valid: {exc.msg}", exc.lineno)]) from None
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise InvalidDiagram([DiagramProblem("DOCTYPE/entitas tidak diizinkan dalam diagram", 1)])
    root = tree.getroot()
    elements = 0
    for el in root.iter():
        if isinstance(el, etree._Entity) or el.tag is etree.Entity:
            raise InvalidDiagram([DiagramProblem("entitas tidak diizinkan dalam diagram", el.sourceline)])
        elements += 1
        if elements > MAX_ELEMENTS:
            raise InvalidDiagram([DiagramProblem(f"diagram memuat lebih dari {MAX_ELEMENTS} elemen XML, "
                                                 f"melebihi batas")])
    depth = _max_depth(root)
    if depth > MAX_DEPTH:
        raise InvalidDiagram([DiagramProblem(f"struktur XML terlalu dalam (lebih dari {MAX_DEPTH} tingkat)")])
    if root.tag != f"{{{BPMN}}}definitions":
        raise InvalidDiagram([DiagramProblem("elemen akar harus bpmn:definitions", root.sourceline)])
    return tree


def _max_depth(root: etree._Element) -> int:
    deepest, stack = 0, [(root, 1)]
    while stack:
        el, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, depth + 1) for child in el)
    return deepest


def parse_diagram(xml: bytes, known_handlers: Iterable[str], filename: str = "diagram.bpmn",
                  deployed: bool = False) -> ParsedDiagram:
    """Check a diagram completely; return the SOP model and the SpiffWorkflow spec.

    `deployed`: a version stored earlier is read again. It passed the rules of its day, so
    rules added since (caps, refused shapes, plain-text documentation) do not lock its
    requests out; the XML safety checks and the schema still apply.
    """
    tree = safe_parse(xml)
    if not deployed:
        _check_size(tree.getroot())
    try:
        _validator().validate(tree, filename)
    except ValidationException as exc:
        raise InvalidDiagram([DiagramProblem(f"tidak sesuai skema BPMN: {exc}", exc.line_number or None)]) from None
    check = _Checker()
    process = _single_process(tree.getroot(), check)
    if process is None:
        raise InvalidDiagram(check.problems)
    lane_of = _lane_of(process)
    model = _read_model(process, lane_of, check)
    _check_references(tree.getroot(), process, check)
    _check_documentation(tree.getroot(), check)
    _check_flow(process, model, lane_of, check)
    _check_steps(process, model, set(known_handlers), check)
    model = replace(model, timers=_read_timers(process, check))
    if check.problems and not deployed:
        raise InvalidDiagram(check.problems)
    _drop_data_associations(tree.getroot())
    try:
        parser = AlurParser()
        parser.add_bpmn_xml(tree, filename)
        spec = parser.get_spec(model.key)
        subprocess_specs = parser.get_subprocess_specs(model.key)
    except RecursionError:
        raise InvalidDiagram([DiagramProblem(TOO_LONG)]) from None
    except ValidationException as exc:
        if _recursed(exc):
            raise InvalidDiagram([DiagramProblem(TOO_LONG)]) from None
        raise InvalidDiagram([DiagramProblem(str(exc), exc.line_number or None, exc.id or None)]) from None
    except SpiffWorkflowException as exc:
        raise InvalidDiagram([DiagramProblem(TOO_LONG if _recursed(exc) else str(exc))]) from None
    return ParsedDiagram(model, spec, subprocess_specs)


TOO_LONG = ("diagram terlalu panjang untuk dibaca: rangkaian langkah berurutan terlalu panjang; "
            "bagi proses menjadi beberapa proses yang lebih pendek")


def _recursed(exc: BaseException) -> bool:
    """SpiffWorkflow's parser wraps a RecursionError (a very long chain of nodes) in its own error."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, RecursionError) or "RecursionError" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _drop_data_associations(root: etree._Element) -> None:
    """Data objects and stores are drawings for the reader: SpiffWorkflow would copy task data into them
    (and stop the request when a step has no such variable), so their associations are not run."""
    for assoc in list(root.iter(f"{{{BPMN}}}dataInputAssociation", f"{{{BPMN}}}dataOutputAssociation")):
        assoc.getparent().remove(assoc)


def _check_size(root: etree._Element) -> None:
    """Refuse a diagram with more flow nodes than anyone draws, before any costly check runs."""
    tags = [f"{{{BPMN}}}{t}" for t in FLOW_NODES | set(UNSUPPORTED) | EVENTS]
    count = sum(1 for _ in root.iter(*tags))
    if count > MAX_FLOW_NODES:
        raise InvalidDiagram([DiagramProblem(
            f"diagram memuat {count} elemen alur (tugas, event, gateway), melebihi batas {MAX_FLOW_NODES}")])
    fields = sum(1 for _ in root.iter(f"{{{CAMUNDA}}}formField"))
    if fields > MAX_FORM_FIELDS:
        raise InvalidDiagram([DiagramProblem(
            f"diagram memuat {fields} field formulir, melebihi batas {MAX_FORM_FIELDS}")])


def _check_documentation(root: etree._Element, check: _Checker) -> None:
    """Documentation is plain text: XHTML in it would be markup in every page that shows the XML."""
    for doc in root.iter(f"{{{BPMN}}}documentation", f"{{{BPMN}}}text"):
        child = next((c for c in doc if isinstance(c.tag, str)), None)
        if child is not None:
            owner = doc.getparent()
            check.add(f"dokumentasi '{owner.get('name') or owner.get('id', '')}' hanya boleh berisi teks, "
                      f"bukan elemen <{etree.QName(child).localname}>", child, owner.get("id"))


def _single_process(root: etree._Element, check: _Checker) -> etree._Element | None:
    processes = root.findall("bpmn:process", NS)
    executable = [p for p in processes if p.get("isExecutable") == "true"]
    if len(executable) != 1:
        check.add(f"diagram harus memuat tepat satu proses dengan isExecutable=\"true\" "
                  f"(ditemukan {len(executable)})", root)
        return None
    return executable[0]


def _properties(el: etree._Element) -> dict[str, str]:
    found = el.findall("bpmn:extensionElements/camunda:properties/camunda:property", NS)
    return {p.get("name", ""): p.get("value", "") for p in found}


def _doc(el: etree._Element) -> str:
    return "\n".join((d.text or "").strip() for d in el.findall("bpmn:documentation", NS)).strip()


def _lane_of(process: etree._Element) -> dict[str, str]:
    lanes: dict[str, str] = {}
    for lane in process.iter(f"{{{BPMN}}}lane"):
        for ref in lane.findall("bpmn:flowNodeRef", NS):
            lanes[(ref.text or "").strip()] = lane.get("name", "")
    return lanes


def _read_model(process: etree._Element, lane_of: dict[str, str], check: _Checker) -> SopModel:
    lane_names: list[str] = []
    for lane in process.iter(f"{{{BPMN}}}lane"):
        name = (lane.get("name") or "").strip()
        if not name:
            check.add("lane tanpa nama: lane dikenali dari namanya", lane)
        elif name in lane_names:
            check.add(f"nama lane '{name}' dipakai dua kali", lane)
        else:
            lane_names.append(name)
    steps: dict[str, Step] = {}
    for task in process:
        if _local(task.tag) in STEP_TASKS:
            steps[task.get("id", "")] = _read_step(task, lane_of.get(task.get("id", ""), ""), check)
    return SopModel(
        key=process.get("id", ""), name=process.get("name") or process.get("id", ""),
        documentation=_doc(process), properties=_properties(process), lanes=tuple(lane_names), steps=steps,
    )


def _int_property(props: dict[str, str], name: str, task: etree._Element, check: _Checker) -> int | None:
    raw = props.get(name)
    if raw is None or raw.strip() == "":
        return None
    if not raw.strip().isdigit():
        check.add(f"properti {name} harus bilangan bulat tidak negatif, bukan '{raw}'", task)
        return None
    return int(raw)


def _read_step(task: etree._Element, lane: str, check: _Checker) -> Step:
    props = _properties(task)
    fields = []
    for xf in task.findall("bpmn:extensionElements/camunda:formData/camunda:formField", NS):
        constraints = tuple((c.get("name", ""), c.get("config") or "")
                            for c in xf.findall("camunda:validation/camunda:constraint", NS))
        fprops = {p.get("id", ""): p.get("value", "")
                  for p in xf.findall("camunda:properties/camunda:property", NS)}
        fields.append(FormField(
            id=xf.get("id", ""), label=xf.get("label") or xf.get("id", ""), type=xf.get("type", "string"),
            required=any(name == "required" for name, _ in constraints),
            required_when=fprops.get("required_when") or None,
            options=tuple((v.get("id", ""), v.get("name") or v.get("id", ""))
                          for v in xf.findall("camunda:value", NS)),
            constraints=constraints, default=xf.get("defaultValue"),
        ))
    return Step(
        id=task.get("id", ""), name=task.get("name") or task.get("id", ""), lane=lane,
        documentation=_doc(task),
        step_no=_int_property(props, "sop_langkah", task, check),
        standard_minutes=_int_property(props, "waktu_menit", task, check),
        inputs=_csv(props.get("kelengkapan")), outputs=_csv(props.get("output")),
        required_uploads=_csv(props.get("unggah_wajib")), handlers=_csv(props.get("handlers")),
        fields=tuple(fields), new_version_required=_csv(props.get("versi_baru_wajib")),
    )


def _check_references(root: etree._Element, process: etree._Element, check: _Checker) -> None:
    ids = {el.get("id"): el for el in root.iter() if isinstance(el.tag, str) and el.get("id")}
    for flow in process.iter(f"{{{BPMN}}}sequenceFlow"):
        for attr in ("sourceRef", "targetRef"):
            ref = flow.get(attr)
            if not ref or ref not in ids:
                check.add(f"{attr} '{ref}' tidak merujuk ke elemen yang ada", flow)
    for ref in process.iter(f"{{{BPMN}}}flowNodeRef"):
        if (ref.text or "").strip() not in ids:
            check.add(f"lane merujuk ke elemen '{(ref.text or '').strip()}' yang tidak ada", ref,
                      ref.getparent().get("id"))
    for el in process.iter():
        default = el.get("default") if isinstance(el.tag, str) else None
        if default and default not in ids:
            check.add(f"alur default '{default}' tidak ada", el)
    for shape in root.iter(f"{{{BPMNDI}}}BPMNShape", f"{{{BPMNDI}}}BPMNEdge", f"{{{BPMNDI}}}BPMNPlane"):
        ref = shape.get("bpmnElement")
        if ref and ref not in ids:
            check.add(f"gambar (DI) merujuk ke elemen '{ref}' yang tidak ada", shape)
    for participant in root.iter(f"{{{BPMN}}}participant"):
        ref = participant.get("processRef")
        if ref and ref not in ids:
            check.add(f"participant merujuk ke proses '{ref}' yang tidak ada", participant)


def _check_flow(process: etree._Element, model: SopModel, lane_of: dict[str, str], check: _Checker) -> None:
    """Refused elements, then reachability: a refused element passes the search on (its cause said once)."""
    nodes: dict[str, etree._Element] = {}
    refused: list[str] = []
    for el in process:
        reason = refusal(el)
        if reason:
            check.add(reason, el)
            refused.append(el.get("id", ""))
            nodes[el.get("id", "")] = el
        elif _local(el.tag) in FLOW_NODES:
            nodes[el.get("id", "")] = el
    for el in process.iter(f"{{{BPMN}}}scriptTask"):
        if el.getparent() is not process:
            check.add(refusal(el) or UNSUPPORTED["scriptTask"], el)
    out_flows: dict[str, list[etree._Element]] = {n: [] for n in nodes}
    in_flows: dict[str, list[str]] = {n: [] for n in nodes}
    for flow in process.findall("bpmn:sequenceFlow", NS):
        src, dst = flow.get("sourceRef", ""), flow.get("targetRef", "")
        if src in nodes and dst in nodes:
            out_flows[src].append(flow)
            in_flows[dst].append(src)
    starts = [n for n, el in nodes.items() if _local(el.tag) == "startEvent"]
    ends = [n for n, el in nodes.items() if _local(el.tag) == "endEvent"]
    if not starts:
        check.add("proses tidak punya start event", process)
    if not ends:
        check.add("proses tidak punya end event", process)
    host = {n: el.get("attachedToRef", "") for n, el in nodes.items() if _local(el.tag) == "boundaryEvent"}
    forward = _reach(starts + refused, lambda n: [f.get("targetRef", "") for f in out_flows.get(n, [])]
                     + [b for b, h in host.items() if h == n])
    backward = _reach(ends + refused, lambda n: in_flows.get(n, []) + ([host[n]] if n in host else []))
    for node_id, el in nodes.items():
        if node_id in refused:
            continue
        if node_id not in forward:
            check.add(f"'{el.get('name') or node_id}' tidak dapat dicapai dari start event", el)
        elif node_id not in backward:
            check.add(f"dari '{el.get('name') or node_id}' tidak ada jalan ke end event", el)
        if _local(el.tag) in STEP_TASKS and model.lanes and node_id not in lane_of:
            check.add("tugas pengguna harus berada di sebuah lane (pelaksana)", el)
    if model.steps and not model.lanes:
        check.add("proses dengan tugas pengguna harus memiliki lane per pelaksana", process)
    field_ids = {f.id for s in model.steps.values() for f in s.fields}
    for node_id, el in nodes.items():
        default = el.get("default")
        flows = out_flows[node_id]
        gateway = _local(el.tag) == "exclusiveGateway"
        for flow in flows:
            cond = flow.find("bpmn:conditionExpression", NS)
            text = (cond.text or "").strip() if cond is not None else ""
            if gateway and len(flows) > 1 and flow.get("id") != default and not text:
                check.add("alur keluar gateway tanpa kondisi (dan bukan alur default)", flow)
            if text:
                _check_expression(text, field_ids, flow, check)


def _read_timers(process: etree._Element, check: _Checker) -> dict[str, TimerEvent]:
    """Timer events with their text checked (other event kinds are `refusal`'s business)."""
    timers: dict[str, TimerEvent] = {}
    starts = process.findall("bpmn:startEvent", NS)
    hosts = {t.get("id") for tag in STEP_TASKS for t in process.findall(f"bpmn:{tag}", NS)}
    for el in process:
        tag = _local(el.tag)
        if tag not in {"startEvent", "intermediateCatchEvent", "boundaryEvent"} \
                or _event_definition(el) != "timerEventDefinition":
            continue
        label = f"timer '{el.get('name') or el.get('id', '')}'"
        if tag == "boundaryEvent" and el.get("attachedToRef") not in hosts:
            check.add(f"{label}: boundary event timer hanya didukung pada tugas (langkah) sebuah lane", el)
            continue
        if tag == "startEvent" and len(starts) > 1:
            check.add(f"{label}: proses dengan start event timer hanya boleh punya satu start event", el)
            continue
        definition = next(d for d in el if _local(d.tag) == "timerEventDefinition")
        texts = [(k, d) for k, name in (("date", "timeDate"), ("duration", "timeDuration"), ("cycle", "timeCycle"))
                 for d in definition.findall(f"bpmn:{name}", NS)]
        if len(texts) != 1:
            check.add(f"{label}: harus punya tepat satu timeDate, timeDuration atau timeCycle", el)
            continue
        kind, node = texts[0]
        if tag == "startEvent" and kind == "duration":
            check.add(f"{label}: start event timer memakai timeDate atau timeCycle, bukan timeDuration", el)
            continue
        working = _properties(el).get(WORKING_TIME_PROPERTY, "").strip().lower() in {"true", "1", "ya"}
        expression = (node.text or "").strip()
        try:
            parse_timer(kind, expression, "UTC", working)
        except TimerError as exc:
            check.add(f"{label}: {exc}", el)
            continue
        event = {"startEvent": "start", "boundaryEvent": "boundary"}.get(tag, "catch")
        timers[el.get("id", "")] = TimerEvent(
            id=el.get("id", ""), name=el.get("name") or el.get("id", ""), event=event, kind=kind,
            expression=expression, working_time=working, attached_to=el.get("attachedToRef"),
            interrupting=el.get("cancelActivity", "true") != "false")
    return timers

def _check_expression(text: str, field_ids: set[str], node: etree._Element, check: _Checker) -> None:
    try:
        unknown = conditions.names(text) - field_ids
    except conditions.ConditionError as exc:
        check.add(f"kondisi '{text}': {exc}", node)
        return
    if unknown:
        check.add(f"kondisi '{text}' memakai nama yang bukan field formulir: {', '.join(sorted(unknown))}", node)


def _reach(starts: list[str], nexts: Any) -> set[str]:
    seen, queue = set(starts), deque(starts)
    while queue:
        for nxt in nexts(queue.popleft()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def _check_steps(process: etree._Element, model: SopModel, handlers: set[str], check: _Checker) -> None:
    by_id = {el.get("id"): el for el in process if _local(el.tag) in STEP_TASKS}
    field_ids = {f.id for s in model.steps.values() for f in s.fields}
    for step in model.steps.values():
        el = by_id[step.id]
        for name in step.handlers:
            if name not in handlers:
                check.add(f"handler '{name}' tidak dikenal (tersedia: {', '.join(sorted(handlers))})", el)
        for key in (*step.inputs, *step.outputs, *step.required_uploads):
            if not DOCUMENT_KEY.match(key):
                check.add(f"jenis dokumen '{key}' tidak valid (huruf kecil, angka, garis bawah)", el)
        for key in step.new_version_required:
            if key not in step.required_uploads:
                check.add(f"versi_baru_wajib '{key}' harus juga tercantum di unggah_wajib", el)
        seen: set[str] = set()
        for f in step.fields:
            if not f.id or not DOCUMENT_KEY.match(f.id):
                check.add(f"id field formulir '{f.id}' tidak valid", el)
            if f.id in seen:
                check.add(f"field formulir '{f.id}' ganda", el)
            seen.add(f.id)
            if f.type not in FIELD_TYPES:
                check.add(f"tipe field '{f.type}' pada '{f.id}' tidak didukung ({', '.join(sorted(FIELD_TYPES))})",
                          el)
            if f.type == "enum" and not f.options:
                check.add(f"field enum '{f.id}' tanpa pilihan", el)
            if f.required_when:
                _check_expression(f.required_when, field_ids, el, check)
        if step.is_decision:
            options = {o for o, _ in step.field(decisions.FIELD).options}  # type: ignore[union-attr]
            if options != decisions.OPTIONS:
                check.add("field keputusan harus punya pilihan tepat 'setuju' dan 'tidak_setuju'", el)
