"""The process owner's desk in a real browser: model, check, deploy, compare, migrate.

The real app (CSRF on, the modeler page's own CSP) runs under werkzeug on 127.0.0.1 and Debian's
chromium is driven through Playwright, as in tests/test_ui_browser.py. The properties panel is
used by typing; shapes are placed with the modeler's own API (window.alurModeler), since dragging
on a canvas is not what this test is about. Screenshots (1366 and 390 px wide) go to
/tmp/alur-desk-screens/. If /usr/bin/chromium is missing the test fails (never skips).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from engine.actors import SYSTEM
from engine.demo import actor_for_lane
from engine.services import Alur
from engine.settings import ROOT
from engine.users import DEMO_PASSWORD, create_user
from tests.helpers import PROCESS, current, drive_to, start, step

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # Chromium, and bpmnlint's node run (make test-fast skips)

SCREENSHOTS = Path("/tmp/alur-desk-screens")
BPMNLINT = ROOT / "node_modules" / ".bin" / "bpmnlint"
NEW_LANE = "Bendahara"
NEW_STEP = "Verifikasi anggaran"
NEW_LABEL = "Disposisi Kepala Biro"


def bpmnlint(path: Path) -> str:
    """bpmnlint's recommended rules (the repository's .bpmnlintrc) on one file; '' when clean."""
    if not BPMNLINT.exists():
        pytest.fail(f"{BPMNLINT} not found: run npm ci in {ROOT}")
    env = dict(os.environ, NO_COLOR="1", FORCE_COLOR="0")
    result = subprocess.run([str(BPMNLINT), str(path)], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env=env)
    output = (result.stdout + result.stderr).strip()
    return output if result.returncode or output else ""


class Desk:
    """The pages, as a process owner uses them."""

    def __init__(self, page: Any, base: str) -> None:
        self.page, self.base = page, base

    def login(self, username: str) -> None:
        from playwright.sync_api import expect

        self.page.goto(f"{self.base}/login")
        self.page.fill("#username", username)
        self.page.fill("#password", DEMO_PASSWORD)
        self.page.click("button:has-text('Masuk')")
        # lane members land on their tasks, process owners and admins on their home (issue 10)
        expect(self.page.locator("h1")).to_have_text(re.compile(r"^(Tugas saya|Beranda (pemilik proses|admin))$"))

    def logout(self) -> None:
        self.page.click("button:has-text('Keluar')")

    def open_modeler(self, version: int) -> None:
        self.page.goto(f"{self.base}/meja/modeler?proses={PROCESS}&versi={version}")
        self.page.wait_for_selector("#modeler[data-loaded='true']")

    def select(self, element_id: str) -> None:
        self.page.evaluate("id => { const m = window.alurModeler;"
                           " m.get('selection').select(m.get('elementRegistry').get(id)); }", element_id)

    def group(self, title: str) -> Any:
        """A group of the properties panel, opened."""
        group = self.page.locator(".bio-properties-panel-group").filter(
            has=self.page.locator(".bio-properties-panel-group-header-title", has_text=title)).first
        header = group.locator(".bio-properties-panel-group-header")
        if "open" not in (header.get_attribute("class") or ""):
            header.click()
        return group

    def type_into(self, locator: Any, value: str) -> None:
        locator.fill(value)
        locator.press("Tab")

    def set_name(self, element_id: str, name: str) -> None:
        self.select(element_id)
        self.group("Umum")
        self.type_into(self.page.locator("#bio-properties-panel-name"), name)

    def set_extension_property(self, element_id: str, name: str, value: str) -> str:
        """Change a camunda:property in the panel's "Extension properties"; return the value it had."""
        self.select(element_id)
        group = self.group("Properti tambahan")
        entry = group.locator(".bio-properties-panel-collapsible-entry").filter(
            has=self.page.locator(".bio-properties-panel-collapsible-entry-header-title", has_text=name)).first
        entry.locator(".bio-properties-panel-collapsible-entry-header").click()
        field = entry.locator("input[id$='-value']")
        before = field.input_value()
        self.type_into(field, value)
        return before

    def template_field(self, label: str) -> Any:
        return self.page.locator(".bio-properties-panel-entry").filter(
            has=self.page.locator(f"label:text-is('{label}')")).locator("input, select").first

    def xml(self) -> str:
        return self.page.evaluate("() => window.alurModeler.saveXML({ format: true }).then(r => r.xml)")

    def screenshots(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for width in (1366, 390):
            self.page.set_viewport_size({"width": width, "height": 900})
            self.page.wait_for_timeout(400)
            self.page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
        self.page.set_viewport_size({"width": 1366, "height": 900})


ADD_LANE_AND_STEP = """() => {
  // A new lane under the last one, and a task in it between step 12 and step 13.
  const m = window.alurModeler, reg = m.get('elementRegistry'), modeling = m.get('modeling');
  const lane = modeling.addLane(reg.get('lane_sekda'), 'bottom');
  const s12 = reg.get('langkah_12_sampaikan_surat'), s13 = reg.get('langkah_13_terima_surat');
  const old = s12.outgoing.find(f => f.target === s13);
  modeling.removeConnection(old);
  const task = modeling.createShape({ type: 'bpmn:Task' },
                                    { x: s12.x + s12.width / 2 + 80, y: lane.y + lane.height / 2 }, lane.parent);
  modeling.connect(s12, task, { type: 'bpmn:SequenceFlow' });
  modeling.connect(task, s13, { type: 'bpmn:SequenceFlow' });
  return { lane: lane.id, task: task.id };
}"""


def test_owner_revises_compares_and_migrates_in_the_browser(live: tuple[str, Alur], browser: Any,
                                                             tmp_path: Path) -> None:
    from playwright.sync_api import expect

    base, alur = live
    # A request already running on version 1, waiting at step 12.
    instance_id = start(alur)
    drive_to(alur, instance_id, 12)

    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="id-ID")
    context.set_default_timeout(20_000)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    desk = Desk(page, base)

    # The desk is linked from the menu for the process owner.
    desk.login("pemilik-proses")
    page.click("nav >> text=Meja pemilik proses")
    expect(page.locator("h1")).to_have_text("Proses dan versinya")
    page.click("#desk-processes a:has-text('Buka di modeler')")
    page.wait_for_selector("#modeler[data-loaded='true']")
    assert "style-src-attr 'unsafe-inline'" in (page.evaluate(
        "() => fetch(location.href).then(r => r.headers.get('content-security-policy'))"))
    expect(page.locator("h1")).to_contain_text("dibuka dari versi 1")

    # 1. One standard time and one label, in the properties panel.
    assert desk.set_extension_property("langkah_06_buat_draft", "waktu_menit", "30") == "20"
    desk.set_name("langkah_04_disposisi", NEW_LABEL)

    # 2. A new lane with a step from the "Langkah keputusan" template.
    added = page.evaluate(ADD_LANE_AND_STEP)
    desk.set_name(added["lane"], NEW_LANE)
    desk.set_name(added["task"], NEW_STEP)
    desk.select(added["task"])
    desk.group("Template").locator("button:has-text('Pilih')").click()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "template-chooser-1366.png"))
    page.click(".djs-popup-body .entry:has-text('Langkah keputusan')")
    expect(page.locator(".bio-properties-panel-header-type")).to_contain_text("Langkah keputusan", ignore_case=True)
    desk.group("Langkah SOP")
    desk.type_into(desk.template_field("Nomor langkah SOP"), "13")
    desk.type_into(desk.template_field("Waktu baku (menit)"), "10")
    desk.type_into(desk.template_field("Kelengkapan (dokumen masuk)"), "surat_ditandatangani")
    desk.group("Dokumentasi")
    desk.type_into(page.locator("#bio-properties-panel-documentation"), "Memverifikasi anggaran honor narasumber.")
    xml = desk.xml()
    assert 'camunda:formField id="keputusan"' in xml and "required_when" in xml

    # 3. The server's check: no errors, the lane without members is warned by name; a click selects it.
    expect(page.locator("#btn-deploy")).to_be_disabled()
    page.click("#btn-check")
    page.wait_for_selector("#modeler[data-checked]")
    assert page.get_attribute("#modeler", "data-checked") == "clean", page.inner_text("#check-result")
    warning = page.locator(".check-warnings button.problem", has_text=NEW_LANE)
    expect(warning).to_have_count(1)
    expect(warning).to_contain_text("baris ")
    warning.click()
    selected = page.evaluate("() => window.alurModeler.get('selection').get().map(e => e.id)")
    assert selected == [added["lane"]]
    page.click("button:has-text('Periksa diagram')")  # selecting changed nothing: still clean
    page.wait_for_selector("#modeler[data-checked='clean']")
    desk.screenshots("modeler")

    # 4. Deploy: version 2; the versions page lists both.
    expect(page.locator("#btn-deploy")).to_be_enabled()
    page.click("#btn-deploy")
    page.wait_for_url(f"**/meja/proses/{PROCESS}/versi")
    expect(page.locator(".flash-ok")).to_contain_text("Versi 2")
    expect(page.locator(".flash-info")).to_contain_text(NEW_LANE)
    expect(page.locator("#versions tbody tr")).to_have_count(2)
    row1 = page.locator("#versions tr[data-version='1']")
    expect(row1.locator(".running")).to_have_text("1")
    expect(page.locator("#versions tr[data-version='2'] td").nth(2)).to_have_text("pemilik-proses")
    v2 = alur.definition(PROCESS, 2)
    stored = alur.diagram_xml(v2)
    assert stored == xml  # what passed the check is what is stored
    saved = tmp_path / "v2.bpmn"
    saved.write_text(stored, encoding="utf-8")
    assert bpmnlint(saved) == ""
    new_step = next(s for s in alur.parsed(v2).model.steps.values() if s.name == NEW_STEP)
    assert (new_step.lane, new_step.is_decision, new_step.standard_minutes) == (NEW_LANE, True, 10)
    desk.screenshots("versions")

    # 5. The difference page: both diagrams coloured, the three changes in the table.
    page.click("#compare-form button:has-text('Bandingkan')")
    expect(page.locator("h1")).to_contain_text("versi 1 → 2")
    page.wait_for_selector("#diagram-before[data-rendered='true']")
    page.wait_for_selector("#diagram-after[data-rendered='true']")
    changes = page.locator("#changes tbody")
    expect(changes.locator(f"tr[data-element='{added['task']}']").first).to_contain_text(NEW_STEP)
    expect(changes.locator("tr[data-element='langkah_06_buat_draft']").first).to_contain_text("30")
    expect(changes.locator("tr[data-element='langkah_04_disposisi']").first).to_contain_text(NEW_LABEL)
    assert page.locator(f"#diagram-after .djs-element.alur-added[data-element-id='{added['task']}']").count() == 1
    assert page.locator("#diagram-after .djs-element.alur-changed[data-element-id='langkah_06_buat_draft']").count()
    assert page.locator("#diagram-before .djs-element.alur-changed[data-element-id='langkah_04_disposisi']").count()
    assert page.locator("#diagram-before .djs-element.alur-added").count() == 0
    desk.screenshots("diff")

    # 6. Migrate the running request: a dry run first, then the confirmation.
    page.goto(f"{base}/meja/proses/{PROCESS}/versi")
    page.select_option("#pindah_dari", "1")
    page.select_option("#pindah_ke", "2")
    page.click("#plan-form button:has-text('Periksa')")
    row = page.locator(f"#plan tr[data-instance='{instance_id}']")
    expect(row).to_contain_text("Bisa")
    assert alur.instance(instance_id, SYSTEM).instance.definition.version == 1  # the dry run moved nothing
    desk.screenshots("migration")
    page.click("#migrate-form button")
    expect(page.locator(".flash-ok")).to_contain_text(f"#{instance_id}")
    expect(page.locator("#versions tr[data-version='2'] .running")).to_have_text("1")
    assert alur.instance(instance_id, SYSTEM).instance.definition.version == 2
    desk.logout()

    # 7. The request continues on version 2 and passes the new step, done by a user of the new lane.
    step(alur, instance_id)  # step 12, Kasubbag Terkait
    assert current(alur, instance_id).name == NEW_STEP
    create_user(alur, "bendahara", DEMO_PASSWORD, lanes=[NEW_LANE], full_name="Bendahara Uji")
    desk.login("bendahara")
    card = page.locator(f".task-card[data-instance='{instance_id}']")
    expect(card).to_contain_text(NEW_STEP)
    card.click()
    page.click("button:has-text('Setuju')")
    expect(page.locator(".flash-ok")).to_contain_text(NEW_STEP)
    step(alur, instance_id)  # step 13, Pemohon
    detail = alur.instance(instance_id, SYSTEM)
    assert detail.instance.status == "completed"
    done_new = [r for r in detail.history if r.name == NEW_STEP and r.state == "completed"]
    assert len(done_new) == 1 and done_new[0].completed_by == "bendahara"
    assert actor_for_lane(alur, NEW_LANE).username == "bendahara"

    assert not problems, problems
    context.close()


