"""The JSON API (/api/v1) through the Flask test client, on a real SQLite file per test.

Every answer that goes through `Api.call` is also checked against the OpenAPI document the
app serves (generated from `api.schemas`): the status must be documented for the operation,
the media type listed, and a JSON body must match the schema (jsonschema, draft 2020-12,
with date-time meaning ISO 8601 in UTC with a Z).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import jsonschema
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from engine.demo import SAMPLE_PDF
from engine.models import TaskRecord
from engine.services import Alur
from engine.users import DEMO_PASSWORD, create_user
from tests.conftest import PROCESS, SOP_FILE

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00" + b"\x00" * 16
OTHER_AGENCY = "Dinas Kesehatan Provinsi Kalimantan Barat"

# ---- answers against the OpenAPI document -------------------------------------------------

FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("date-time")
def _utc_with_z(value: object) -> bool:
    return not isinstance(value, str) or bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z", value))


@FORMATS.checks("date")
def _day(value: object) -> bool:
    return not isinstance(value, str) or bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", value))


def conforms(value: Any, schema: dict[str, Any], spec: dict[str, Any]) -> None:
    """`value` matches `schema`, whose $refs point into the document `spec`."""
    root = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema, "components": spec["components"]}
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(root, format_checker=FORMATS).iter_errors(value))
    assert error is None, f"{error.json_path}: {error.message}" if error else ""


def resolve(node: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def operation(spec: dict[str, Any], method: str, path: str) -> dict[str, Any] | None:
    for template, item in spec["paths"].items():
        pattern = "^" + re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and method.lower() in item:
            return item[method.lower()]
    return None


def check_against_spec(spec: dict[str, Any], method: str, path: str, response: TestResponse) -> None:
    op = operation(spec, method, path)
    if op is None:  # unknown URL or method: only that the answer is JSON
        assert response.mimetype == "application/json", response.data
        assert set(response.json) >= {"error", "code"}  # type: ignore[arg-type]
        return
    documented = op["responses"].get(str(response.status_code))
    assert documented is not None, f"{method} {path}: status {response.status_code} not documented"
    content = resolve(documented, spec).get("content")
    if not content:
        assert response.data == b"", f"{method} {path}: {response.status_code} should have no body"
        return
    assert response.mimetype in content, f"{method} {path}: {response.mimetype} not in {list(content)}"
    if response.mimetype == "application/json":
        conforms(response.json, content["application/json"]["schema"], spec)


# ---- the client --------------------------------------------------------------------------


class Api:
    """The test client, logged in by username, with every answer checked against the OpenAPI document."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.tokens: dict[str, str] = {}
        self.spec: dict[str, Any] = client.get("/api/v1/openapi.json").json  # type: ignore[assignment]

    def token(self, username: str) -> str:
        if username not in self.tokens:
            response = self.call("POST", "/api/v1/auth/token", json={"username": username, "password": DEMO_PASSWORD})
            assert response.status_code == 200, response.json
            self.tokens[username] = response.json["token"]  # type: ignore[index]
        return self.tokens[username]

    def call(self, method: str, path: str, as_user: str | None = None, token: str | None = None,
             **kwargs: Any) -> TestResponse:
        headers = dict(kwargs.pop("headers", {}))
        if as_user is not None:
            token = self.token(as_user)
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        response = self.client.open(path, method=method, headers=headers, **kwargs)
        check_against_spec(self.spec, method, path.split("?", 1)[0], response)
        return response

    def get(self, path: str, as_user: str | None = None, **kwargs: Any) -> TestResponse:
        return self.call("GET", path, as_user, **kwargs)

    def post(self, path: str, as_user: str | None = None, **kwargs: Any) -> TestResponse:
        return self.call("POST", path, as_user, **kwargs)

    # what a test needs again and again

    def start(self, as_user: str = "pemohon", **data: Any) -> dict[str, Any]:
        response = self.post("/api/v1/instances", as_user,
                             json={"process": PROCESS, "data": {"perihal": "Permohonan narasumber", **data}})
        assert response.status_code == 201, response.json
        return response.json  # type: ignore[return-value]

    def ready(self, instance_id: int) -> dict[str, Any]:
        body = self.get(f"/api/v1/instances/{instance_id}", "admin").json
        assert len(body["ready_tasks"]) == 1, body["ready_tasks"]  # type: ignore[index]
        return body["ready_tasks"][0]  # type: ignore[index]

    def upload(self, task_id: str, as_user: str, doc_type: str, content: bytes = SAMPLE_PDF,
               filename: str = "berkas.pdf") -> TestResponse:
        return self.post(f"/api/v1/tasks/{task_id}/documents", as_user,
                         data={"type": doc_type, "file": (_stream(content), filename)},
                         content_type="multipart/form-data")

    def complete(self, task_id: str, as_user: str, **data: Any) -> TestResponse:
        return self.post(f"/api/v1/tasks/{task_id}/complete", as_user, json={"data": data})

    def step(self, instance_id: int, spec_id: str, as_user: str, uploads: tuple[str, ...] = (),
             **data: Any) -> dict[str, Any]:
        task = self.ready(instance_id)
        assert task["spec_id"] == spec_id, task
        for doc_type in uploads:
            assert self.upload(task["id"], as_user, doc_type).status_code == 201
        response = self.complete(task["id"], as_user, **data)
        assert response.status_code == 200, response.json
        return response.json  # type: ignore[return-value]


def _stream(content: bytes) -> io.BytesIO:
    return io.BytesIO(content)


STEP_1 = {"instansi_pemohon": "Dinas Pendidikan Provinsi Kalimantan Barat", "perihal": "Permohonan narasumber",
          "nama_kegiatan": "Bimtek tata naskah dinas", "tanggal_kegiatan": "2026-08-17"}


