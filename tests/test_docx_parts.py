"""A template rendered from its kept parts (engine/docx_parts.py) gives, member by member and byte by byte,
what docxtpl gives: the bundled templates with the contexts of a real request, and a template with what
docxtpl renders besides the body (headers, footers, footnotes, properties, table rows, pictures)."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from typing import Any

import pytest
from docx import Document as Docx
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.packuri import PackURI
from docx.opc.part import Part
from docx.shared import Cm
from docxtpl import DocxTemplate
from PIL import Image

from engine import docx_parts, generated
from engine.demo import actor_for_lane
from engine.errors import InvalidData
from engine.generated import DEFAULTS
from engine.services import Alur
from engine.testing import sop_model
from tests.helpers import current, drive_to, step
from tests.test_generated_documents import add_speakers, text_of
from tests.test_speakers import assign, new_request

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def plain(content: bytes, ctx: dict[str, Any]) -> bytes:
    """What docxtpl alone makes of the template, as `generated` asks it."""
    template = DocxTemplate(io.BytesIO(content))
    template.render(dict(ctx), jinja_env=generated._environment(), autoescape=True)
    out = io.BytesIO()
    template.save(out)
    return out.getvalue()


def members(document: bytes) -> list[tuple[str, bytes]]:
    packed = zipfile.ZipFile(io.BytesIO(document))
    assert packed.testzip() is None
    return [(item.filename, packed.read(item)) for item in packed.infolist()]


def same_as_docxtpl(content: bytes, ctx: dict[str, Any]) -> bytes:
    kept = docx_parts.kept(content)
    assert kept is not None
    made = generated.render(content, ctx, template=True)
    assert members(made) == members(plain(content, ctx))
    return made


@pytest.fixture
def contexts(alur: Alur, monkeypatch: pytest.MonkeyPatch) -> list[tuple[bytes, dict[str, Any]]]:
    """Each template render of a request driven to its reply draft: (template, context)."""
    seen: list[tuple[bytes, dict[str, Any]]] = []
    real = generated.render

    def recorded(content: bytes, ctx: Any, template: bool = False) -> bytes:
        if template:
            seen.append((content, dict(ctx)))
        return real(content, ctx, template)

    monkeypatch.setattr(generated, "render", recorded)
    add_speakers(alur)
    iid = new_request(alur, "Dr. Siti Aminah")
    drive_to(alur, iid, 4)
    step(alur, iid, data={"catatan": "Rapat <b>&</b> 'cek' \"kutip\"\nbaris dua\tkolom"})
    assign(alur, iid, "Budi Santoso", "usul_pengganti")
    record = current(alur, iid)
    alur.generate_document(record.id, actor_for_lane(alur, record.lane), "draft_surat")
    monkeypatch.setattr(generated, "render", real)
    return seen


def test_the_bundled_templates_render_from_kept_parts_as_docxtpl_renders_them(
        contexts: list[tuple[bytes, dict[str, Any]]]) -> None:
    bundled = {(DEFAULTS / f"{name}.docx").read_bytes(): name for name in ("lembar_disposisi", "surat_balasan")}
    assert sorted(bundled[content] for content, _ in contexts) == ["lembar_disposisi", "surat_balasan"]
    texts = {bundled[content]: text_of(same_as_docxtpl(content, ctx)) for content, ctx in contexts}
    assert "Rapat <b>&</b> 'cek' \"kutip\"\nbaris dua\tkolom" in texts["lembar_disposisi"]
    assert "sebagai pengganti kami tugaskan Budi Santoso (Kepala Seksi Pembiayaan)" in texts["surat_balasan"]
    assert "{%" not in texts["surat_balasan"] and "{{ penandatangan.nama }}" in texts["surat_balasan"]
    sample = generated.sample_context(sop_model(), dt.date(2026, 11, 28))
    for answer in ("bersedia", "tidak_bersedia"):
        same_as_docxtpl((DEFAULTS / "surat_balasan.docx").read_bytes(), {**sample, "jawaban": answer})


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(out, "PNG")
    return out.getvalue()


def _footnotes(text: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:footnotes xmlns:w="{W}">'
            '<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:footnote>'
            f'<w:footnote w:id="1"><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:footnote></w:footnotes>').encode()


def featured() -> bytes:
    """A template with every part docxtpl renders, two sections unless the answer is `satu_bagian` (footnotes
    are rendered once per section of the rendered body),
    table rows from a loop and two pictures (their ids renumbered)."""
    doc = Docx()
    doc.core_properties.title = "Balasan {{ permohonan.id }}"
    doc.core_properties.subject = "{{ permohonan.perihal }}"
    doc.add_paragraph("Kepada {{ permohonan.instansi }}")
    table = doc.add_table(rows=3, cols=2)
    table.rows[0].cells[0].text = "{%tr for n in ['satu', 'dua', 'tiga'] %}"
    table.rows[1].cells[0].text, table.rows[1].cells[1].text = "{{ n }}", "{{ acara.tempat }}"
    table.rows[2].cells[0].text = "{%tr endfor %}"
    doc.add_picture(io.BytesIO(_png()), width=Cm(1))
    doc.add_picture(io.BytesIO(_png()), width=Cm(1))
    section = doc.sections[0]
    section.header.paragraphs[0].text = "Kop {{ permohonan.instansi }}"
    section.footer.paragraphs[0].text = "Halaman kaki {{ hari_ini }}"
    doc.add_paragraph("{%p if jawaban != 'satu_bagian' %}")
    doc.add_section()  # a paragraph that ends the first section, left out by that answer
    doc.add_paragraph("{%p endif %}")
    doc.add_paragraph("{{ narasumber.nama }}")
    notes = Part(PackURI("/word/footnotes.xml"), docx_parts.FOOTNOTES,
                 _footnotes("Catatan {{ permohonan.perihal }} {{ '{{' }} verifikasi }}"), doc.part.package)
    doc.part.relate_to(notes, RT.FOOTNOTES)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def test_headers_footers_footnotes_properties_rows_and_pictures_render_as_docxtpl_renders_them() -> None:
    sample = generated.sample_context(sop_model(), dt.date(2026, 11, 28))
    template = featured()
    rendered = same_as_docxtpl(template, sample)
    made = dict(members(rendered))
    doc = Docx(io.BytesIO(rendered))
    perihal = sample["permohonan"]["perihal"]
    assert doc.core_properties.title == "Balasan 1" and doc.core_properties.subject == perihal
    assert [r.cells[0].text for r in doc.tables[0].rows] == ["satu", "dua", "tiga"]
    assert doc.sections[0].header.paragraphs[0].text == f"Kop {sample['permohonan']['instansi']}"
    assert doc.sections[0].footer.paragraphs[0].text == f"Halaman kaki {sample['hari_ini']}"
    assert re.findall(r'<wp:docPr id="(\d+)"', made["word/document.xml"].decode()) == ["1001", "1002"]
    # rendered once per section: the second render fills what the first one wrote as a placeholder
    assert len(doc.sections) == 2
    assert f"Catatan {perihal} Kode verifikasi: CONTOH123" in made["word/footnotes.xml"].decode()
    one = same_as_docxtpl(template, {**sample, "jawaban": "satu_bagian"})
    assert len(Docx(io.BytesIO(one)).sections) == 1
    assert f"Catatan {perihal} {{{{ verifikasi }}}}" in dict(members(one))["word/footnotes.xml"].decode()


def test_a_placeholder_unknown_in_a_header_is_named() -> None:
    doc = Docx(io.BytesIO(featured()))
    doc.sections[0].header.paragraphs[0].text = "{{ permohonan.kop }}"
    out = io.BytesIO()
    doc.save(out)
    sample = generated.sample_context(sop_model(), dt.date(2026, 11, 28))
    with pytest.raises(InvalidData) as refused:
        generated.render(out.getvalue(), sample, template=True)
    assert refused.value.reason == "template_placeholder" and refused.value.params["placeholder"] == "kop"


def without_core_properties(content: bytes) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as packed:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "docProps/core.xml":
                continue
            if item.filename in ("[Content_Types].xml", "_rels/.rels"):
                data = re.sub(rb"<(Override|Relationship)[^>]*(core-properties|docProps/core)[^>]*/>", b"", data)
            packed.writestr(item.filename, data)
    return out.getvalue()


def test_a_template_without_core_properties_is_rendered_by_docxtpl() -> None:
    """python-docx makes them at save with that moment's time: nothing of them can be kept."""
    template = without_core_properties((DEFAULTS / "lembar_disposisi.docx").read_bytes())
    assert docx_parts.kept(template) is None
    sample = generated.sample_context(sop_model(), dt.date(2026, 11, 28))
    made = generated.render(template, sample, template=True)
    assert "docProps/core.xml" in dict(members(made))
    assert "LEMBAR DISPOSISI" in text_of(made) and sample["permohonan"]["perihal"] in text_of(made)


def test_a_kept_template_renders_without_reading_its_package_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parsing the package (~800 KB of styles) was most of a render: only a template's first render does it."""
    template = (DEFAULTS / "lembar_disposisi.docx").read_bytes()
    sample = generated.sample_context(sop_model(), dt.date(2026, 11, 28))
    generated.render(template, sample, template=True)

    def refused(self: DocxTemplate, reload: bool = True) -> None:
        raise AssertionError("the package was read again")

    monkeypatch.setattr(DocxTemplate, "init_docx", refused)
    other = {**sample, "langkah": {**sample["langkah"], "oleh": "kabag-umum"}}
    assert "kabag-umum" in text_of(generated.render(template, other, template=True))
