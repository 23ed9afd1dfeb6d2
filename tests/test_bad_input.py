"""Bad input over the JSON API: every refusal names the problem, and nothing stored changes.

Hostile or broken BPMN diagrams deployed by the process owner, malformed and oversized
JSON bodies, and hostile uploads. Each answer is also checked against the OpenAPI document
(through `tests.test_api.Api`), and after every refusal the stored rows of the processes,
requests, tasks, documents, register and audit trail are compared with those before it.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from werkzeug.test import TestResponse

from api import create_app
from engine.bootstrap import build
from engine.demo import SAMPLE_PDF
from engine.services import Alur
from engine.testing import settings_for
from tests.conftest import PROCESS, SOP_FILE
from tests.test_api import STEP_1, Api

SOP = SOP_FILE.read_text(encoding="utf-8")
FIRST_CONDITION = "keputusan == 'setuju'"  # on flow_02_setuju, the first decision's "approve" flow
STORED_TABLES = ("process_definitions", "instances", "tasks", "documents", "document_versions",
                 "document_contents", "letter_register", "letter_counters", "audit_events")


def stored(alur: Alur) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables a refused request must not touch (tokens and login throttling excepted)."""
    with alur.db.engine.connect() as conn:
        return {table: [tuple(row) for row in conn.execute(text(f"SELECT * FROM {table} ORDER BY 1"))]
                for table in STORED_TABLES}


@pytest.fixture
def api(client: FlaskClient) -> Api:
    return Api(client)


def line_of(xml: str, needle: str) -> int:
    return xml[: xml.index(needle)].count("\n") + 1


def assert_error(response: TestResponse, status: int | tuple[int, ...], *words: str,
                 field: str | None = None) -> dict[str, Any]:
    """A JSON refusal with this status whose `error` names the problem (each of `words`)."""
    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status_code in statuses, (response.status_code, response.data[:500])
    assert response.mimetype == "application/json", response.mimetype
    body: dict[str, Any] = response.json  # type: ignore[assignment]
    assert isinstance(body["error"], str) and body["error"].strip() and body["code"], body
    assert "Traceback" not in response.get_data(as_text=True)
    for word in words:
        assert word in body["error"], (word, body["error"][:300])
    if field is not None:
        assert body.get("field") == field, body
        assert field in body["error"], (field, body["error"][:300])
    return body


# ---- diagrams ---------------------------------------------------------------------------


def _sop_with(old: str, new: str) -> str:
    assert old in SOP, old
    return SOP.replace(old, new, 1)


XXE = _sop_with('<?xml version="1.0" encoding="UTF-8"?>',
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                '<!DOCTYPE definitions [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
                ).replace("<bpmn:documentation>", "<bpmn:documentation>&xxe;", 1)
