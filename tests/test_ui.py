"""The server-rendered UI through Flask's test client, on a real SQLite file (fixtures in conftest)."""

from __future__ import annotations

import io
import re
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient

from api import create_app
from engine.actors import SYSTEM, Filters, Upload
from engine.clock import utcnow
from engine.demo import fill, run_instance
from engine.models import TaskRecord
from engine.services import Alur
from engine.users import DEMO_PASSWORD, create_user, get_user
from engine.users import actor_of as _actor_of
from tests.conftest import PDF, PROCESS, ready

FIRST_DATA = {
    "instansi_pemohon": "Dinas Pendidikan Provinsi Kalimantan Barat",
    "perihal": "Permintaan narasumber bimtek",
    "nama_kegiatan": "Bimtek koperasi sekolah",
    "tanggal_kegiatan": "2026-09-15",
    "tempat_kegiatan": "Aula Dinas",
    "narasumber_diminta": "Tata kelola koperasi",
}


def actor(alur: Alur, username: str):
    return _actor_of(get_user(alur, username))


def login(client: FlaskClient, username: str) -> None:
    response = client.post("/login", data={"username": username, "password": DEMO_PASSWORD})
    assert response.status_code == 302, response.text
    assert response.headers["Location"] == "/"


def logout(client: FlaskClient) -> None:
    assert client.post("/logout").status_code == 302


def start(alur: Alur) -> int:
    """A request whose step 1 is done (by the applicant, with its Surat PD): step 2 is ready."""
    return alur.start(PROCESS, actor(alur, "pemohon"), uploads=[Upload("surat_pd", "surat.pdf", PDF)],
                      complete_first=True, first_data=FIRST_DATA)


def advance_to(alur: Alur, instance_id: int, step_no: int) -> TaskRecord:
    """Complete steps with the demo's sample values until the ready task is `step_no`."""
    model = alur.parsed(alur.definition(PROCESS)).model
    while True:
        record = ready(alur, instance_id)[0]
        if record.step_no == step_no:
            return record
        step = model.steps[record.spec_id]
        who = actor(alur, _username_of(record.lane))
        for doc_type in step.required_uploads:
            alur.attach_document(record.id, who, Upload(doc_type, f"{doc_type}.pdf", PDF))
        alur.complete(record.id, who, fill(step, None))


