"""Issue 12 over /api/v1: who may upload what, claims (409 for others), the inbox's search,
filters and counts, and the rework part of a task's body (checked against the OpenAPI document)."""

from __future__ import annotations

import pytest

from engine.actors import SYSTEM, Upload
from engine.demo import SAMPLE_PDF, actor_for_lane, fill
from engine.errors import InvalidData
from engine.models import AuditEvent
from engine.services import Alur
from engine.users import DEMO_PASSWORD, create_user
from tests.helpers import current, drive_to, start, step
from tests.test_api import Api, api  # noqa: F401  (fixture)


def _versions(alur: Alur, instance_id: int) -> list[tuple[str, int]]:
    return [(d.doc_type, v.version) for d in alur.instance(instance_id, SYSTEM).documents for v in d.versions]


def test_the_applicant_cannot_upload_the_signed_letter_at_step_13(api: Api, alur: Alur) -> None:  # noqa: F811
    iid = start(alur)
    record = drive_to(alur, iid, 13)
    before = _versions(alur, iid)
    response = api.upload(record.id, "pemohon", "surat_ditandatangani")
    assert response.status_code == 422, response.json
    body = response.json
    assert body["field"] == "type" and body["code"] == "invalid_data"
    assert "langkah 13 \u201cTerima surat kesediaan narasumber\u201d" in body["error"]
    assert "Surat yang telah ditandatangani tidak dapat diunggah" in body["error"]
    assert "yang boleh diunggah: tidak ada" in body["error"]
    assert _versions(alur, iid) == before
    task = api.get(f"/api/v1/tasks/{record.id}", "pemohon").json
    assert task["upload_types"] == [] and task["inputs"] == ["surat_ditandatangani"]


def test_the_desk_cannot_replace_the_applicants_letter(api: Api, alur: Alur) -> None:  # noqa: F811
    iid = start(alur)
    record = drive_to(alur, iid, 2)
    response = api.upload(record.id, "petugas-informasi-tu", "surat_pd")
    assert response.status_code == 422 and "langkah 2" in response.json["error"], response.json
    assert "dokumen masukan hanya dapat dibaca" in response.json["error"]


def test_a_completion_refused_for_a_missing_field_stores_no_document_version(alur: Alur) -> None:
    iid = start(alur)
    record = current(alur, iid)
    step_1 = alur.task(record.id, SYSTEM).step
    data = {k: v for k, v in fill(step_1, None).items() if k != "nama_kegiatan"}
    with pytest.raises(InvalidData, match="Nama kegiatan"):
        alur.complete(record.id, actor_for_lane(alur, "Pemohon"), data,
                      [Upload("surat_pd", "surat.pdf", SAMPLE_PDF)])
    assert _versions(alur, iid) == []


def test_a_claim_blocks_completion_by_another_member_of_the_lane(api: Api, alur: Alur) -> None:  # noqa: F811
    create_user(alur, "tu-dua", DEMO_PASSWORD, ["Petugas Informasi/TU"])
    iid = start(alur)
    record = drive_to(alur, iid, 2)
    claimed = api.post(f"/api/v1/tasks/{record.id}/claim", "petugas-informasi-tu")
    assert claimed.status_code == 200 and claimed.json["claimed_by"] == "petugas-informasi-tu", claimed.json
    refused = api.complete(record.id, "tu-dua", keputusan="setuju")
    assert refused.status_code == 409 and refused.json["code"] == "held", refused.json
    assert refused.json["holder"] == "petugas-informasi-tu" and "sedang dikerjakan" in refused.json["error"]
    assert api.upload(record.id, "tu-dua", "surat_pd").status_code in (409, 422)
    assert api.post(f"/api/v1/tasks/{record.id}/claim", "tu-dua").status_code == 409
    assert api.post(f"/api/v1/tasks/{record.id}/release", "tu-dua").status_code == 403
    assert api.post(f"/api/v1/tasks/{record.id}/claim", "sekda").status_code == 403  # not the lane
    others = api.get("/api/v1/tasks", "tu-dua").json
    assert [t["claimed_by"] for t in others["tasks"]] == ["petugas-informasi-tu"]  # the lane sees the holder
    assert api.post(f"/api/v1/tasks/{record.id}/reassign", "petugas-informasi-tu",
                    json={"username": "tu-dua"}).status_code == 403
    moved = api.post(f"/api/v1/tasks/{record.id}/reassign", "admin", json={"username": "tu-dua"})
    assert moved.status_code == 200 and moved.json["claimed_by"] == "tu-dua", moved.json
    assert api.post(f"/api/v1/tasks/{record.id}/reassign", "admin", json={"username": "sekda"}).status_code == 422
    assert api.complete(record.id, "petugas-informasi-tu", keputusan="setuju").status_code == 409
    released = api.post(f"/api/v1/tasks/{record.id}/release", "tu-dua")
    assert released.status_code == 200 and released.json["claimed_by"] is None
    assert api.complete(record.id, "petugas-informasi-tu", keputusan="setuju").status_code == 200
    kinds = [e.kind for e in alur.audit_log(iid) if e.kind in {"claim", "reassign", "release"}]
    assert kinds == ["claim", "reassign", "release"]