BILLION_LAUGHS = _sop_with('<?xml version="1.0" encoding="UTF-8"?>', "\n".join([
    '<?xml version="1.0" encoding="UTF-8"?>', "<!DOCTYPE definitions [", ' <!ENTITY lol0 "lol">',
    *(f' <!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)), "]>",
])).replace("<bpmn:documentation>", "<bpmn:documentation>&lol9;", 1)
DEEP = _sop_with("<bpmn:documentation>", "<bpmn:documentation>" + "<x>" * 60 + "</x>" * 60)
SCRIPT_TASK = _sop_with("</bpmn:process>", '<bpmn:scriptTask id="skrip" name="Skrip" scriptFormat="python">'
                        "<bpmn:script>__import__('os').system('id')</bpmn:script></bpmn:scriptTask>\n"
                        "  </bpmn:process>")


def _condition(expression: str) -> str:
    return _sop_with(FIRST_CONDITION, expression)


def _huge() -> bytes:
    """A 20 MB diagram: the SOP with one enormous documentation text."""
    pad = 20 * 1024 * 1024 - len(SOP.encode())
    return _sop_with("<bpmn:documentation>", "<bpmn:documentation>" + "a" * pad).encode()


DIAGRAMS: dict[str, tuple[Any, tuple[str, ...], str | None]] = {
    # name: (diagram, words the first problem's message has ("a|b": either), element id of the problem)
    "xxe_file_etc_passwd": (XXE, ("DOCTYPE",), None),
    # libxml2 stops the expansion itself (amplification limit) before Alur's DOCTYPE check can
    "billion_laughs": (BILLION_LAUGHS, ("DOCTYPE|entity amplification",), None),
    "deep_nesting": (DEEP, ("terlalu dalam", "40"), None),
    "condition_import": (_condition("__import__('os').system('id') == 0"), ("__import__", "Call"), "flow_02_setuju"),
    "condition_attribute": (_condition("keputusan.__class__ == 'str'"), ("Attribute",), "flow_02_setuju"),
    "condition_call": (_condition("len(keputusan) > 0"), ("Call",), "flow_02_setuju"),
    "script_task": (SCRIPT_TASK, ("scriptTask",), "skrip"),
}


def _deploy(api: Api, xml: str | bytes, filename: str = "sop.bpmn") -> TestResponse:
    content = xml.encode() if isinstance(xml, str) else xml
    return api.post("/api/v1/processes", "pemilik-proses", data={"file": (io.BytesIO(content), filename)},
                    content_type="multipart/form-data")


def _deployed(api: Api) -> tuple[Any, bytes]:
    processes = api.get("/api/v1/processes", "pemilik-proses").json["processes"]  # type: ignore[index]
    [process] = processes
    bpmn = api.get(f"/api/v1/processes/{PROCESS}/versions/{process['latest_version']}/bpmn", "pemilik-proses")
    assert bpmn.status_code == 200
    return processes, bpmn.data


@pytest.mark.parametrize("name", list(DIAGRAMS))
def test_a_hostile_or_broken_diagram_is_422_with_its_problems_and_stores_nothing(api: Api, alur: Alur,
                                                                                 name: str) -> None:
    xml, words, element_id = DIAGRAMS[name]
    before, before_bpmn = _deployed(api)
    rows = stored(alur)

    body = assert_error(_deploy(api, xml), 422)
    assert body["code"] == "invalid_diagram" and body["errors"], body
    for problem in body["errors"]:
        assert set(problem) == {"message", "line", "element_id"}, problem
        assert isinstance(problem["message"], str) and problem["message"]
    first = body["errors"][0]
    for word in words:
        assert any(alternative in first["message"] for alternative in word.split("|")), (word, first)
    if element_id is not None:  # a problem of one element: its id and its line in the file
        problem = next(p for p in body["errors"] if p["element_id"] == element_id)
        assert problem["line"] == line_of(xml, f'id="{element_id}"'), problem
    assert "root:" not in body["error"] + str(body["errors"])  # /etc/passwd was never read

    after, after_bpmn = _deployed(api)
    assert after == before and after[0]["latest_version"] == 1
    assert after_bpmn == before_bpmn == SOP_FILE.read_bytes()
    assert hashlib.sha256(after_bpmn).hexdigest() == after[0]["versions"][-1]["sha256"]
    assert stored(alur) == rows


def test_a_20_mb_diagram_is_refused_by_size_and_stores_nothing(api: Api, alur: Alur) -> None:
    before = _deployed(api)
    rows = stored(alur)
    huge = _huge()
    assert len(huge) == 20 * 1024 * 1024
    body = assert_error(_deploy(api, huge), (413, 422))
    if body["code"] == "invalid_diagram":  # past the request limit: the diagram's own 2 MB limit speaks
        [problem] = body["errors"]
        assert "melebihi batas" in problem["message"] and str(len(huge)) in problem["message"], problem
    assert _deployed(api) == before
    assert stored(alur) == rows


def test_after_all_those_refusals_a_good_diagram_still_deploys_as_version_2(api: Api) -> None:
    """Nothing half-stored by a refused diagram gets in the way of the next good one."""
    for name in DIAGRAMS:
        assert _deploy(api, DIAGRAMS[name][0]).status_code == 422
    changed = _sop_with("13 langkah, waktu baku 135 menit.", "13 langkah; versi kedua.")
    response = _deploy(api, changed)
    assert response.status_code == 201 and response.json["version"] == 2  # type: ignore[index]


# ---- JSON bodies ------------------------------------------------------------------------


@pytest.fixture
def at_step_2(api: Api) -> tuple[int, str]:
    """A request whose step 2 (Petugas Informasi/TU: keputusan, catatan) is ready: (instance id, task id)."""
    instance_id = api.start()["id"]
    api.step(instance_id, "langkah_01_sampaikan_berkas", "pemohon", ("surat_pd",), **STEP_1)
    return instance_id, api.ready(instance_id)["id"]


def _snapshot(api: Api, instance_id: int) -> dict[str, Any]:
    body: dict[str, Any] = api.get(f"/api/v1/instances/{instance_id}", "admin").json  # type: ignore[assignment]
    return {"ready": [(t["id"], t["spec_id"], t["lane"], t["ready_at"]) for t in body["ready_tasks"]],
            "history": body["history"], "data": body["data"], "status": body["status"],
            "returns": body["returns"], "documents": body["documents"]}


def _post_raw(api: Api, path: str, as_user: str, raw: bytes) -> TestResponse:
    return api.post(path, as_user, data=raw, content_type="application/json")


MB = 1024 * 1024
COMPLETE_REFUSALS: dict[str, tuple[Any, int, tuple[str, ...], str | None]] = {
    # name: (body (bytes are sent as they are), status, words in `error`, field)
    "malformed": (b'{"data": {"keputusan": "setuju"', 400, ("JSON",), None),
    "array": (b'[{"data": {"keputusan": "setuju"}}]', 400, ("objek JSON",), None),
    "data_is_a_string": ({"data": "x"}, 400, ("objek",), "data"),
    "keputusan_is_a_number": ({"data": {"keputusan": 5}}, 422, ("setuju", "tidak_setuju"), "keputusan"),
    "unknown_top_level_key": ({"data": {"keputusan": "setuju"}, "keputusan": "setuju"}, 400, ("tidak dikenal",),
                              "keputusan"),
    "unknown_form_field": ({"data": {"keputusan": "setuju", "nilai_rahasia": "1"}}, 422, ("tidak dikenal",),
                           "nilai_rahasia"),
    "catatan_of_20_kb": ({"data": {"keputusan": "tidak_setuju", "catatan": "x" * 20_000}}, 422, ("10000",),
                         "catatan"),
    "catatan_of_1_mb": ({"data": {"keputusan": "tidak_setuju", "catatan": "x" * MB}}, 413, ("batas ukuran",), None),
    "catatan_with_nul": ({"data": {"keputusan": "tidak_setuju", "catatan": "a\x00b"}}, 400, ("NUL",), "data"),
}


@pytest.mark.parametrize("name", list(COMPLETE_REFUSALS))
def test_a_bad_complete_body_is_refused_by_name_and_changes_nothing(api: Api, alur: Alur,
                                                                    at_step_2: tuple[int, str], name: str) -> None:
    instance_id, task_id = at_step_2
    payload, status, words, field = COMPLETE_REFUSALS[name]
    path = f"/api/v1/tasks/{task_id}/complete"
    before, rows = _snapshot(api, instance_id), stored(alur)
    if isinstance(payload, bytes):
        response = _post_raw(api, path, "petugas-informasi-tu", payload)
    else:
        response = api.post(path, "petugas-informasi-tu", json=payload)
    assert_error(response, status, *words, field=field)
    assert _snapshot(api, instance_id) == before
    assert stored(alur) == rows
    # the task is still there to be done, once
    assert api.complete(task_id, "petugas-informasi-tu", keputusan="setuju").status_code == 200


START_REFUSALS: dict[str, tuple[Any, int, tuple[str, ...], str | None]] = {
    "malformed": (b'{"process": "fasilitasi_narasumber",}', 400, ("JSON",), None),
    "array": (b'["fasilitasi_narasumber"]', 400, ("objek JSON",), None),
    "process_is_a_number": ({"process": 123}, 400, ("string",), "process"),
    "data_is_a_string": ({"process": PROCESS, "data": "x"}, 400, ("objek",), "data"),
    "unknown_top_level_key": ({"process": PROCESS, "prioritas": "tinggi"}, 400, ("tidak dikenal",), "prioritas"),
    "unknown_form_field": ({"process": PROCESS, "data": {"perihal": "x", "gaji": "1"}}, 422, ("tidak dikenal",),
                           "gaji"),
    "perihal_of_20_kb": ({"process": PROCESS, "data": {"perihal": "x" * 20_000}}, 422, ("300",), "perihal"),
    # API bodies other than uploads are capped at 64 KB
    "perihal_of_100_kb": ({"process": PROCESS, "data": {"perihal": "x" * 100 * 1024}}, 413, ("batas ukuran",), None),
    "date_of_the_wrong_type": ({"process": PROCESS, "data": {"tanggal_kegiatan": 20260817}}, 422, ("teks",),
                               "tanggal_kegiatan"),
}


@pytest.mark.parametrize("name", list(START_REFUSALS))
def test_a_bad_start_body_is_refused_by_name_and_stores_nothing(api: Api, alur: Alur,
                                                                at_step_2: tuple[int, str], name: str) -> None:
    instance_id, _ = at_step_2
    payload, status, words, field = START_REFUSALS[name]
    before, rows = _snapshot(api, instance_id), stored(alur)
    if isinstance(payload, bytes):
        response = _post_raw(api, "/api/v1/instances", "pemohon", payload)
    else:
        response = api.post("/api/v1/instances", "pemohon", json=payload)
    assert_error(response, status, *words, field=field)
    assert _snapshot(api, instance_id) == before
    assert stored(alur) == rows
    assert [i["id"] for i in api.get("/api/v1/instances", "admin").json["instances"]] == [instance_id]  # type: ignore[index]


def test_a_body_over_the_size_limit_is_413_and_changes_nothing(api: Api, alur: Alur, app: Flask,
                                                               at_step_2: tuple[int, str]) -> None:
    instance_id, task_id = at_step_2
    limit = app.config["MAX_CONTENT_LENGTH"]
    before, rows = _snapshot(api, instance_id), stored(alur)
    catatan = "x" * (limit + 1)
    for path, user, payload in (
        (f"/api/v1/tasks/{task_id}/complete", "petugas-informasi-tu",
         {"data": {"keputusan": "tidak_setuju", "catatan": catatan}}),
        ("/api/v1/instances", "pemohon", {"process": PROCESS, "data": {"perihal": catatan}}),
    ):
        body = assert_error(api.post(path, user, json=payload), 413, "batas ukuran")
        assert body["code"] == "request_entity_too_large"
    assert _snapshot(api, instance_id) == before
    assert stored(alur) == rows


# ---- uploads ----------------------------------------------------------------------------


def _upload(api: Api, task_id: str, content: bytes, filename: str, as_user: str = "pemohon",
            doc_type: str = "surat_pd") -> TestResponse:
    return api.post(f"/api/v1/tasks/{task_id}/documents", as_user,
                    data={"type": doc_type, "file": (io.BytesIO(content), filename)},
                    content_type="multipart/form-data")


@pytest.fixture
def small_upload_limit(db_url: str) -> Iterator[Api]:
    """The app as ALUR_MAX_UPLOAD_MB would make it with a 1 KB limit, on the test's database."""
    settings = settings_for(db_url, max_upload_bytes=1024)
    small = build(settings)
    yield Api(create_app(settings, small, TESTING=True, WTF_CSRF_ENABLED=False).test_client())
    small.db.engine.dispose()


def test_an_upload_over_the_limit_is_413_and_stores_nothing(small_upload_limit: Api, alur: Alur) -> None:
    api = small_upload_limit
    instance_id = api.start()["id"]
    task_id = api.ready(instance_id)["id"]
    before, rows = _snapshot(api, instance_id), stored(alur)
    over = SAMPLE_PDF + b"%" * 2048  # a real PDF, 2 KB over a 1 KB limit
    body = assert_error(_upload(api, task_id, over, "surat.pdf"), 413)
    assert body["code"] == "too_large" and body.get("field") == "file" and "melebihi batas 1 KB" in body["error"], body
    body = assert_error(_upload(api, task_id, over * 600, "surat.pdf"), 413, "batas ukuran")  # over the request limit
    assert body["code"] == "request_entity_too_large"
    assert _snapshot(api, instance_id) == before
    assert stored(alur) == rows
    assert _upload(api, task_id, SAMPLE_PDF, "surat.pdf").status_code == 201  # under the limit: fine


ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00\x01\x00\x00\x00" + b"\x00" * 200
HTML = b"<!DOCTYPE html><html><body><script>fetch('/api/v1/users')</script></body></html>\n"
SCRIPT = b"#!/bin/sh\nrm -rf / --no-preserve-root\n"


@pytest.mark.parametrize(("content", "detected"), [(ELF, "terdeteksi"), (HTML, None), (SCRIPT, None)],
                         ids=["elf_executable", "html", "shell_script"])
def test_a_file_that_is_not_what_its_pdf_name_says_is_422(api: Api, alur: Alur, content: bytes,
                                                          detected: str | None) -> None:
    instance_id = api.start()["id"]
    task_id = api.ready(instance_id)["id"]
    before, rows = _snapshot(api, instance_id), stored(alur)
    body = assert_error(_upload(api, task_id, content, "surat_permohonan.pdf"), 422, "tidak diizinkan", "PDF",
                        *([detected] if detected else []))
    assert body["field"] == "file"
    assert _snapshot(api, instance_id) == before
    assert stored(alur) == rows


@pytest.mark.parametrize(("filename", "stored_as"), [
    ("../../etc/passwd.pdf", "passwd.pdf"),
    # werkzeug reads a backslash in the quoted multipart filename as an escape: the name loses them
    ("..\\..\\windows\\system32\\evil.pdf", "evil.pdf"),
    ("/etc/cron.d/x.pdf", "x.pdf"),
    ("....//....//surat.pdf", "surat.pdf"),
])
def test_a_path_in_the_filename_is_dropped_and_the_download_is_an_attachment(api: Api, filename: str,
                                                                             stored_as: str) -> None:
    instance_id = api.start()["id"]
    task_id = api.ready(instance_id)["id"]
    response = _upload(api, task_id, SAMPLE_PDF, filename)
    assert response.status_code == 201, response.json
    version: dict[str, Any] = response.json  # type: ignore[assignment]
    name = version["filename"]
    assert name.endswith(stored_as) and version["media_type"] == "application/pdf", version
    assert "/" not in name and "\\" not in name and ".." not in name and not name.startswith("."), name
    download = api.get(version["url"], "pemohon")
    assert download.status_code == 200 and download.data == SAMPLE_PDF
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and f"filename={name}" in disposition, disposition
    assert ".." not in disposition and "/" not in disposition and "\\" not in disposition
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.mimetype == "application/pdf"
