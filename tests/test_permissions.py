"""The permission matrix of docs/permissions.md, walked over the API for every lane and role."""

from __future__ import annotations

import io

from flask.testing import FlaskClient

from engine.actors import SYSTEM, Upload
from engine.demo import SAMPLE_PDF, actor_for_lane
from engine.services import Alur
from engine.users import DEMO_PASSWORD, create_user
from tests.conftest import SOP_FILE
from tests.helpers import drive_to, start

STAFF = ["petugas-informasi-tu", "kepala-biro", "kepala-bagian-terkait", "kasubbag-terkait",
         "asisten-administrasi-dan-umum", "sekda"]
EVERYONE = ["pemohon", "pemohon-lain", *STAFF, "pemilik-proses", "admin"]


def token(client: FlaskClient, username: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", json={"username": username, "password": DEMO_PASSWORD})
    assert r.status_code == 200, r.get_json()
    return {"Authorization": f"Bearer {r.get_json()['token']}"}


def expect(table: dict[str, int], **overrides: int) -> dict[str, int]:
    return {**table, **overrides}


def test_the_whole_permission_matrix(alur: Alur, client: FlaskClient) -> None:
    create_user(alur, "pemohon-lain", DEMO_PASSWORD, ["Pemohon"], "Pemohon lain", agency="Dinas Kesehatan")
    auth = {u: token(client, u) for u in EVERYONE}
    ours = start(alur)                                   # agency of `pemohon`
    at_step2 = drive_to(alur, ours, 2)
    fresh = start(alur)                                  # at step 1: Pemohon's upload
    step1 = drive_to(alur, fresh, 1)
    surat = next(d for d in alur.instance(ours, SYSTEM).documents if d.doc_type == "surat_pd").versions[0]
    to_cancel = {u: start(alur) for u in EVERYONE}
    got: dict[str, dict[str, int]] = {}

    def record(action: str, user: str, status: int) -> None:
        got.setdefault(action, {})[user] = status

    for user in EVERYONE:
        h = auth[user]
        record("start", user, client.post("/api/v1/instances", json={"process": "fasilitasi_narasumber"},
                                          headers=h).status_code)
        record("read", user, client.get(f"/api/v1/instances/{ours}", headers=h).status_code)
        record("download", user, client.get(f"/api/v1/documents/{surat.id}", headers=h).status_code)
        record("register", user, client.get("/api/v1/register", headers=h).status_code)
        record("deploy", user, client.post("/api/v1/processes", headers=h, data={
            "file": (SOP_FILE.open("rb"), "fasilitasi_narasumber.bpmn")}).status_code)
        record("cancel", user, client.post(f"/api/v1/instances/{to_cancel[user]}/cancel", headers=h).status_code)
        record("administer", user, client.get("/api/v1/users", headers=h).status_code)
        record("change user", user, client.patch("/api/v1/users/pemohon-lain", headers=h, json={
            "is_process_owner": False, "add_lanes": ["Pemohon"] if user == "admin" else ["Sekda"]}).status_code)
        record("check diagram", user, client.post("/api/v1/processes/validate", headers=h, data={
            "file": (SOP_FILE.open("rb"), "fasilitasi_narasumber.bpmn")}).status_code)
        record("versions", user, client.get("/api/v1/processes/fasilitasi_narasumber/versions", headers=h).status_code)
        record("diff", user, client.get("/api/v1/processes/fasilitasi_narasumber/diff?from=1&to=1",
                                        headers=h).status_code)
        # role first: a request already on version 1 cannot move there (409), but only owners learn that
        record("migrate", user, client.post(f"/api/v1/instances/{ours}/migrate", headers=h,
                                            json={"version": 1}).status_code)
        record("migrate all", user, client.post("/api/v1/processes/fasilitasi_narasumber/versions/1/migrate",
                                                headers=h, json={"to": 1, "dry_run": True}).status_code)
        record("add user", user, client.post("/api/v1/users", headers=h, json={
            "username": f"baru-{user}", "password": "kata-sandi-baru", "lanes": ["Sekda"]}).status_code)
        record("upload", user, client.post(f"/api/v1/tasks/{step1.id}/documents", headers=h, data={
            "type": "surat_pd", "file": (io.BytesIO(SAMPLE_PDF), "s.pdf")},
            content_type="multipart/form-data").status_code)
    # completion last, and the rightful lane last of all, so every other attempt meets a ready task
    for user in [u for u in EVERYONE if u != "petugas-informasi-tu"] + ["petugas-informasi-tu"]:
        record("complete", user, client.post(f"/api/v1/tasks/{at_step2.id}/complete", headers=auth[user],
                                             json={"data": {"keputusan": "setuju"}}).status_code)

    everyone = dict.fromkeys(EVERYONE, 200)
    forbidden = dict.fromkeys(EVERYONE, 403)
    wanted = {
        "start": expect(forbidden, pemohon=201, **{"pemohon-lain": 201, "admin": 201}),
        "read": expect(everyone, **{"pemohon-lain": 404}),
        "download": expect(everyone, **{"pemohon-lain": 404}),
        "register": expect(everyone, pemohon=403, **{"pemohon-lain": 403}),
        "deploy": expect(forbidden, **{"pemilik-proses": 200, "admin": 200}),
        "cancel": expect(forbidden, **{"pemilik-proses": 200, "admin": 200}),  # role first: reveals nothing
        "administer": expect(forbidden, admin=200),
        "check diagram": expect(forbidden, **{"pemilik-proses": 200, "admin": 200}),
        "versions": expect(forbidden, **{"pemilik-proses": 200, "admin": 200}),
        "diff": expect(forbidden, **{"pemilik-proses": 200, "admin": 200}),
        "migrate": expect(forbidden, **{"pemilik-proses": 409, "admin": 409}),
        "migrate all": expect(forbidden, **{"pemilik-proses": 200, "admin": 200}),
        "add user": expect(forbidden, admin=201),
        "change user": expect(forbidden, admin=200),
        "upload": expect(forbidden, pemohon=201, **{"pemohon-lain": 404}),
        "complete": expect(forbidden, **{"petugas-informasi-tu": 200, "pemohon-lain": 404}),
    }
    mismatches = [f"{action} as {user}: got {got[action][user]}, want {want}"
                  for action, table in wanted.items() for user, want in table.items() if got[action][user] != want]
    assert not mismatches, "\n".join(mismatches)

    # lists never show another agency's requests or tasks
    lain = client.get("/api/v1/instances", headers=auth["pemohon-lain"]).get_json()["instances"]
    assert ours not in {i["id"] for i in lain} and all(i["agency"] == "Dinas Kesehatan" for i in lain)
    assert all(t["instance_id"] != fresh for t in
               client.get("/api/v1/tasks", headers=auth["pemohon-lain"]).get_json()["tasks"])
    assert fresh in {t["instance_id"] for t in client.get("/api/v1/tasks", headers=auth["pemohon"]).get_json()["tasks"]}


def test_guessing_ids_reveals_nothing_to_another_agency(alur: Alur, client: FlaskClient) -> None:
    create_user(alur, "pemohon-lain", DEMO_PASSWORD, ["Pemohon"], agency="Dinas Kesehatan")
    h = token(client, "pemohon-lain")
    ours = start(alur)
    record = drive_to(alur, ours, 1)
    version = alur.attach_document(record.id, actor_for_lane(alur, "Pemohon"), Upload("surat_pd", "a.pdf", SAMPLE_PDF))
    for path in [f"/api/v1/instances/{ours}", f"/api/v1/tasks/{record.id}", f"/api/v1/documents/{version.id}",
                 f"/api/v1/instances/{ours + 1000}"]:
        r = client.get(path, headers=h)
        assert r.status_code == 404, path
        assert "Dinas Pendidikan" not in r.get_data(as_text=True)


def test_the_people_pages_follow_the_matrix(alur: Alur, client: FlaskClient) -> None:
    """The UI rows: lanes page and home desk for owners and admins, accounts for admins only."""
    got: dict[str, dict[str, int]] = {}
    for user in ["pemohon", *STAFF, "pemilik-proses", "admin"]:
        browser = client.application.test_client()
        assert browser.post("/login", data={"username": user, "password": DEMO_PASSWORD}).status_code == 302
        home = browser.get("/").get_data(as_text=True)
        got.setdefault("owner home", {})[user] = 200 if 'id="owner-home"' in home else 403
        got.setdefault("lanes", {})[user] = browser.get("/lane").status_code
        got.setdefault("users", {})[user] = browser.get("/pengguna").status_code
        got.setdefault("change user", {})[user] = browser.post(
            "/pengguna/sekda", data={"aksi": "cabut_pemilik"}).status_code
        got.setdefault("add user", {})[user] = browser.post("/pengguna", data={
            "username": f"baru-{user}", "password": "kata-sandi-baru", "lane": "Sekda"}).status_code
    staff = dict.fromkeys(["pemohon", *STAFF], 403)
    wanted = {
        "owner home": {**staff, "pemilik-proses": 200, "admin": 200},
        "lanes": {**staff, "pemilik-proses": 200, "admin": 200},
        "users": {**staff, "pemilik-proses": 403, "admin": 200},
        "change user": {**staff, "pemilik-proses": 403, "admin": 302},
        "add user": {**staff, "pemilik-proses": 403, "admin": 302},
    }
    assert got == wanted