def test_a_diagram_saved_by_the_browser_modeler_deploys_unchanged(live: tuple[str, Alur], browser: Any,
                                                                  tmp_path: Path) -> None:
    base, alur = live
    context = browser.new_context(viewport={"width": 1366, "height": 900}, accept_downloads=True)
    context.set_default_timeout(20_000)
    page = context.new_page()
    desk = Desk(page, base)
    desk.login("pemilik-proses")
    desk.open_modeler(1)
    desk.set_extension_property("langkah_05_cek_jadwal", "waktu_menit", "7")
    with page.expect_download() as download:
        page.click("#btn-download")
    saved = tmp_path / "dari-modeler.bpmn"
    download.value.save_as(str(saved))
    content = saved.read_bytes()
    assert content.startswith(b"<?xml")
    assert bpmnlint(saved) == ""

    # Opened again from the file into the modeler (as a desktop file would be): the change is there.
    desk.open_modeler(1)
    page.evaluate("() => document.getElementById('modeler').removeAttribute('data-loaded')")
    page.set_input_files("#open-file", str(saved))
    page.wait_for_selector("#modeler[data-loaded='true']")
    assert 'name="waktu_menit" value="7"' in desk.xml()

    # Uploaded as a desktop file and deployed directly: stored byte for byte.
    page.set_input_files("#upload-file", str(saved))
    page.click("button:has-text('Deploy berkas langsung')")
    page.wait_for_url(f"**/meja/proses/{PROCESS}/versi")
    v2 = alur.definition(PROCESS, 2)
    assert alur.diagram_xml(v2).encode("utf-8") == content
    assert alur.parsed(v2).model.steps["langkah_05_cek_jadwal"].standard_minutes == 7
    assert alur.parsed(v2).model.total_standard_minutes == 137
    context.close()
