"""What changed between two versions of a process, said in the SOP's terms.

A process owner compares versions as steps, lanes, standard times, form fields, documents,
decisions and return paths, not as XML. Steps come from the parsed SOP model; lanes,
gateways, events and flows from a small graph read from the XML (ids, names, lines).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.diagram import BPMN, NS, SopModel, Step, _local, safe_parse

STEP_KINDS = {"userTask", "manualTask", "task"}
DECISION_KINDS = {"exclusiveGateway", "parallelGateway"}
EVENT_KINDS = {"startEvent", "endEvent", "intermediateThrowEvent"}
DOCUMENT_ASPECTS = {"kelengkapan": "inputs", "output": "outputs", "unggah_wajib": "required_uploads"}


@dataclass(frozen=True)
class Node:
    id: str
    kind: str
    name: str
    lane: str
    line: int | None


@dataclass(frozen=True)
class Flow:
    id: str
    source: str
    target: str
    name: str
    condition: str
    is_default: bool
    line: int | None


@dataclass(frozen=True)
class Lane:
    id: str
    name: str
    line: int | None
    members: tuple[str, ...]


@dataclass
class Graph:
    """The shape of one diagram's executable process: nodes, flows, lanes by element id."""

    nodes: dict[str, Node] = field(default_factory=dict)
    flows: dict[str, Flow] = field(default_factory=dict)
    lanes: dict[str, Lane] = field(default_factory=dict)

    def reachable(self, starts: list[str]) -> set[str]:
        """Node ids reachable from `starts` (inclusive) along sequence flows."""
        out: dict[str, list[str]] = {}
        for f in self.flows.values():
            out.setdefault(f.source, []).append(f.target)
        seen, todo = set(starts), list(starts)
        while todo:
            for nxt in out.get(todo.pop(), []):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen


def read_graph(xml: bytes | str) -> Graph:
    """Read the executable process of an already valid diagram."""
    tree = safe_parse(xml.encode() if isinstance(xml, str) else xml)
    process = next(p for p in tree.getroot().findall("bpmn:process", NS) if p.get("isExecutable") == "true")
    graph = Graph()
    lane_of: dict[str, str] = {}
    for lane in process.iter(f"{{{BPMN}}}lane"):
        members = tuple((r.text or "").strip() for r in lane.findall("bpmn:flowNodeRef", NS))
        graph.lanes[lane.get("id", "")] = Lane(lane.get("id", ""), (lane.get("name") or "").strip(),
                                               lane.sourceline, members)
        for m in members:
            lane_of[m] = (lane.get("name") or "").strip()
    defaults = {el.get("default") for el in process if isinstance(el.tag, str) and el.get("default")}
    for el in process:
        kind = _local(el.tag)
        if kind == "sequenceFlow":
            cond = el.find("bpmn:conditionExpression", NS)
            graph.flows[el.get("id", "")] = Flow(
                el.get("id", ""), el.get("sourceRef", ""), el.get("targetRef", ""), el.get("name") or "",
                (cond.text or "").strip() if cond is not None else "", el.get("id") in defaults, el.sourceline)
        elif kind in STEP_KINDS | DECISION_KINDS | EVENT_KINDS:
            node_id = el.get("id", "")
            graph.nodes[node_id] = Node(node_id, kind, el.get("name") or "", lane_of.get(node_id, ""),
                                        el.sourceline)
    return graph


@dataclass(frozen=True)
class Change:
    kind: str            # added | removed | changed
    element_id: str
    element_type: str    # step | lane | decision | flow | field | document | event
    name: str
    aspect: str          # what changed: nama, lane, waktu_menit, field:<id>, kelengkapan, kondisi, ...
    before: Any
    after: Any
    message: str


@dataclass
class VersionDiff:
    key: str
    from_version: int
    to_version: int
    changes: list[Change] = field(default_factory=list)

    @property
    def element_status(self) -> dict[str, str]:
        """Element id -> added/removed/changed, for colouring both diagrams."""
        status: dict[str, str] = {}
        for c in self.changes:
            if c.kind in ("added", "removed") and c.element_type not in ("field", "document"):
                status[c.element_id] = c.kind
            else:
                status.setdefault(c.element_id, "changed")
        return status


def diff_versions(key: str, from_version: int, to_version: int, old_model: SopModel, new_model: SopModel,
                  old_graph: Graph, new_graph: Graph) -> VersionDiff:
    result = VersionDiff(key, from_version, to_version)
    add = result.changes.append
    _diff_lanes(old_graph, new_graph, add)
    _diff_steps(old_model, new_model, old_graph, new_graph, add)
    _diff_nodes(old_graph, new_graph, DECISION_KINDS, "decision", "Keputusan", add)
    _diff_nodes(old_graph, new_graph, EVENT_KINDS, "event", "Peristiwa", add)
    _diff_flows(old_graph, new_graph, add)
    return result


def _label(name: str, element_id: str) -> str:
    return name or element_id