@pytest.fixture
def api(client: FlaskClient) -> Api:
    return Api(client)


@pytest.fixture
def at_step_2(api: Api) -> Iterator[tuple[int, dict[str, Any]]]:
    """An instance whose step 1 is done: step 2 (Petugas Informasi/TU, a decision) is ready."""
    instance = api.start()
    api.step(instance["id"], "langkah_01_sampaikan_berkas", "pemohon", ("surat_pd",), **STEP_1)
    yield instance["id"], api.ready(instance["id"])


def _sop_xml() -> bytes:
    return SOP_FILE.read_bytes()


def _deploy(api: Api, xml: bytes, as_user: str = "pemilik-proses") -> TestResponse:
    return api.post("/api/v1/processes", as_user, data={"file": (_stream(xml), "sop.bpmn")},
                    content_type="multipart/form-data")


# ---- authentication ---------------------------------------------------------------------


def test_token_for_good_credentials_describes_the_user(api: Api) -> None:
    response = api.post("/api/v1/auth/token", json={"username": "pemohon", "password": DEMO_PASSWORD})
    assert response.status_code == 200
    body = response.json
    assert len(body["token"]) >= 40 and body["token_type"] == "Bearer" and body["expires_in"] == 12 * 3600
    assert body["user"] == {"username": "pemohon", "full_name": "Pemohon", "lanes": ["Pemohon"], "head_lanes": [],
                            "agency": "Dinas Pendidikan Provinsi Kalimantan Barat",
                            "is_process_owner": False, "is_admin": False}
    owner = api.post("/api/v1/auth/token", json={"username": "pemilik-proses", "password": DEMO_PASSWORD}).json
    assert owner["user"]["is_process_owner"] is True and owner["user"]["agency"] is None
    kabag = api.post("/api/v1/auth/token", json={"username": "kepala-bagian-terkait", "password": DEMO_PASSWORD}).json
    assert kabag["user"]["head_lanes"] == ["Kepala Bagian Terkait"]  # the demo's Kabag heads the lane


@pytest.mark.parametrize("credentials", [
    {"username": "pemohon", "password": "salah-sekali"},
    {"username": "tidak-ada", "password": DEMO_PASSWORD},
])
def test_bad_credentials_are_401(api: Api, credentials: dict[str, str]) -> None:
    response = api.post("/api/v1/auth/token", json=credentials)
    assert response.status_code == 401
    assert response.json["code"] == "invalid_credentials" and "token" not in response.json


def test_repeated_bad_logins_are_throttled_429(api: Api) -> None:
    for _ in range(5):
        assert api.post("/api/v1/auth/token", json={"username": "sekda", "password": "tebakan"}).status_code == 401
    locked = api.post("/api/v1/auth/token", json={"username": "sekda", "password": DEMO_PASSWORD})
    assert locked.status_code == 429 and locked.json["code"] == "throttled"
    assert int(locked.headers["Retry-After"]) > 0 and "token" not in locked.json
    assert api.post("/api/v1/auth/token", json={"username": "asisten-administrasi-dan-umum",
                                                "password": DEMO_PASSWORD}).status_code == 200


@pytest.mark.parametrize(("body", "field"), [
    ({"username": "pemohon", "password": "\udc00"}, "password"),
    ({"username": "pemo\x00hon", "password": DEMO_PASSWORD}, "username"),
    ({"username": "pemohon"}, "password"),
    ({"username": 7, "password": DEMO_PASSWORD}, "username"),
    ({"username": "pemohon", "password": DEMO_PASSWORD, "remember": True}, "remember"),
])
def test_token_request_is_checked(api: Api, body: dict[str, Any], field: str) -> None:
    response = api.post("/api/v1/auth/token", json=body)
    assert response.status_code == 400 and response.json["field"] == field


def test_many_unknown_keys_are_named_but_only_a_few(api: Api) -> None:
    body = {"username": "pemohon", "password": DEMO_PASSWORD, **{f"k{i}": i for i in range(7)}}
    response = api.post("/api/v1/auth/token", json=body)
    assert response.status_code == 400 and response.json["field"] == "k0"
    error = response.json["error"]
    assert "tidak dikenal: k0, k1, k2, k3, k4 (dan 2 lagi)" in error and "k5" not in error, error
    assert "username, password" in error


def test_revoked_token_is_401(api: Api) -> None:
    token = api.token("kepala-biro")
    assert api.get("/api/v1/processes", token=token).status_code == 200
    response = api.post("/api/v1/auth/revoke", token=token)
    assert response.status_code == 204 and response.data == b""
    again = api.get("/api/v1/processes", token=token)
    assert again.status_code == 401 and again.json["code"] == "unauthorized"
    assert again.headers["WWW-Authenticate"].startswith("Bearer")
    assert api.get("/api/v1/processes", token=api.tokens.pop("kepala-biro") + "x").status_code == 401


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/api/v1/auth/revoke"), ("GET", "/api/v1/processes"), ("POST", "/api/v1/processes"),
    ("GET", f"/api/v1/processes/{PROCESS}/versions/1/bpmn"), ("GET", "/api/v1/instances"),
    ("POST", "/api/v1/instances"), ("GET", "/api/v1/instances/1"), ("POST", "/api/v1/instances/1/cancel"),
    ("GET", "/api/v1/tasks"), ("GET", "/api/v1/tasks/00000000-0000-0000-0000-000000000000"),
    ("POST", "/api/v1/tasks/00000000-0000-0000-0000-000000000000/documents"),
    ("POST", "/api/v1/tasks/00000000-0000-0000-0000-000000000000/complete"),
    ("GET", "/api/v1/documents/1"), ("GET", "/api/v1/register"),
])
def test_every_endpoint_but_token_needs_a_bearer_token(api: Api, method: str, path: str) -> None:
    for headers in ({}, {"Authorization": "Basic cGVtb2hvbjphbHVyLWRlbW8="}, {"Authorization": "Bearer nope"}):
        response = api.call(method, path, headers=headers)
        assert response.status_code == 401, (headers, response.data)
        assert response.json["code"] == "unauthorized"


