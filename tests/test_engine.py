"""The engine on a real SQLite file: the SOP end to end, returns, errors, history depth."""

from __future__ import annotations

import re
import zlib

import pytest
from sqlalchemy import func, select

from engine import state
from engine.actors import SYSTEM, Upload
from engine.demo import SAMPLE_PDF, actor_for_lane, fill
from engine.errors import Forbidden, InvalidData, MissingDocument, NotReady
from engine.models import AuditEvent, Instance, LetterRegisterEntry, TaskRecord
from engine.services import Alur
from tests.helpers import PROCESS, current, drive_to, start, step

# The SOP's decision table: where "tidak setuju" at a step sends the request.
RETURNS_TO = {2: 1, 7: 6, 8: 7, 9: 8, 10: 9}


def finish(alur: Alur, instance_id: int) -> None:
    while alur.ready_of([instance_id])[instance_id]:
        step(alur, instance_id)


def test_happy_path_runs_all_thirteen_steps_and_numbers_the_letter(alur: Alur) -> None:
    iid = start(alur)
    finish(alur, iid)
    detail = alur.instance(iid, SYSTEM)
    assert detail.instance.status == "completed"
    assert detail.instance.ended_at is not None
    assert [r.step_no for r in detail.history] == list(range(1, 14))
    assert all(r.state == "completed" and r.completed_by for r in detail.history)
    assert [r.standard_minutes for r in detail.history] == [5, 5, 5, 5, 5, 20, 15, 15, 15, 15, 20, 5, 5]
    assert all(r.duration_seconds is not None and r.duration_seconds >= 0 for r in detail.history)
    assert re.fullmatch(r"000\.1\.2\.3/001/DISKOP-UKM/\d{4}", detail.instance.letter_number or "")
    assert detail.instance.data["nomor_surat"] == detail.instance.letter_number
    assert {d.doc_type for d in detail.documents} == {"surat_pd", "disposisi", "draft_surat",
                                                      "surat_ditandatangani"}  # disposisi: generated at step 4
    kinds = [e.kind for e in alur.audit_log(iid)]
    assert kinds.count("complete") == 13 and kinds.count("document_added") == 4
    assert kinds[0] == "start" and kinds[-1] == "end"
    assert alur.verify(iid) == []
    with alur.unit_of_work(write=False) as uow:
        entry = uow.session.scalars(select(LetterRegisterEntry)).one()
    assert entry.instance_id == iid and entry.sequence == 1
    assert entry.recipient == detail.instance.agency and entry.subject == detail.instance.perihal


@pytest.mark.parametrize("at_step", sorted(RETURNS_TO))
def test_return_at_each_decision_goes_one_level_down(alur: Alur, at_step: int) -> None:
    iid = start(alur)
    drive_to(alur, iid, at_step)
    returned = step(alur, iid, "tidak_setuju")
    assert returned.step_no == at_step
    back = current(alur, iid)
    assert back.step_no == RETURNS_TO[at_step]
    detail = alur.instance(iid, SYSTEM)
    last = [r for r in detail.history if r.step_no == at_step][-1]
    assert last.keputusan == "tidak_setuju" and last.catatan
    assert detail.returns == 1
    assert "return" in [e.kind for e in alur.audit_log(iid)]
    finish(alur, iid)
    assert alur.instance(iid, SYSTEM).instance.status == "completed"


@pytest.mark.slow  # 800 steps: about 20 s
def test_four_hundred_returns_stay_correct_and_state_stays_small(alur: Alur) -> None:
    iid = start(alur)
    drive_to(alur, iid, 7)
    sizes = []
    for _ in range(400):
        assert step(alur, iid, "tidak_setuju").step_no == 7
        assert step(alur, iid).step_no == 6
        with alur.unit_of_work(write=False) as uow:
            blob = uow.session.get_one(Instance, iid).state
        sizes.append(len(blob))
    assert current(alur, iid).step_no == 7
    finish(alur, iid)
    detail = alur.instance(iid, SYSTEM)
    assert detail.instance.status == "completed"
    assert alur.verify(iid) == []
    assert len(detail.history) == 13 + 800
    assert detail.returns == 400
    # the stored state does not grow with history (no spec, pruned tree)
    assert max(sizes) < 4096 and sizes[-1] <= sizes[0] + 64
    assert b"task_specs" not in zlib.decompress(blob)
    with alur.unit_of_work(write=False) as uow:  # an ended request keeps no workflow state
        assert uow.session.get_one(Instance, iid).state is None


def test_completion_is_an_end_event_not_an_empty_tree(alur: Alur) -> None:
    iid = start(alur)
    with alur.unit_of_work(write=False) as uow:
        instance = uow.session.get_one(Instance, iid)
        parsed = alur.parsed(instance.definition)
        workflow = state.load(instance.state, parsed.spec, parsed.subprocess_specs)
    assert not state.ended(workflow)


