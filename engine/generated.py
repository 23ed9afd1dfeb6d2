"""Documents generated from DOCX templates (docxtpl): the templates of a process and what they see.

A step names in the diagram what it generates (task property `templat`, e.g.
`draft_surat=surat_balasan`); when the step is completed without an upload of that type, the
document is rendered from the newest template of that name for the process and stored as a
new version, with who and why. Templates live in the database, every version kept, and a
process owner replaces them without a restart; a template that does not render with the
process's sample data is refused naming the placeholder that failed. Templates are
rendered in Jinja's sandbox: a template is user input.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import LRUCache
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from engine import speakers
from engine.actors import Actor
from engine.clock import local
from engine.diagram import SopModel, Step
from engine.documents import sniff
from engine.errors import Forbidden, InvalidData, NotFound
from engine.letters import AGENCY_FIELD, SUBJECT_FIELD
from engine.models import DocumentTemplate, Instance
from engine.uow import UnitOfWork

PROPERTY = "templat"
DEFAULTS = Path(__file__).parent / "doc_templates"
NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
MONTHS = ["Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
          "November", "Desember"]
BLANK = "……"
# Filled later (signature, number): a generated draft keeps these placeholders for the signing steps.
LATE: dict[str, Any] = {
    "penandatangan": {k: f"{{{{ penandatangan.{k} }}}}" for k in ("nama", "jabatan", "nip", "tanda_tangan")},
    "surat": {"nomor": "{{ surat.nomor }}", "tanggal": "{{ surat.tanggal }}"},
    "verifikasi": "{{ verifikasi }}",
}
ANSWERS = {speakers.AVAILABLE, speakers.UNAVAILABLE, speakers.SUBSTITUTE}
PRERENDERED = "alur_prerendered"  # session.info: {document type: Prerendered} of the step being completed


def step_templates(step: Step) -> dict[str, str]:
    """{document type: template name} of a step, from its `templat` property."""
    found: dict[str, str] = {}
    for part in (step.prop(PROPERTY) or "").split(","):
        if "=" in part:
            doc_type, name = (x.strip() for x in part.split("=", 1))
            found[doc_type] = name
    return found


def made_at_completion(step: Step) -> dict[str, str]:
    """The step's templated documents that nobody must upload: Alur makes them when the step completes."""
    return {doc_type: name for doc_type, name in step_templates(step).items() if doc_type not in step.required_uploads}


def template_names(model: SopModel) -> list[str]:
    return sorted({name for step in model.steps.values() for name in step_templates(step).values()})


def date_text(value: Any) -> str:
    try:
        day = dt.date.fromisoformat(str(value))
    except ValueError:
        return str(value or "")
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def inert(value: Any) -> Any:
    """Text from a form or the registry that cannot become a placeholder when a draft is rendered again
    (signature, number): a zero-width space splits `{{` and `{%`."""
    if isinstance(value, str):
        return value.replace("{{", "{\u200b{").replace("{%", "{\u200b%").replace("{#", "{\u200b#")
    return value


def _person(session: Session | None, text: Any) -> dict[str, str]:
    name = str(text or "").strip()
    found = speakers.resolve(session, name) if session is not None and name else None
    if found is None:
        return {"nama": inert(name) or BLANK, "nip": BLANK, "jabatan": BLANK, "unit": BLANK}
    return {"nama": inert(found.name), "nip": found.nip or BLANK, "jabatan": inert(found.jabatan) or BLANK,
            "unit": inert(found.unit) or BLANK}


