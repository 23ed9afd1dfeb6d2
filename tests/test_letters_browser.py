"""The work itself, in a real browser: the speaker's calendar shows a conflict at step 5, the Kabag
proposes a substitute, the generated draft names the substitute, three reviewers initial the
same version, the Sekda signs in Alur, step 11 numbers the letter, and the applicant downloads
a PDF whose text holds the number and the substitute's name; the substitute's calendar then
shows the confirmed engagement."""

from __future__ import annotations

import re
from pathlib import Path

from engine.users import DEMO_PASSWORD
from tests.conftest import PDF
from tests.test_generated_documents import text_of
from tests.test_letter_pdf import SEKDA, pdf_text


def test_conflict_substitute_paraf_signature_and_the_applicants_pdf(live_server: str,
                                                                    browser: object, tmp_path: Path) -> None:
    from playwright.sync_api import Page, expect

    base = live_server
    pdf = tmp_path / "surat_pd.pdf"
    pdf.write_bytes(PDF)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="id-ID",  # type: ignore[attr-defined]
                                  accept_downloads=True)
    context.set_default_timeout(20_000)
    page: Page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))

    def login(username: str) -> None:
        page.goto(f"{base}/login")
        page.fill("#username", username)
        page.fill("#password", DEMO_PASSWORD)
        page.click("button:has-text('Masuk')")
        expect(page.locator("button:has-text('Keluar')")).to_be_visible()   # owners land on their own home

    def logout() -> None:
        page.click("button:has-text('Keluar')")

    def open_task(instance_id: int, step_no: int) -> None:
        page.goto(f"{base}/")
        card = page.locator(f".task-card[data-instance='{instance_id}']")
        expect(card.locator(".task-step")).to_have_text(f"Langkah {step_no}")
        card.click()
        expect(page.locator(".eyebrow")).to_contain_text(f"Langkah {step_no} ")

    def add_speaker(name: str, nip: str, jabatan: str) -> None:
        page.goto(f"{base}/narasumber")
        page.fill("#s_name", name)
        page.fill("#s_nip", nip)
        page.fill("#s_jabatan", jabatan)
        page.click("#speaker-form button:has-text('Simpan')")
        expect(page.locator("h1")).to_have_text(name)

    # The process owner keeps the registry; Dr. Siti already has a meeting on the 10th at 10.00.
    login("pemilik-proses")
    add_speaker("Budi Santoso", "198002022005011002", "Kepala Seksi Pembiayaan")
    add_speaker(SEKDA["name"], SEKDA["nip"], SEKDA["jabatan"])
    add_speaker("Dr. Siti Aminah", "197001012000032001", "Kepala Bidang Kelembagaan")
    page.fill("#e_title", "Rapat kerja gubernur")
    page.fill("#e_starts_at", "2026-12-10T10:00")
    page.fill("#e_ends_at", "2026-12-10T12:00")
    page.click("#entry-form button")
    expect(page.locator("#calendar")).to_contain_text("Rapat kerja gubernur")
    logout()

    # 1. The applicant asks for Dr. Siti on the 10th, 09.00, two hours.
    login("pemohon")
    page.click("a:has-text('Permohonan baru')")
    page.fill("#f_perihal", "Permohonan narasumber bimtek koperasi")
    page.fill("#f_nama_kegiatan", "Bimtek koperasi sekolah")
    page.fill("#f_topik", "Tata kelola koperasi")
    page.fill("#f_tanggal_kegiatan", "2026-12-10")
    page.select_option("#f_jam_mulai", "09:00")
    page.fill("#f_durasi_jam", "2")
    page.fill("#f_tempat_kegiatan", "Aula Dinas Pendidikan")
    page.fill("#f_peserta", "Guru pembina koperasi")
    page.fill("#f_narasumber_diminta", "Dr. Siti Aminah")
    page.set_input_files("#dokumen_surat_pd", str(pdf))
    page.click("button:has-text('Kirim permohonan')")
    expect(page.locator(".flash-ok")).to_contain_text("terkirim")
    instance_id = int(re.search(r"/permohonan/(\d+)$", page.url).group(1))  # type: ignore[union-attr]
    logout()

    def step(username: str, step_no: int, button: str = "Selesai dan teruskan") -> None:
        login(username)
        open_task(instance_id, step_no)
        page.click(f"button:has-text('{button}')")
        expect(page.locator(".flash-ok")).to_contain_text("selesai", timeout=120_000)
        logout()

    step("petugas-informasi-tu", 2, "Berkas lengkap")
    step("petugas-informasi-tu", 3)
    step("kepala-biro", 4)

    # 5. The Kabag sees the conflict and proposes a substitute.
    login("kepala-bagian-terkait")
    open_task(instance_id, 5)
    schedule = page.locator("#jadwal-narasumber")
    expect(schedule.locator("p.conflict")).to_contain_text("Bentrok")
    expect(schedule.locator("tr.conflict")).to_contain_text("Rapat kerja gubernur")
    expect(schedule.locator("tr.conflict")).to_contain_text("bentrok")
    expect(schedule.locator("tr.own")).to_contain_text("Bimtek koperasi sekolah")
    page.check("input[name='ketersediaan'][value='usul_pengganti']")
    page.fill("#f_narasumber_ditunjuk", "Budi Santoso")
    page.click("button:has-text('Selesai dan teruskan')")
    expect(page.locator(".flash-ok")).to_contain_text("selesai")
    logout()

    # 6. The Kasubbag makes the draft from the template, reads it, and accepts it.
    login("kasubbag-terkait")
    open_task(instance_id, 6)
    page.click("#buat_draft_surat")
    expect(page.locator(".flash-ok")).to_contain_text("dibuat dari templat")
    with page.expect_download() as download:
        page.click("#upload_draft_surat a:has-text('surat_balasan.docx')")
    draft = text_of(Path(download.value.path()).read_bytes())
    assert "sebagai pengganti kami tugaskan Budi Santoso (Kepala Seksi Pembiayaan)" in draft
    page.click("button:has-text('Selesai dan teruskan')")
    expect(page.locator(".flash-ok")).to_contain_text("selesai")
    logout()

    step("kepala-bagian-terkait", 7, "Setuju")
    step("kepala-biro", 8, "Setuju")
    step("asisten-administrasi-dan-umum", 9, "Setuju")

    # Three paraf on the same version of the draft.
    login("kepala-biro")
    page.goto(f"{base}/permohonan/{instance_id}")
    paraf = page.locator("ul.paraf[data-version='1'] li")
    expect(paraf).to_have_count(3)
    sha = {re.search(r"sha256 (\w+)", paraf.nth(i).inner_text()).group(1) for i in range(3)}  # type: ignore[union-attr]
    assert len(sha) == 1, sha
    logout()

    # 10. The Sekda signs in Alur (no scan), 11. the letter is numbered and becomes a PDF.
    login("sekda")
    open_task(instance_id, 10)
    expect(page.locator("#ttd_elektronik")).to_be_visible()
    page.click("button:has-text('Setuju')")
    expect(page.locator(".flash-ok")).to_contain_text("selesai")
    logout()
    step("petugas-informasi-tu", 11)

    # The applicant downloads the final letter from the request page.
    login("pemohon")
    page.goto(f"{base}/permohonan/{instance_id}")
    number = page.locator("#letter-number strong").inner_text().strip()
    with page.expect_download() as download:
        page.click("#surat-final a:has-text('Unduh surat final')")
    text = " ".join(pdf_text(Path(download.value.path()).read_bytes()).split())
    assert number in text and "Budi Santoso" in text, text
    logout()

    # The substitute's calendar shows the confirmed engagement; Dr. Siti's has only her meeting.
    login("kepala-bagian-terkait")
    page.click("nav >> text=Narasumber")
    page.click("#speakers a:has-text('Budi Santoso')")
    row = page.locator("#calendar tr", has_text="Bimtek koperasi sekolah")
    expect(row).to_contain_text("pasti")
    expect(row).to_contain_text(f"permohonan #{instance_id}")
    assert not problems, problems
    context.close()
