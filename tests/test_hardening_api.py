"""The attack findings on /api/v1: diagram XML as a download, download names, short refusals."""

from __future__ import annotations

import io
from urllib.parse import quote

from flask.testing import FlaskClient

from engine.demo import SAMPLE_PDF
from engine.users import DEMO_PASSWORD
from tests.conftest import PROCESS


def bearer(client: FlaskClient, username: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", json={"username": username, "password": DEMO_PASSWORD})
    assert r.status_code == 200, r.get_json()
    return {"Authorization": f"Bearer {r.get_json()['token']}"}


def test_the_bpmn_endpoint_serves_a_download(client: FlaskClient) -> None:
    r = client.get(f"/api/v1/processes/{PROCESS}/versions/1/bpmn", headers=bearer(client, "sekda"))
    assert r.status_code == 200 and b"<bpmn:definitions" in r.data
    assert r.headers["Content-Disposition"].startswith("attachment")


def test_downloads_keep_a_non_ascii_name_with_filename_star(client: FlaskClient) -> None:
    pemohon = bearer(client, "pemohon")
    iid = client.post("/api/v1/instances", json={"process": PROCESS}, headers=pemohon).get_json()["id"]
    task = client.get(f"/api/v1/instances/{iid}", headers=pemohon).get_json()["ready_tasks"][0]["id"]
    name = "Surat permohonan Dinas Pendidikan – Pontianak ñ.pdf"
    r = client.post(f"/api/v1/tasks/{task}/documents", headers=pemohon, content_type="multipart/form-data",
                    data={"type": "surat_pd", "file": (io.BytesIO(SAMPLE_PDF), name)})
    assert r.status_code == 201, r.get_json()
    download = client.get(r.get_json()["url"], headers=pemohon)
    disposition = download.headers["Content-Disposition"]
    assert download.status_code == 200 and download.data == SAMPLE_PDF
    assert f"filename*=UTF-8''{quote(r.get_json()['filename'])}" in disposition, disposition
    assert "ñ" in r.get_json()["filename"]


def test_unknown_top_level_keys_are_named_briefly(client: FlaskClient) -> None:
    body = {"process": PROCESS, **{f"kunci_{i:03d}": 1 for i in range(300)}}
    r = client.post("/api/v1/instances", json=body, headers=bearer(client, "pemohon"))
    assert r.status_code == 400
    message = r.get_json()["error"]
    assert message.count("kunci_") == 5 and "295 lagi" in message and len(message) < 300
