"""The UI in a real browser: one request through the whole SOP, only by clicking and typing.

Runs the real app (CSRF on) with werkzeug on 127.0.0.1 and a free port, and drives Debian's
chromium through Playwright. The seven lanes log in in turn; the Sekda returns the draft
once. If /usr/bin/chromium is missing the test fails (never skips): `apt-get install -y chromium`.
"""

from __future__ import annotations

import re
from pathlib import Path

from engine.users import DEMO_PASSWORD
from tests.conftest import PDF

SCREENSHOTS = Path("/tmp")
LETTER_NUMBER = re.compile(r"^000\.1\.2\.3/001/DISKOP-UKM/20\d\d$")


def test_one_request_through_the_whole_sop(live_server: str, browser: object, tmp_path: Path) -> None:
    from playwright.sync_api import Page, expect

    base = live_server
    pdf = tmp_path / "dokumen.pdf"
    pdf.write_bytes(PDF)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="id-ID")  # type: ignore[attr-defined]
    context.set_default_timeout(15_000)
    page: Page = context.new_page()
    problems: list[str] = []
    # console errors (CSP violations, script errors); the 422 of the refused return is expected
    page.on("console", lambda msg: problems.append(msg.text)
            if msg.type == "error" and "status of 422" not in msg.text else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))

    def login(username: str) -> None:
        page.goto(f"{base}/login")
        page.fill("#username", username)
        page.fill("#password", DEMO_PASSWORD)
        page.click("button:has-text('Masuk')")
        expect(page.locator("h1")).to_have_text("Tugas saya")

    def logout() -> None:
        page.click("button:has-text('Keluar')")
        expect(page.locator("h1")).to_have_text("Masuk ke Alur")

    def open_task(instance_id: int, step_no: int) -> None:
        card = page.locator(f".task-card[data-instance='{instance_id}']")
        expect(card).to_have_count(1)
        expect(card.locator(".task-step")).to_have_text(f"Langkah {step_no}")
        card.click()
        expect(page.locator(".eyebrow")).to_contain_text(f"Langkah {step_no} ")

    def done(verb: str = "selesai") -> None:
        expect(page.locator(".flash-ok")).to_contain_text(verb)

    # 1. Pemohon: a new request with its Surat PD, in one submit.
    login("pemohon")
    page.click("a:has-text('Permohonan baru')")
    expect(page.locator("h1")).to_have_text("Permohonan baru")
    expect(page.locator("#f_instansi_pemohon")).not_to_have_value("")
    page.fill("#f_perihal", "Permohonan narasumber bimtek koperasi")
    page.fill("#f_nama_kegiatan", "Bimbingan teknis pengelolaan koperasi")
    page.fill("#f_tanggal_kegiatan", "2026-09-15")
    page.fill("#f_tempat_kegiatan", "Aula Dinas Pendidikan, Pontianak")
    page.fill("#f_narasumber_diminta", "Tata kelola koperasi sekolah")
    page.set_input_files("#dokumen_surat_pd", str(pdf))
    page.click("button:has-text('Kirim permohonan')")
    expect(page.locator(".flash-ok")).to_contain_text("terkirim")
    match = re.search(r"/permohonan/(\d+)$", page.url)
    assert match, page.url
    instance_id = int(match.group(1))
    expect(page.locator("#timeline tbody tr")).to_have_count(2)
    logout()

    def step(username: str, step_no: int, fill: dict[str, str] | None = None, files: tuple[str, ...] = (),
             button: str = "Selesai dan teruskan", verb: str = "selesai") -> None:
        login(username)
        open_task(instance_id, step_no)
        for selector, value in (fill or {}).items():
            page.fill(selector, value)
        for doc_type in files:
            page.set_input_files(f"#dokumen_{doc_type}", str(pdf))
        page.click(f"button:has-text('{button}')")
        done(verb)
        logout()

    step("petugas-informasi-tu", 2, button="Berkas lengkap")
    step("petugas-informasi-tu", 3, {"#f_catatan": "Diteruskan ke Kepala Biro"})
    step("kepala-biro", 4, {"#f_catatan": "Ke Bagian Kelembagaan, cek jadwal narasumber"})
    step("kepala-bagian-terkait", 5, {"#f_narasumber_ditunjuk": "Kasubbag Kelembagaan",
                                      "#f_jadwal_narasumber": "Bersedia 15 September 2026"})
    step("kasubbag-terkait", 6, files=("draft_surat",))
    step("kepala-bagian-terkait", 7, button="Setuju")
    step("kepala-biro", 8, button="Setuju")
    step("asisten-administrasi-dan-umum", 9, button="Setuju")

    # 10. Sekda returns the draft: first without a note (refused next to the field), then with one.
    login("sekda")
    open_task(instance_id, 10)
    expect(page.locator(".activity")).to_contain_text("Mengoreksi surat, jika tidak setuju dikembalikan kepada Asisten")
    page.click("button:has-text('Kembalikan')")
    expect(page.locator("#err_catatan")).to_contain_text("wajib diisi")
    page.screenshot(path=str(SCREENSHOTS / "alur-task.png"), full_page=True)
    page.fill("#f_catatan", "Perbaiki tanggal kegiatan pada paragraf kedua")
    page.click("button:has-text('Kembalikan')")
    done("dikembalikan")
    logout()

    step("asisten-administrasi-dan-umum", 9, button="Setuju")
    step("sekda", 10, files=("surat_ditandatangani",), button="Setuju")
    step("petugas-informasi-tu", 11, {"#f_catatan": "Dicatat di buku agenda"})

    login("kasubbag-terkait")
    open_task(instance_id, 12)
    page.check("input[name='cara_penyampaian'][value='langsung']")
    page.click("button:has-text('Selesai dan teruskan')")
    done()
    logout()

    step("pemohon", 13, {"#f_catatan": "Surat diterima, terima kasih"})

    # The instance page: finished, 13 steps + the Sekda's return and the Asisten's second review.
    login("pemohon")
    page.goto(f"{base}/permohonan/{instance_id}")
    expect(page.locator("#status")).to_have_text("Selesai")
    expect(page.locator("#timeline tbody tr")).to_have_count(10)  # the last ten; the rest a click away
    expect(page.locator("#timeline-count")).to_contain_text("Langkah 6–15 dari 15")
    expect(page.locator("#timeline tbody tr.is-return")).to_have_count(1)
    number = page.locator("#letter-number strong").inner_text().strip()
    assert LETTER_NUMBER.match(number), number
    expect(page.locator("#diagram[data-rendered='true']")).to_have_count(1)
    expect(page.locator("#diagram svg").first).to_be_visible()
    assert page.locator(".djs-element.alur-completed").count() == 13
    expect(page.locator(".djs-element.alur-returned")).to_have_count(1)
    page.screenshot(path=str(SCREENSHOTS / "alur-instance.png"), full_page=True)
    page.click("#timeline-older")
    expect(page.locator("#timeline tbody tr")).to_have_count(5)
    expect(page.locator("#timeline tbody td:first-child").first).to_have_text("1")
    page.click("#timeline-newest")
    expect(page.locator("#timeline tbody tr")).to_have_count(10)
    logout()

    # The register shows the letter to staff, linked to the request.
    login("petugas-informasi-tu")
    page.click("nav >> text=Buku agenda")
    expect(page.locator("#register tbody tr")).to_have_count(1)
    expect(page.locator("#register")).to_contain_text(number)
    page.click(f"#register a:has-text('#{instance_id}')")
    expect(page.locator("#letter-number")).to_contain_text(number)

    assert not problems, problems
    context.close()