def test_form_errors_name_the_field_and_change_nothing(alur: Alur) -> None:
    iid = start(alur)
    record = drive_to(alur, iid, 2)
    actor = actor_for_lane(alur, record.lane)
    events_before = len(alur.audit_log(iid))
    cases = [({}, "keputusan"), ({"keputusan": "mungkin"}, "keputusan"),
             ({"keputusan": "tidak_setuju"}, "catatan"), ({"keputusan": "tidak_setuju", "catatan": "  "}, "catatan"),
             ({"keputusan": "setuju", "rahasia": 1}, "rahasia")]
    for data, field in cases:
        with pytest.raises(InvalidData) as err:
            alur.complete(record.id, actor, data)
        assert err.value.field == field, data
    assert current(alur, iid).id == record.id
    assert len(alur.audit_log(iid)) == events_before


def test_step_one_needs_its_surat_pd(alur: Alur) -> None:
    iid = start(alur)
    record = current(alur, iid)
    model = alur.parsed(alur.definition(PROCESS)).model
    actor = actor_for_lane(alur, "Pemohon")
    with pytest.raises(MissingDocument) as err:
        alur.complete(record.id, actor, fill(model.steps[record.spec_id], None))
    assert err.value.document_type == "surat_pd"
    assert current(alur, iid).id == record.id


def test_every_revision_of_the_draft_needs_a_new_upload(alur: Alur) -> None:
    iid = start(alur)
    drive_to(alur, iid, 7)
    step(alur, iid, "tidak_setuju")
    record = current(alur, iid)
    assert record.step_no == 6
    model = alur.parsed(alur.definition(PROCESS)).model
    actor = actor_for_lane(alur, record.lane)
    with pytest.raises(MissingDocument):
        alur.complete(record.id, actor, fill(model.steps[record.spec_id], None))
    alur.attach_document(record.id, actor, Upload("draft_surat", "draft v2.pdf", SAMPLE_PDF))
    alur.complete(record.id, actor, fill(model.steps[record.spec_id], None))
    detail = alur.instance(iid, SYSTEM)
    draft = next(d for d in detail.documents if d.doc_type == "draft_surat")
    assert [v.version for v in draft.versions] == [1, 2]
    assert draft.versions[1].filename == "draft v2.pdf"


def test_wrong_lane_cannot_complete(alur: Alur) -> None:
    iid = start(alur)
    record = drive_to(alur, iid, 2)
    sekda = actor_for_lane(alur, "Sekda")
    with pytest.raises(Forbidden):
        alur.complete(record.id, sekda, {"keputusan": "setuju"})
    assert current(alur, iid).id == record.id


def test_double_completion_is_refused(alur: Alur) -> None:
    iid = start(alur)
    record = drive_to(alur, iid, 2)
    actor = actor_for_lane(alur, record.lane)
    alur.complete(record.id, actor, {"keputusan": "setuju"})
    with pytest.raises(NotReady):
        alur.complete(record.id, actor, {"keputusan": "setuju"})
    with alur.unit_of_work(write=False) as uow:
        done = uow.session.scalar(select(func.count()).select_from(TaskRecord)
                                  .where(TaskRecord.instance_id == iid, TaskRecord.step_no == 2))
    assert done == 1


def test_upload_refuses_unknown_types_and_documents_outside_the_step(alur: Alur) -> None:
    iid = start(alur)
    record = current(alur, iid)
    actor = actor_for_lane(alur, "Pemohon")
    with pytest.raises(InvalidData, match="jenis berkas"):
        alur.attach_document(record.id, actor, Upload("surat_pd", "x.exe", b"MZ\x90\x00" + b"\x00" * 64))
    with pytest.raises(InvalidData, match="Draft surat tidak dapat diunggah di langkah 1"):
        alur.attach_document(record.id, actor, Upload("draft_surat", "x.pdf", SAMPLE_PDF))
    version = alur.attach_document(record.id, actor, Upload("surat_pd", "../../etc/passwd.pdf", SAMPLE_PDF))
    assert version.filename == "passwd.pdf" and version.media_type == "application/pdf"
    stored, content = alur.document(version.id, SYSTEM)
    assert content == SAMPLE_PDF and stored.sha256 == version.sha256 and stored.size == len(SAMPLE_PDF)


def test_cancel_closes_ready_tasks(alur: Alur) -> None:
    iid = start(alur)
    drive_to(alur, iid, 3)
    with pytest.raises(Forbidden):
        alur.cancel(iid, actor_for_lane(alur, "Sekda"))
    alur.cancel(iid, SYSTEM, "salah kirim")
    detail = alur.instance(iid, SYSTEM)
    assert detail.instance.status == "cancelled" and not detail.ready
    assert detail.history[-1].state == "cancelled"
    with pytest.raises(NotReady):
        alur.complete(detail.history[-1].id, actor_for_lane(alur, "Petugas Informasi/TU"), {})


def test_audit_log_has_actor_and_time_for_every_event(alur: Alur) -> None:
    iid = start(alur)
    drive_to(alur, iid, 3)
    with alur.unit_of_work(write=False) as uow:
        events = list(uow.session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
    assert events[0].kind == "deploy"
    assert all(e.actor and e.at for e in events)
    completes = [e for e in events if e.kind == "complete"]
    assert [e.actor for e in completes] == ["pemohon", "petugas-informasi-tu"]
