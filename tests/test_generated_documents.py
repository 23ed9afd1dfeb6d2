"""Documents generated from DOCX templates: the disposition sheet at step 4, the reply draft at
step 6 (accepted or replaced, each version with who and why), templates replaced by a process
owner without a restart, and templates refused naming the placeholder that failed."""

from __future__ import annotations

import datetime as dt
import gc
import io
import re
import zipfile
from typing import Any

import pytest
from docx import Document as Docx
from flask.testing import FlaskClient

from engine import generated
from engine.actors import SYSTEM, Actor, Upload
from engine.db import _immediate
from engine.demo import SAMPLE_PDF, actor_for_lane
from engine.errors import Forbidden, InvalidData, MissingDocument
from engine.generated import DEFAULTS
from engine.models import Instance
from engine.services import Alur
from engine.testing import PROCESS
from engine.uow import unit_of_work
from tests.conftest import make_alur
from tests.helpers import current, drive_to, step
from tests.test_speakers import OWNER, assign, new_request
from tests.test_ui import login


def text_of(content: bytes) -> str:
    doc = Docx(io.BytesIO(content))
    cells = [c.text for t in doc.tables for r in t.rows for c in r.cells]
    return "\n".join([p.text for p in doc.paragraphs] + cells)


def versions(alur: Alur, iid: int, doc_type: str) -> list:
    detail = alur.instance(iid, SYSTEM)
    return next(d for d in detail.documents if d.doc_type == doc_type).versions


def content(alur: Alur, version_id: int) -> bytes:
    return alur.document(version_id, SYSTEM)[1]


def with_sentence(old: str, new: str, template: str = "surat_balasan") -> bytes:
    doc = Docx(str(DEFAULTS / f"{template}.docx"))
    hits = [p for p in doc.paragraphs if old in p.text]
    assert hits, old
    for p in hits:
        p.text = p.text.replace(old, new)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


@pytest.fixture
def speakers(alur: Alur) -> None:
    add_speakers(alur)


def add_speakers(alur: Alur) -> None:
    alur.save_speaker(OWNER, {"name": "Dr. Siti Aminah", "nip": "197001012000032001", "jabatan": "Kepala Bidang"})
    alur.save_speaker(OWNER, {"name": "Budi Santoso", "nip": "198002022005011002",
                              "jabatan": "Kepala Seksi Pembiayaan"})


def test_step_four_generates_the_disposition_sheet_from_its_form(alur: Alur, speakers: None) -> None:
    iid = new_request(alur, "Dr. Siti Aminah")
    drive_to(alur, iid, 4)
    step(alur, iid, data={"catatan": "Segera dicek, prioritas."})
    [sheet] = versions(alur, iid, "disposisi")
    text = text_of(content(alur, sheet.id))
    assert "LEMBAR DISPOSISI" in text and "Dinas Pendidikan" in text and "Segera dicek, prioritas." in text
    assert "Bimtek koperasi sekolah, 10 Desember 2026 09.00 di Aula Dinas" in text
    assert (sheet.uploaded_by, sheet.note) == ("kepala-biro", "dibuat dari templat lembar_disposisi bawaan")
    assert sheet.filename == "lembar_disposisi.docx"


def test_a_generated_document_leaves_no_template_for_the_cyclic_collector(alur: Alur, speakers: None) -> None:
    """A rendered template's lxml trees are freed with the step, not at the next full collection (worker RSS)."""
    iid = new_request(alur, "Dr. Siti Aminah")
    drive_to(alur, iid, 4)
    gc.collect()
    step(alur, iid, data={"catatan": "Segera dicek, prioritas."})
    assert versions(alur, iid, "disposisi")
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        left = sorted({type(o).__qualname__ for o in gc.garbage if type(o).__module__.startswith("docx.")})
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert left == []


