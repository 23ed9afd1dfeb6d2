"""The speaker registry and calendar over /api/v1 (checked against the OpenAPI document) and in the UI."""

from __future__ import annotations

import io
import re

import pytest
from flask.testing import FlaskClient

from engine.actors import SYSTEM
from engine.demo import SAMPLE_PDF
from engine.services import Alur
from tests.helpers import drive_to
from tests.test_api import Api
from tests.test_speakers import OWNER, assign, new_request
from tests.test_ui import login

SITI = {"name": "Dr. Siti Aminah", "nip": "197001012000032001", "jabatan": "Kepala Bidang Kelembagaan",
        "unit": "Bidang Kelembagaan", "topics": "koperasi"}


@pytest.fixture
def api(client: FlaskClient) -> Api:
    return Api(client)


def test_registry_and_calendar_over_the_api(api: Api, alur: Alur) -> None:
    refused = api.post("/api/v1/speakers", "kepala-bagian-terkait", json=SITI)
    assert refused.status_code == 403
    bad = api.post("/api/v1/speakers", "pemilik-proses", json={**SITI, "nip": "123"})
    assert bad.status_code == 400 and bad.json["field"] == "nip"
    created = api.post("/api/v1/speakers", "pemilik-proses", json=SITI)
    assert created.status_code == 201, created.json
    speaker = created.json
    assert (speaker["name"], speaker["nip"], speaker["active"]) == ("Dr. Siti Aminah", SITI["nip"], True)
    duplicate = api.post("/api/v1/speakers", "admin", json={**SITI, "name": "Orang lain"})
    assert duplicate.status_code == 422 and duplicate.json["field"] == "nip"
    changed = api.call("PATCH", f"/api/v1/speakers/{speaker['id']}", "admin", json={"jabatan": "Sekretaris"})
    assert changed.status_code == 200 and (changed.json["jabatan"], changed.json["unit"]) == (
        "Sekretaris", "Bidang Kelembagaan")
    listed = api.get("/api/v1/speakers", "kepala-bagian-terkait").json
    assert [s["name"] for s in listed["speakers"]] == ["Dr. Siti Aminah"]
    assert api.get("/api/v1/speakers", "pemohon").status_code == 403   # applicants: no calendars

    entry = api.post(f"/api/v1/speakers/{speaker['id']}/calendar/entries", "pemilik-proses",
                     json={"title": "Cuti", "starts_at": "2026-12-10T08:00", "ends_at": "2026-12-10T17:00"})
    assert entry.status_code == 201 and entry.json["source"] == "manual" and entry.json["status"] == "confirmed"
    backwards = api.post(f"/api/v1/speakers/{speaker['id']}/calendar/entries", "pemilik-proses",
                         json={"title": "Rapat", "starts_at": "2026-12-10T10:00", "ends_at": "2026-12-10T09:00"})
    assert backwards.status_code == 422 and backwards.json["field"] == "ends_at"
    iid = new_request(alur, "Dr. Siti Aminah", day="2026-12-11")
    calendar = api.get(f"{speaker['calendar_url']}?from=2026-12-01&to=2026-12-31", "kepala-bagian-terkait").json
    assert [(e["title"], e["status"], e["instance_id"]) for e in calendar["engagements"]] == [
        ("Cuti", "confirmed", None), ("Bimtek koperasi sekolah", "tentative", iid)]
    assert calendar["engagements"][1]["starts_at"] == "2026-12-11T09:00"
    released = api.post(f"/api/v1/speakers/{speaker['id']}/calendar/entries/{entry.json['id']}/release", "admin")
    assert released.status_code == 200 and released.json["status"] == "released"
    after = api.get(f"{speaker['calendar_url']}", "admin").json
    assert [e["title"] for e in after["engagements"]] == ["Bimtek koperasi sekolah"]
    with_released = api.get(f"{speaker['calendar_url']}?released=true", "admin").json
    assert len(with_released["engagements"]) == 2
    assert api.get("/api/v1/speakers/999/calendar", "admin").status_code == 404


def test_step_five_page_marks_the_conflict_and_the_pages_manage_the_registry(client: FlaskClient,
                                                                           alur: Alur) -> None:
    login(client, "pemilik-proses")
    page = client.post("/narasumber", data={"name": "", "nip": ""})
    assert page.status_code == 422 and "wajib diisi" in page.text
    created = client.post("/narasumber", data={**SITI, "active": "true"})
    assert created.status_code == 302
    speaker_url = created.headers["Location"]
    speaker_id = int(speaker_url.rsplit("/", 1)[1])
    added = client.post(f"{speaker_url}/jadwal", data={"title": "Rapat kerja gubernur",
                                                       "starts_at": "2026-12-10T10:00",
                                                       "ends_at": "2026-12-10T12:00"})
    assert added.status_code == 302
    page = client.get(speaker_url).text
    assert "Rapat kerja gubernur" in page and "pasti" in page
    iid = new_request(alur, "Dr. Siti Aminah")
    record = drive_to(alur, iid, 5)
    client.post("/logout")
    login(client, "kepala-bagian-terkait")
    page = client.get(f"/tugas/{record.id}").text
    section = page[page.index('id="jadwal-narasumber"'):]
    assert re.search(r'<tr class="conflict">.*?Rapat kerja gubernur.*?bentrok', section, re.S)
    assert re.search(r'<tr class="own">.*?Bimtek koperasi sekolah', section, re.S)
    assert '<datalist id="daftar_narasumber"><option value="Dr. Siti Aminah">' in page
    assert 'name="ketersediaan" value="usul_pengganti"' in page
    # staff without the role see the registry but cannot change it
    assert client.post("/narasumber", data={"name": "X"}).status_code == 403
    assert client.get("/narasumber").status_code == 200
    assert alur.speaker(speaker_id).name == "Dr. Siti Aminah"


def test_conflict_at_signature_is_shown_on_the_task_page(client: FlaskClient, alur: Alur) -> None:
    alur.save_speaker(OWNER, SITI)
    first, second = new_request(alur, "Dr. Siti Aminah"), new_request(alur, "Dr. Siti Aminah")
    for iid in (first, second):
        assign(alur, iid, "Dr. Siti Aminah")
    drive_to(alur, first, 11)
    record = drive_to(alur, second, 10)
    login(client, "sekda")
    upload = {"dokumen_surat_ditandatangani": (io.BytesIO(SAMPLE_PDF), "ttd.pdf")}
    page = client.post(f"/tugas/{record.id}", data={"keputusan": "setuju", **upload},
                       content_type="multipart/form-data")
    assert page.status_code == 409 and "jadwal bentrok" in page.text
    assert alur.instance(second, SYSTEM).ready[0].id == record.id
