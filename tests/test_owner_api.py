"""The process owner's desk over /api/v1: validate, versions, diff, migrate (one and all), permissions."""

from __future__ import annotations

import io

from flask.testing import FlaskClient
from sqlalchemy import func, select

from engine.actors import SYSTEM
from engine.models import AuditEvent, Instance, ProcessDefinition, TaskRecord
from engine.services import Alur
from engine.users import create_user
from tests.conftest import SOP_FILE
from tests.helpers import current, drive_to, start, step
from tests.owner_diagrams import NEW_LANE, NEW_STEP, renamed_step_sop, revised_sop
from tests.test_permissions import token

PROCESS = "fasilitasi_narasumber"


def rows(alur: Alur) -> dict[str, int]:
    with alur.unit_of_work(write=False) as uow:
        return {m.__tablename__: uow.session.scalar(select(func.count()).select_from(m))
                for m in (ProcessDefinition, Instance, TaskRecord, AuditEvent)}


def upload(xml: bytes, name: str = "revisi.bpmn") -> dict[str, tuple[io.BytesIO, str]]:
    return {"file": (io.BytesIO(xml), name)}


def test_validate_answers_errors_and_warnings_and_stores_nothing(alur: Alur, client: FlaskClient) -> None:
    owner = token(client, "pemilik-proses")
    before = rows(alur)
    ok = client.post("/api/v1/processes/validate", headers=owner, data=upload(revised_sop()))
    assert ok.status_code == 200, ok.get_json()
    body = ok.get_json()
    assert body["errors"] == [] and body["key"] == PROCESS
    [warning] = body["warnings"]
    assert warning["element_id"] == "lane_bagian_hukum" and isinstance(warning["line"], int)
    assert f"lane '{NEW_LANE}' belum punya anggota" in warning["message"]
    broken = SOP_FILE.read_text(encoding="utf-8").replace('targetRef="langkah_03_teruskan_surat"',
                                                          'targetRef="tidak_ada"', 1).encode()
    bad = client.post("/api/v1/processes/validate", headers=owner, data=upload(broken))
    assert bad.status_code == 200
    refused = client.post("/api/v1/processes", headers=owner, data=upload(broken))
    assert refused.status_code == 422
    assert bad.get_json()["errors"] == refused.get_json()["errors"], "the same items as a refused deploy"
    assert any(e["element_id"] == "flow_02_setuju" and e["line"] for e in bad.get_json()["errors"])
    assert rows(alur) == before
    missing = client.post("/api/v1/processes/validate", headers=owner, data={})
    assert missing.status_code == 400
    sekda = token(client, "sekda")
    assert client.post("/api/v1/processes/validate", headers=sekda,
                       data=upload(revised_sop())).status_code == 403


def test_deploy_answers_with_the_warnings(alur: Alur, client: FlaskClient) -> None:
    owner = token(client, "pemilik-proses")
    deployed = client.post("/api/v1/processes", headers=owner, data=upload(revised_sop()))
    assert deployed.status_code == 201
    body = deployed.get_json()
    assert body["version"] == 2 and [w["element_id"] for w in body["warnings"]] == ["lane_bagian_hukum"]


def test_versions_and_diff(alur: Alur, client: FlaskClient) -> None:
    owner = token(client, "pemilik-proses")
    running = start(alur)
    client.post("/api/v1/processes", headers=owner, data=upload(revised_sop()))
    listed = client.get(f"/api/v1/processes/{PROCESS}/versions", headers=owner)
    assert listed.status_code == 200
    versions = listed.get_json()["versions"]
    assert [(v["version"], v["running"], v["completed"]) for v in versions] == [(1, 1, 0), (2, 0, 0)]
    assert versions[1]["deployed_by"] == "pemilik-proses" and len(versions[1]["sha256"]) == 64
    assert versions[0]["deployed_at"].endswith("Z") and versions[1]["bpmn_url"].endswith("/versions/2/bpmn")
    diff = client.get(f"/api/v1/processes/{PROCESS}/diff?from=1&to=2", headers=owner)
    assert diff.status_code == 200, diff.get_json()
    body = diff.get_json()
    changes = {(c["element_id"], c["aspect"]): c for c in body["changes"]}
    assert changes[("langkah_06_buat_draft", "waktu_menit")]["before"] == 20
    assert changes[("langkah_06_buat_draft", "waktu_menit")]["after"] == 30
    assert changes[("langkah_03_teruskan_surat", "field:catatan")]["after"] == "Catatan untuk Kepala Biro"
    assert changes[(NEW_STEP, "langkah")]["kind"] == "added"
    assert body["element_status"][NEW_STEP] == "added"
    assert client.get(f"/api/v1/processes/{PROCESS}/diff?from=1", headers=owner).status_code == 400
    assert client.get(f"/api/v1/processes/{PROCESS}/diff?from=1&to=x", headers=owner).status_code == 400
    assert client.get(f"/api/v1/processes/{PROCESS}/diff?from=1&to=9", headers=owner).status_code == 404
    assert client.get("/api/v1/processes/tidak_ada/versions", headers=owner).status_code == 404
    sekda = token(client, "sekda")
    assert client.get(f"/api/v1/processes/{PROCESS}/versions", headers=sekda).status_code == 403
    assert client.get(f"/api/v1/processes/{PROCESS}/diff?from=1&to=2", headers=sekda).status_code == 403
    assert alur.instance(running, SYSTEM).instance.status == "running"