def test_reply_draft_names_the_substitute_and_can_be_replaced(alur: Alur, speakers: None) -> None:
    iid = new_request(alur, "Dr. Siti Aminah")
    assign(alur, iid, "Budi Santoso", "usul_pengganti")
    record = current(alur, iid)
    kasubbag = actor_for_lane(alur, record.lane)
    with pytest.raises(MissingDocument):     # the draft is required: generated on request, or uploaded
        alur.complete(record.id, kasubbag, {})
    draft = alur.generate_document(record.id, kasubbag, "draft_surat")
    text = text_of(content(alur, draft.id))
    assert "Dr. Siti Aminah berhalangan hadir" in text
    assert "sebagai pengganti kami tugaskan Budi Santoso (Kepala Seksi Pembiayaan)" in text
    assert "bersedia menjadi narasumber" not in text and "{%" not in text
    # only what signature and numbering fill later is left as a placeholder
    assert set(re.findall(r"\{\{ ([a-z_.]+) \}\}", text)) == {
        "surat.nomor", "surat.tanggal", "penandatangan.jabatan", "penandatangan.tanda_tangan",
        "penandatangan.nama", "penandatangan.nip", "verifikasi"}
    alur.attach_document(record.id, kasubbag, Upload("draft_surat", "draft diedit.pdf", SAMPLE_PDF))
    alur.complete(record.id, kasubbag, {"catatan": "diperbaiki"})
    kept = versions(alur, iid, "draft_surat")
    assert [(v.version, v.uploaded_by, v.note) for v in kept] == [
        (1, "kasubbag-terkait", "dibuat dari templat surat_balasan bawaan"), (2, "kasubbag-terkait", None)]
    with pytest.raises(InvalidData):
        alur.generate_document(current(alur, iid).id, actor_for_lane(alur, current(alur, iid).lane), "draft_surat")


def test_owner_replaces_the_reply_template_and_the_next_draft_uses_it(alur: Alur, speakers: None) -> None:
    changed = with_sentence("bersedia menjadi narasumber", "dengan senang hati bersedia hadir sebagai narasumber")
    with pytest.raises(Forbidden):
        alur.replace_template(Actor("kasubbag-terkait", lanes=frozenset({"Kasubbag Terkait"})), PROCESS,
                              "surat_balasan", changed)
    stored = alur.replace_template(OWNER, PROCESS, "surat_balasan", changed, "balasan baru.docx", "kalimat ramah")
    assert (stored.version, stored.uploaded_by, stored.note) == (1, "pemilik-proses", "kalimat ramah")
    iid = new_request(alur, "Dr. Siti Aminah")
    assign(alur, iid, "Dr. Siti Aminah")
    record = current(alur, iid)
    draft = alur.generate_document(record.id, actor_for_lane(alur, record.lane), "draft_surat")
    text = text_of(content(alur, draft.id))
    assert "Dr. Siti Aminah (Kepala Bidang) dengan senang hati bersedia hadir sebagai narasumber" in text
    assert draft.note == "dibuat dari templat surat_balasan versi 1"


@pytest.mark.parametrize(("placeholder", "named"), [
    ("{{ narasumber.pangkat }}", "pangkat"),
    ("{{ tidak_ada }}", "tidak_ada"),
])
def test_a_template_that_does_not_render_is_refused_naming_the_placeholder(alur: Alur, placeholder: str,
                                                                           named: str) -> None:
    broken = with_sentence("Demikian disampaikan", f"Demikian {placeholder} disampaikan")
    with pytest.raises(InvalidData) as refused:
        alur.replace_template(OWNER, PROCESS, "surat_balasan", broken)
    assert refused.value.reason == "template_placeholder" and refused.value.params["placeholder"] == named
    assert f"'{named}'" in refused.value.message
    assert alur.templates(PROCESS) == []


def test_templates_are_sandboxed_checked_for_kind_and_name(alur: Alur) -> None:
    evil = with_sentence("Demikian disampaikan", "{{ ''.__class__.__mro__ }}")
    with pytest.raises(InvalidData) as refused:
        alur.replace_template(OWNER, PROCESS, "surat_balasan", evil)
    assert refused.value.reason == "template_syntax"
    with pytest.raises(InvalidData) as refused:
        alur.replace_template(OWNER, PROCESS, "surat_balasan", SAMPLE_PDF)
    assert refused.value.field == "file"
    with pytest.raises(InvalidData) as refused:
        alur.replace_template(OWNER, PROCESS, "surat_lain", with_sentence("Demikian", "Demikian"))
    assert refused.value.field == "name" and "surat_balasan" in refused.value.message
    assert alur.templates(PROCESS) == []


