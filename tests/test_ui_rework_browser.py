"""Returns that staff can follow, in a real browser: a request returned at step 2 and at step 10.

Asserts the return banner with the note, the pre-filled form, the earlier notes on the Kabag's
page, the "dikembalikan" mark in the inbox, the disabled button after a click, a claim by one
user blocking completion by another of the same lane, the expired session that keeps the typed
text, and step 11's drawn number. Screenshots of the returned task (1366 px and 390 px) are
saved in a temporary folder (printed) for a person to look at.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

from engine.services import Alur
from engine.users import DEMO_PASSWORD, create_user
from tests.helpers import drive_to, start

SHOTS = Path(tempfile.gettempdir()) / "alur-rework-shots"
RETURN_NOTE_2 = "Surat PD belum ditandatangani kepala dinas.\nMohon unggah ulang bila perlu dan perbaiki perihal."
DISPOSITION = "Ke Bagian Kelembagaan: cek jadwal Pak Budi minggu depan"
RETURN_NOTE_10 = "Tanggal kegiatan pada paragraf kedua salah; sesuaikan dengan surat permohonan."


def one_page_pdf(text: str) -> bytes:
    """A small valid PDF with one A4 page of text (the demo's sample PDF has no pages to draw)."""
    stream = f"BT /F1 24 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [b"<</Type/Catalog/Pages 2 0 R>>", b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
               b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]/Contents 4 0 R"
               b"/Resources<</Font<</F1 5 0 R>>>>>>",
               b"<</Length %d>>stream\n%s\nendstream" % (len(stream), stream),
               b"<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def fits(page: Any, what: str) -> None:
    """The page does not scroll sideways: nothing is wider than the window."""
    used, width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    if used > width:  # name the widest elements that stick out, to say what to fix
        wide = page.evaluate("""w => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > w + 0.5)
            .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + '.' + [...e.classList].join('.')
                 + ' ' + Math.round(e.getBoundingClientRect().right)).slice(0, 8)""", width)
        raise AssertionError(f"{what} ({page.url}) scrolls sideways at {width} px: {used} px wide; {wide}")