def context(model: SopModel, data: Mapping[str, Any], *, session: Session | None, instance_id: int | None,
            perihal: str | None, agency: str | None, step: Step | None, actor: str, today: dt.date,
            extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What a template sees (docs/documents.md): every form field by id, and the named groups below."""
    fields = {f.id: "" for s in model.steps.values() for f in s.fields}
    fields.update({k: ("" if v is None else inert(v)) for k, v in data.items()})
    cal = speakers.CalendarFields.of(model)

    def field(name: str | None) -> str:
        return str(fields.get(name, "") or "") if name else ""

    requested = _person(session, field(cal.requested) if cal else "")
    assigned = _person(session, cal.speaker_text(fields)) if cal else requested
    answer = field(cal.availability) if cal else ""
    ctx: dict[str, Any] = dict(fields)
    ctx.update(
        permohonan={"id": instance_id or BLANK, "perihal": inert(perihal) or field(SUBJECT_FIELD) or BLANK,
                    "instansi": inert(agency) or field(AGENCY_FIELD) or BLANK},
        acara={"nama": field(cal.title) if cal else "", "tanggal": field(cal.day) if cal else "",
               "tanggal_teks": date_text(field(cal.day)) if cal else "",
               "jam": field(cal.start).replace(":", ".") if cal and field(cal.start) else BLANK,
               "tempat": field(cal.place) if cal else ""},
        narasumber_diminta=requested, narasumber=assigned,
        jawaban=answer if answer in ANSWERS else speakers.AVAILABLE,
        langkah={"nama": step.name if step else "", "catatan": str(fields.get("catatan") or ""), "oleh": actor},
        surat=({"nomor": field("nomor_surat"), "tanggal": date_text(field("tanggal_surat"))}
               if field("nomor_surat") else LATE["surat"]),
        penandatangan=LATE["penandatangan"], verifikasi=LATE["verifikasi"], hari_ini=date_text(today.isoformat()),
    )
    ctx.update(extra or {})
    return ctx


def sample_context(model: SopModel, today: dt.date) -> dict[str, Any]:
    """The process's sample data: every field filled as the demo fills it, a known speaker, a number."""
    from engine.demo import sample_value  # the demo's filler is the one definition of sample values

    data: dict[str, Any] = {f.id: sample_value(f) for s in model.steps.values() for f in s.fields}
    data.update(nomor_surat="000.1.2.3/001/DISKOP-UKM/2026", tanggal_surat=today.isoformat())
    ctx = context(model, data, session=None, instance_id=1, perihal=None, agency=None, step=None, actor="contoh",
                  today=today)
    person = {"nama": "Contoh Narasumber", "nip": "197001012000032001", "jabatan": "Kepala Bidang",
              "unit": "Bidang Contoh"}
    ctx.update(narasumber=person, narasumber_diminta=person,
               penandatangan={"nama": "Contoh Penandatangan", "jabatan": "Sekretaris Daerah",
                              "nip": "196501011990031001", "tanda_tangan": "Ditandatangani secara elektronik"},
               verifikasi="Kode verifikasi: CONTOH123")
    return ctx


class _Compiled(SandboxedEnvironment):
    """Compiles each text once per process. A template's parts (body, headers, properties) come back
    unchanged at every render, and compiling them was about a quarter of a render; a compiled
    Jinja template renders any context and keeps nothing of it. Only for templates (a signature or
    a number renders a stored document, a different text each time)."""

    def __init__(self) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=True)
        self.filters["tanggal"] = date_text
        self._compiled: LRUCache = LRUCache(64)

    def from_string(self, source: Any, globals: Any = None, template_class: Any = None) -> Any:
        if globals is not None or template_class is not None or not isinstance(source, str):
            return super().from_string(source, globals, template_class)
        found = self._compiled.get(source)
        if found is None:
            found = self._compiled[source] = super().from_string(source)
        return found


_COMPILED = _Compiled()


def _environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=True)
    env.filters["tanggal"] = date_text
    return env


def render(content: bytes, ctx: Mapping[str, Any], template: bool = False) -> bytes:
    """Render a DOCX template; InvalidData naming the placeholder (or the syntax error) if it fails.

    `template`: `content` is a process's template (its compiled parts are kept, see _Compiled).

    python-docx's package and parts, and Jinja's environment and templates, refer to each other, so a
    rendered template is freed only by the cyclic collector, with ~1.5 MB of lxml trees that the
    collector does not count. Left to the full collections (rare in a worker), they piled up to tens
    of MB per worker. The collector is paused while rendering, so that none of it reaches the oldest
    generation, and the young generations (~1 ms) are collected once the template is dropped.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _render(content, ctx, template)
    finally:
        if was_enabled:
            gc.enable()
        gc.collect(1)


def _render(content: bytes, ctx: Mapping[str, Any], template: bool) -> bytes:
    """`template`: a process's template, rendered from its parts kept (docx_parts) unless only docxtpl can, with
    its compiled Jinja kept too."""
    from docxtpl import DocxTemplate  # imported when a letter is made: not in every worker's memory

    from engine import docx_parts

    env = _COMPILED if template else _environment()
    try:
        parts = docx_parts.kept(content) if template else None
        if parts is not None:
            return parts.render(dict(ctx), env)
        document = DocxTemplate(io.BytesIO(content))
        document.render(dict(ctx), jinja_env=env, autoescape=True)
        out = io.BytesIO()
        document.save(out)
    except UndefinedError as exc:
        text = str(exc)
        match = re.search(r"has no attribute '([^']+)'", text) or re.search(r"'([^']+)' is undefined", text)
        name = match.group(1) if match else text
        raise InvalidData(f"templat tidak dapat dirender: placeholder '{name}' tidak dikenal", "file",
                          "template_placeholder", {"placeholder": name}) from None
    except TemplateError as exc:
        raise InvalidData(f"templat tidak dapat dirender: {exc}", "file", "template_syntax") from None
    except Exception as exc:  # noqa: BLE001 - a broken DOCX (not a zip, no document.xml) is bad input
        raise InvalidData(f"templat bukan DOCX yang dapat dibaca: {type(exc).__name__}", "file",
                          "template_unreadable") from None
    return out.getvalue()


# ---- the stored templates ---------------------------------------------------------------------


def current(session: Session, process_key: str, name: str) -> tuple[bytes, int]:
    """The newest template of that name for the process (version 0 = the bundled default)."""
    row = session.scalars(select(DocumentTemplate).where(
        DocumentTemplate.process_key == process_key, DocumentTemplate.name == name)
        .order_by(DocumentTemplate.version.desc()).limit(1)).first()
    if row is not None:
        return row.content, row.version
    return _default(process_key, name), 0


def _default(process_key: str, name: str) -> bytes:
    default = DEFAULTS / f"{name}.docx"
    if NAME.match(name) and default.is_file():
        return default.read_bytes()
    raise NotFound(f"templat '{name}' untuk proses '{process_key}' belum diunggah")


_NEWEST = (select(DocumentTemplate.version, DocumentTemplate.sha256)
           .where(DocumentTemplate.process_key == bindparam("process_key"), DocumentTemplate.name == bindparam("name"))
           .order_by(DocumentTemplate.version.desc()).limit(1))


def identity(session: Session, process_key: str, name: str) -> tuple[int, str]:
    """(version, sha256) of the template `current` gives, without reading an uploaded one's content."""
    row = session.execute(_NEWEST, {"process_key": process_key, "name": name}).first()
    if row is not None:
        return row[0], row[1]
    return 0, hashlib.sha256(_default(process_key, name)).hexdigest()