def test_three_reviewers_initial_the_exact_version_they_approved(alur: Alur, client: FlaskClient,
                                                                speakers: None) -> None:
    iid = new_request(alur, "Dr. Siti Aminah")
    assign(alur, iid, "Dr. Siti Aminah")
    record = current(alur, iid)
    kasubbag = actor_for_lane(alur, record.lane)
    draft = alur.generate_document(record.id, kasubbag, "draft_surat")
    alur.complete(record.id, kasubbag, {})
    step(alur, iid)                                     # Kabag (7) approves: paraf on version 1
    step(alur, iid, "tidak_setuju")                     # Karo (8) returns to the Kabag,
    step(alur, iid, "tidak_setuju")                     # who returns it to the Kasubbag
    kasubbag_again = current(alur, iid)
    fixed = alur.attach_document(kasubbag_again.id, kasubbag, Upload("draft_surat", "draft v2.pdf", SAMPLE_PDF))
    alur.complete(kasubbag_again.id, kasubbag, {})
    for _ in range(3):                                  # Kabag, Karo, Asisten approve version 2
        step(alur, iid)
    initials = alur.initials(iid, SYSTEM)
    assert [(i.actor, i.step_no, i.version) for i in initials] == [
        ("kepala-bagian-terkait", 7, 1), ("kepala-bagian-terkait", 7, 2), ("kepala-biro", 8, 2),
        ("asisten-administrasi-dan-umum", 9, 2)]
    assert {i.sha256 for i in initials[1:]} == {fixed.sha256} and initials[0].sha256 == draft.sha256
    audit = [e for e in alur.audit_log(iid) if e.kind == "paraf"]
    assert [e.payload["sha256"] for e in audit] == [i.sha256 for i in initials]
    login(client, "kepala-biro")
    page = client.get(f"/permohonan/{iid}").text
    block = page[page.index('<ul class="paraf" data-version="2">'):]
    block = block[:block.index("</ul>")]
    assert block.count("<li>Paraf") == 3 and fixed.sha256[:16] in block
    assert "asisten-administrasi-dan-umum (langkah 9" in block


def test_form_text_never_becomes_a_placeholder_of_a_later_render(alur: Alur, speakers: None) -> None:
    iid = new_request(alur, "Dr. Siti Aminah")
    drive_to(alur, iid, 4)
    step(alur, iid, data={"catatan": "{{ ''.__class__ }} {% if true %}x{% endif %}"})
    [sheet] = versions(alur, iid, "disposisi")
    text = text_of(content(alur, sheet.id))
    assert "{\u200b{ ''.__class__ }} {\u200b% if true %}x{\u200b% endif %}" in text


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bool, bytes]]:
    """Every DOCX render: (inside a writing unit of work, the bytes made)."""
    made: list[tuple[bool, bytes]] = []
    real = generated.render

    def counted(content: bytes, ctx: Any, template: bool = False) -> bytes:
        out = real(content, ctx, template)
        made.append((_immediate.get(), out))
        return out

    monkeypatch.setattr(generated, "render", counted)
    return made


def _prerendered_then_kept(alur: Alur, renders: list[tuple[bool, bytes]]) -> None:
    iid = new_request(alur, "Dr. Siti Aminah")
    drive_to(alur, iid, 4)
    renders.clear()
    step(alur, iid, data={"catatan": "Segera dicek, prioritas."})
    [sheet] = versions(alur, iid, "disposisi")
    assert [inside for inside, _ in renders] == [False]  # rendered before the write lock, not again under it
    assert content(alur, sheet.id) == renders[0][1]
    assert "Bimtek koperasi sekolah" in text_of(renders[0][1])


