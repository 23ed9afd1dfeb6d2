"""Deploying diagrams: validation with line and element id, versioning, pinning, restricted conditions."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine import conditions
from engine.actors import SYSTEM
from engine.demo import actor_for_lane
from engine.errors import Forbidden, InvalidData, InvalidDiagram
from engine.models import ProcessDefinition
from engine.services import Alur
from tests.conftest import SOP_FILE
from tests.helpers import current, drive_to, start, step

SOP = SOP_FILE.read_text(encoding="utf-8")


def versions(alur: Alur) -> list[tuple[int, str]]:
    with alur.unit_of_work(write=False) as uow:
        return [(d.version, d.sha256) for d in uow.session.scalars(
            select(ProcessDefinition).order_by(ProcessDefinition.version))]


def refused(alur: Alur, xml: str | bytes) -> InvalidDiagram:
    before = versions(alur)
    with pytest.raises(InvalidDiagram) as err:
        alur.deploy(xml.encode() if isinstance(xml, str) else xml, SYSTEM, "ubah.bpmn")
    assert versions(alur) == before, "a refused diagram must change nothing"
    return err.value


def line_of(xml: str, needle: str) -> int:
    return xml[: xml.index(needle)].count("\n") + 1


def test_identical_redeploy_is_a_no_op_and_new_content_is_next_version(alur: Alur) -> None:
    again = alur.deploy(SOP.encode(), SYSTEM)
    assert not again.created and again.definition.version == 1
    changed = SOP.replace('name="waktu_menit" value="20"', 'name="waktu_menit" value="25"', 1)
    result = alur.deploy(changed.encode(), SYSTEM)
    assert result.created and result.definition.version == 2
    assert [v for v, _ in versions(alur)] == [1, 2]


def test_instances_stay_on_the_version_they_started_on(alur: Alur) -> None:
    old = start(alur)
    changed = SOP.replace('name="waktu_menit" value="20"', 'name="waktu_menit" value="25"', 1)
    alur.deploy(changed.encode(), SYSTEM)
    new = start(alur)
    record_old = drive_to(alur, old, 6)
    record_new = drive_to(alur, new, 6)
    assert record_old.standard_minutes == 20 and record_new.standard_minutes == 25
    assert alur.instance(old, SYSTEM).instance.definition.version == 1
    assert alur.instance(new, SYSTEM).instance.definition.version == 2


def test_only_process_owners_deploy(alur: Alur) -> None:
    with pytest.raises(Forbidden):
        alur.deploy(SOP.encode(), actor_for_lane(alur, "Sekda"))


def test_dangling_reference_is_refused_with_line_and_element(alur: Alur) -> None:
    xml = SOP.replace('sourceRef="gw_02_berkas_lengkap" targetRef="langkah_03_teruskan_surat"',
                      'sourceRef="gw_02_berkas_lengkap" targetRef="langkah_tidak_ada"')
    err = refused(alur, xml)
    problem = next(p for p in err.problems if "langkah_tidak_ada" in p.message)
    assert problem.element_id == "flow_02_setuju"
    assert problem.line == line_of(xml, 'id="flow_02_setuju"')


def test_unreachable_task_is_refused(alur: Alur) -> None:
    orphan = ('<bpmn:userTask id="langkah_yatim" name="Langkah yatim" />\n  </bpmn:process>')
    xml = SOP.replace("</bpmn:process>", orphan).replace(
        "<bpmn:flowNodeRef>langkah_13_terima_surat</bpmn:flowNodeRef>",
        "<bpmn:flowNodeRef>langkah_13_terima_surat</bpmn:flowNodeRef><bpmn:flowNodeRef>langkah_yatim"
        "</bpmn:flowNodeRef>")
    err = refused(alur, xml)
    problem = next(p for p in err.problems if p.element_id == "langkah_yatim")
    assert "tidak dapat dicapai" in problem.message
    assert problem.line == line_of(xml, 'id="langkah_yatim"')


def test_import_in_a_condition_is_refused(alur: Alur) -> None:
    xml = SOP.replace("keputusan == 'setuju'", "__import__('os').system('touch /tmp/alur-pwned')", 1)
    err = refused(alur, xml)
    assert any("pemanggilan fungsi" in p.message or "Call" in p.message for p in err.problems)
    assert all(p.line for p in err.problems)


@pytest.mark.parametrize("condition, reason", [
    ("keputusan.upper() == 'SETUJU'", "Call"),
    ("keputusan.__class__ == 1", "Attribute"),
    ("keputusan[0] == 's'", "Subscript"),
    ("rahasia == 'x'", "bukan field formulir"),
])
def test_other_unsafe_or_unknown_conditions_are_refused(alur: Alur, condition: str, reason: str) -> None:
    xml = SOP.replace("keputusan == 'setuju'", condition, 1)
    err = refused(alur, xml)
    assert any(reason in p.message for p in err.problems)


def test_external_entity_is_refused_and_not_expanded(alur: Alur) -> None:
    xml = SOP.replace('<?xml version="1.0" encoding="UTF-8"?>',
                      '<?xml version="1.0" encoding="UTF-8"?>\n'
                      '<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', 1)
    xml = xml.replace("<bpmn:documentation>SOP Fasilitasi", "<bpmn:documentation>&xxe; SOP Fasilitasi", 1)
    err = refused(alur, xml)
    assert "root:" not in str(err)
    assert any("DOCTYPE" in p.message or "entitas" in p.message for p in err.problems)


def test_billion_laughs_and_deep_nesting_and_script_task_are_refused(alur: Alur) -> None:
    laughs = ('<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">'
              '<!ENTITY c "&b;&b;&b;&b;&b;&b;">]><bpmn:definitions '
              'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&c;</bpmn:definitions>')
    refused(alur, laughs)
    deep = SOP.replace("<bpmn:documentation>SOP Fasilitasi",
                       "<bpmn:documentation>" + "<x>" * 60 + "</x>" * 60 + "SOP Fasilitasi", 1)
    assert any("terlalu dalam" in p.message for p in refused(alur, deep).problems)
    script = SOP.replace("</bpmn:process>", '<bpmn:scriptTask id="skrip"><bpmn:script>1</bpmn:script>'
                         "</bpmn:scriptTask></bpmn:process>")
    assert any(p.element_id == "skrip" for p in refused(alur, script).problems)
    assert any("melebihi batas" in p.message for p in refused(alur, b" " * (3 * 1024 * 1024)).problems)


def test_unknown_handler_and_bad_standard_time_are_refused(alur: Alur) -> None:
    xml = SOP.replace('value="penomoran_surat"', 'value="penomoran_ajaib"', 1)
    err = refused(alur, xml)
    assert any("penomoran_ajaib" in p.message and p.element_id == "langkah_11_penomoran_surat"
               for p in err.problems)
    xml = SOP.replace('name="waktu_menit" value="20"', 'name="waktu_menit" value="dua puluh"', 1)
    assert any("waktu_menit" in p.message for p in refused(alur, xml).problems)


def test_not_xml_at_all_gives_the_line(alur: Alur) -> None:
    err = refused(alur, "<bpmn:definitions>\n<oops>")
    assert err.problems[0].line is not None


def test_restricted_evaluator_language() -> None:
    assert conditions.evaluate("keputusan == 'setuju' and not x", {"keputusan": "setuju"}) is True
    assert conditions.evaluate("n >= 3 or k in ['a', 'b']", {"n": 1, "k": "b"}) is True
    for bad in ["__import__('os')", "open('/etc/passwd')", "a.b", "a[0]", "lambda: 1", "[x for x in y]",
                "_secret == 1"]:
        with pytest.raises(conditions.ConditionError):
            conditions.parse(bad)


def test_a_changed_routing_is_followed_without_code_changes(alur: Alur) -> None:
    """A process owner makes the Sekda's return go to the Kasubbag instead; the engine follows."""
    xml = SOP.replace('sourceRef="gw_10_persetujuan_sekda" targetRef="gw_gabung_09"',
                      'sourceRef="gw_10_persetujuan_sekda" targetRef="gw_gabung_06"')
    assert xml != SOP
    alur.deploy(xml.encode(), SYSTEM)
    iid = start(alur)
    drive_to(alur, iid, 10)
    step(alur, iid, "tidak_setuju")
    assert current(alur, iid).step_no == 6
    with alur.unit_of_work(write=False) as uow:
        assert uow.session.scalar(select(func.count()).select_from(ProcessDefinition)) == 2