# ---- processes --------------------------------------------------------------------------


def test_processes_list_and_bpmn_xml(api: Api) -> None:
    body = api.get("/api/v1/processes", "kasubbag-terkait").json
    [process] = body["processes"]
    assert process["key"] == PROCESS and process["name"] == "Fasilitasi Narasumber"
    assert process["latest_version"] == 1
    [version] = process["versions"]
    assert version["version"] == 1 and version["deployed_by"] == "system" and version["deployed_at"].endswith("Z")
    xml = api.get(version["bpmn_url"], "kasubbag-terkait")
    assert xml.status_code == 200 and xml.mimetype == "application/xml"
    assert xml.data == _sop_xml()
    missing = api.get(f"/api/v1/processes/{PROCESS}/versions/9/bpmn", "kasubbag-terkait")
    assert missing.status_code == 404 and missing.json["code"] == "not_found"
    assert api.get("/api/v1/processes/tidak_ada/versions/1/bpmn", "kasubbag-terkait").status_code == 404


def test_deploy_unchanged_is_200_and_a_change_is_a_new_version(api: Api) -> None:
    same = _deploy(api, _sop_xml())
    assert same.status_code == 200
    assert same.json["created"] is False and same.json["version"] == 1 and same.json["key"] == PROCESS
    changed = _sop_xml().replace(b"13 langkah, waktu baku 135 menit.", b"13 langkah; versi kedua.")
    new = _deploy(api, changed)
    assert new.status_code == 201
    assert new.json["created"] is True and new.json["version"] == 2 and new.json["deployed_by"] == "pemilik-proses"
    [process] = api.get("/api/v1/processes", "pemilik-proses").json["processes"]
    assert process["latest_version"] == 2 and [v["version"] for v in process["versions"]] == [1, 2]
    assert b"versi kedua" in api.get(f"/api/v1/processes/{PROCESS}/versions/2/bpmn", "pemilik-proses").data
    # a new request runs on the newest version
    assert api.start()["version"] == 2


def test_deploy_dangling_reference_is_422_with_line_and_element(api: Api) -> None:
    xml = _sop_xml().replace(b'targetRef="langkah_01_sampaikan_berkas"', b'targetRef="langkah_tidak_ada"', 1)
    response = _deploy(api, xml)
    assert response.status_code == 422 and response.json["code"] == "invalid_diagram"
    problem = response.json["errors"][0]
    assert "langkah_tidak_ada" in problem["message"]
    assert problem["element_id"] == "flow_gabung_01_ke_langkah_01" and isinstance(problem["line"], int)
    assert api.get("/api/v1/processes", "pemilik-proses").json["processes"][0]["latest_version"] == 1


def test_deploy_condition_with_a_call_is_422(api: Api) -> None:
    xml = _sop_xml().replace(b"keputusan == 'setuju'", b"__import__('os').system('id')", 1)
    response = _deploy(api, xml)
    assert response.status_code == 422
    [problem] = response.json["errors"]
    assert "__import__" in problem["message"] and problem["element_id"] == "flow_02_setuju"
    assert problem["line"] > 0


def test_deploy_refusals(api: Api) -> None:
    forbidden = _deploy(api, _sop_xml(), as_user="kepala-biro")
    assert forbidden.status_code == 403 and forbidden.json["code"] == "forbidden"
    missing = api.post("/api/v1/processes", "pemilik-proses", data={"other": "x"},
                       content_type="multipart/form-data")
    assert missing.status_code == 400 and missing.json["field"] == "file"
    not_xml = _deploy(api, b"\xff\xfe bukan xml")
    assert not_xml.status_code == 422 and not_xml.json["errors"]
    garbage = _deploy(api, b"<bpmn:definitions")
    assert garbage.status_code == 422 and garbage.json["errors"][0]["line"] == 1
    latin1 = (_sop_xml().decode().replace('encoding="UTF-8"', 'encoding="ISO-8859-1"')
              .replace("13 langkah", "13 langkah \u00e9").encode("latin-1"))
    not_utf8 = _deploy(api, latin1)
    assert not_utf8.status_code == 422 and "UTF-8" in not_utf8.json["errors"][0]["message"]
    assert _deploy(api, b"\x89PNG", as_user="pemohon").status_code == 403, "permission before content"


# ---- instances --------------------------------------------------------------------------


def test_start_returns_201_with_the_instance_and_its_ready_task(api: Api) -> None:
    response = api.post("/api/v1/instances", "pemohon",
                        json={"process": PROCESS, "data": {"perihal": "Narasumber bimtek", "nama_kegiatan": "Bimtek"}})
    assert response.status_code == 201
    body = response.json
    assert response.headers["Location"] == f"/api/v1/instances/{body['id']}"
    assert body["status"] == "running" and body["process"] == PROCESS and body["version"] == 1
    assert body["perihal"] == "Narasumber bimtek" and body["agency"] == "Dinas Pendidikan Provinsi Kalimantan Barat"
    assert body["data"]["nama_kegiatan"] == "Bimtek" and body["started_by"] == "pemohon"
    assert body["ended_at"] is None and body["letter_number"] is None and body["returns"] == 0
    [task] = body["ready_tasks"]
    assert task["spec_id"] == "langkah_01_sampaikan_berkas" and task["lane"] == "Pemohon"
    assert task["step_no"] == 1 and task["standard_minutes"] == 5 and task["overdue"] is False
    assert [h["state"] for h in body["history"]] == ["ready"] and body["documents"] == []


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"process": PROCESS, "data": ["perihal"]}, 400, "data"),
    ({"process": 1}, 400, "process"),
    ({"data": {}}, 400, "process"),
    ({"process": PROCESS, "extra": 1}, 400, "extra"),
    ({"process": PROCESS, "data": {"perihal": "a\x00b"}}, 400, "data"),
    ({"process": PROCESS, "data": {"bukan_field": "x"}}, 422, "bukan_field"),
    ({"process": PROCESS, "data": {"tanggal_kegiatan": "besok"}}, 422, "tanggal_kegiatan"),
])
def test_start_checks_its_body(api: Api, body: dict[str, Any], status: int, field: str) -> None:
    response = api.post("/api/v1/instances", "pemohon", json=body)
    assert response.status_code == status and response.json["field"] == field, response.json
    assert field in response.json["error"] or status == 422