def _prerendered_then_changed(alur: Alur, renders: list[tuple[bool, bytes]], monkeypatch: pytest.MonkeyPatch) -> None:
    iid = new_request(alur, "Dr. Siti Aminah")
    drive_to(alur, iid, 4)
    ahead = alur.commands._prerender

    def then_changed(*args: Any) -> Any:  # another writer changes the request between the read and the lock
        made = ahead(*args)
        with unit_of_work(alur.db) as uow:
            instance = uow.session.get_one(Instance, iid)
            instance.data = {**instance.data, "nama_kegiatan": "Pelatihan akuntansi koperasi"}
        return made

    monkeypatch.setattr(alur.commands, "_prerender", then_changed)
    renders.clear()
    step(alur, iid, data={"catatan": "Segera dicek, prioritas."})
    [sheet] = versions(alur, iid, "disposisi")
    assert [inside for inside, _ in renders] == [False, True]
    assert "Bimtek koperasi sekolah" in text_of(renders[0][1])
    stored = text_of(content(alur, sheet.id))
    assert "Pelatihan akuntansi koperasi" in stored and "Bimtek koperasi sekolah" not in stored


def test_a_generated_document_is_rendered_before_the_write_lock(alur: Alur, speakers: None,
                                                                renders: list[tuple[bool, bytes]]) -> None:
    _prerendered_then_kept(alur, renders)


def test_a_request_changed_after_the_early_render_is_rendered_again_under_the_lock(
        alur: Alur, speakers: None, renders: list[tuple[bool, bytes]], monkeypatch: pytest.MonkeyPatch) -> None:
    _prerendered_then_changed(alur, renders, monkeypatch)


def test_a_template_replaced_after_the_early_render_is_the_one_used(alur: Alur, speakers: None,
                                                                  renders: list[tuple[bool, bytes]],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    iid = new_request(alur, "Dr. Siti Aminah")
    drive_to(alur, iid, 4)
    ahead = alur.commands._prerender
    changed = with_sentence("LEMBAR DISPOSISI", "LEMBAR DISPOSISI PIMPINAN", "lembar_disposisi")

    def then_replaced(*args: Any) -> Any:
        made = ahead(*args)
        alur.replace_template(OWNER, PROCESS, "lembar_disposisi", changed, "disposisi.docx", "judul baru")
        return made

    monkeypatch.setattr(alur.commands, "_prerender", then_replaced)
    renders.clear()
    step(alur, iid, data={"catatan": "Segera dicek, prioritas."})
    [sheet] = versions(alur, iid, "disposisi")
    assert [inside for inside, _ in renders] == [False, True, True]  # early, the owner's sample check, the step
    assert "LEMBAR DISPOSISI PIMPINAN" in text_of(content(alur, sheet.id))
    assert sheet.note == "dibuat dari templat lembar_disposisi versi 1"


def test_postgresql_renders_under_the_requests_own_lock(pg_url: str, renders: list[tuple[bool, bytes]]) -> None:
    """PostgreSQL locks only the request's row, so no other request waits for its render: no early render
    there (it would cost a lookup and a read transaction a step)."""
    alur = make_alur(pg_url)
    try:
        add_speakers(alur)
        iid = new_request(alur, "Dr. Siti Aminah")
        drive_to(alur, iid, 4)
        renders.clear()
        step(alur, iid, data={"catatan": "Segera dicek, prioritas."})
        [sheet] = versions(alur, iid, "disposisi")
        assert [inside for inside, _ in renders] == [True]
        assert content(alur, sheet.id) == renders[0][1]
        assert "Bimtek koperasi sekolah" in text_of(renders[0][1])
    finally:
        alur.db.engine.dispose()


def test_a_template_compiled_once_renders_each_context_as_a_fresh_one(alur: Alur) -> None:
    """The kept compiled parts of a template give, part by part, what a fresh environment gives."""
    model = alur.specs.get(alur.definition(PROCESS)).model
    sample = generated.sample_context(model, dt.date(2026, 11, 28))
    other = {**sample, "langkah": {**sample["langkah"], "catatan": "Rapat <b>&</b> 'cek'"}}
    template = (DEFAULTS / "lembar_disposisi.docx").read_bytes()

    def parts(document: bytes) -> list[tuple[str, bytes]]:
        packed = zipfile.ZipFile(io.BytesIO(document))
        return [(item.filename, packed.read(item)) for item in packed.infolist()]

    for ctx in (sample, other, sample):
        kept = generated.render(template, ctx, template=True)
        assert parts(kept) == parts(generated.render(template, ctx))
    assert "Rapat <b>&</b> 'cek'" in text_of(generated.render(template, other, template=True))