def test_migrate_one_request_and_it_completes_through_the_new_step(alur: Alur, client: FlaskClient) -> None:
    owner = token(client, "pemilik-proses")
    iid = start(alur)
    ready6 = drive_to(alur, iid, 6)
    client.post("/api/v1/processes", headers=owner, data=upload(revised_sop()))
    sekda = token(client, "sekda")
    assert client.post(f"/api/v1/instances/{iid}/migrate", headers=sekda, json={"version": 2}).status_code == 403
    moved = client.post(f"/api/v1/instances/{iid}/migrate", headers=owner, json={"version": 2})
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json() == {"instance_id": iid, "from_version": 1, "to_version": 2, "mapping": {},
                                "tasks": {ready6.id: "langkah_06_buat_draft"}}
    shown = client.get(f"/api/v1/instances/{iid}", headers=owner).get_json()
    assert shown["version"] == 2 and shown["ready_tasks"][0]["id"] == ready6.id
    event = [e for e in alur.audit_log(iid) if e.kind == "migrate"][0]
    assert event.actor == "pemilik-proses" and (event.payload["from_version"], event.payload["to_version"]) == (1, 2)
    create_user(alur, "staf-hukum", "kata-sandi-1", [NEW_LANE])
    step(alur, iid)
    assert current(alur, iid).spec_id == NEW_STEP
    for _ in range(40):
        if not alur.ready_of([iid])[iid]:
            break
        step(alur, iid)
    assert alur.instance(iid, SYSTEM).instance.status == "completed"
    again = client.post(f"/api/v1/instances/{iid}/migrate", headers=owner, json={"version": 1})
    assert again.status_code == 409


def test_migrate_refusal_names_the_step_and_a_mapping_moves_it(alur: Alur, client: FlaskClient) -> None:
    owner = token(client, "pemilik-proses")
    iid = start(alur)
    ready6 = drive_to(alur, iid, 6)
    client.post("/api/v1/processes", headers=owner, data=upload(renamed_step_sop()))
    before = rows(alur)
    refused = client.post(f"/api/v1/instances/{iid}/migrate", headers=owner, json={"version": 2})
    assert refused.status_code == 409
    body = refused.get_json()
    assert body["code"] == "cannot_migrate" and body["steps"] == ["langkah_06_buat_draft"]
    assert "Buat draft surat balasan" in body["error"]
    assert rows(alur) == before
    bad = client.post(f"/api/v1/instances/{iid}/migrate", headers=owner,
                      json={"version": 2, "mapping": {"langkah_06_buat_draft": "tidak_ada"}})
    assert bad.status_code == 422 and bad.get_json()["field"] == "mapping"
    assert client.post(f"/api/v1/instances/{iid}/migrate", headers=owner,
                       json={"version": "2"}).status_code == 400
    assert client.post(f"/api/v1/instances/{iid}/migrate", headers=owner,
                       json={"version": 9}).status_code == 404
    moved = client.post(f"/api/v1/instances/{iid}/migrate", headers=owner, json={
        "version": 2, "mapping": {"langkah_06_buat_draft": "langkah_06_susun_draft"}})
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["tasks"] == {ready6.id: "langkah_06_susun_draft"}
    record = current(alur, iid)
    assert (record.spec_id, record.ready_at) == ("langkah_06_susun_draft", ready6.ready_at)


def test_migrate_all_running_requests_of_a_version_with_a_dry_run(alur: Alur, client: FlaskClient) -> None:
    owner = token(client, "pemilik-proses")
    at6, at1 = start(alur), start(alur)
    drive_to(alur, at6, 6)
    client.post("/api/v1/processes", headers=owner, data=upload(renamed_step_sop()))
    url = f"/api/v1/processes/{PROCESS}/versions/1/migrate"
    dry = client.post(url, headers=owner, json={"to": 2, "dry_run": True})
    assert dry.status_code == 200, dry.get_json()
    body = dry.get_json()
    assert body["dry_run"] and body["moved"] == []
    assert {c["instance_id"]: c["can_move"] for c in body["checks"]} == {at6: False, at1: True}
    assert [c["steps"] for c in body["refused"]] == [["langkah_06_buat_draft"]]
    assert alur.instance(at1, SYSTEM).instance.definition.version == 1, "a dry run moves nothing"
    sekda = token(client, "sekda")
    assert client.post(url, headers=sekda, json={"to": 2}).status_code == 403
    done = client.post(url, headers=owner, json={"to": 2})
    body = done.get_json()
    assert [m["instance_id"] for m in body["moved"]] == [at1]
    assert [c["instance_id"] for c in body["refused"]] == [at6]
    assert alur.instance(at1, SYSTEM).instance.definition.version == 2
    mapped = client.post(url, headers=owner, json={
        "to": 2, "mapping": {"langkah_06_buat_draft": "langkah_06_susun_draft"}}).get_json()
    assert [m["instance_id"] for m in mapped["moved"]] == [at6]