def test_the_task_body_carries_the_return_notes_prefill_and_decision_labels(api: Api, alur: Alur) -> None:  # noqa: F811
    iid = start(alur)
    step(alur, iid)
    step(alur, iid, "tidak_setuju")
    again = current(alur, iid)
    body = api.get(f"/api/v1/tasks/{again.id}", "pemohon").json
    rework = body["rework"]
    assert rework["returned"]["by"] == "petugas-informasi-tu" and rework["returned"]["step_no"] == 2
    assert rework["returned"]["note"].startswith("Mohon diperbaiki")
    assert rework["prefill"]["perihal"].startswith("Contoh") and "catatan" not in rework["prefill"]
    [document] = rework["documents"]
    assert document["doc_type"] == "surat_pd" and document["kept"] and not document["new_version_required"]
    assert body["missing_uploads"] == []  # the earlier letter counts
    assert [n["step_no"] for n in rework["notes"]] == [2]
    inbox = api.get("/api/v1/tasks?returned=true", "pemohon").json
    assert [t["id"] for t in inbox["tasks"]] == [again.id] and inbox["tasks"][0]["returned"]
    assert inbox["counts"]["returned"] == 1
    step(alur, iid, data={**rework["prefill"]})
    decision = api.get(f"/api/v1/tasks/{current(alur, iid).id}", "petugas-informasi-tu").json["rework"]["decisions"]
    assert decision == [{"value": "setuju", "label": "Berkas lengkap, teruskan"},
                        {"value": "tidak_setuju", "label": "Kembalikan ke pemohon"}]


def test_the_inbox_searches_filters_counts_and_pages(api: Api, alur: Alur) -> None:  # noqa: F811
    ids = [start(alur) for _ in range(3)]
    for iid in ids:
        step(alur, iid)
    body = api.get("/api/v1/tasks?limit=2", "petugas-informasi-tu").json
    assert [t["instance_id"] for t in body["tasks"]] == ids[:2] and body["has_next"]
    assert body["counts"] == {"all": 3, "overdue": 0, "returned": 0, "mine": 0}
    assert [t["instance_id"] for t in api.get("/api/v1/tasks?limit=2&offset=2", "petugas-informasi-tu")
            .json["tasks"]] == ids[2:]
    assert [t["instance_id"] for t in api.get(f"/api/v1/tasks?q=%23{ids[1]}", "petugas-informasi-tu")
            .json["tasks"]] == [ids[1]]
    assert api.get("/api/v1/tasks?step=3", "petugas-informasi-tu").json["tasks"] == []
    assert api.get("/api/v1/tasks?sort=due", "petugas-informasi-tu").status_code == 200
    bad = api.get("/api/v1/tasks?sort=lama", "petugas-informasi-tu")
    assert bad.status_code == 400 and "waiting" in bad.json["error"]


def test_the_applicant_does_not_send_their_agency(api: Api, alur: Alur) -> None:  # noqa: F811
    instance = api.start()
    task = api.ready(instance["id"])
    assert api.upload(task["id"], "pemohon", "surat_pd").status_code == 201
    done = api.complete(task["id"], "pemohon", perihal="Narasumber", nama_kegiatan="Bimtek",
                        tanggal_kegiatan="2026-08-17")
    assert done.status_code == 200, done.json
    body = api.get(done.json["url"], "pemohon").json
    assert body["agency"] == "Dinas Pendidikan Provinsi Kalimantan Barat"
    assert body["data"]["instansi_pemohon"] == "Dinas Pendidikan Provinsi Kalimantan Barat"


