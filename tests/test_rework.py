"""Returns that staff can follow: the banner, the notes so far, the pre-filled form, earlier
documents, and who may change which document (engine level; the UI and API read the same model)."""

from __future__ import annotations

import pytest

from engine import claims
from engine.actors import SYSTEM, Upload
from engine.demo import SAMPLE_PDF, actor_for_lane
from engine.errors import Forbidden, Held, InvalidData, MissingDocument
from engine.services import Alur
from engine.users import actor_of, create_user, get_user
from tests.helpers import current, drive_to, start, step


def test_a_return_at_step_2_opens_step_1_with_the_banner_prefill_and_earlier_letter(alur: Alur) -> None:
    iid = start(alur)
    step(alur, iid)  # step 1 with its Surat PD
    tu = actor_for_lane(alur, "Petugas Informasi/TU")
    record = current(alur, iid)
    alur.complete(record.id, tu, {"keputusan": "tidak_setuju", "catatan": "Lampirkan jadwal acara; " * 20})

    again = current(alur, iid)
    assert again.step_no == 1 and again.returned_by_task == record.id
    detail = alur.task(again.id, SYSTEM)
    banner = detail.rework.returned
    assert banner is not None
    assert (banner.by, banner.step_no, banner.step) == (tu.username, 2, "Catat dan cek kelengkapan berkas")
    assert banner.note == ("Lampirkan jadwal acara; " * 20).strip()  # in full
    prefill = detail.rework.prefill
    assert prefill["perihal"].startswith("Contoh") and prefill["tanggal_kegiatan"]
    assert "catatan" not in prefill and "keputusan" not in prefill
    earlier = detail.rework.earlier_documents["surat_pd"]
    assert earlier.version.version == 1 and not earlier.new_version_required and not earlier.replaced_here
    assert [n.step_no for n in detail.rework.notes] == [2]

    # step 1 again: the letter of the first activation still counts (no new version required)
    pemohon = actor_for_lane(alur, "Pemohon")
    alur.complete(again.id, pemohon, {**prefill, "perihal": "Perihal yang diperbaiki"})
    nxt = current(alur, iid)
    assert nxt.step_no == 2 and nxt.returned_by_task is None
    assert alur.task(nxt.id, SYSTEM).rework.returned is None


def test_the_kabag_sees_the_disposition_note_and_the_drafter_must_upload_a_new_draft(alur: Alur) -> None:
    iid = start(alur)
    record = drive_to(alur, iid, 4)
    alur.complete(record.id, actor_for_lane(alur, "Kepala Biro"), {"catatan": "Cek jadwal Pak Budi"})
    kabag_task = current(alur, iid)
    notes = alur.task(kabag_task.id, SYSTEM).rework.notes
    assert [(n.step_no, n.text, n.by) for n in notes][-1] == (4, "Cek jadwal Pak Budi", "kepala-biro")

    drive_to(alur, iid, 7)
    step(alur, iid, "tidak_setuju")  # the Kabag returns the draft
    again = current(alur, iid)
    assert again.step_no == 6 and again.returned_by_task
    detail = alur.task(again.id, SYSTEM)
    assert detail.rework.earlier_documents["draft_surat"].new_version_required
    kasubbag = actor_for_lane(alur, "Kasubbag Terkait")
    with pytest.raises(MissingDocument, match="Draft surat wajib diunggah \\(versi baru\\)"):
        alur.complete(again.id, kasubbag, {})
    alur.attach_document(again.id, kasubbag, Upload("draft_surat", "draft2.pdf", SAMPLE_PDF))
    assert alur.task(again.id, SYSTEM).rework.earlier_documents["draft_surat"].replaced_here
    alur.complete(again.id, kasubbag, {})
    assert current(alur, iid).step_no == 7


def test_decision_labels_come_from_the_diagram(alur: Alur) -> None:
    iid = start(alur)
    drive_to(alur, iid, 10)
    detail = alur.task(current(alur, iid).id, SYSTEM)
    assert detail.rework.decisions == [("setuju", "Setujui dan tanda tangani"),
                                       ("tidak_setuju", "Kembalikan ke Asisten")]


@pytest.mark.parametrize(("step_no", "lane", "doc_type"), [
    (13, "Pemohon", "surat_ditandatangani"),
    (2, "Petugas Informasi/TU", "surat_pd"),
    (4, "Kepala Biro", "surat_pd"),
    (11, "Petugas Informasi/TU", "surat_ditandatangani"),
])
def test_a_step_cannot_replace_its_input_documents(alur: Alur, step_no: int, lane: str, doc_type: str) -> None:
    iid = start(alur)
    record = drive_to(alur, iid, step_no)
    with pytest.raises(InvalidData, match=f"langkah {step_no} .*dokumen masukan hanya dapat dibaca") as refused:
        alur.attach_document(record.id, actor_for_lane(alur, lane), Upload(doc_type, "x.pdf", SAMPLE_PDF))
    assert refused.value.field == "type"
    versions = [v.version for d in alur.instance(iid, SYSTEM).documents if d.doc_type == doc_type for v in d.versions]
    assert versions == ([1] if doc_type in ("surat_pd", "surat_ditandatangani") else [])


def test_a_claimed_task_can_be_completed_only_by_its_holder(alur: Alur) -> None:
    create_user(alur, "tu-dua", "rahasia-123", ["Petugas Informasi/TU"])
    first, second = actor_for_lane(alur, "Petugas Informasi/TU"), actor_of(get_user(alur, "tu-dua"))
    admin = actor_of(get_user(alur, "admin"))
    iid = start(alur)
    record = drive_to(alur, iid, 2)
    claims.claim(alur, record.id, first)
    assert current(alur, iid).claimed_by == first.username
    with pytest.raises(Held, match=f"sedang dikerjakan oleh {first.username}"):
        alur.complete(record.id, second, {"keputusan": "setuju"})
    with pytest.raises(Held):
        claims.claim(alur, record.id, second)
    with pytest.raises(Forbidden):
        claims.release(alur, record.id, second)
    with pytest.raises(Forbidden):
        claims.claim(alur, record.id, actor_for_lane(alur, "Sekda"))
    claims.reassign(alur, record.id, admin, "tu-dua")
    with pytest.raises(Held):
        alur.complete(record.id, first, {"keputusan": "setuju"})
    claims.release(alur, record.id, second)
    alur.complete(record.id, first, {"keputusan": "setuju"})
    kinds = [e.kind for e in alur.audit_log(iid)]
    assert [k for k in kinds if k in {"claim", "reassign", "release"}] == ["claim", "reassign", "release"]