def test_start_refusals(api: Api) -> None:
    unknown = api.post("/api/v1/instances", "pemohon", json={"process": "tidak_ada"})
    assert unknown.status_code == 404 and "tidak_ada" in unknown.json["error"]
    wrong_lane = api.post("/api/v1/instances", "kepala-biro", json={"process": PROCESS})
    assert wrong_lane.status_code == 403 and wrong_lane.json["code"] == "forbidden"


def test_get_instance_and_unknown_ids(api: Api, at_step_2: tuple[int, dict[str, Any]]) -> None:
    instance_id, _ = at_step_2
    body = api.get(f"/api/v1/instances/{instance_id}", "petugas-informasi-tu").json
    assert body["id"] == instance_id and body["data"]["nama_kegiatan"] == "Bimtek tata naskah dinas"
    first, second = body["history"]
    assert first["state"] == "completed" and first["completed_by"] == "pemohon" and first["duration_seconds"] >= 0
    assert first["completed_at"].endswith("Z") and first["keputusan"] is None
    assert second["state"] == "ready" and second["spec_id"] == "langkah_02_cek_kelengkapan"
    [document] = body["documents"]
    assert document["type"] == "surat_pd"
    [version] = document["versions"]
    assert version["version"] == 1 and version["media_type"] == "application/pdf" and version["size"] == len(SAMPLE_PDF)
    assert version["task_id"] == first["id"] and version["url"] == f"/api/v1/documents/{version['id']}"
    for missing in (999, 0, 2**40):
        response = api.get(f"/api/v1/instances/{missing}", "petugas-informasi-tu")
        assert response.status_code == 404 and response.json["code"] == "not_found"


def test_list_instances_with_filters(api: Api, alur: Alur) -> None:
    first = api.start(perihal="Pertama")["id"]
    second = api.start(perihal="Kedua")["id"]
    api.post(f"/api/v1/instances/{first}/cancel", "admin", json={"reason": "duplikat"})

    def ids(query: str = "", user: str = "kepala-biro") -> list[int]:
        response = api.get(f"/api/v1/instances{query}", user)
        assert response.status_code == 200, response.json
        return [i["id"] for i in response.json["instances"]]

    assert ids() == [second, first]
    assert ids("?status=running") == [second] and ids("?status=cancelled") == [first]
    assert ids(f"?process={PROCESS}") == [second, first] and ids("?process=lain") == []
    assert ids("?from=2000-01-01&to=2999-12-31") == [second, first]
    assert ids("?to=2000-01-01") == [] and ids("?from=2999-01-01") == []
    assert ids("?limit=1") == [second] and ids("?limit=1&offset=1") == [first]
    assert ids("?overdue=false") == [second, first] and ids("?overdue=true") == []
    listed = api.get("/api/v1/instances?status=running", "kepala-biro").json
    assert listed["limit"] == 100 and listed["offset"] == 0
    [item] = listed["instances"]
    assert item["perihal"] == "Kedua" and item["ready_tasks"][0]["lane"] == "Pemohon" and "history" not in item
    for bad in ("status=selesai", "limit=0", "limit=501", "offset=-1", "overdue=ya", "from=17-08-2026",
                "to=2026-02-30", "limit=abc", "to=", "status=", "offset=+1", "process=a%00b"):
        response = api.get(f"/api/v1/instances?{bad}", "kepala-biro")
        assert response.status_code == 400, bad
        assert response.json["field"] == bad.split("=")[0]


def test_overdue_filter_finds_late_tasks(api: Api, alur: Alur) -> None:
    late = api.start(perihal="Terlambat")["id"]
    on_time = api.start(perihal="Tepat waktu")["id"]
    with alur.unit_of_work() as uow:  # the late one's task was due two hours ago
        for record in uow.session.scalars(select(TaskRecord).where(TaskRecord.instance_id == late)):
            record.ready_at -= timedelta(hours=2)
            record.due_at = record.ready_at + timedelta(minutes=5)
    assert [i["id"] for i in api.get("/api/v1/instances?overdue=true", "admin").json["instances"]] == [late]
    assert [i["id"] for i in api.get("/api/v1/instances?overdue=false", "admin").json["instances"]] == [on_time]
    [task] = api.get("/api/v1/tasks", "pemohon").json["tasks"][:1]
    assert task["instance_id"] == late and task["overdue"] is True


def test_cancel(api: Api) -> None:
    instance_id = api.start()["id"]
    denied = api.post(f"/api/v1/instances/{instance_id}/cancel", "pemohon", json={})
    assert denied.status_code == 403
    done = api.post(f"/api/v1/instances/{instance_id}/cancel", "pemilik-proses", json={"reason": "ditarik"})
    assert done.status_code == 200
    assert done.json["status"] == "cancelled" and done.json["ended_at"] and done.json["ready_tasks"] == []
    assert [h["state"] for h in done.json["history"]] == ["cancelled"]
    again = api.post(f"/api/v1/instances/{instance_id}/cancel", "admin")
    assert again.status_code == 409 and again.json["code"] == "not_ready"
    assert api.post("/api/v1/instances/999/cancel", "admin").status_code == 404
    assert api.post(f"/api/v1/instances/{instance_id}/cancel", "admin", json={"reason": 5}).status_code == 400


