"""People and the printed SOP in a real browser (Chromium through Playwright, CSRF on).

As admin: give an existing user a second lane chosen from the diagram's lanes, disable another
user and watch their open session end, reset a password. As the process owner: cancel a request
with a reason. The SOP page printed to PDF by Chromium: its pages, every row's text (pdftotext)
and every arrow (in the DOM). Screenshots at 1366 px and 390 px go to /tmp/alur-people-shots.
If chromium or pdftotext is missing the test fails (never skips): `make test` installs both.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from engine.diagram import parse_diagram
from engine.flowchart import edges, flow_order
from engine.services import Alur
from engine.users import DEMO_PASSWORD
from handlers import REGISTRY
from tests.conftest import PDF, SOP_FILE

SHOTS = Path("/tmp/alur-people-shots")


def _page(browser: Any, width: int = 1366) -> Any:
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="id-ID")
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.problems = []
    page.on("console", lambda msg: page.problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: page.problems.append(str(exc)))
    return page


def _login(page: Any, base: str, username: str, password: str = DEMO_PASSWORD) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button:has-text('Masuk')")


def _shoot(browser: Any, base: str, username: str, path: str, name: str) -> None:
    for width in (1366, 390):
        page = _page(browser, width)
        _login(page, base, username)
        page.goto(base + path)
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
        assert not page.problems, page.problems
        page.context.close()


def test_admin_changes_people_and_owner_cancels(live: tuple[str, Alur], browser: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    base, alur = live
    SHOTS.mkdir(exist_ok=True)
    # the Kasubbag is at work in their own browser
    kasubbag = _page(browser)
    _login(kasubbag, base, "kasubbag-terkait")
    expect(kasubbag.locator("h1")).to_have_text("Tugas saya")

    admin = _page(browser)
    _login(admin, base, "admin")
    expect(admin.locator("h1")).to_have_text("Beranda admin")
    expect(admin.locator("#accounts")).to_contain_text("aktif")
    admin.click("nav.mainnav a:has-text('Pengguna')")
    admin.fill("#q", "sekda")
    admin.click("button:has-text('Cari')")
    expect(admin.locator("#users tbody tr")).to_have_count(1)
    admin.click("#users a:has-text('sekda')")
    # a second lane, chosen from the diagram's lanes
    options = admin.locator("#lane option").all_inner_texts()
    assert "Kepala Biro" in options and "Sekda" not in options
    admin.select_option("#lane", "Kepala Biro")
    admin.click("button:has-text('Tambah lane')")
    expect(admin.locator(".flash-ok")).to_contain_text("Kepala Biro")
    expect(admin.locator("#lanes .lane-list .chip")).to_have_text(["Kepala Biro", "Sekda"])

    # disable the Kasubbag: their open session ends at their next click
    admin.goto(f"{base}/pengguna/kasubbag-terkait")
    admin.click("button:has-text('Nonaktifkan akun')")
    expect(admin.locator("#status")).to_have_text("Nonaktif")
    kasubbag.goto(f"{base}/permohonan")
    expect(kasubbag.locator("h1")).to_have_text("Masuk ke Alur")
    _login(kasubbag, base, "kasubbag-terkait")
    expect(kasubbag.locator(".form-error, .login-error, [role=alert]").first).to_be_visible()

    # reset the Kepala Biro's password: the old one stops, the new one works
    admin.goto(f"{base}/pengguna/kepala-biro")
    admin.fill("#sandi", "sandi-baru-2026")
    admin.click("button:has-text('Ganti kata sandi')")
    expect(admin.locator(".flash-ok")).to_contain_text("Kata sandi diganti")
    kabiro = _page(browser)
    _login(kabiro, base, "kepala-biro")
    expect(kabiro.locator("h1")).to_have_text("Masuk ke Alur")
    _login(kabiro, base, "kepala-biro", "sandi-baru-2026")
    expect(kabiro.locator("h1")).to_have_text("Tugas saya")

    # the process owner cancels a request, with a reason
    pemohon = _page(browser)
    pdf = tmp_path / "surat.pdf"
    pdf.write_bytes(PDF)
    _login(pemohon, base, "pemohon")
    pemohon.click("a:has-text('Permohonan baru')")
    pemohon.fill("#f_perihal", "Narasumber yang akan dibatalkan")
    pemohon.fill("#f_nama_kegiatan", "Rapat koordinasi")
    pemohon.fill("#f_tanggal_kegiatan", "2026-12-15")
    pemohon.fill("#f_tempat_kegiatan", "Pontianak")
    pemohon.fill("#f_narasumber_diminta", "Tata kelola")
    pemohon.set_input_files("#dokumen_surat_pd", str(pdf))
    pemohon.click("button:has-text('Kirim permohonan')")
    instance_id = int(re.search(r"/permohonan/(\d+)$", pemohon.url).group(1))  # type: ignore[union-attr]
    owner = _page(browser)
    _login(owner, base, "pemilik-proses")
    expect(owner.locator("h1")).to_have_text("Beranda pemilik proses")
    expect(owner.locator(".stat-running")).to_have_text("1")
    owner.goto(f"{base}/permohonan/{instance_id}")
    owner.screenshot(path=str(SHOTS / "cancel-form-1366.png"), full_page=True)
    owner.click("button:has-text('Batalkan permohonan')")  # the browser asks for the reason first
    assert owner.url.endswith(f"/permohonan/{instance_id}")
    expect(owner.locator("#status")).to_have_text("Berjalan")
    owner.fill("#alasan", "Kegiatan dibatalkan oleh pemohon lewat telepon")
    owner.click("button:has-text('Batalkan permohonan')")
    expect(owner.locator("#status")).to_have_text("Dibatalkan")
    expect(owner.locator("#timeline-cancel")).to_contain_text("Kegiatan dibatalkan oleh pemohon lewat telepon")
    expect(owner.locator("#cancel-reason")).to_contain_text("Kegiatan dibatalkan")
    owner.screenshot(path=str(SHOTS / "cancelled-1366.png"), full_page=True)
    for page in (admin, kasubbag, kabiro, pemohon, owner):
        assert not [p for p in page.problems if "401" not in p], page.problems
        page.context.close()

    _shoot(browser, base, "admin", "/pengguna", "users")
    _shoot(browser, base, "admin", "/pengguna/sekda", "user")
    _shoot(browser, base, "pemilik-proses", "/lane", "lanes")
    _shoot(browser, base, "pemilik-proses", "/", "owner-home")
    _shoot(browser, base, "admin", "/", "admin-home")


def test_printed_sop_has_every_row_and_arrow(live: tuple[str, Alur], browser: Any, tmp_path: Path) -> None:
    base, _ = live
    if not shutil.which("pdftotext") or not shutil.which("pdfinfo"):
        pytest.fail("pdftotext/pdfinfo tidak ada: pasang dengan `apt-get install -y poppler-utils`")
    SHOTS.mkdir(exist_ok=True)
    xml = SOP_FILE.read_bytes()
    model = parse_diagram(xml, REGISTRY).model
    steps = flow_order(xml, model)
    expected = {e.key(len(steps)) for e in edges(xml, model, steps)}
    assert len(expected) == 19

    page = _page(browser)
    _login(page, base, "sekda")
    page.goto(f"{base}/proses/fasilitasi_narasumber")
    page.screenshot(path=str(SHOTS / "sop-1366.png"), full_page=True)
    heads = page.locator("svg.flow .arrowhead")
    assert sorted(heads.evaluate_all("els => els.map(e => e.dataset.edge)")) == sorted(expected)
    assert page.locator("svg.flow .terminator").count() == 2
    assert page.locator("svg.flow .symbol").count() == 13
    sheets = page.locator(".sop-sheet").count()
    assert sheets >= 2
    connectors = page.locator("svg.flow .offpage").evaluate_all(
        "els => els.map(e => e.dataset.connector + ':' + e.dataset.direction)")
    numbers = {c.split(":")[0] for c in connectors}
    assert connectors and sorted(connectors) == sorted(f"{n}:{d}" for n in numbers for d in ("keluar", "masuk"))
    # every arrow head and symbol is drawn inside its row (nothing spills out of the table)
    spill = page.evaluate("""() => [...document.querySelectorAll('svg.flow')].filter(svg => {
        const box = svg.closest('td').getBoundingClientRect();
        return [...svg.querySelectorAll('.symbol, .arrowhead, .offpage')].some(el => {
            const r = el.getBoundingClientRect();
            return r.top < box.top - 1 || r.bottom > box.bottom + 1 || r.left < box.left - 1 || r.right > box.right + 1;
        });
    }).length""")
    assert spill == 0
    versions = page.locator("#versions a, #versions strong[aria-current]")
    assert versions.count() == 1 and versions.first.inner_text() == "Versi 1"

    pdf = tmp_path / "sop.pdf"
    page.emulate_media(media="print")
    page.screenshot(path=str(SHOTS / "sop-print-1366.png"), full_page=True)
    page.pdf(path=str(pdf), prefer_css_page_size=True, print_background=True)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"Page size:\s+841\.\d+ x 59[45]\.\d+ pts", info), info  # A4 landscape
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))  # type: ignore[union-attr]
    assert pages == 1 + sheets  # the identity page, then one page per sheet: no sheet spills over
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    flat = re.sub(r"\s+", " ", text)
    for step in steps:
        assert re.search(rf"(^|\n)\s*{step.step_no}\s+{re.escape(step.name.split()[0])}", text), step.name
        assert step.name.split()[0] in flat
    assert flat.count("Mulai") >= 1 and "Selesai" in flat and "135 menit" in flat
    for lane in model.lanes:
        assert flat.count(lane.split()[0]) >= sheets, lane  # lane headers repeated on every sheet
    pages_text = text.split("\f")
    assert all("PELAKSANA" in t for t in pages_text[1:pages]), "the table header repeats on every sheet"
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "2", "-l", "2", str(pdf), str(SHOTS / "sop-pdf")],
                   check=True)

    mobile = _page(browser, 390)
    _login(mobile, base, "sekda")
    mobile.goto(f"{base}/proses/fasilitasi_narasumber")
    mobile.screenshot(path=str(SHOTS / "sop-390.png"), full_page=True)
    for p in (page, mobile):
        assert not p.problems, p.problems
        p.context.close()
