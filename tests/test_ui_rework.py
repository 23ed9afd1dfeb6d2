"""Forms and rules of issue 12 through the UI (Flask test client): every error at once with
the field's label, nothing stored when refused, inputs read-only, the applicant's agency."""

from __future__ import annotations

import io

from flask.testing import FlaskClient

from engine.actors import SYSTEM, Filters
from engine.demo import SAMPLE_PDF, actor_for_lane
from engine.services import Alur
from tests.helpers import current, drive_to, step
from tests.helpers import start as start_empty
from tests.test_ui import login


def _versions(alur: Alur, instance_id: int) -> list[tuple[str, int]]:
    return [(d.doc_type, v.version) for d in alur.instance(instance_id, SYSTEM).documents for v in d.versions]


def test_every_error_of_the_form_is_shown_at_once_with_labels_and_no_file_is_stored(
        alur: Alur, client: FlaskClient) -> None:
    login(client, "pemohon")
    response = client.post("/permohonan/baru?proses=fasilitasi_narasumber", data={
        "perihal": "x" * 301, "nama_kegiatan": "", "tanggal_kegiatan": "17-08-2026",
        "dokumen_surat_pd": (io.BytesIO(SAMPLE_PDF), "surat.pdf")}, content_type="multipart/form-data")
    assert response.status_code == 422
    page = response.text
    assert 'id="err_perihal"' in page and "Perihal surat lebih dari 300 karakter" in page
    assert 'id="err_nama_kegiatan"' in page and "Nama kegiatan&#39; wajib" not in page
    assert "Nama kegiatan wajib diisi" in page
    assert 'id="err_tanggal_kegiatan"' in page and "format TTTT-BB-HH" in page
    assert "(perihal)" not in page and "(tanggal_kegiatan)" not in page  # never the internal id
    assert "Berkas yang tadi dipilih (Surat PD) belum tersimpan: pilih ulang" in page
    assert 'value="' + "x" * 301 + '"' in page  # what was typed is kept
    assert alur.instances(SYSTEM, Filters()) == []


def test_a_refused_task_completion_stores_no_file(alur: Alur, client: FlaskClient) -> None:
    iid = start_empty(alur)
    record = drive_to(alur, iid, 7)
    step(alur, iid, "tidak_setuju")  # back to the drafter, who must upload a new version
    before = _versions(alur, iid)
    again = current(alur, iid)
    login(client, "kasubbag-terkait")
    page = client.get(f"/tugas/{again.id}").text
    assert 'id="return-banner"' in page and "Mohon diperbaiki (Koreksi draft (Kabag))" in page
    assert "versi baru wajib diunggah" in page
    # an over-long note and a chosen file: refused together, the file not stored
    response = client.post(f"/tugas/{again.id}", data={
        "catatan": "y" * 10_001, "dokumen_draft_surat": (io.BytesIO(SAMPLE_PDF), "draft2.pdf")},
        content_type="multipart/form-data")
    assert response.status_code == 422
    assert "Catatan lebih dari 10000 karakter" in response.text
    assert "Berkas yang tadi dipilih (Draft surat) belum tersimpan" in response.text
    assert _versions(alur, iid) == before
    assert record.id != again.id


def test_a_step_does_not_offer_its_input_documents_for_upload(alur: Alur, client: FlaskClient) -> None:
    iid = start_empty(alur)
    record = drive_to(alur, iid, 13)
    login(client, "pemohon")
    page = client.get(f"/tugas/{record.id}").text
    assert 'name="dokumen_surat_ditandatangani"' not in page  # read-only here
    response = client.post(f"/tugas/{record.id}", data={
        "dokumen_surat_ditandatangani": (io.BytesIO(SAMPLE_PDF), "palsu.pdf")}, content_type="multipart/form-data")
    assert response.status_code == 302  # the file field is not the step's: ignored, the step completes
    assert [v for t, v in _versions(alur, iid) if t == "surat_ditandatangani"] == [1]


def test_admin_outside_the_first_lane_has_no_new_request(client: FlaskClient) -> None:
    login(client, "admin")
    assert "Permohonan baru" not in client.get("/").text
    assert client.get("/permohonan/baru").status_code == 403


def test_the_applicant_agency_is_read_only_and_taken_from_the_account(alur: Alur, client: FlaskClient) -> None:
    login(client, "pemohon")
    page = client.get("/permohonan/baru").text
    assert 'name="instansi_pemohon" id="f_instansi_pemohon" value="Dinas Pendidikan Provinsi Kalimantan Barat" ' \
           'readonly' in page
    response = client.post("/permohonan/baru?proses=fasilitasi_narasumber", data={
        "instansi_pemohon": "Instansi lain", "perihal": "Narasumber", "nama_kegiatan": "Bimtek",
        "tanggal_kegiatan": "2026-08-17", "dokumen_surat_pd": (io.BytesIO(SAMPLE_PDF), "surat.pdf")},
        content_type="multipart/form-data")
    assert response.status_code == 302, response.text
    [instance] = alur.instances(actor_for_lane(alur, "Pemohon"), Filters())
    assert instance.agency == "Dinas Pendidikan Provinsi Kalimantan Barat"


def test_the_instance_page_shows_a_returned_and_held_task(alur: Alur, client: FlaskClient) -> None:
    from engine import claims

    iid = start_empty(alur)
    step(alur, iid)
    step(alur, iid, "tidak_setuju")
    claims.claim(alur, current(alur, iid).id, actor_for_lane(alur, "Pemohon"))
    login(client, "petugas-informasi-tu")
    page = client.get(f"/permohonan/{iid}").text
    assert 'class="badge badge-return">dikembalikan<' in page and "Dikerjakan pemohon" in page


def test_a_wrong_file_and_a_missing_field_are_shown_together(alur: Alur, client: FlaskClient) -> None:
    login(client, "pemohon")
    exe = b"MZ\x90\x00" + b"\x00" * 200
    response = client.post("/permohonan/baru?proses=fasilitasi_narasumber", data={
        "perihal": "Narasumber", "nama_kegiatan": "", "tanggal_kegiatan": "2026-08-17",
        "dokumen_surat_pd": (io.BytesIO(exe), "surat.pdf")}, content_type="multipart/form-data")
    assert response.status_code == 422
    page = response.text
    assert 'id="err_nama_kegiatan"' in page and 'id="err_doc_surat_pd"' in page
    assert "jenis berkas tidak diizinkan" in page.lower() and "berkas Windows (.exe)" in page
    assert alur.instances(SYSTEM, Filters()) == []