def _diff_lanes(old: Graph, new: Graph, add: Any) -> None:
    for lane_id, lane in new.lanes.items():
        before = old.lanes.get(lane_id)
        if before is None:
            add(Change("added", lane_id, "lane", lane.name, "lane", None, lane.name,
                       f"Lane baru '{lane.name}'."))
        elif before.name != lane.name:
            add(Change("changed", lane_id, "lane", lane.name, "nama", before.name, lane.name,
                       f"Lane '{before.name}' berganti nama menjadi '{lane.name}' (anggota lane dikenali dari "
                       "namanya)."))
    for lane_id, lane in old.lanes.items():
        if lane_id not in new.lanes:
            add(Change("removed", lane_id, "lane", lane.name, "lane", lane.name, None,
                       f"Lane '{lane.name}' dihapus."))


def _step_nodes(model: SopModel, graph: Graph) -> dict[str, tuple[str, str]]:
    """Step id -> (name, lane) for user tasks and other tasks alike."""
    found = {n.id: (n.name or n.id, n.lane) for n in graph.nodes.values() if n.kind in STEP_KINDS}
    found.update({s.id: (s.name, s.lane) for s in model.steps.values()})
    return found


def _diff_steps(old_model: SopModel, new_model: SopModel, old_graph: Graph, new_graph: Graph, add: Any) -> None:
    old_steps, new_steps = _step_nodes(old_model, old_graph), _step_nodes(new_model, new_graph)
    for step_id, (name, lane) in new_steps.items():
        if step_id not in old_steps:
            add(Change("added", step_id, "step", name, "langkah", None, name,
                       f"Langkah baru '{name}' di lane '{lane}'."))
            continue
        old_name, old_lane = old_steps[step_id]
        if old_name != name:
            add(Change("changed", step_id, "step", name, "nama", old_name, name,
                       f"Langkah '{old_name}' berganti nama menjadi '{name}'."))
        if old_lane != lane:
            add(Change("changed", step_id, "step", name, "lane", old_lane, lane,
                       f"Langkah '{name}' pindah dari lane '{old_lane}' ke lane '{lane}'."))
        before, after = old_model.steps.get(step_id), new_model.steps.get(step_id)
        if before is not None and after is not None:
            _diff_step_details(before, after, add)
    for step_id, (name, _lane) in old_steps.items():
        if step_id not in new_steps:
            add(Change("removed", step_id, "step", name, "langkah", name, None, f"Langkah '{name}' dihapus."))


def _minutes(value: int | None) -> str:
    return "tanpa waktu baku" if value is None else f"{value} menit"


def _diff_step_details(before: Step, after: Step, add: Any) -> None:
    name = after.name
    if before.standard_minutes != after.standard_minutes:
        add(Change("changed", after.id, "step", name, "waktu_menit", before.standard_minutes,
                   after.standard_minutes, f"Waktu baku langkah '{name}' berubah dari "
                   f"{_minutes(before.standard_minutes)} menjadi {_minutes(after.standard_minutes)}."))
    if before.step_no != after.step_no:
        add(Change("changed", after.id, "step", name, "sop_langkah", before.step_no, after.step_no,
                   f"Nomor langkah '{name}' di SOP berubah dari {before.step_no} menjadi {after.step_no}."))
    if before.documentation != after.documentation:
        add(Change("changed", after.id, "step", name, "uraian", before.documentation, after.documentation,
                   f"Uraian langkah '{name}' diubah."))
    if before.handlers != after.handlers:
        add(Change("changed", after.id, "step", name, "handlers", list(before.handlers), list(after.handlers),
                   f"Tindakan otomatis langkah '{name}' berubah dari {', '.join(before.handlers) or '-'} "
                   f"menjadi {', '.join(after.handlers) or '-'}."))
    for aspect, attr in DOCUMENT_ASPECTS.items():
        old_docs, new_docs = getattr(before, attr), getattr(after, attr)
        if set(old_docs) != set(new_docs):
            added = sorted(set(new_docs) - set(old_docs))
            removed = sorted(set(old_docs) - set(new_docs))
            parts = ([f"ditambah {', '.join(added)}"] if added else []) + (
                [f"dihapus {', '.join(removed)}"] if removed else [])
            add(Change("changed", after.id, "document", name, aspect, list(old_docs), list(new_docs),
                       f"Dokumen {aspect} langkah '{name}': {'; '.join(parts)}."))
    _diff_fields(before, after, add)


def _field_view(f: Any) -> dict[str, Any]:
    return {"label": f.label, "type": f.type, "required": f.required, "required_when": f.required_when,
            "options": [list(o) for o in f.options]}