def _username_of(lane: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", lane.lower()).strip("-")


# ---- login -----------------------------------------------------------------------------

def test_login_page_and_redirect_when_anonymous(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    page = client.get("/login")
    assert page.status_code == 200
    assert "Masuk ke Alur" in page.text and 'name="password"' in page.text


def test_login_bad_password_keeps_username(client: FlaskClient) -> None:
    response = client.post("/login", data={"username": "sekda", "password": "salah-sekali"})
    assert response.status_code == 401
    assert "Nama pengguna atau kata sandi salah." in response.text
    assert 'value="sekda"' in response.text
    assert client.get("/").status_code == 302


def test_login_ok_shows_name_lanes_and_nav_then_logout(client: FlaskClient) -> None:
    login(client, "kepala-biro")
    page = client.get("/")
    assert page.status_code == 200
    for text in ("Tugas saya", "Permohonan", "Buku agenda", "SOP Fasilitasi Narasumber", "Kepala Biro", "Keluar"):
        assert text in page.text
    assert client.get("/logout").status_code == 405  # logging out is a POST (with CSRF in the real app)
    logout(client)
    assert client.get("/").status_code == 302


def test_login_next_only_local(client: FlaskClient) -> None:
    data = {"username": "sekda", "password": DEMO_PASSWORD}
    assert client.post("/login?next=/permohonan", data=data).headers["Location"] == "/permohonan"
    logout(client)
    assert client.post("/login?next=//evil.example/x", data=data).headers["Location"] == "/"


# ---- inbox -------------------------------------------------------------------------------

def test_inbox_shows_ready_task_to_its_lane_only(alur: Alur, client: FlaskClient) -> None:
    instance_id = start(alur)
    login(client, "petugas-informasi-tu")
    page = client.get("/").text
    assert "Catat dan cek kelengkapan berkas" in page
    assert f"Permohonan #{instance_id}" in page and "Permintaan narasumber bimtek" in page
    assert "standar 5 mnt" in page and "badge-danger\">Terlambat" not in page
    assert "Permohonan baru" not in page  # staff are not in the first step's lane
    logout(client)

    login(client, "kepala-biro")
    page = client.get("/").text
    assert "Catat dan cek kelengkapan berkas" not in page
    assert "Tidak ada tugas yang menunggu Anda." in page


def test_inbox_marks_overdue_oldest_first(alur: Alur, client: FlaskClient) -> None:
    first, second = start(alur), start(alur)
    with alur.unit_of_work() as uow:
        record = uow.session.get_one(TaskRecord, ready(alur, first)[0].id)
        record.ready_at = utcnow() - timedelta(minutes=30)
        record.due_at = record.ready_at + timedelta(minutes=5)
    login(client, "petugas-informasi-tu")
    page = client.get("/").text
    assert "badge-danger\">Terlambat" in page
    assert page.index(f"Permohonan #{first}") < page.index(f"Permohonan #{second}")


def test_applicant_inbox_has_new_request_button_and_own_requests(alur: Alur, client: FlaskClient) -> None:
    instance_id = start(alur)
    login(client, "pemohon")
    page = client.get("/").text
    assert "Permohonan baru" in page and "/permohonan/baru" in page
    assert f"/permohonan/{instance_id}" in page and "Berjalan" in page
    assert "Buku agenda" not in page  # the register is for staff


# ---- task page ---------------------------------------------------------------------------

def test_task_page_shows_activity_inputs_and_decision_buttons(alur: Alur, client: FlaskClient) -> None:
    instance_id = start(alur)
    record = ready(alur, instance_id)[0]
    login(client, "petugas-informasi-tu")
    page = client.get(f"/tugas/{record.id}").text
    step = alur.parsed(alur.definition(PROCESS)).model.steps[record.spec_id]
    assert step.documentation in page  # the verbatim activity text
    assert "Mencatat data dan keperluan pemohon serta mengecek kelengkapan berkas pemohon." in page
    assert "Langkah 2" in page and "Pelaksana: Petugas Informasi/TU" in page and "5 menit" in page
    assert "Surat PD" in page and "surat.pdf" in page and "/dokumen/" in page
    # the decision buttons carry the diagram's enum names
    assert 'name="keputusan" value="setuju"' in page and ">Berkas lengkap, teruskan<" in page
    assert 'name="keputusan" value="tidak_setuju"' in page and ">Kembalikan ke pemohon<" in page
    assert 'name="catatan"' in page and page.count("Wajib diisi bila dikembalikan.") == 1
    assert "catatan wajib diisi" not in page.lower()  # the rule is said once, by the field, from the diagram
    assert 'enctype="multipart/form-data"' in page


def test_task_page_generates_fields_from_the_diagram(alur: Alur, client: FlaskClient) -> None:
    instance_id = start(alur)
    record = advance_to(alur, instance_id, 5)
    login(client, "kepala-bagian-terkait")
    page = client.get(f"/tugas/{record.id}").text
    assert re.search(r'<input type="text" name="narasumber_ditunjuk" id="f_narasumber_ditunjuk" required', page)
    assert 'name="jadwal_narasumber"' in page
    assert "Narasumber yang ditunjuk" in page and 'class="req"' in page
    logout(client)

    record = advance_to(alur, instance_id, 12)
    login(client, "kasubbag-terkait")
    page = client.get(f"/tugas/{record.id}").text
    assert page.count('type="radio" name="cara_penyampaian"') == 3
    assert "Dikirim lewat pos" in page


def test_return_without_catatan_shows_error_next_to_field(alur: Alur, client: FlaskClient) -> None:
    instance_id = start(alur)
    record = advance_to(alur, instance_id, 7)
    login(client, "kepala-bagian-terkait")
    response = client.post(f"/tugas/{record.id}", data={"keputusan": "tidak_setuju", "catatan": "  "})
    assert response.status_code == 422
    error = re.search(r'<p class="field-error" id="err_catatan"[^>]*>([^<]+)</p>', response.text)
    assert error and "wajib diisi" in error.group(1)
    assert 'id="field_catatan"' in response.text and "has-error" in response.text
    assert ready(alur, instance_id)[0].id == record.id  # nothing moved

    response = client.post(f"/tugas/{record.id}", data={"keputusan": "tidak_setuju", "catatan": "Perbaiki salam"})
    assert response.status_code == 302
    assert ready(alur, instance_id)[0].step_no == 6
    assert "dikembalikan" in client.get("/").text


def test_task_error_keeps_typed_values(alur: Alur, client: FlaskClient) -> None:
    instance_id = start(alur)
    record = advance_to(alur, instance_id, 5)
    login(client, "kepala-bagian-terkait")
    response = client.post(f"/tugas/{record.id}", data={"narasumber_ditunjuk": "",
                                                        "jadwal_narasumber": "Bersedia Senin pagi"})
    assert response.status_code == 422
    assert 'id="err_narasumber_ditunjuk"' in response.text
    assert 'value="Bersedia Senin pagi"' in response.text


def test_upload_and_complete_in_one_submit(alur: Alur, client: FlaskClient) -> None:
    instance_id = start(alur)
    record = advance_to(alur, instance_id, 6)
    login(client, "kasubbag-terkait")
    # without the draft: refused next to the upload
    response = client.post(f"/tugas/{record.id}", data={"catatan": "Draft terlampir"})
    assert response.status_code == 422
    assert 'id="err_doc_draft_surat"' in response.text and 'Draft terlampir' in response.text
    # a file that is not an allowed document: refused next to the upload, nothing stored
    response = client.post(f"/tugas/{record.id}", content_type="multipart/form-data", data={
        "catatan": "Draft terlampir", "dokumen_draft_surat": (io.BytesIO(b"MZ\x90\x00 not a pdf"), "x.exe")})
    assert response.status_code == 422 and 'id="err_doc_draft_surat"' in response.text
    response = client.post(f"/tugas/{record.id}", content_type="multipart/form-data", data={
        "catatan": "Draft terlampir", "dokumen_draft_surat": (io.BytesIO(PDF), "draft balasan.pdf")})
    assert response.status_code == 302
    detail = alur.instance(instance_id, SYSTEM)
    assert detail.ready[0].step_no == 7
    draft = next(d for d in detail.documents if d.doc_type == "draft_surat")
    assert [v.task_id for v in draft.versions] == [record.id]


def test_other_lane_cannot_complete(alur: Alur, client: FlaskClient) -> None:
    instance_id = start(alur)
    record = ready(alur, instance_id)[0]
    login(client, "kepala-biro")
    page = client.get(f"/tugas/{record.id}").text
    assert "Anda hanya dapat melihatnya" in page and 'name="keputusan"' not in page
    response = client.post(f"/tugas/{record.id}", data={"keputusan": "setuju"})
    assert response.status_code == 403
    assert "bukan lane anda" in response.text


def test_completed_task_is_not_completed_twice(alur: Alur, client: FlaskClient) -> None:
    instance_id = start(alur)
    record = ready(alur, instance_id)[0]
    login(client, "petugas-informasi-tu")
    assert client.post(f"/tugas/{record.id}", data={"keputusan": "setuju"}).status_code == 302
    again = client.post(f"/tugas/{record.id}", data={"keputusan": "setuju"})
    assert again.status_code == 302 and again.headers["Location"] == f"/permohonan/{instance_id}"
    shown = client.get(again.headers["Location"]).text
    assert "sudah diselesaikan oleh petugas-informasi-tu" in shown and "Kiriman kedua tidak disimpan" in shown
    assert "status: completed" not in shown
    assert "Tugas ini sudah selesai" in client.get(f"/tugas/{record.id}").text


# ---- new request ----------------------------------------------------------------------------

def test_new_request_form_is_step_one(client: FlaskClient) -> None:
    login(client, "pemohon")
    page = client.get("/permohonan/baru").text
    assert "Menyampaikan berkas untuk keperluan permintaan narasumber di meja informasi /TU." in page
    assert 'type="date" name="tanggal_kegiatan"' in page
    assert 'value="Dinas Pendidikan Provinsi Kalimantan Barat"' in page  # the applicant's agency
    assert 'name="dokumen_surat_pd"' in page and "wajib diunggah" in page


def test_new_request_creates_instance_with_step_one_done_and_surat_pd(alur: Alur, client: FlaskClient) -> None:
    login(client, "pemohon")
    response = client.post("/permohonan/baru?proses=fasilitasi_narasumber", content_type="multipart/form-data",
                           data={**FIRST_DATA, "dokumen_surat_pd": (io.BytesIO(PDF), "Surat PD.pdf")})
    assert response.status_code == 302
    instance_id = int(response.headers["Location"].rsplit("/", 1)[1])
    detail = alur.instance(instance_id, SYSTEM)
    first = detail.history[0]
    assert (first.step_no, first.state, first.completed_by) == (1, "completed", "pemohon")
    assert [r.step_no for r in detail.ready] == [2]
    assert detail.instance.perihal == FIRST_DATA["perihal"]
    surat = next(d for d in detail.documents if d.doc_type == "surat_pd")
    version = surat.versions[-1]
    assert version.task_id == first.id and version.filename == "Surat PD.pdf"
    download = client.get(f"/dokumen/{version.id}")
    assert download.status_code == 200 and download.data == PDF
    assert download.mimetype == "application/pdf"
    assert "attachment" in download.headers["Content-Disposition"]
    page = client.get(response.headers["Location"]).text
    assert "terkirim" in page and "Catat dan cek kelengkapan berkas" in page


def test_new_request_without_document_keeps_values(alur: Alur, client: FlaskClient) -> None:
    login(client, "pemohon")
    response = client.post("/permohonan/baru", data=FIRST_DATA)
    assert response.status_code == 422
    assert 'id="err_doc_surat_pd"' in response.text
    for value in FIRST_DATA.values():
        assert f'value="{value}"' in response.text
    assert alur.instances(SYSTEM, Filters()) == []


def test_new_request_missing_field_shown_next_to_it(client: FlaskClient) -> None:
    login(client, "pemohon")
    data = {**FIRST_DATA, "nama_kegiatan": "", "dokumen_surat_pd": (io.BytesIO(PDF), "s.pdf")}
    response = client.post("/permohonan/baru", content_type="multipart/form-data", data=data)
    assert response.status_code == 422
    assert 'id="err_nama_kegiatan"' in response.text
    assert f'value="{FIRST_DATA["perihal"]}"' in response.text
    assert "pilih ulang" in response.text  # the file was not kept: say so


def test_staff_cannot_start_a_request(client: FlaskClient) -> None:
    login(client, "sekda")
    assert client.get("/permohonan/baru").status_code == 403


# ---- instance page, lists, register, SOP -----------------------------------------------------

def test_instance_page_reads_only_the_timeline_it_shows(alur: Alur, client: FlaskClient) -> None:
    """After many returns the page still reads the last ten activations (and the ready one), not all."""
    from sqlalchemy import event

    from tests.helpers import drive_to, start, step
    iid = start(alur)
    drive_to(alur, iid, 7)
    for _ in range(8):
        step(alur, iid, "tidak_setuju")
        step(alur, iid)
    login(client, "admin")
    loaded: list[TaskRecord] = []

    def count(target: TaskRecord, _context: object) -> None:
        loaded.append(target)

    event.listen(TaskRecord, "load", count)
    try:
        page = client.get(f"/permohonan/{iid}").text
    finally:
        event.remove(TaskRecord, "load", count)
    assert "Langkah 14–23 dari 23" in page and "8× dikembalikan" in page and "8 kali" in page
    assert len(loaded) <= 11, len(loaded)
    assert client.get(f"/permohonan/{iid}?sebelum=x").status_code == 400


def test_instance_page_shows_timeline_letter_number_and_diagram(alur: Alur, client: FlaskClient) -> None:
    instance_id = run_instance(alur, PROCESS)  # returns at the 2nd and the last decision step
    detail = alur.instance(instance_id, SYSTEM)
    login(client, "pemohon")
    page = client.get(f"/permohonan/{instance_id}").text
    assert detail.instance.letter_number and re.fullmatch(r"000\.1\.2\.3/001/DISKOP-UKM/\d{4}",
                                                          detail.instance.letter_number)
    assert detail.instance.letter_number in page
    assert len(detail.history) == 17 and page.count('<tr class="state-') == 10  # the last ten, the rest paged
    assert "Langkah 8–17 dari 17" in page and "2 kali" in page and "Kembali ke yang terbaru" not in page
    older_url = re.search(r'href="([^"]+)" id="timeline-older"', page).group(1)
    assert older_url == f"/permohonan/{instance_id}?sebelum=8#riwayat"
    older = client.get(older_url.split("#")[0]).text
    assert older.count('<tr class="state-') == 7 and "Langkah 1–7 dari 17" in older
    assert 'id="timeline-older"' not in older and 'id="timeline-newest"' in older
    assert page.count("is-return") + older.count("is-return") == 2
    assert "Selesai" in page and "Dikembalikan" in page and "Mohon diperbaiki" in page + older
    completed = re.search(r'data-completed="([^"]*)"', page).group(1).split()
    assert len(completed) == 13 and re.search(r'data-current=""', page)
    assert "/vendor/bpmn-js/bpmn-navigated-viewer.production.min.js" in page and "/static/diagram.js" in page
    xml = client.get(f"/permohonan/{instance_id}/diagram.xml")
    assert xml.status_code == 200 and xml.mimetype == "application/xml"
    assert b'id="fasilitasi_narasumber"' in xml.data
    for doc in ("Surat PD", "Draft surat", "Surat yang telah ditandatangani"):
        assert doc in page


def test_instance_of_another_agency_is_not_found(alur: Alur, client: FlaskClient) -> None:
    create_user(alur, "dinas-lain", DEMO_PASSWORD, ["Pemohon"], "Dinas Lain", agency="Dinas Kesehatan")
    other = alur.start(PROCESS, actor(alur, "dinas-lain"), uploads=[Upload("surat_pd", "s.pdf", PDF)],
                       complete_first=True, first_data={**FIRST_DATA, "perihal": "Permohonan dinas lain"})
    mine = start(alur)
    login(client, "pemohon")
    assert client.get(f"/permohonan/{other}").status_code == 404
    listing = client.get("/permohonan").text
    assert f"/permohonan/{mine}" in listing and "Permohonan dinas lain" not in listing
    logout(client)
    login(client, "sekda")
    assert "Permohonan dinas lain" in client.get("/permohonan").text


def test_instances_filters(alur: Alur, client: FlaskClient) -> None:
    finished = run_instance(alur, PROCESS)
    running = start(alur)
    login(client, "petugas-informasi-tu")
    page = client.get("/permohonan?status=completed").text
    assert f'href="/permohonan/{finished}"' in page and f'href="/permohonan/{running}"' not in page
    page = client.get("/permohonan?status=running").text
    assert f'href="/permohonan/{running}"' in page and f'href="/permohonan/{finished}"' not in page
    assert "Tidak ada permohonan" in client.get("/permohonan?dari=2000-01-01&sampai=2000-01-31").text
    page = client.get("/permohonan?dari=kemarin").text
    assert "tidak valid" in page and f'href="/permohonan/{running}"' in page
    assert f'href="/permohonan/{running}"' not in client.get("/permohonan?terlambat=ya").text
    assert f'href="/permohonan/{running}"' in client.get("/permohonan?terlambat=tidak").text


def test_register_page(alur: Alur, client: FlaskClient) -> None:
    instance_id = run_instance(alur, PROCESS)
    number = alur.instance(instance_id, SYSTEM).instance.letter_number
    login(client, "petugas-informasi-tu")
    page = client.get("/buku-agenda").text
    assert number in page and f'href="/permohonan/{instance_id}"' in page
    assert "Dinas Pendidikan Provinsi Kalimantan Barat" in page  # the recipient
    assert number not in client.get("/buku-agenda?tahun=2001").text
    logout(client)
    login(client, "pemohon")
    assert client.get("/buku-agenda").status_code == 403


def test_process_page_is_the_printed_sop(client: FlaskClient) -> None:
    login(client, "sekda")
    page = client.get("/proses/fasilitasi_narasumber").text
    assert "Identitas SOP" in page and "Peraturan Gubernur Kalimantan Barat Nomor 125 Tahun 2021" in page
    assert "Bagian Umum dan Aparatur" in page and "Buku agenda surat keluar" in page
    steps = "".join(re.findall(r'<table class="table sop-table[^"]*" id="sop-steps[^"]*">(.*?)</table>', page, re.S))
    assert steps.count('<td class="num">') == 13
    assert steps.count('<polygon class="symbol decision"') == 5 and steps.count('<rect class="symbol process"') == 8
    assert "135 menit" in steps and "Surat yang telah ditandatangani" in steps
    assert client.get("/proses/tidak-ada").status_code == 404
    assert client.get("/proses").headers["Location"] == "/proses/fasilitasi_narasumber"


def test_vendor_bpmn_js_is_served_locally(client: FlaskClient) -> None:
    script = client.get("/vendor/bpmn-js/bpmn-navigated-viewer.production.min.js")
    assert script.status_code == 200 and len(script.data) > 100_000
    assert client.get("/vendor/bpmn-js/assets/diagram-js.css").status_code == 200
    assert client.get("/vendor/bpmn-js/../package.json").status_code == 404
    assert client.get("/vendor/bpmn-js/%2e%2e/package.json").status_code == 404


# ---- security ---------------------------------------------------------------------------------

def test_csrf_is_enforced_when_enabled(alur: Alur) -> None:
    app: Flask = create_app(alur.settings, alur, TESTING=True, WTF_CSRF_ENABLED=True)
    client = app.test_client()
    refused = client.post("/login", data={"username": "sekda", "password": DEMO_PASSWORD})
    assert refused.status_code == 400
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    ok = client.post("/login", data={"username": "sekda", "password": DEMO_PASSWORD, "csrf_token": token})
    assert ok.status_code == 302
    assert client.post("/logout").status_code == 400  # no token: still logged in
    assert client.get("/").status_code == 200


def test_security_headers_and_no_inline_script_or_style(alur: Alur, client: FlaskClient) -> None:
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    instance_id = run_instance(alur, PROCESS)
    start(alur)
    login(client, "petugas-informasi-tu")
    task_id = ready(alur, instance_id + 1)[0].id
    for url in ("/", f"/tugas/{task_id}", f"/permohonan/{instance_id}", "/permohonan", "/buku-agenda",
                "/proses/fasilitasi_narasumber"):
        page = client.get(url)
        assert page.status_code == 200, url
        assert "style=" not in page.text and "<style" not in page.text, url
        assert not re.search(r"<script(?![^>]*\bsrc=)", page.text), url
        assert "http://" not in page.text.replace("http://www.w3.org", "") and "https://" not in page.text, url


def test_instance_list_accepts_the_last_day_of_the_calendar(client) -> None:
    """The date filter's end is the start of the next day: on 9999-12-31 there is none, and that is fine."""
    client.post("/login", data={"username": "sekda", "password": "alur-demo"})
    response = client.get("/permohonan?dari=0001-01-01&sampai=9999-12-31")
    assert response.status_code == 200