# ---- tasks ------------------------------------------------------------------------------


def test_task_list_of_the_callers_lanes(api: Api, at_step_2: tuple[int, dict[str, Any]]) -> None:
    instance_id, task = at_step_2
    other = api.start(perihal="Masih di pemohon")["id"]
    [mine] = api.get("/api/v1/tasks", "petugas-informasi-tu").json["tasks"]
    assert mine["id"] == task["id"] and mine["instance_id"] == instance_id
    assert mine["perihal"] == "Permohonan narasumber" and mine["lane"] == "Petugas Informasi/TU"
    assert mine["standard_minutes"] == 5 and mine["overdue"] is False and mine["waited_seconds"] >= 0
    assert mine["url"] == f"/api/v1/tasks/{task['id']}"
    assert [t["instance_id"] for t in api.get("/api/v1/tasks", "pemohon").json["tasks"]] == [other]
    assert api.get("/api/v1/tasks?lane=Petugas Informasi/TU", "petugas-informasi-tu").json["tasks"] == [mine]
    assert api.get("/api/v1/tasks?lane=Sekda", "petugas-informasi-tu").json["tasks"] == []
    assert api.get("/api/v1/tasks", "sekda").json["tasks"] == []
    assert api.get("/api/v1/tasks?limit=0", "sekda").status_code == 400


def test_task_detail(api: Api, at_step_2: tuple[int, dict[str, Any]]) -> None:
    instance_id, task = at_step_2
    body = api.get(f"/api/v1/tasks/{task['id']}", "petugas-informasi-tu").json
    assert body["instance_id"] == instance_id and body["state"] == "ready" and body["can_complete"] is True
    assert body["step"] == {
        "id": "langkah_02_cek_kelengkapan", "name": "Catat dan cek kelengkapan berkas",
        "documentation": body["step"]["documentation"], "step_no": 2, "standard_minutes": 5,
        "lane": "Petugas Informasi/TU", "is_decision": True}
    assert body["step"]["documentation"].startswith("Mencatat data dan keperluan pemohon")
    fields = {f["id"]: f for f in body["fields"]}
    assert fields["keputusan"]["type"] == "enum" and fields["keputusan"]["required"] is True
    assert [o["id"] for o in fields["keputusan"]["options"]] == ["setuju", "tidak_setuju"]
    assert fields["catatan"]["required"] is False
    assert fields["catatan"]["required_when"] == "keputusan == 'tidak_setuju'"
    assert body["inputs"] == ["surat_pd"] and body["required_uploads"] == [] and body["missing_uploads"] == []
    [surat] = body["input_documents"]
    assert surat["type"] == "surat_pd" and surat["current"]["version"] == 1 and surat["older"] == []
    # another role may read it, but not complete it
    assert api.get(f"/api/v1/tasks/{task['id']}", "sekda").json["can_complete"] is False
    # step 1, now completed: its required output and what was attached
    first = api.get(f"/api/v1/instances/{instance_id}", "admin").json["history"][0]
    done = api.get(f"/api/v1/tasks/{first['id']}", "pemohon").json
    assert done["state"] == "completed" and done["required_uploads"] == ["surat_pd"]
    assert done["missing_uploads"] == [] and [a["type"] for a in done["attached"]] == ["surat_pd"]
    assert done["fields"][0]["id"] == "instansi_pemohon" and done["can_complete"] is False
    for unknown in ("00000000-0000-0000-0000-000000000000", "bukan-uuid", "x" * 300):
        response = api.get(f"/api/v1/tasks/{unknown}", "admin")
        assert response.status_code == 404 and response.json["code"] == "not_found"


def test_missing_uploads_are_listed_until_attached(api: Api) -> None:
    instance_id = api.start()["id"]
    task = api.ready(instance_id)
    assert api.get(f"/api/v1/tasks/{task['id']}", "pemohon").json["missing_uploads"] == ["surat_pd"]
    api.upload(task["id"], "pemohon", "surat_pd")
    assert api.get(f"/api/v1/tasks/{task['id']}", "pemohon").json["missing_uploads"] == []


def test_upload_then_download_the_same_bytes(api: Api) -> None:
    instance_id = api.start()["id"]
    task = api.ready(instance_id)
    response = api.upload(task["id"], "pemohon", "surat_pd", filename='../../surat "PD" Ä.pdf')
    assert response.status_code == 201
    body = response.json
    assert body["version"] == 1 and body["size"] == len(SAMPLE_PDF) and body["media_type"] == "application/pdf"
    assert len(body["sha256"]) == 64 and "/" not in body["filename"] and body["filename"].endswith(".pdf")
    assert response.headers["Location"] == body["url"] == f"/api/v1/documents/{body['id']}"
    download = api.get(body["url"], "pemohon")
    assert download.status_code == 200 and download.data == SAMPLE_PDF
    assert download.mimetype == "application/pdf"
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "filename=" in disposition
    assert '"PD"' not in disposition and ".." not in disposition and "/" not in disposition
    # a second upload is version 2; a PNG is sniffed from its bytes, whatever its name says
    second = api.upload(task["id"], "pemohon", "surat_pd", content=PNG, filename="scan.pdf")
    assert second.status_code == 201 and second.json["version"] == 2 and second.json["media_type"] == "image/png"
    assert second.json["filename"] == "scan.png"
    png = api.get(second.json["url"], "kepala-biro")
    assert png.data == PNG and png.mimetype == "image/png" and 'filename=scan.png' in png.headers["Content-Disposition"]
    assert api.get("/api/v1/documents/999", "pemohon").status_code == 404