def test_returns_claims_and_forms_in_the_browser(live: tuple[str, Alur], browser: Any, tmp_path: Path) -> None:
    from playwright.sync_api import Page, expect

    base, alur = live
    create_user(alur, "tu-dua", DEMO_PASSWORD, ["Petugas Informasi/TU"], "Petugas TU Kedua")
    SHOTS.mkdir(exist_ok=True)
    pdf = tmp_path / "surat.pdf"
    pdf.write_bytes(one_page_pdf("Surat permohonan narasumber"))
    problems: list[str] = []

    def new_page(width: int = 1366, height: int = 900) -> Page:
        context = browser.new_context(viewport={"width": width, "height": height}, locale="id-ID")
        context.set_default_timeout(15_000)
        page = context.new_page()
        page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error"
                and not re.search(r"status of (409|422)", msg.text) else None)
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        return page

    page = new_page()

    def login(username: str, on: Page | None = None) -> None:
        p = on or page
        p.goto(f"{base}/login")
        p.fill("#username", username)
        p.fill("#password", DEMO_PASSWORD)
        p.click("button:has-text('Masuk')")
        expect(p.locator("h1")).to_have_text("Tugas saya")

    def logout(on: Page | None = None) -> None:
        p = on or page
        p.click("button:has-text('Keluar')")
        expect(p.locator("h1")).to_have_text("Masuk ke Alur")

    def open_task(step_no: int, on: Page | None = None) -> None:
        p = on or page
        card = p.locator(f".task-card[data-instance='{instance_id}']")
        expect(card).to_have_count(1)
        expect(card.locator(".task-step")).to_have_text(f"Langkah {step_no}")
        card.click()
        expect(p.locator(".eyebrow")).to_contain_text(f"Langkah {step_no} ")

    def step(username: str, step_no: int, fill: dict[str, str] | None = None, files: tuple[str, ...] = (),
             button: str = "Selesai dan teruskan", verb: str = "selesai") -> None:
        login(username)
        open_task(step_no)
        for selector, value in (fill or {}).items():
            page.fill(selector, value)
        for doc_type in files:
            page.set_input_files(f"#dokumen_{doc_type}", str(pdf))
        page.click(f"button:has-text('{button}')")
        expect(page.locator(".flash-ok")).to_contain_text(verb)
        logout()

    # 1. The applicant: the agency is read-only, the subject limited to 300 characters.
    login("pemohon")
    page.click("a:has-text('Permohonan baru')")
    expect(page.locator("#f_instansi_pemohon")).to_have_attribute("readonly", "")
    expect(page.locator("#f_perihal")).to_have_attribute("maxlength", "300")
    page.fill("#f_perihal", "Permohonan narasumber bimtek koperasi")
    page.fill("#f_nama_kegiatan", "Bimbingan teknis pengelolaan koperasi")
    page.fill("#f_tanggal_kegiatan", "2026-09-15")
    page.fill("#f_tempat_kegiatan", "Aula Dinas Pendidikan, Pontianak")
    page.set_input_files("#dokumen_surat_pd", str(pdf))
    page.click("button:has-text('Kirim permohonan')")
    expect(page.locator(".flash-ok")).to_contain_text("terkirim")
    match = re.search(r"/permohonan/(\d+)$", page.url)
    assert match, page.url
    instance_id = int(match.group(1))
    logout()

    # 2. The desk returns it to the applicant, with a two-line note; the button is labelled from the diagram.
    login("petugas-informasi-tu")
    open_task(2)
    expect(page.locator("button[value='tidak_setuju']")).to_have_text("Kembalikan ke pemohon")
    expect(page.locator("#dokumen_surat_pd")).to_have_count(0)  # an input is read-only at step 2
    page.fill("#f_catatan", RETURN_NOTE_2)
    page.click("button:has-text('Kembalikan ke pemohon')")
    expect(page.locator(".flash-ok")).to_contain_text("dikembalikan")
    logout()

    # The applicant's inbox marks it; the filter counts it; the page opens with the banner and the old values.
    login("pemohon")
    card = page.locator(f".task-card[data-instance='{instance_id}']")
    expect(card.locator(".badge-return")).to_have_text("dikembalikan")
    expect(page.locator("a[data-filter='dikembalikan'] .count")).to_have_text("1")
    page.click("a[data-filter='dikembalikan']")
    expect(page.locator(".task-card")).to_have_count(1)
    open_task(1)
    banner = page.locator("#return-banner")
    expect(banner).to_contain_text("Dikembalikan oleh petugas-informasi-tu dari langkah 2")
    expect(banner.locator(".return-note")).to_have_text(RETURN_NOTE_2)
    expect(page.locator("#f_perihal")).to_have_value("Permohonan narasumber bimtek koperasi")
    expect(page.locator("#f_tempat_kegiatan")).to_have_value("Aula Dinas Pendidikan, Pontianak")
    expect(page.locator("#earlier_surat_pd")).to_contain_text("surat.pdf")
    expect(page.locator("label[for='dokumen_surat_pd']")).to_contain_text("Ganti")
    expect(page.locator("#dokumen_surat_pd")).not_to_have_attribute("required", "")
    page.screenshot(path=str(SHOTS / "task-after-return-1366.png"), full_page=True)
    mobile = new_page(390, 844)
    login("pemohon", mobile)
    mobile.goto(page.url)
    expect(mobile.locator("#return-banner")).to_be_visible()
    data_top = mobile.locator("aside.col-side").bounding_box()
    docs_top = mobile.locator("aside.col-side h2:has-text('Dokumen masukan')").bounding_box()
    button_top = mobile.locator("form.form button[type='submit']").first.bounding_box()
    assert data_top and docs_top and button_top  # request data and documents before the buttons
    assert data_top["y"] < button_top["y"] and docs_top["y"] < button_top["y"]
    header = mobile.locator("header.topbar").bounding_box()
    assert header and header["height"] <= 56, header  # compact: one row, the menu behind its button
    fits(mobile, "the returned task")
    mobile.screenshot(path=str(SHOTS / "task-after-return-390.png"), full_page=True)
    mobile.screenshot(path=str(SHOTS / "task-after-return-390-top.png"))  # the first screen, at full size
    mobile.goto(f"{base}/")
    expect(mobile.locator(".task-card .badge-return")).to_have_count(1)
    fits(mobile, "the inbox")
    mobile.screenshot(path=str(SHOTS / "inbox-390.png"), full_page=True)
    mobile.context.close()
    page.fill("#f_perihal", "Permohonan narasumber bimtek koperasi (diperbaiki)")
    page.click("button:has-text('Selesai dan teruskan')")
    expect(page.locator(".flash-ok")).to_contain_text("selesai")
    logout()

    # Claims: tu-dua has the task open; the first desk officer takes it; tu-dua's completion is refused.
    other = new_page()
    login("tu-dua", other)
    open_task(2, other)
    login("petugas-informasi-tu")
    open_task(2)
    page.click("button:has-text('Saya kerjakan')")
    expect(page.locator("#claim")).to_contain_text("Anda mengerjakan tugas ini")
    page.goto(f"{base}/")
    expect(page.locator(f".task-card[data-instance='{instance_id}'] .held")).to_have_text("Anda kerjakan")
    expect(page.locator("a[data-filter='saya'] .count")).to_have_text("1")
    page.screenshot(path=str(SHOTS / "inbox-1366.png"), full_page=True)
    page.go_back()
    other.click("button:has-text('Berkas lengkap')")
    expect(other.locator(".form-error")).to_contain_text("sedang dikerjakan oleh petugas-informasi-tu")
    other.goto(other.url)
    expect(other.locator("#held-by")).to_contain_text("Sedang dikerjakan oleh petugas-informasi-tu")
    expect(other.locator("form.form")).to_have_count(0)
    other.context.close()
    # The holder completes: the button is disabled at the first click and still carries the decision.
    state = page.evaluate("""() => {
        const b = document.querySelector("button[value='setuju']");
        b.click();
        return [b.disabled, b.textContent];
    }""")
    assert state == [True, "Sedang dikirim…"], state
    expect(page.locator(".flash-ok")).to_contain_text("selesai")
    logout()

    # 3. An expired session on submit: said plainly, and the typed text comes back after logging in again.
    login("petugas-informasi-tu")
    open_task(3)
    page.fill("#f_catatan", "Diteruskan ke Kepala Biro hari ini")
    page.context.clear_cookies()
    page.click("button:has-text('Selesai dan teruskan')")
    expect(page.locator(".flashes .flash-info")).to_contain_text("Sesi Anda berakhir")
    expect(page.locator("#session-expired")).to_be_hidden()  # said once
    page.fill("#username", "petugas-informasi-tu")
    page.fill("#password", DEMO_PASSWORD)
    page.click("button:has-text('Masuk')")
    expect(page.locator(".eyebrow")).to_contain_text("Langkah 3 ")
    expect(page.locator("#f_catatan")).to_have_value("Diteruskan ke Kepala Biro hari ini")
    expect(page.locator("#draft-restored")).to_be_visible()
    page.click("button:has-text('Selesai dan teruskan')")
    expect(page.locator(".flash-ok")).to_contain_text("selesai")
    logout()

    step("kepala-biro", 4, {"#f_catatan": DISPOSITION})

    # 5. The Kabag sees the Kepala Biro's disposition note and the desk's return note, in order.
    login("kepala-bagian-terkait")
    open_task(5)
    notes = page.locator("#notes li")
    expect(notes).to_have_count(3)
    expect(notes.nth(0)).to_contain_text("Langkah 2")
    expect(notes.nth(0)).to_contain_text("Surat PD belum ditandatangani")
    expect(notes.nth(2)).to_contain_text("Langkah 4")
    expect(notes.nth(2)).to_contain_text("kepala-biro")
    expect(notes.nth(2)).to_contain_text(DISPOSITION)
    more = notes.nth(0).locator("button.more")  # the long note is cut to three lines
    expect(more).to_have_text("selengkapnya")
    more.click()
    expect(notes.nth(0).locator(".note-text.is-open")).to_have_count(1)
    expect(more).to_have_text("ringkas")
    # The letter is previewed in the page by pdf.js (served from this server, CSP intact).
    preview = page.locator("details.preview[data-pdf-url]").first
    preview.locator("summary").click()
    expect(preview).to_have_attribute("data-rendered", "true", timeout=30_000)
    expect(preview.locator("canvas.pdf-page")).to_have_count(1)
    expect(preview.locator(".pdf-status")).to_have_text("1 halaman.")
    page.screenshot(path=str(SHOTS / "kabag-notes-preview-1366.png"), full_page=True)
    page.fill("#f_narasumber_ditunjuk", "Kasubbag Kelembagaan")
    page.click("button:has-text('Selesai dan teruskan')")
    expect(page.locator(".flash-ok")).to_contain_text("selesai")
    logout()

    step("kasubbag-terkait", 6, files=("draft_surat",))
    step("kepala-bagian-terkait", 7, button="Setujui dan paraf")
    step("kepala-biro", 8, button="Setujui dan paraf")
    step("asisten-administrasi-dan-umum", 9, button="Setujui dan paraf")
    step("sekda", 10, {"#f_catatan": RETURN_NOTE_10}, button="Kembalikan ke Asisten", verb="dikembalikan")

    # 9 again: the Asisten sees the Sekda's banner and the "dikembalikan" mark in the inbox.
    login("asisten-administrasi-dan-umum")
    expect(page.locator(f".task-card[data-instance='{instance_id}'] .badge-return")).to_have_text("dikembalikan")
    open_task(9)
    expect(page.locator("#return-banner")).to_contain_text("Dikembalikan oleh sekda dari langkah 10")
    expect(page.locator("#return-banner .return-note")).to_have_text(RETURN_NOTE_10)
    page.click("button:has-text('Setujui dan paraf')")
    expect(page.locator(".flash-ok")).to_contain_text("selesai")
    logout()

    step("sekda", 10, files=("surat_ditandatangani",), button="Setujui dan tanda tangani")

    # 11. The number is drawn automatically: said before, shown after.
    login("petugas-informasi-tu")
    open_task(11)
    expect(page.locator("#number-note")).to_contain_text("diambil otomatis")
    page.click("button:has-text('Selesai dan teruskan')")
    expect(page.locator(".flash-ok")).to_contain_text(re.compile(r"Nomor surat keluar: 000\.1\.2\.3/\d{3}/"))
    logout()

    # The diagram opens fitted, with zoom buttons.
    login("pemohon")
    page.goto(f"{base}/permohonan/{instance_id}")
    expect(page.locator("#diagram[data-rendered='true']")).to_have_count(1)
    viewport = page.locator("#diagram svg .viewport").first
    fitted = viewport.get_attribute("transform")
    page.click("[data-zoom='in']")
    expect(viewport).not_to_have_attribute("transform", fitted or "")
    page.click("[data-zoom='fit']")
    expect(viewport).to_have_attribute("transform", fitted or "")
    logout()

    assert not problems, problems
    print(f"screenshots: {SHOTS}")


