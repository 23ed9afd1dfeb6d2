"""Rules of a step the engine enforces by itself: required uploads, one transaction, structured refusals."""

from __future__ import annotations

import ast
import io
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from engine.actors import SYSTEM, Upload
from engine.demo import actor_for_lane
from engine.errors import InvalidData, MissingDocument
from engine.models import DocumentVersion, Instance
from engine.services import Alur
from engine.settings import ROOT
from engine.users import DEMO_PASSWORD
from tests.conftest import PDF, PROCESS, SOP_FILE
from tests.test_ui import FIRST_DATA


def versions(alur: Alur) -> int:
    with alur.unit_of_work(write=False) as uow:
        return uow.session.scalar(select(func.count()).select_from(DocumentVersion)) or 0


def test_refused_completion_stores_no_file(alur: Alur) -> None:
    applicant = actor_for_lane(alur, "Pemohon")
    instance_id = alur.start(PROCESS, applicant)
    task = alur.ready_of([instance_id])[instance_id][0]
    data = {**FIRST_DATA, "nama_kegiatan": ""}
    with pytest.raises(InvalidData) as refused:
        alur.complete(task.id, applicant, data, [Upload("surat_pd", "surat.pdf", PDF)])
    assert refused.value.field == "nama_kegiatan" and refused.value.reason == "required"
    assert versions(alur) == 0
    assert alur.task(task.id, SYSTEM).missing_uploads == ["surat_pd"]
    # the same command with the field filled attaches and completes together
    alur.complete(task.id, applicant, FIRST_DATA, [Upload("surat_pd", "surat.pdf", PDF)])
    assert versions(alur) == 1
    assert alur.instance(instance_id, SYSTEM).ready[0].step_no == 2


def test_refused_start_with_first_step_stores_nothing(alur: Alur) -> None:
    applicant = actor_for_lane(alur, "Pemohon")
    with pytest.raises(InvalidData) as refused:
        alur.start(PROCESS, applicant, uploads=[Upload("surat_pd", "s.pdf", PDF)], complete_first=True,
                   first_data={**FIRST_DATA, "perihal": ""})
    assert refused.value.field == "perihal"
    assert versions(alur) == 0
    with alur.unit_of_work(write=False) as uow:
        assert uow.session.scalar(select(func.count()).select_from(Instance)) == 0


def test_ui_task_form_refused_for_a_missing_field_stores_no_file(alur: Alur, client: FlaskClient) -> None:
    instance_id = alur.start(PROCESS, actor_for_lane(alur, "Pemohon"))
    task = alur.ready_of([instance_id])[instance_id][0]
    username = actor_for_lane(alur, "Pemohon").username
    assert client.post("/login", data={"username": username, "password": DEMO_PASSWORD}).status_code == 302
    response = client.post(f"/tugas/{task.id}", content_type="multipart/form-data", data={
        **FIRST_DATA, "nama_kegiatan": "", "dokumen_surat_pd": (io.BytesIO(PDF), "Surat PD.pdf")})
    assert response.status_code == 422
    assert 'id="err_nama_kegiatan"' in response.text and "pilih ulang" in response.text
    assert versions(alur) == 0
    assert alur.instance(instance_id, SYSTEM).ready[0].id == task.id


def test_required_upload_is_enforced_without_the_handler(alur: Alur) -> None:
    """`unggah_wajib` alone makes the document required; `dokumen_wajib` is not needed any more."""
    xml = SOP_FILE.read_text(encoding="utf-8")
    assert xml.count('name="handlers" value="dokumen_wajib"') == 3
    xml = xml.replace('<camunda:property name="handlers" value="dokumen_wajib" />', "")
    assert alur.deploy(xml.encode(), SYSTEM, "tanpa-handler.bpmn").created
    applicant = actor_for_lane(alur, "Pemohon")
    with pytest.raises(MissingDocument) as refused:
        alur.start(PROCESS, applicant, complete_first=True, first_data=FIRST_DATA)
    assert refused.value.document_type == "surat_pd"
    instance_id = alur.start(PROCESS, applicant, complete_first=True, first_data=FIRST_DATA,
                             uploads=[Upload("surat_pd", "s.pdf", PDF)])
    assert alur.instance(instance_id, SYSTEM).ready[0].step_no == 2


def test_refusals_carry_a_reason_and_params(alur: Alur) -> None:
    applicant = actor_for_lane(alur, "Pemohon")
    instance_id = alur.start(PROCESS, applicant)
    task = alur.ready_of([instance_id])[instance_id][0]
    with pytest.raises(InvalidData) as refused:
        alur.complete(task.id, applicant, FIRST_DATA, [Upload("disposisi", "d.pdf", PDF)])
    assert refused.value.reason == "not_in_options" and refused.value.params["doc_type"] == "disposisi"
    with pytest.raises(InvalidData) as refused:
        alur.complete(task.id, applicant, FIRST_DATA, [Upload("surat_pd", "x.exe", b"MZ\x90\x00 not a pdf")])
    assert refused.value.reason == "bad_type" and refused.value.params["doc_type"] == "surat_pd"
    with pytest.raises(InvalidData) as refused:
        alur.complete(task.id, applicant, {**FIRST_DATA, "tanggal_kegiatan": "besok"})
    assert refused.value.reason == "bad_type" and refused.value.field == "tanggal_kegiatan"
    assert versions(alur) == 0


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_engine_does_not_import_handlers_nor_flask() -> None:
    """Handlers reach the engine at bootstrap (bootstrap and testing compose the two); no import circle."""
    offenders = [p.name for p in (ROOT / "engine").glob("*.py")
                 if p.name not in {"bootstrap.py", "testing.py"} and {"handlers", "flask", "api"} & _imports(p)]
    assert offenders == []