def test_upload_refusals(api: Api, app: Flask, at_step_2: tuple[int, dict[str, Any]]) -> None:
    instance_id = api.start()["id"]
    task = api.ready(instance_id)
    wrong_type = api.upload(task["id"], "pemohon", "draft_surat")
    assert wrong_type.status_code == 422 and wrong_type.json["field"] == "type"
    not_allowed = api.upload(task["id"], "pemohon", "surat_pd", content=b"#!/bin/sh\necho hi\n", filename="x.pdf")
    assert not_allowed.status_code == 422 and not_allowed.json["field"] == "file"
    empty = api.upload(task["id"], "pemohon", "surat_pd", content=b"")
    assert empty.status_code == 422
    other_lane = api.upload(task["id"], "kepala-biro", "surat_pd")
    assert other_lane.status_code == 403
    no_file = api.post(f"/api/v1/tasks/{task['id']}/documents", "pemohon", data={"type": "surat_pd"},
                       content_type="multipart/form-data")
    assert no_file.status_code == 400 and no_file.json["field"] == "file"
    no_type = api.post(f"/api/v1/tasks/{task['id']}/documents", "pemohon",
                       data={"file": (_stream(SAMPLE_PDF), "a.pdf")}, content_type="multipart/form-data")
    assert no_type.status_code == 400 and no_type.json["field"] == "type"
    history = api.get(f"/api/v1/instances/{at_step_2[0]}", "admin").json["history"]
    not_ready = api.upload(history[0]["id"], "pemohon", "surat_pd")
    assert not_ready.status_code == 409
    app.config["MAX_CONTENT_LENGTH"] = 1000
    too_large = api.upload(task["id"], "pemohon", "surat_pd", content=SAMPLE_PDF + b"%" * 2000)
    assert too_large.status_code == 413 and too_large.mimetype == "application/json"
    assert too_large.json["code"] == "request_entity_too_large"


def test_complete_answers_the_status_and_the_ready_tasks_not_the_history(
        api: Api, at_step_2: tuple[int, dict[str, Any]]) -> None:
    instance_id, task = at_step_2
    response = api.complete(task["id"], "petugas-informasi-tu", keputusan="setuju")
    assert response.status_code == 200
    body = response.json
    assert set(body) == {"instance_id", "status", "ended", "ended_at", "end_event", "letter_number", "ready_tasks",
                         "url", "history_url"}
    assert body["instance_id"] == instance_id and body["status"] == "running" and body["ended"] is False
    [ready] = body["ready_tasks"]
    assert ready["spec_id"] == "langkah_03_teruskan_surat" and ready["url"] == f"/api/v1/tasks/{ready['id']}"
    assert api.get(ready["url"], "petugas-informasi-tu").json["id"] == ready["id"]  # the links lead on
    assert api.get(body["url"], "admin").json["id"] == instance_id
    history = api.get(body["history_url"], "admin").json
    done = next(h for h in history["entries"] if h["id"] == task["id"])
    assert done["state"] == "completed" and done["keputusan"] == "setuju"
    assert done["completed_by"] == "petugas-informasi-tu"


def test_complete_refusals(api: Api, at_step_2: tuple[int, dict[str, Any]]) -> None:
    instance_id, task = at_step_2
    other_lane = api.complete(task["id"], "kepala-biro", keputusan="setuju")
    assert other_lane.status_code == 403 and other_lane.json["code"] == "forbidden"
    no_decision = api.complete(task["id"], "petugas-informasi-tu")
    assert no_decision.status_code == 422 and no_decision.json["field"] == "keputusan"
    bad_decision = api.complete(task["id"], "petugas-informasi-tu", keputusan="mungkin")
    assert bad_decision.status_code == 422 and bad_decision.json["field"] == "keputusan"
    no_note = api.complete(task["id"], "petugas-informasi-tu", keputusan="tidak_setuju")
    assert no_note.status_code == 422 and no_note.json["field"] == "catatan"
    unknown_field = api.complete(task["id"], "petugas-informasi-tu", keputusan="setuju", nilai=1)
    assert unknown_field.status_code == 422 and unknown_field.json["field"] == "nilai"
    data_not_object = api.post(f"/api/v1/tasks/{task['id']}/complete", "petugas-informasi-tu", json={"data": "ok"})
    assert data_not_object.status_code == 400 and data_not_object.json["field"] == "data"
    unknown_key = api.post(f"/api/v1/tasks/{task['id']}/complete", "petugas-informasi-tu",
                           json={"data": {}, "keputusan": "setuju"})
    assert unknown_key.status_code == 400 and "keputusan" in unknown_key.json["error"]
    # nothing of that changed the task: it completes now, once
    assert api.complete(task["id"], "petugas-informasi-tu", keputusan="setuju").status_code == 200
    twice = api.complete(task["id"], "petugas-informasi-tu", keputusan="setuju")
    assert twice.status_code == 409 and twice.json["code"] == "not_ready"
    unknown = api.complete("00000000-0000-0000-0000-000000000000", "petugas-informasi-tu", keputusan="setuju")
    assert unknown.status_code == 404


def test_complete_without_the_required_document_is_422(api: Api) -> None:
    instance_id = api.start()["id"]
    task = api.ready(instance_id)
    response = api.complete(task["id"], "pemohon", **STEP_1)
    assert response.status_code == 422
    assert response.json["code"] == "missing_document" and response.json["document_type"] == "surat_pd"
    assert api.ready(instance_id)["id"] == task["id"]


