"""Revised copies of the bundled SOP, made by editing its XML with lxml (for the owner's desk tests)."""

from __future__ import annotations

from lxml import etree

from engine.diagram import BPMN, NS
from tests.conftest import SOP_FILE

NEW_LANE = "Bagian Hukum"
NEW_STEP = "langkah_06b_telaah_hukum"
NEW_GATEWAY = "gw_06b_persetujuan_hukum"
DECISION_FORM = """
<camunda:formData xmlns:camunda="http://camunda.org/schema/1.0/bpmn">
  <camunda:formField id="keputusan" label="Keputusan" type="enum">
    <camunda:validation><camunda:constraint name="required" /></camunda:validation>
    <camunda:value id="setuju" name="Setuju" />
    <camunda:value id="tidak_setuju" name="Tidak setuju (kembalikan)" />
  </camunda:formField>
  <camunda:formField id="catatan" label="Catatan (wajib jika tidak setuju)" type="string">
    <camunda:properties><camunda:property id="required_when" value="keputusan == 'tidak_setuju'" /></camunda:properties>
  </camunda:formField>
</camunda:formData>"""


def _tree() -> etree._ElementTree:
    return etree.ElementTree(etree.fromstring(SOP_FILE.read_bytes()))


def _process(tree: etree._ElementTree) -> etree._Element:
    return tree.getroot().find("bpmn:process", NS)


def _by_id(tree: etree._ElementTree, element_id: str) -> etree._Element:
    return tree.getroot().xpath(f"//*[@id='{element_id}']")[0]


def _sub(parent: etree._Element, tag: str, **attrs: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{BPMN}}}{tag}", **attrs)


def set_property(tree: etree._ElementTree, step_id: str, name: str, value: str) -> None:
    prop = _by_id(tree, step_id).xpath(f".//camunda:property[@name='{name}']", namespaces=NS)[0]
    prop.set("value", value)


def add_decision_step(tree: etree._ElementTree, after: str = "langkah_06_buat_draft",
                      join: str = "gw_gabung_07", back_to: str = "gw_gabung_06") -> None:
    """A decision step in a new lane between `after` and `join`; 'tidak setuju' returns to `back_to`."""
    process = _process(tree)
    lane = _sub(tree.getroot().find(".//bpmn:laneSet", NS), "lane", id="lane_bagian_hukum", name=NEW_LANE)
    for ref in (NEW_STEP, NEW_GATEWAY):
        _sub(lane, "flowNodeRef").text = ref
    task = _sub(process, "userTask", id=NEW_STEP, name="Telaah hukum draft surat")
    _sub(task, "documentation").text = "Menelaah aspek hukum draft surat balasan."
    ext = _sub(task, "extensionElements")
    ext.append(etree.fromstring(DECISION_FORM))
    props = etree.SubElement(ext, "{http://camunda.org/schema/1.0/bpmn}properties")
    for name, value in (("waktu_menit", "10"), ("kelengkapan", "draft_surat"), ("output", "draft_surat")):
        etree.SubElement(props, "{http://camunda.org/schema/1.0/bpmn}property", name=name, value=value)
    gateway = _sub(process, "exclusiveGateway", id=NEW_GATEWAY, name="Disetujui Bagian Hukum?")
    incoming = next(f for f in process.findall("bpmn:sequenceFlow", NS)
                    if f.get("sourceRef") == after and f.get("targetRef") == join)
    incoming.set("targetRef", NEW_STEP)
    _sub(process, "sequenceFlow", id="flow_06b_ke_keputusan", sourceRef=NEW_STEP, targetRef=NEW_GATEWAY)
    setuju = _sub(process, "sequenceFlow", id="flow_06b_setuju", name="Setuju", sourceRef=NEW_GATEWAY,
                  targetRef=join)
    tidak = _sub(process, "sequenceFlow", id="flow_06b_tidak_setuju", name="Tidak setuju",
                 sourceRef=NEW_GATEWAY, targetRef=back_to)
    for flow, value in ((setuju, "setuju"), (tidak, "tidak_setuju")):
        cond = _sub(flow, "conditionExpression")
        cond.set("{http://www.w3.org/2001/XMLSchema-instance}type", "bpmn:tFormalExpression")
        cond.text = f"keputusan == '{value}'"
    _sub(task, "incoming").text = incoming.get("id")
    _sub(task, "outgoing").text = "flow_06b_ke_keputusan"
    _sub(gateway, "incoming").text = "flow_06b_ke_keputusan"
    _sub(gateway, "outgoing").text = "flow_06b_setuju"
    _sub(gateway, "outgoing").text = "flow_06b_tidak_setuju"


def to_bytes(tree: etree._ElementTree) -> bytes:
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")


def revised_sop() -> bytes:
    """The three changes of the issue: a standard time, a label, a new decision step in a new lane."""
    tree = _tree()
    set_property(tree, "langkah_06_buat_draft", "waktu_menit", "30")
    label = _by_id(tree, "langkah_03_teruskan_surat").xpath(".//camunda:formField[@id='catatan']",
                                                            namespaces=NS)[0]
    label.set("label", "Catatan untuk Kepala Biro")
    add_decision_step(tree)
    return to_bytes(tree)


def renamed_step_sop(old_id: str = "langkah_06_buat_draft", new_id: str = "langkah_06_susun_draft") -> bytes:
    """The bundled SOP with one step's id changed (as if deleted and redrawn in a modeler)."""
    text = SOP_FILE.read_text(encoding="utf-8").replace(old_id, new_id)
    return text.encode()
