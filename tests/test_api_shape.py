"""Issue 12 and 14 over /api/v1: completion with its documents in one multipart request (one
transaction), the small answer of a completion, and the request's history page by page.

Every answer is checked against the OpenAPI document by `Api` (tests/test_api.py).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from alembic import command
from sqlalchemy import event, func, select
from werkzeug.test import TestResponse

from engine.actors import SYSTEM
from engine.demo import SAMPLE_PDF
from engine.migrate import alembic_config
from engine.models import DocumentVersion, TaskRecord
from engine.services import Alur
from engine.testing import make_alur
from engine.users import DEMO_PASSWORD, create_user
from tests.helpers import drive_to, start, step
from tests.test_api import STEP_1, Api, api  # noqa: F401  (fixture)


def complete_multipart(api: Api, task_id: str, as_user: str, data: Any = None,  # noqa: F811
                       files: tuple[tuple[str, bytes], ...] = (), raw_data: str | None = None,
                       **parts: Any) -> TestResponse:
    """POST .../complete as multipart/form-data: `data` as JSON text, then `type` and `file` parts in pairs."""
    form: dict[str, Any] = {"data": raw_data if raw_data is not None else json.dumps(data or {})}
    form["type"] = [doc_type for doc_type, _ in files]
    form["file"] = [(io.BytesIO(content), f"{doc_type}.pdf") for doc_type, content in files]
    form.update(parts)
    return api.post(f"/api/v1/tasks/{task_id}/complete", as_user, data=form, content_type="multipart/form-data")


def versions(alur: Alur) -> int:
    with alur.unit_of_work(write=False) as uow:
        return uow.session.scalar(select(func.count(DocumentVersion.id))) or 0


# ---- completion with its documents, one request, one transaction ---------------------------------


def test_a_completion_with_its_required_upload_in_one_request(api: Api, alur: Alur) -> None:  # noqa: F811
    instance_id = api.start()["id"]
    task = api.ready(instance_id)
    response = complete_multipart(api, task["id"], "pemohon", STEP_1, files=(("surat_pd", SAMPLE_PDF),))
    assert response.status_code == 200, response.json
    assert [t["spec_id"] for t in response.json["ready_tasks"]] == ["langkah_02_cek_kelengkapan"]
    body = api.get(f"/api/v1/instances/{instance_id}", "admin").json
    [group] = body["documents"]
    assert group["type"] == "surat_pd" and [v["task_id"] for v in group["versions"]] == [task["id"]]
    assert body["data"]["nama_kegiatan"] == STEP_1["nama_kegiatan"]
    # a step with two documents' worth of parts: types pair with files in order
    decision = api.ready(instance_id)
    done = complete_multipart(api, decision["id"], "petugas-informasi-tu", {"keputusan": "setuju"})
    assert done.status_code == 200, done.json  # a multipart completion without files is a plain one


@pytest.mark.parametrize(("data", "field"), [
    ({k: v for k, v in STEP_1.items() if k != "perihal"}, "perihal"),  # a required field missing
    ({**STEP_1, "tanggal_kegiatan": "kemarin"}, "tanggal_kegiatan"),  # an invalid value
    ({**STEP_1, "tidak_ada": "x"}, "tidak_ada"),  # a field the form does not have
])
def test_a_refused_completion_stores_no_document(api: Api, alur: Alur, data: dict[str, Any],  # noqa: F811
                                                 field: str) -> None:
    instance_id = api.start()["id"]
    task = api.ready(instance_id)
    before = versions(alur)
    response = complete_multipart(api, task["id"], "pemohon", data, files=(("surat_pd", SAMPLE_PDF),))
    assert response.status_code == 422 and response.json["field"] == field, response.json
    assert versions(alur) == before
    assert api.ready(instance_id)["id"] == task["id"]  # still waiting: nothing happened
    assert api.get(f"/api/v1/tasks/{task['id']}", "pemohon").json["missing_uploads"] == ["surat_pd"]


def test_the_applicant_cannot_send_the_signed_letter_with_step_13(api: Api, alur: Alur) -> None:  # noqa: F811
    iid = start(alur)
    record = drive_to(alur, iid, 13)
    before = versions(alur)
    response = complete_multipart(api, record.id, "pemohon", {"catatan": "Diterima"},
                                  files=(("surat_ditandatangani", SAMPLE_PDF),))
    assert response.status_code == 422, response.json
    assert response.json["field"] == "type" and "langkah 13" in response.json["error"]
    assert "yang boleh diunggah: tidak ada" in response.json["error"]
    assert versions(alur) == before
    assert api.complete(record.id, "pemohon", catatan="Diterima").json["status"] == "completed"


@pytest.mark.parametrize(("raw", "words"), [
    ("{keputusan: setuju}", "'data' bukan teks JSON yang valid"),
    ('["setuju"]', "'data' harus berupa objek JSON (isian formulir per id), bukan daftar"),
    ('"setuju"', "bukan teks"),
    ("NaN", "bukan teks JSON yang valid"),
    ('{"keputusan": ["setuju"]}', "'data'"),
    ('{"keputusan": "se\\u0000tuju"}', "NUL"),
])
def test_a_bad_data_part_is_422_naming_it(api: Api, alur: Alur, raw: str, words: str) -> None:  # noqa: F811
    iid = start(alur)
    record = drive_to(alur, iid, 2)
    response = complete_multipart(api, record.id, "petugas-informasi-tu", raw_data=raw)
    assert response.status_code == 422 and response.json["field"] == "data", response.json
    assert words in response.json["error"], response.json["error"]


def test_files_and_types_must_pair_up(api: Api, alur: Alur) -> None:  # noqa: F811
    instance_id = api.start()["id"]
    task = api.ready(instance_id)
    before = versions(alur)
    form = {"data": json.dumps(STEP_1), "type": ["surat_pd", "surat_pd"],
            "file": [(io.BytesIO(SAMPLE_PDF), "a.pdf")]}
    unpaired = api.post(f"/api/v1/tasks/{task['id']}/complete", "pemohon", data=form,
                        content_type="multipart/form-data")
    assert unpaired.status_code == 422 and unpaired.json["field"] == "type"
    assert "1 berkas dan 2 jenis" in unpaired.json["error"]
    unknown = complete_multipart(api, task["id"], "pemohon", STEP_1, lampiran="x")
    assert unknown.status_code == 400 and unknown.json["field"] == "lampiran"
    assert versions(alur) == before


# ---- history, page by page -------------------------------------------------------------------------


@pytest.fixture
def returned_often(alur: Alur) -> int:
    """A request returned at step 7 to step 6 eight times: 5 + 2 * 8 + 2 = 23 activations."""
    iid = start(alur)
    drive_to(alur, iid, 7)
    for _ in range(8):
        step(alur, iid, "tidak_setuju")
        step(alur, iid)
    return iid


@pytest.fixture
def loaded_tasks(alur: Alur) -> Iterator[list[TaskRecord]]:
    """Every task row the ORM builds while the test runs."""
    loaded: list[TaskRecord] = []

    def count(target: TaskRecord, _context: Any) -> None:
        loaded.append(target)

    event.listen(TaskRecord, "load", count)
    yield loaded
    event.remove(TaskRecord, "load", count)


def test_the_instance_carries_the_last_entries_and_links_to_the_rest(
        api: Api, alur: Alur, returned_often: int, loaded_tasks: list[TaskRecord]) -> None:  # noqa: F811
    iid = returned_often
    body = api.get(f"/api/v1/instances/{iid}", "admin").json
    assert body["history_total"] == 23 and body["returns"] == 8
    assert [h["seq"] for h in body["history"]] == list(range(14, 24))
    assert body["history"][-1]["state"] == "ready" and [t["step_no"] for t in body["ready_tasks"]] == [7]
    assert body["path_standard_minutes"] == 5 * 5 + 8 * (20 + 15) + 20  # steps 1-5, 8 cycles, step 6 again
    assert len(loaded_tasks) <= 10 + 1  # the last ten and the ready one: never the whole history
    older = api.get(body["history_older_url"], "admin").json
    assert [h["seq"] for h in older["entries"]] == list(range(1, 14)) and older["previous"] is None
    whole = api.get(body["history_url"], "admin").json
    assert whole["total"] == 23 and [h["seq"] for h in whole["entries"]] == list(range(1, 24))
    assert whole["next"] is None and whole["previous"] is None


def test_history_pages_forward_and_back(api: Api, alur: Alur, returned_often: int) -> None:  # noqa: F811
    iid = returned_often
    seen, url, pages = [], f"/api/v1/instances/{iid}/history?limit=5", 0
    while url:
        page = api.get(url, "kepala-biro").json
        assert len(page["entries"]) <= 5 and page["total"] == 23
        seen += [h["seq"] for h in page["entries"]]
        url, pages = page["next"], pages + 1
    assert seen == list(range(1, 24)) and pages == 5
    back, url = [], f"/api/v1/instances/{iid}/history?before=24&limit=10"
    while url:
        page = api.get(url, "kepala-biro").json
        back = [h["seq"] for h in page["entries"]] + back
        url = page["previous"]
    assert back == list(range(1, 24))
    between = api.get(f"/api/v1/instances/{iid}/history?after=3&before=12&limit=5", "admin").json
    assert [h["seq"] for h in between["entries"]] == [4, 5, 6, 7, 8]
    rest = api.get(between["next"], "admin").json
    assert [h["seq"] for h in rest["entries"]] == [9, 10, 11] and rest["next"] is None
    last = api.get(f"/api/v1/instances/{iid}/history?after=20", "admin").json
    assert [h["seq"] for h in last["entries"]] == [21, 22, 23] and last["next"] is None
    returns = [h for h in api.get(f"/api/v1/instances/{iid}/history", "admin").json["entries"]
               if h["keputusan"] == "tidak_setuju"]
    assert len(returns) == 8 and all(h["catatan"] for h in returns)


@pytest.mark.parametrize(("query", "field"), [
    ("limit=0", "limit"), ("limit=201", "limit"), ("after=-1", "after"), ("before=0", "before"),
    ("after=x", "after"),
])
def test_history_query_is_checked(api: Api, alur: Alur, query: str, field: str) -> None:  # noqa: F811
    iid = start(alur)
    response = api.get(f"/api/v1/instances/{iid}/history?{query}", "admin")
    assert response.status_code == 400 and response.json["field"] == field, response.json


def test_history_of_another_agencys_request_is_not_found(api: Api, alur: Alur) -> None:  # noqa: F811
    iid = start(alur)
    assert api.get(f"/api/v1/instances/{iid}/history", "pemohon").status_code == 200
    create_user(alur, "pemohon-lain", DEMO_PASSWORD, ["Pemohon"], agency="Dinas Kesehatan Provinsi Kalimantan Barat")
    assert api.get(f"/api/v1/instances/{iid}/history", "pemohon-lain").status_code == 404
    assert api.get("/api/v1/instances/999999/history", "admin").status_code == 404


# ---- the counts the instance row keeps -------------------------------------------------------------


def test_the_instance_row_counts_returns_and_the_path_standard(alur: Alur, returned_often: int,
                                                                 db_url: str) -> None:
    detail = alur.instance(returned_often, SYSTEM)  # the whole history, counted in Python
    instance = detail.instance
    assert (instance.task_count, instance.return_count, instance.path_standard_minutes) == (23, 8, 325)
    assert (detail.history_total, detail.returns, detail.path_standard_minutes) == (23, 8, 325)
    assert alur.verify(returned_often) == []
    # a database migrated from before the counts gets them from the task table
    alur.db.engine.dispose()
    command.downgrade(alembic_config(db_url), "-1")  # before 0014_instance_counts
    command.upgrade(alembic_config(db_url), "head")
    again = make_alur(db_url, demo=False)
    try:
        row = again.instance(returned_often, SYSTEM, recent=10).instance
        assert (row.return_count, row.path_standard_minutes) == (8, 325) and again.verify(returned_often) == []
    finally:
        again.db.engine.dispose()
