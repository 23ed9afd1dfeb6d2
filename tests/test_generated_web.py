"""Templates and generated documents over /api/v1 (checked against the OpenAPI document) and in the UI."""

from __future__ import annotations

import io

from flask.testing import FlaskClient

from engine.actors import SYSTEM
from engine.services import Alur
from engine.testing import PROCESS
from tests.helpers import current
from tests.test_api import Api
from tests.test_generated_documents import text_of, with_sentence
from tests.test_speakers import OWNER, assign, new_request
from tests.test_speakers_web import api  # noqa: F401 - the fixture
from tests.test_ui import login


def _multipart(content: bytes, note: str = "") -> dict:
    return {"data": {"file": (io.BytesIO(content), "balasan.docx"), "note": note},
            "content_type": "multipart/form-data"}


def test_templates_and_generation_over_the_api(api: Api, alur: Alur) -> None:  # noqa: F811
    listed = api.get(f"/api/v1/processes/{PROCESS}/templates", "kasubbag-terkait").json
    assert [(t["name"], t["version"]) for t in listed["templates"]] == [("lembar_disposisi", 0), ("surat_balasan", 0)]
    default = api.get(listed["templates"][1]["url"], "kasubbag-terkait")
    assert default.status_code == 200 and "Demikian disampaikan" in text_of(default.data)
    broken = with_sentence("Demikian disampaikan", "Demikian {{ narasumber.gelar }} disampaikan")
    refused = api.post(f"/api/v1/processes/{PROCESS}/templates/surat_balasan", "pemilik-proses", **_multipart(broken))
    assert refused.status_code == 422 and "'gelar'" in refused.json["error"] and refused.json["field"] == "file"
    assert api.post(f"/api/v1/processes/{PROCESS}/templates/surat_balasan", "kasubbag-terkait",
                    **_multipart(broken)).status_code == 403
    changed = with_sentence("Demikian disampaikan", "Demikian kami sampaikan dengan hormat")
    stored = api.post(f"/api/v1/processes/{PROCESS}/templates/surat_balasan", "pemilik-proses",
                      **_multipart(changed, "kalimat penutup"))
    assert stored.status_code == 201 and (stored.json["version"], stored.json["note"]) == (1, "kalimat penutup")

    alur.save_speaker(OWNER, {"name": "Dr. Siti Aminah", "jabatan": "Kepala Bidang"})
    iid = new_request(alur, "Dr. Siti Aminah")
    assign(alur, iid, "Dr. Siti Aminah")
    task = current(alur, iid)
    wrong = api.post(f"/api/v1/tasks/{task.id}/generate", "kasubbag-terkait", json={"type": "surat_pd"})
    assert wrong.status_code == 422
    made = api.post(f"/api/v1/tasks/{task.id}/generate", "kasubbag-terkait", json={"type": "draft_surat"})
    assert made.status_code == 201 and made.json["note"] == "dibuat dari templat surat_balasan versi 1"
    text = text_of(api.get(made.json["url"], "kasubbag-terkait").data)
    assert "Demikian kami sampaikan dengan hormat" in text and "Dr. Siti Aminah (Kepala Bidang) bersedia" in text
    done = api.post(f"/api/v1/tasks/{task.id}/complete", "kasubbag-terkait", json={"data": {}})
    assert done.status_code == 200, done.json                 # the generated draft is accepted as it is


def test_template_page_and_the_generate_button(client: FlaskClient, alur: Alur) -> None:
    login(client, "pemilik-proses")
    page = client.get(f"/proses/{PROCESS}/templat")
    assert page.status_code == 200 and 'id="templat-surat_balasan"' in page.text and "bawaan" in page.text
    broken = with_sentence("Demikian disampaikan", "{{ tidak_ada }}")
    refused = client.post(f"/proses/{PROCESS}/templat/surat_balasan", content_type="multipart/form-data",
                          data={"berkas": (io.BytesIO(broken), "x.docx"), "catatan": "coba"})
    assert refused.status_code == 422 and "placeholder &#39;tidak_ada&#39;" in refused.text
    client.post("/logout")
    iid = new_request(alur, "Dr. Siti Aminah")
    assign(alur, iid, "Dr. Siti Aminah")
    task = current(alur, iid)
    login(client, "kasubbag-terkait")
    assert 'id="buat_draft_surat"' in client.get(f"/tugas/{task.id}").text
    assert client.post(f"/tugas/{task.id}/buat/draft_surat").status_code == 302
    page = client.get(f"/tugas/{task.id}").text
    assert "surat_balasan.docx" in page
    assert client.post(f"/tugas/{task.id}", data={"catatan": ""}).status_code == 302
    detail = alur.instance(iid, SYSTEM)
    draft = next(d for d in detail.documents if d.doc_type == "draft_surat")
    assert [v.note for v in draft.versions] == ["dibuat dari templat surat_balasan bawaan"]
    page = client.get(f"/permohonan/{iid}").text
    assert "dibuat dari templat surat_balasan bawaan" in page
