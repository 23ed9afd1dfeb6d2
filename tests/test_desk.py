"""The process owner's desk over HTTP (Flask test client, real database): who may use it, the dry-run
check, deploy from the modeler and from an uploaded file, versions, differences, migration, the
modeler's assets and CSP, and the element templates against the diagram conventions."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api import create_app
from engine.actors import SYSTEM
from engine.services import Alur
from engine.settings import ROOT
from tests.conftest import PROCESS, SOP_FILE
from tests.helpers import drive_to, start
from tests.owner_diagrams import NEW_LANE, NEW_STEP, revised_sop
from tests.test_ui import login

BROKEN = SOP_FILE.read_text(encoding="utf-8").replace(
    'targetRef="langkah_02_cek_kelengkapan"', 'targetRef="langkah_tidak_ada"', 1).encode()


def upload(xml: bytes, name: str = "diagram.bpmn") -> dict[str, object]:
    return {"file": (io.BytesIO(xml), name)}


def versions(alur: Alur) -> list[int]:
    return [d.version for d in alur.definitions() if d.key == PROCESS]


def post_json(client: FlaskClient, url: str, xml: bytes) -> object:
    return client.post(url, data=upload(xml), content_type="multipart/form-data",
                       headers={"Accept": "application/json"})


@pytest.mark.parametrize("username", ["pemohon", "kepala-biro", "sekda"])
def test_only_process_owners_and_admins_use_the_desk(client: FlaskClient, alur: Alur, username: str) -> None:
    login(client, username)
    for url in ("/meja/", f"/meja/modeler?proses={PROCESS}", f"/meja/proses/{PROCESS}/versi"):
        assert client.get(url).status_code == 403, url
    assert post_json(client, "/meja/deploy", revised_sop()).status_code == 403
    assert versions(alur) == [1]
    assert "Meja pemilik proses" not in client.get("/").text


def test_anonymous_is_sent_to_login(client: FlaskClient) -> None:
    response = client.get("/meja/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_desk_is_in_the_menu_of_owner_and_admin(client: FlaskClient) -> None:
    for username in ("pemilik-proses", "admin"):
        login(client, username)
        assert 'href="/meja/"' in client.get("/").text
        assert client.get("/meja/").status_code == 200
        client.post("/logout")


def test_check_lists_errors_with_line_and_element_and_stores_nothing(client: FlaskClient, alur: Alur) -> None:
    login(client, "pemilik-proses")
    response = post_json(client, "/meja/periksa", BROKEN)
    assert response.status_code == 200
    body = response.get_json()
    assert body["errors"], body
    problem = next(p for p in body["errors"] if "langkah_tidak_ada" in p["message"])
    assert problem["line"] and problem["element_id"]
    assert versions(alur) == [1]


def test_check_warns_about_a_lane_without_members_and_stores_nothing(client: FlaskClient, alur: Alur) -> None:
    login(client, "pemilik-proses")
    body = post_json(client, "/meja/periksa", revised_sop()).get_json()
    assert body["errors"] == []
    assert [w["element_id"] for w in body["warnings"]] == ["lane_bagian_hukum"]
    assert NEW_LANE in body["warnings"][0]["message"] and body["warnings"][0]["line"]
    assert versions(alur) == [1]


def test_check_without_a_file_is_an_error_in_words(client: FlaskClient) -> None:
    login(client, "pemilik-proses")
    body = client.post("/meja/periksa", headers={"Accept": "application/json"}).get_json()
    assert body["errors"][0]["message"] == "pilih berkas .bpmn terlebih dahulu"


def test_deploy_from_the_modeler_answers_json_with_warnings(client: FlaskClient, alur: Alur) -> None:
    login(client, "pemilik-proses")
    response = post_json(client, "/meja/deploy", revised_sop())
    assert response.status_code == 200
    body = response.get_json()
    assert (body["version"], body["created"], body["url"]) == (2, True, f"/meja/proses/{PROCESS}/versi")
    assert [w["element_id"] for w in body["warnings"]] == ["lane_bagian_hukum"]
    assert alur.diagram_xml(alur.definition(PROCESS, 2)).encode() == revised_sop()
    # the same file again is no new version
    assert post_json(client, "/meja/deploy", revised_sop()).get_json()["created"] is False
    assert versions(alur) == [1, 2]


def test_refused_deploy_keeps_everything(client: FlaskClient, alur: Alur) -> None:
    login(client, "pemilik-proses")
    response = post_json(client, "/meja/deploy", BROKEN)
    assert response.status_code == 422
    assert any("langkah_tidak_ada" in p["message"] for p in response.get_json()["errors"])
    page = client.post("/meja/deploy", data=upload(BROKEN), content_type="multipart/form-data")
    assert page.status_code == 422
    assert "Diagram ditolak" in page.text and "langkah_tidak_ada" in page.text
    assert versions(alur) == [1]


def test_upload_form_deploys_a_desktop_file(client: FlaskClient, alur: Alur) -> None:
    login(client, "pemilik-proses")
    response = client.post("/meja/deploy", data=upload(revised_sop(), "revisi.bpmn"),
                           content_type="multipart/form-data", follow_redirects=True)
    assert response.status_code == 200
    assert "Versi 2 proses" in response.text and NEW_LANE in response.text
    assert versions(alur) == [1, 2]


def test_versions_page_counts_requests_per_version(client: FlaskClient, alur: Alur) -> None:
    start(alur)
    alur.deploy(revised_sop(), SYSTEM)
    login(client, "pemilik-proses")
    page = client.get(f"/meja/proses/{PROCESS}/versi").text
    assert page.count("<tr data-version=") == 2
    v1 = page.split('<tr data-version="1">')[1].split("</tr>")[0]
    assert '<td data-label="Berjalan" class="num running">1</td>' in v1
    assert alur.definition(PROCESS, 1).sha256[:12] in v1
    assert f"/proses/{PROCESS}?versi=1" in v1 and f"/proses/{PROCESS}/diagram.xml?versi=1" in v1
    assert f"/meja/modeler?proses={PROCESS}&amp;versi=1" in v1
    assert client.get("/meja/proses/tidak_ada/versi").status_code == 404


def test_diff_page_lists_the_changes_and_marks_the_elements(client: FlaskClient, alur: Alur) -> None:
    alur.deploy(revised_sop(), SYSTEM)
    login(client, "pemilik-proses")
    page = client.get(f"/meja/proses/{PROCESS}/beda?dari=1&ke=2").text
    assert "Perbedaan versi 1 → 2" in page
    assert f'data-element="{NEW_STEP}"' in page and 'data-element="langkah_06_buat_draft"' in page
    assert "Catatan untuk Kepala Biro" in page
    after = page.split('id="diagram-after"')[1].split(">")[0]
    assert NEW_STEP in after.split('data-added="')[1].split('"')[0]
    assert "langkah_06_buat_draft" in after.split('data-changed="')[1].split('"')[0]
    # without versions: the latest against the one before
    assert client.get(f"/meja/proses/{PROCESS}/beda").headers["Location"].endswith("dari=1&ke=2")


def test_migration_dry_run_then_confirm(client: FlaskClient, alur: Alur) -> None:
    moving = start(alur)
    drive_to(alur, moving, 6)
    alur.deploy(revised_sop(), SYSTEM)
    login(client, "pemilik-proses")
    plan = client.get(f"/meja/proses/{PROCESS}/versi?pindah_dari=1&pindah_ke=2").text
    assert f'data-instance="{moving}"' in plan and "Bisa" in plan and "Pindahkan 1 permohonan" in plan
    assert alur.instance(moving, SYSTEM).instance.definition.version == 1
    response = client.post(f"/meja/proses/{PROCESS}/pindahkan", data={"pindah_dari": "1", "pindah_ke": "2"},
                           follow_redirects=True)
    assert f"#{moving}" in response.text
    assert alur.instance(moving, SYSTEM).instance.definition.version == 2
    events = [e for e in alur.audit_log(moving) if e.kind == "migrate"]
    assert events and events[-1].actor == "pemilik-proses"


def test_migration_refusal_is_listed_with_the_step(client: FlaskClient, alur: Alur) -> None:
    from tests.owner_diagrams import renamed_step_sop

    stuck = start(alur)
    drive_to(alur, stuck, 6)
    alur.deploy(renamed_step_sop(), SYSTEM)
    login(client, "pemilik-proses")
    plan = client.get(f"/meja/proses/{PROCESS}/versi?pindah_dari=1&pindah_ke=2").text
    row = plan.split(f'data-instance="{stuck}"')[1].split("</tr>")[0]
    assert "Tidak" in row and "langkah_06_buat_draft" in row
    assert "migrate-form" not in plan
    # with the mapping it can move
    mapped = client.get(f"/meja/proses/{PROCESS}/versi?pindah_dari=1&pindah_ke=2"
                        "&pemetaan=langkah_06_buat_draft%3Dlangkah_06_susun_draft").text
    assert "Pindahkan 1 permohonan" in mapped
    client.post(f"/meja/proses/{PROCESS}/pindahkan", data={
        "pindah_dari": "1", "pindah_ke": "2", "pemetaan": "langkah_06_buat_draft=langkah_06_susun_draft"})
    assert alur.instance(stuck, SYSTEM).ready[0].spec_id == "langkah_06_susun_draft"
    bad = client.get(f"/meja/proses/{PROCESS}/versi?pindah_dari=1&pindah_ke=2&pemetaan=tanpa_tanda").text
    assert "id_lama=id_baru" in bad


def test_modeler_page_has_its_own_narrow_csp(client: FlaskClient) -> None:
    login(client, "pemilik-proses")
    modeler = client.get(f"/meja/modeler?proses={PROCESS}&versi=1")
    csp = modeler.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "unsafe-eval" not in csp
    assert "style-src 'self';" in csp and "style-src-attr 'unsafe-inline'" in csp
    assert f'data-xml-url="/proses/{PROCESS}/diagram.xml?versi=1"' in modeler.text
    assert "unsafe" not in client.get("/meja/").headers["Content-Security-Policy"]
    new = client.get("/meja/modeler")
    assert 'data-xml-url="/meja/proses-baru.bpmn"' in new.text
    assert client.get("/meja/proses-baru.bpmn").status_code == 200


def test_modeler_files_are_served_locally(client: FlaskClient) -> None:
    login(client, "pemilik-proses")
    script = client.get("/meja/vendor/camunda-platform-modeler.production.min.js")
    assert script.status_code == 200 and b"BpmnModeler" in script.data[:400]
    assert client.get("/meja/vendor/assets/camunda-platform-modeler.css").status_code == 200
    assert client.get("/meja/vendor/../package.json").status_code == 404


def test_new_process_starter_deploys(alur: Alur) -> None:
    result = alur.deploy((ROOT / "bpmn" / "templates" / "proses-baru.bpmn").read_bytes(), SYSTEM, "proses-baru.bpmn")
    assert result.definition.key == "proses_baru" and result.created


def test_element_templates_bind_the_convention_names(client: FlaskClient) -> None:
    login(client, "pemilik-proses")
    body = client.get("/meja/templates.json").get_json()
    assert body["errors"] == []
    templates = {t["name"]: t for t in body["templates"]}
    assert set(templates) == {"Langkah SOP", "Langkah keputusan"}
    for template in templates.values():
        names = {p["binding"].get("name") for p in template["properties"]}
        assert {"sop_langkah", "waktu_menit", "kelengkapan", "output", "unggah_wajib", "handlers",
                "camunda:formKey"} <= names
        assert template["elementType"]["value"] == "bpmn:UserTask"
    form = templates["Langkah keputusan"]["metadata"]["alurForm"]
    keputusan, catatan = form
    assert [v["id"] for v in keputusan["values"]] == ["setuju", "tidak_setuju"] and keputusan["required"]
    assert catatan["required_when"] == "keputusan == 'tidak_setuju'"
    assert "metadata" not in templates["Langkah SOP"]


def test_csrf_is_required_for_checks_and_deploys(alur: Alur) -> None:
    app: Flask = create_app(alur.settings, alur, TESTING=True, WTF_CSRF_ENABLED=True)
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    client.post("/login", data={"username": "pemilik-proses", "password": "alur-demo", "csrf_token": token})
    for url in ("/meja/periksa", "/meja/deploy"):
        refused = post_json(client, url, revised_sop())
        assert (refused.status_code, refused.get_json()["code"]) == (400, "csrf"), url
    assert versions(alur) == [1]
    token = re.search(r'data-csrf="([^"]+)"', client.get("/meja/modeler").text).group(1)
    accepted = client.post("/meja/deploy", data=upload(revised_sop()), content_type="multipart/form-data",
                           headers={"Accept": "application/json", "X-CSRFToken": token})
    assert accepted.status_code == 200, accepted.text
    assert versions(alur) == [1, 2]


def test_version_diagram_page_and_unknown_versions(client: FlaskClient, alur: Alur) -> None:
    login(client, "pemilik-proses")
    page = client.get(f"/meja/proses/{PROCESS}/versi/1/diagram")
    assert page.status_code == 200
    assert f'data-xml-url="/proses/{PROCESS}/diagram.xml?versi=1"' in page.text
    assert client.get(f"/meja/proses/{PROCESS}/versi/9/diagram").status_code == 404
    assert client.get(f"/meja/proses/{PROCESS}/beda?dari=1&ke=9").status_code == 404
    assert client.get(f"/meja/modeler?proses={PROCESS}&versi=9").status_code == 404


def test_a_broken_template_file_is_named_and_the_others_still_load(client: FlaskClient, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import api.desk

    for path in (ROOT / "bpmn" / "templates").glob("*.json"):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    (tmp_path / "langkah-sop.json").write_text('[{"name": "Langkah SOP",', encoding="utf-8")
    monkeypatch.setattr(api.desk, "TEMPLATES_DIR", tmp_path)
    login(client, "pemilik-proses")
    body = client.get("/meja/templates.json").get_json()
    assert [t["name"] for t in body["templates"]] == ["Langkah keputusan"]
    assert len(body["errors"]) == 1 and "langkah-sop.json" in body["errors"][0]