def test_a_return_at_step_2_goes_back_to_the_applicant(api: Api, at_step_2: tuple[int, dict[str, Any]]) -> None:
    instance_id, task = at_step_2
    done = api.complete(task["id"], "petugas-informasi-tu", keputusan="tidak_setuju", catatan="Lampiran kurang").json
    assert [t["spec_id"] for t in done["ready_tasks"]] == ["langkah_01_sampaikan_berkas"]
    body = api.get(done["url"], "admin").json
    assert body["returns"] == 1
    returned = next(h for h in body["history"] if h["id"] == task["id"])
    assert returned["keputusan"] == "tidak_setuju" and returned["catatan"] == "Lampiran kurang"


# ---- a whole request, through the API only ---------------------------------------------


def test_a_whole_request_with_one_return_by_the_sekda(api: Api) -> None:
    started = api.start()
    i = started["id"]
    api.step(i, "langkah_01_sampaikan_berkas", "pemohon", ("surat_pd",), **STEP_1)
    api.step(i, "langkah_02_cek_kelengkapan", "petugas-informasi-tu", keputusan="setuju")
    api.step(i, "langkah_03_teruskan_surat", "petugas-informasi-tu", catatan="Mohon disposisi")
    api.step(i, "langkah_04_disposisi", "kepala-biro")
    api.step(i, "langkah_05_cek_jadwal", "kepala-bagian-terkait", narasumber_ditunjuk="Dr. Siti",
             jadwal_narasumber="17 Agustus 2026, 09.00")
    api.step(i, "langkah_06_buat_draft", "kasubbag-terkait", ("draft_surat",))
    api.step(i, "langkah_07_koreksi_kabag", "kepala-bagian-terkait", keputusan="setuju")
    api.step(i, "langkah_08_koreksi_karo", "kepala-biro", keputusan="setuju")
    api.step(i, "langkah_09_koreksi_asisten", "asisten-administrasi-dan-umum", keputusan="setuju")
    returned = api.step(i, "langkah_10_tandatangan_sekda", "sekda", keputusan="tidak_setuju",
                        catatan="Perbaiki tanggal")
    assert api.get(returned["url"], "admin").json["returns"] == 1 and returned["letter_number"] is None
    assert returned["ready_tasks"][0]["lane"] == "Asisten Administrasi dan Umum"
    api.step(i, "langkah_09_koreksi_asisten", "asisten-administrasi-dan-umum", keputusan="setuju")
    api.step(i, "langkah_10_tandatangan_sekda", "sekda", ("surat_ditandatangani",), keputusan="setuju")
    numbered = api.step(i, "langkah_11_penomoran_surat", "petugas-informasi-tu")
    assert numbered["letter_number"]
    assert api.get(numbered["url"], "admin").json["data"]["nomor_surat"] == numbered["letter_number"]
    api.step(i, "langkah_12_sampaikan_surat", "kasubbag-terkait", cara_penyampaian="email")
    done = api.step(i, "langkah_13_terima_surat", "pemohon", catatan="Diterima")
    assert done["status"] == "completed" and done["ended"] and done["ended_at"] and done["ready_tasks"] == []
    final = api.get(done["url"], "admin").json
    assert final["history_total"] == 15 and len(final["history"]) == 10 and final["history_older_url"]
    final["history"] = api.get(final["history_url"], "admin").json["entries"]

    assert final["status"] == "completed" and final["ended_at"] and final["ready_tasks"] == []
    assert re.fullmatch(r"000\.1\.2\.3/001/DISKOP-UKM/\d{4}", final["letter_number"])
    assert final["returns"] == 1
    steps = [h["step_no"] for h in final["history"]]
    assert steps == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 9, 10, 11, 12, 13]
    assert all(h["state"] == "completed" and h["duration_seconds"] is not None for h in final["history"])
    sekda_return = final["history"][9]
    assert sekda_return["keputusan"] == "tidak_setuju" and sekda_return["catatan"] == "Perbaiki tanggal"
    assert sorted(d["type"] for d in final["documents"]) == [  # step 4's disposition sheet is generated
        "disposisi", "draft_surat", "surat_ditandatangani", "surat_pd"]
    # the applicant sees the finished request, and the register has the letter
    mine = api.get(f"/api/v1/instances/{i}", "pemohon").json
    assert mine["letter_number"] == final["letter_number"] and mine["status"] == "completed"
    assert [x["id"] for x in api.get("/api/v1/instances?status=completed", "pemohon").json["instances"]] == [i]
    [entry] = api.get("/api/v1/register", "petugas-informasi-tu").json["entries"]
    assert entry["number"] == final["letter_number"] and entry["instance_id"] == i and entry["sequence"] == 1
    assert entry["subject"] == "Permohonan narasumber" and entry["created_by"] == "petugas-informasi-tu"
    assert api.get(f"/api/v1/register?year={entry['year']}", "sekda").json["entries"] == [entry]
    assert api.get(f"/api/v1/register?year={entry['year'] - 1}", "sekda").json["entries"] == []
    applicant = api.get("/api/v1/register", "pemohon")
    assert applicant.status_code == 403 and applicant.json["code"] == "forbidden"


# ---- visibility between agencies ---------------------------------------------------------