def versions(session: Session, process_key: str) -> list[DocumentTemplate]:
    return list(session.scalars(select(DocumentTemplate).where(DocumentTemplate.process_key == process_key)
                                .order_by(DocumentTemplate.name, DocumentTemplate.version.desc())))


def replace(uow: UnitOfWork, actor: Actor, model: SopModel, name: str, content: bytes, filename: str, note: str,
            now: dt.datetime, timezone: str) -> DocumentTemplate:
    """Store a new version of a template after rendering it with the process's sample data."""
    if not (actor.is_admin or actor.is_process_owner):
        raise Forbidden("hanya pemilik proses yang boleh mengganti templat")
    if name not in template_names(model):
        raise InvalidData(f"templat '{name}' tidak dipakai diagram proses '{model.key}' "
                          f"(dipakai: {', '.join(template_names(model)) or '-'})", "name", "not_in_options")
    if not content:
        raise InvalidData("berkas templat kosong", "file", "empty")
    if sniff(content) != DOCX:
        raise InvalidData("templat harus berkas DOCX", "file", "bad_type")
    render(content, sample_context(model, local(now, timezone).date()), template=True)
    last = uow.session.scalar(select(func.max(DocumentTemplate.version)).where(
        DocumentTemplate.process_key == model.key, DocumentTemplate.name == name)) or 0
    row = DocumentTemplate(process_key=model.key, name=name, version=last + 1, content=content,
                           sha256=hashlib.sha256(content).hexdigest(), filename=filename[:255] or f"{name}.docx",
                           note=note[:500], uploaded_by=actor.username, uploaded_at=now)
    uow.session.add(row)
    uow.session.flush()
    uow.audit(actor.username, "template_replaced", now, process=model.key, name=name, version=row.version,
              sha256=row.sha256, note=note[:500])
    return row


@dataclass(frozen=True)
class Prerendered:
    """A document rendered before the step's write lock, with what it was rendered from."""

    process_key: str
    name: str
    version: int
    sha256: str
    seen: str  # repr of the context: 1, 1.0 and True are equal but render differently
    content: bytes


def _context_for(session: Session, model: SopModel, instance: Instance, step: Step, values: Mapping[str, Any],
                 actor: str, today: dt.date, extra: Mapping[str, Any] | None) -> dict[str, Any]:
    data = {**instance.data, **{k: v for k, v in values.items() if v is not None}}
    return context(model, data, session=session, instance_id=instance.id, perihal=instance.perihal,
                   agency=instance.agency, step=step, actor=actor, today=today, extra=extra)


def prerender(session: Session, model: SopModel, instance: Instance, step: Step, values: Mapping[str, Any],
              name: str, actor: str, today: dt.date) -> Prerendered:
    """`generate` done ahead, in a read-only transaction, so that rendering (~1 ms; a worker's first of a template
    ~60 ms) is not spent under the write lock (on SQLite every other writer waits for it)."""
    content, version = current(session, model.key, name)
    ctx = _context_for(session, model, instance, step, values, actor, today, None)
    return Prerendered(model.key, name, version, hashlib.sha256(content).hexdigest(), repr(ctx),
                       render(content, ctx, template=True))


def generate(session: Session, model: SopModel, instance: Instance, step: Step, values: Mapping[str, Any],
             name: str, actor: str, today: dt.date, extra: Mapping[str, Any] | None = None,
             prerendered: Prerendered | None = None) -> tuple[bytes, int]:
    """Render the named template for a request, with its data and this step's values.

    `prerendered`: used only if it was made from this very template and context, as read here (under the
    step's lock); anything changed in between costs a second render, never a stale document. The two
    renders differ only in the zip entries' modification times (docProps are not touched)."""
    ctx = _context_for(session, model, instance, step, values, actor, today, extra)
    if (prerendered is not None and (prerendered.process_key, prerendered.name) == (model.key, name)
            and prerendered.seen == repr(ctx)
            and identity(session, model.key, name) == (prerendered.version, prerendered.sha256)):
        return prerendered.content, prerendered.version
    content, version = current(session, model.key, name)
    return render(content, ctx, template=True), version