def test_a_gateway_whose_conditions_all_fail_is_a_clear_error_and_changes_nothing(alur: Alur) -> None:
    """A process owner narrows step 2's 'setuju' flow to a value no one can give: the engine says so."""
    xml = SOP.replace("keputusan == 'setuju'", "keputusan == 'setuju' and catatan == 'mustahil'", 1)
    alur.deploy(xml.encode(), SYSTEM)
    iid = start(alur)
    record = drive_to(alur, iid, 2)
    with pytest.raises(InvalidData, match="tidak dapat dilanjutkan"):
        alur.complete(record.id, actor_for_lane(alur, record.lane), {"keputusan": "setuju"})
    assert current(alur, iid).id == record.id
    assert alur.verify(iid) == []


def test_a_message_catch_event_is_refused_rather_than_left_waiting_forever(alur: Alur) -> None:
    """Nothing delivers messages to a request: a message catch event would wait forever, so it is refused."""
    message = ('<bpmn:intermediateCatchEvent id="tunggu"><bpmn:messageEventDefinition id="m1"/>'
               '</bpmn:intermediateCatchEvent>\n  </bpmn:process>')
    err = refused(alur, SOP.replace("</bpmn:process>", message))
    assert any(p.element_id == "tunggu" and "pesan" in p.message and "tidak didukung" in p.message
               for p in err.problems)