def test_no_page_scrolls_sideways_at_390_px_and_a_lane_head_reassigns(live: tuple[str, Alur], browser: Any) -> None:
    """Every menu page of every role at 390 px (and a task, a request, an account), then the lane's head at work."""
    from playwright.sync_api import expect

    base, alur = live
    create_user(alur, "kabag-dua", DEMO_PASSWORD, ["Kepala Bagian Terkait"], "Kabag Kedua")
    waiting = drive_to(alur, start(alur), 2)
    record = drive_to(alur, start(alur), 5)
    SHOTS.mkdir(exist_ok=True)
    problems: list[str] = []

    def new_page(width: int, height: int = 844) -> Any:
        context = browser.new_context(viewport={"width": width, "height": height}, locale="id-ID")
        context.set_default_timeout(15_000)
        page = context.new_page()
        page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        page.goto(f"{base}/login")
        return page

    def login(page: Any, username: str) -> None:
        page.fill("#username", username)
        page.fill("#password", DEMO_PASSWORD)
        page.click("button:has-text('Masuk')")
        expect(page.locator("header .whoami")).to_be_visible()

    extra = {"pemohon": ["/permohonan/baru", f"/permohonan/{record.instance_id}"],
             "petugas-informasi-tu": [f"/tugas/{waiting.id}", f"/permohonan/{waiting.instance_id}"],
             "kepala-bagian-terkait": [f"/tugas/{record.id}"],
             "pemilik-proses": [f"/permohonan/{record.instance_id}"],
             "admin": ["/pengguna/kabag-dua", f"/tugas/{record.id}"]}
    walked = 0
    for username, pages in extra.items():
        page = new_page(390)
        fits(page, "the login page")
        login(page, username)
        nav = page.locator("nav.mainnav")
        expect(nav).to_be_hidden()  # the compact header: the menu waits behind its button
        header = page.locator("header.topbar").bounding_box()
        assert header and header["height"] <= 56, (username, header)
        page.click("label.menu-button")
        expect(nav).to_be_visible()
        fits(page, f"the open menu of {username}")
        links = nav.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
        assert len(links) >= 3, links
        if username == "admin":
            page.screenshot(path=str(SHOTS / "menu-admin-390.png"))
        for path in links + pages:
            response = page.goto(base + path)
            assert response and response.status == 200, (username, path, response and response.status)
            page.wait_for_load_state("load")
            fits(page, f"{path} for {username}")
            walked += 1
        page.context.close()
    assert walked >= 25, walked

    # The Kabag heads "Kepala Bagian Terkait": gives the task to a colleague, then frees it again.
    page = new_page(1366, 900)
    login(page, "kepala-bagian-terkait")
    expect(page.locator("label.menu-button")).to_be_hidden()  # on a wide screen the menu is just there
    expect(page.locator("nav.mainnav")).to_be_visible()
    page.goto(f"{base}/tugas/{record.id}")
    options = page.locator("#reassign_to option")
    expect(options).to_have_text(["kabag-dua", "kepala-bagian-terkait (saya)"])
    page.select_option("#reassign_to", "kabag-dua")
    page.click("#reassign button:has-text('Alihkan')")
    expect(page.locator(".flash-ok")).to_contain_text("Tugas dialihkan ke kabag-dua")
    expect(page.locator("#held-by")).to_contain_text("Sedang dikerjakan oleh kabag-dua")
    expect(page.locator("form[data-draft]")).to_have_count(0)  # the head, too, waits for the holder
    expect(page.locator("#reassign_to option")).to_have_text(["kepala-bagian-terkait (saya)"])
    page.screenshot(path=str(SHOTS / "task-head-1366.png"), full_page=True)
    page.click("#release-other")
    expect(page.locator(".flash-ok")).to_contain_text("Tugas dilepas")
    expect(page.locator("button:has-text('Saya kerjakan')")).to_be_visible()
    page.context.close()
    mobile = new_page(390)
    login(mobile, "kepala-bagian-terkait")
    mobile.goto(f"{base}/tugas/{record.id}")
    expect(mobile.locator("#reassign")).to_be_visible()
    fits(mobile, "the head's task page")
    mobile.screenshot(path=str(SHOTS / "task-head-390.png"), full_page=True)
    mobile.context.close()
    colleague = new_page(1366, 900)  # a plain member of the lane sees no reassignment
    login(colleague, "kabag-dua")
    colleague.goto(f"{base}/tugas/{record.id}")
    expect(colleague.locator("button:has-text('Saya kerjakan')")).to_be_visible()
    expect(colleague.locator("#reassign")).to_have_count(0)
    colleague.context.close()
    kinds = [(e.kind, e.actor) for e in alur.audit_log(record.instance_id) if e.kind in {"reassign", "release"}]
    assert kinds == [("reassign", "kepala-bagian-terkait"), ("release", "kepala-bagian-terkait")]
    assert not problems, problems
    print(f"screenshots: {SHOTS}")