def test_an_applicant_cannot_see_another_agencys_request(api: Api, alur: Alur,
                                                        at_step_2: tuple[int, dict[str, Any]]) -> None:
    instance_id, task = at_step_2
    create_user(alur, "pemohon-lain", DEMO_PASSWORD, ["Pemohon"], "Pemohon lain", agency=OTHER_AGENCY)
    document_id = api.get(f"/api/v1/instances/{instance_id}", "admin").json["documents"][0]["versions"][0]["id"]
    for path in (f"/api/v1/instances/{instance_id}", f"/api/v1/tasks/{task['id']}",
                 f"/api/v1/documents/{document_id}"):
        response = api.get(path, "pemohon-lain")
        assert response.status_code == 404 and response.json["code"] == "not_found", path
        assert api.get(path, "pemohon").status_code == 200
    assert api.get("/api/v1/instances", "pemohon-lain").json["instances"] == []
    own = api.start("pemohon-lain")
    assert own["agency"] == OTHER_AGENCY and own["data"]["instansi_pemohon"] == OTHER_AGENCY
    assert [x["id"] for x in api.get("/api/v1/instances", "pemohon-lain").json["instances"]] == [own["id"]]
    assert own["id"] not in [x["id"] for x in api.get("/api/v1/instances", "pemohon").json["instances"]]
    assert api.post(f"/api/v1/instances/{instance_id}/cancel", "pemohon-lain").status_code == 403
    assert api.complete(task["id"], "pemohon-lain", keputusan="setuju").status_code == 404


# ---- malformed requests, unknown URLs, unexpected errors ----------------------------------


@pytest.mark.parametrize("raw", [b"{bad json", b"[1, 2]", b"\"text\"", b"null", b"{\"data\": NaN}", b"\xff\xfe"])
def test_malformed_or_non_object_json_is_400(api: Api, at_step_2: tuple[int, dict[str, Any]], raw: bytes) -> None:
    _, task = at_step_2
    for path in ("/api/v1/auth/token", "/api/v1/instances", f"/api/v1/tasks/{task['id']}/complete"):
        response = api.post(path, "petugas-informasi-tu", data=raw, content_type="application/json")
        assert response.status_code == 400, (path, response.data)
        assert response.json["code"] == "bad_request" and "JSON" in response.json["error"]


def test_unknown_urls_and_methods_are_json(api: Api) -> None:
    for path in ("/api/v1/tidak-ada", "/api/v1/instances/abc", "/api/v1/tasks/x/y/z", "/api/v1", "/api/v1/"):
        response = api.get(path, "admin")
        assert response.status_code == 404 and response.mimetype == "application/json", path
        assert response.json["code"] == "not_found" and path in response.json["error"]
    for path in ("/api/v1/instances/%0A1", "/api/v1/x%0Ay%00", "/api/v1/processes/a%0A/versions/1/bpmn"):
        response = api.get(path, "admin")
        assert response.status_code == 404 and response.json["code"] == "not_found", path
    assert api.call("TRACE", "/api/v1/processes", "admin").status_code == 405
    assert api.call("POST", "/api/v1/nowhere").status_code == 404
    wrong_method = api.call("DELETE", "/api/v1/processes", "admin")
    assert wrong_method.status_code == 405 and wrong_method.json["code"] == "method_not_allowed"
    assert set(wrong_method.headers["Allow"].split(", ")) >= {"GET", "POST"}
    options = api.client.options("/api/v1/instances/1")
    assert "DELETE" not in options.headers["Allow"] and "GET" in options.headers["Allow"]


def test_an_unexpected_error_is_a_500_without_details(api: Api, alur: Alur, monkeypatch: pytest.MonkeyPatch) -> None:
    token = api.token("admin")

    def broken() -> None:
        raise RuntimeError("rahasia: /etc/passwd")

    monkeypatch.setattr(alur, "definitions", broken)
    response = api.get("/api/v1/processes", token=token)
    assert response.status_code == 500 and response.mimetype == "application/json"
    assert response.json == {"error": "terjadi kesalahan internal pada server", "code": "internal_error"}
    assert b"rahasia" not in response.data and b"Traceback" not in response.data


# ---- the OpenAPI document ---------------------------------------------------------------


ROUTE_VARIABLE = re.compile(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>")


NO_BODY = {"revokeToken", "claimTask", "releaseTask"}  # POSTs that read no body


def test_openapi_document_has_exactly_the_live_routes_each_with_schemas(api: Api, app: Flask) -> None:
    """A route under /api/v1 without its models, or a documented path without a route, fails here."""
    response = api.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.json
    assert spec["openapi"].startswith("3.1") and spec["info"]["title"]
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    routes = {(ROUTE_VARIABLE.sub(r"{\1}", rule.rule), method.lower())
              for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(path, method) for path, item in spec["paths"].items() for method in item}
    assert routes == documented
    for path, item in spec["paths"].items():
        names = set(re.findall(r"{(\w+)}", path))
        for method, op in item.items():
            assert op["operationId"] and op["summary"], (path, method)
            assert names == {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}, (path, method)
            if method == "post" and op["operationId"] not in NO_BODY:  # every body it reads has a model
                media = op["requestBody"]["content"]
                assert media and all(resolve(m["schema"], spec).get("properties")
                                     for m in media.values()), (path, method)
            ok = [code for code in op["responses"] if code.startswith("2")]
            assert ok, (path, method)
            for code, answer in op["responses"].items():  # every answer with a body has a schema
                if code != "204":
                    assert answer.get("content"), (path, method, code)
                    assert all(m.get("schema") for m in answer["content"].values()), (path, method, code)
            if op.get("security", spec["security"]):
                assert "401" in op["responses"], (path, method)
    for ref in re.findall(r'"\$ref": "([^"]+)"', response.get_data(as_text=True)):  # every $ref resolves
        resolve({"$ref": ref}, spec)


def test_schema_check_catches_mismatches(api: Api) -> None:
    with pytest.raises(AssertionError):
        conforms({"token": "x"}, {"$ref": "#/components/schemas/Token"}, api.spec)
    with pytest.raises(AssertionError):
        conforms({"id": 1, "started_at": "2026-01-01 10:00:00"}, {"type": "object", "properties": {
            "started_at": {"type": "string", "format": "date-time"}}}, api.spec)
    conforms(None, {"type": ["string", "null"]}, api.spec)
