"""The reports page in a real browser: the heatmap has an overlay on every task and counts on return flows.

The real app (CSP on, CSRF on) serves a database with the known history of test_reports;
Debian's chromium draws bpmn-js and Chart.js from the app. Screenshots of the page at desktop
width and at 390 px go to /tmp (reports-desktop.png, reports-390.png).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.users import DEMO_PASSWORD
from tests.conftest import make_alur, serving
from tests.helpers import PROCESS
from tests.test_reports import make_history

SCREENSHOTS = Path("/tmp")
pytestmark = pytest.mark.browser


@pytest.fixture
def report_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    alur = make_alur(f"sqlite:///{tmp_path / 'alur.sqlite'}")
    make_history(alur, monkeypatch)
    try:
        with serving(alur) as url:
            yield url
    finally:
        alur.db.engine.dispose()


def test_heatmap_has_an_overlay_on_every_task(report_server: str, browser: object) -> None:
    from playwright.sync_api import expect

    problems: list[str] = []
    for width, height, name in ((1280, 900, "desktop"), (390, 844, "390")):
        context = browser.new_context(viewport={"width": width, "height": height}, locale="id-ID")  # type: ignore[attr-defined]
        context.set_default_timeout(20_000)
        page = context.new_page()
        page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        page.goto(f"{report_server}/login")
        page.fill("#username", "pemilik-proses")
        page.fill("#password", DEMO_PASSWORD)
        page.click("button:has-text('Masuk')")
        if name == "390":
            page.click("label.menu-button")  # the phone's menu opens below the compact header
        page.click("nav a:has-text('Laporan')")
        expect(page.locator("h1")).to_contain_text("Di mana proses melambat")
        expect(page.locator("#heatmap")).to_have_attribute("data-rendered", "true")
        tasks = page.locator("#heatmap .djs-element.djs-shape[data-element-id^='langkah_']")
        expect(tasks).to_have_count(13)
        expect(page.locator("#heatmap .heat-badge")).to_have_count(13)
        for element_id in tasks.evaluate_all("els => els.map(e => e.getAttribute('data-element-id'))"):
            overlay = page.locator(f"#heatmap .djs-overlays[data-container-id='{element_id}'] .heat-badge")
            expect(overlay).to_have_count(1)
            classes = page.locator(f"#heatmap .djs-element[data-element-id='{element_id}']").get_attribute("class")
            assert any(f"heat-{c}" in classes for c in ("ok", "warn", "bad", "none")), (element_id, classes)
        flows = page.locator("#heatmap .flow-count")
        expect(flows).to_have_count(5)  # the five return flows of the SOP
        used = page.locator("#heatmap .djs-overlays[data-container-id='flow_07_tidak_setuju'] .flow-count")
        expect(used).to_have_text("\u21a9 1\u00d7")
        expect(page.locator("#chart-lead")).to_have_attribute("data-rendered", "true")
        expect(page.locator("#chart-overdue")).to_have_attribute("data-rendered", "true")
        expect(page.locator("#report-steps tbody tr")).to_have_count(13)
        page.screenshot(path=str(SCREENSHOTS / f"reports-{name}.png"), full_page=True)
        if name == "390":
            width_used = page.evaluate("document.documentElement.scrollWidth")
            assert width_used <= 390, f"the page scrolls sideways at 390 px ({width_used} px)"
        with page.expect_download() as download:
            page.click("#download-xes")
        assert download.value.suggested_filename == f"eventlog-{PROCESS}.xes"
        context.close()
    assert problems == []