def _diff_fields(before: Step, after: Step, add: Any) -> None:
    name = after.name
    old_fields = {f.id: f for f in before.fields}
    new_fields = {f.id: f for f in after.fields}
    for fid, f in new_fields.items():
        aspect = f"field:{fid}"
        if fid not in old_fields:
            add(Change("added", after.id, "field", name, aspect, None, _field_view(f),
                       f"Isian '{f.label}' ditambahkan pada langkah '{name}'"
                       f"{' (wajib)' if f.required else ''}."))
            continue
        o = old_fields[fid]
        if o.label != f.label:
            add(Change("changed", after.id, "field", name, aspect, o.label, f.label,
                       f"Label isian '{o.label}' pada langkah '{name}' menjadi '{f.label}'."))
        if o.required != f.required or o.required_when != f.required_when:
            add(Change("changed", after.id, "field", name, aspect,
                       {"required": o.required, "required_when": o.required_when},
                       {"required": f.required, "required_when": f.required_when},
                       f"Isian '{f.label}' pada langkah '{name}' "
                       f"{'menjadi wajib' if f.required else 'tidak lagi wajib'}"
                       f"{f' (wajib jika {f.required_when})' if f.required_when else ''}."))
        if o.options != f.options:
            add(Change("changed", after.id, "field", name, aspect, [list(x) for x in o.options],
                       [list(x) for x in f.options],
                       f"Pilihan isian '{f.label}' pada langkah '{name}' berubah menjadi "
                       f"{', '.join(label for _, label in f.options) or '-'}."))
        if o.type != f.type:
            add(Change("changed", after.id, "field", name, aspect, o.type, f.type,
                       f"Tipe isian '{f.label}' pada langkah '{name}' berubah dari {o.type} menjadi {f.type}."))
    for fid, o in old_fields.items():
        if fid not in new_fields:
            add(Change("removed", after.id, "field", name, f"field:{fid}", _field_view(o), None,
                       f"Isian '{o.label}' dihapus dari langkah '{name}'."))


def _diff_nodes(old: Graph, new: Graph, kinds: set[str], element_type: str, noun: str, add: Any) -> None:
    old_nodes = {k: n for k, n in old.nodes.items() if n.kind in kinds}
    new_nodes = {k: n for k, n in new.nodes.items() if n.kind in kinds}
    for node_id, n in new_nodes.items():
        label = _label(n.name, node_id)
        if node_id not in old_nodes:
            add(Change("added", node_id, element_type, label, element_type, None, label,
                       f"{noun} baru '{label}' di lane '{n.lane}'."))
            continue
        o = old_nodes[node_id]
        if o.name != n.name:
            add(Change("changed", node_id, element_type, label, "nama", o.name, n.name,
                       f"{noun} '{_label(o.name, node_id)}' berganti nama menjadi '{label}'."))
        if o.lane != n.lane:
            add(Change("changed", node_id, element_type, label, "lane", o.lane, n.lane,
                       f"{noun} '{label}' pindah dari lane '{o.lane}' ke lane '{n.lane}'."))
    for node_id, o in old_nodes.items():
        if node_id not in new_nodes:
            label = _label(o.name, node_id)
            add(Change("removed", node_id, element_type, label, element_type, label, None,
                       f"{noun} '{label}' dihapus."))


def _flow_text(flow: Flow, graph: Graph) -> str:
    def name(node_id: str) -> str:
        node = graph.nodes.get(node_id)
        return _label(node.name, node_id) if node else node_id

    text = f"dari '{name(flow.source)}' ke '{name(flow.target)}'"
    if flow.condition:
        text += f" jika {flow.condition}"
    return text


def _is_return(flow: Flow) -> bool:
    return "tidak_setuju" in flow.condition


def _diff_flows(old: Graph, new: Graph, add: Any) -> None:
    for flow_id, f in new.flows.items():
        label = _label(f.name, flow_id)
        path = "Jalur pengembalian" if _is_return(f) else "Alur"
        if flow_id not in old.flows:
            add(Change("added", flow_id, "flow", label, "alur", None, _flow_text(f, new),
                       f"{path} baru {_flow_text(f, new)}."))
            continue
        o = old.flows[flow_id]
        if (o.source, o.target) != (f.source, f.target):
            add(Change("changed", flow_id, "flow", label, "tujuan", _flow_text(o, old), _flow_text(f, new),
                       f"{path} '{label}' kini {_flow_text(f, new)} (sebelumnya {_flow_text(o, old)})."))
        if o.condition != f.condition or o.is_default != f.is_default:
            add(Change("changed", flow_id, "flow", label, "kondisi", o.condition or None, f.condition or None,
                       f"Kondisi {path.lower()} '{label}' berubah dari "
                       f"'{o.condition or ('default' if o.is_default else '-')}' menjadi "
                       f"'{f.condition or ('default' if f.is_default else '-')}'."))
        if o.name != f.name and (o.source, o.target) == (f.source, f.target):
            add(Change("changed", flow_id, "flow", label, "nama", o.name, f.name,
                       f"Nama alur '{_label(o.name, flow_id)}' menjadi '{label}'."))
    for flow_id, o in old.flows.items():
        if flow_id not in new.flows:
            path = "Jalur pengembalian" if _is_return(o) else "Alur"
            add(Change("removed", flow_id, "flow", _label(o.name, flow_id), "alur", _flow_text(o, old), None,
                       f"{path} {_flow_text(o, old)} dihapus."))