def test_a_lane_head_reassigns_and_releases_the_lanes_tasks(api: Api, alur: Alur) -> None:  # noqa: F811
    """The demo's Kabag heads "Kepala Bagian Terkait"; a plain member and the head of another lane may not."""
    create_user(alur, "kabag-dua", DEMO_PASSWORD, ["Kepala Bagian Terkait"])
    iid = start(alur)
    record = drive_to(alur, iid, 5)
    assert record.lane == "Kepala Bagian Terkait"
    url = f"/api/v1/tasks/{record.id}/reassign"
    plain = api.post(url, "kabag-dua", json={"username": "kabag-dua"})
    assert plain.status_code == 403 and plain.json["code"] == "forbidden", plain.json
    assert "hanya admin atau kepala lane 'Kepala Bagian Terkait'" in plain.json["error"]
    other_head = api.post(url, "kasubbag-terkait", json={"username": "kabag-dua"})  # heads "Kasubbag Terkait"
    assert other_head.status_code == 403 and "kepala lane 'Kepala Bagian Terkait'" in other_head.json["error"]
    not_member = api.post(url, "kepala-bagian-terkait", json={"username": "kasubbag-terkait"})
    assert not_member.status_code == 422 and not_member.json["field"] == "username", not_member.json
    assert "bukan anggota aktif lane 'Kepala Bagian Terkait'" in not_member.json["error"]
    assert current(alur, iid).claimed_by is None  # nothing changed by the refusals
    moved = api.post(url, "kepala-bagian-terkait", json={"username": "kabag-dua"})
    assert moved.status_code == 200 and moved.json["claimed_by"] == "kabag-dua", moved.json
    assert api.complete(record.id, "kepala-bagian-terkait", narasumber_ditunjuk="x").status_code == 409
    released = api.post(f"/api/v1/tasks/{record.id}/release", "kepala-bagian-terkait")  # the head frees it
    assert released.status_code == 200 and released.json["claimed_by"] is None
    api.post(f"/api/v1/tasks/{record.id}/claim", "kepala-bagian-terkait")
    refused = api.post(f"/api/v1/tasks/{record.id}/release", "kabag-dua")  # a plain member cannot
    assert refused.status_code == 403 and "kepala lane" in refused.json["error"]
    events = [(e.kind, e.actor, e.payload) for e in alur.audit_log(iid) if e.kind in {"claim", "reassign", "release"}]
    assert [(kind, who) for kind, who, _ in events] == [
        ("reassign", "kepala-bagian-terkait"), ("release", "kepala-bagian-terkait"), ("claim", "kepala-bagian-terkait")]
    assert events[0][2]["to"] == "kabag-dua" and events[0][2]["holder"] is None
    assert events[1][2]["holder"] == "kabag-dua"


def test_an_admin_makes_a_member_the_lanes_head_over_the_api(api: Api, alur: Alur) -> None:  # noqa: F811
    create_user(alur, "tu-dua", DEMO_PASSWORD, ["Petugas Informasi/TU"])
    iid = start(alur)
    record = drive_to(alur, iid, 2)
    url = f"/api/v1/tasks/{record.id}/reassign"
    assert api.post(url, "tu-dua", json={"username": "petugas-informasi-tu"}).status_code == 403
    # only a member can head a lane; a non-admin cannot make heads
    outside = api.call("PATCH", "/api/v1/users/tu-dua", "admin", json={"add_head_lanes": ["Sekda"]})
    assert outside.status_code == 422 and outside.json["field"] == "add_head_lanes", outside.json
    assert "bukan anggota lane 'Sekda'" in outside.json["error"]
    assert api.call("PATCH", "/api/v1/users/tu-dua", "tu-dua",
                    json={"add_head_lanes": ["Petugas Informasi/TU"]}).status_code == 403
    made = api.call("PATCH", "/api/v1/users/tu-dua", "admin", json={"add_head_lanes": ["Petugas Informasi/TU"]})
    assert made.status_code == 200 and made.json["head_lanes"] == ["Petugas Informasi/TU"], made.json
    listed = {u["username"]: u["head_lanes"] for u in api.get("/api/v1/users?q=kepala", "admin").json["users"]}
    assert listed["kepala-bagian-terkait"] == ["Kepala Bagian Terkait"] and listed["kepala-biro"] == []
    moved = api.post(url, "tu-dua", json={"username": "petugas-informasi-tu"})  # the new head's token works at once
    assert moved.status_code == 200 and moved.json["claimed_by"] == "petugas-informasi-tu"
    # leaving the lane ends the headship
    gone = api.call("PATCH", "/api/v1/users/tu-dua", "admin",
                    json={"remove_lanes": ["Petugas Informasi/TU"], "add_lanes": ["Sekda"]})
    assert gone.status_code == 200 and gone.json["head_lanes"] == [], gone.json
    back = api.call("PATCH", "/api/v1/users/tu-dua", "admin",
                    json={"add_lanes": ["Petugas Informasi/TU"], "add_head_lanes": ["Petugas Informasi/TU"]})
    assert back.json["head_lanes"] == ["Petugas Informasi/TU"]  # join and head in one change
    unmade = api.call("PATCH", "/api/v1/users/tu-dua", "admin", json={"remove_head_lanes": ["Petugas Informasi/TU"]})
    assert unmade.json["head_lanes"] == [] and unmade.json["lanes"] == ["Petugas Informasi/TU", "Sekda"]
    with alur.unit_of_work(write=False) as uow:
        heads = [(e.actor, e.payload["lane"], e.payload["value"])
                 for e in uow.session.query(AuditEvent).filter_by(kind="user_lane_head").order_by(AuditEvent.id)]
    assert heads == [("admin", "Petugas Informasi/TU", True), ("admin", "Petugas Informasi/TU", True),
                     ("admin", "Petugas Informasi/TU", False)]
