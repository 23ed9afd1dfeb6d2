"""Server-rendered UI in Bahasa Indonesia: thin views over the service layer.

Every view asks `engine.services.Alur` and renders what comes back. Domain errors are
shown next to the field they name (InvalidData.field, MissingDocument.document_type) and
forms are re-rendered with what the user typed. No inline script or style (CSP): the
diagram is drawn by api/static/diagram.js with bpmn-js served from node_modules.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from io import BytesIO
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    send_from_directory,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf.csrf import CSRFError
from markupsafe import Markup
from sqlalchemy import Row
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

from api import services
from api.auth import SessionUser, client_address
from api.errors import status_of
from engine import (
    claims,
    decisions,
    flowchart,
    forms,
    generated,
    people,
    signing,
    speakers,
    timeline,
    timers,
    worktime,
)
from engine.actors import Actor, Filters, Upload
from engine.clock import days_utc, local, utcnow
from engine.diagram import FormField, SopModel, Step
from engine.documents import LABELS as DOC_LABELS
from engine.documents import doc_label, size_text, sniff
from engine.errors import (
    AlurError,
    Forbidden,
    Held,
    InvalidData,
    MissingDocument,
    NotReady,
    ScheduleConflict,
    Throttled,
)
from engine.inbox import SORTS, InboxQuery, InboxTask
from engine.inbox import inbox as inbox_page
from engine.letters import AGENCY_FIELD
from engine.models import Instance, ProcessDefinition, TaskRecord
from engine.queries import RECENT_HISTORY, overdue
from engine.settings import ROOT
from engine.users import authenticate, end_sessions

bp = Blueprint("ui", __name__)

BPMN_JS_DIST = ROOT / "node_modules" / "bpmn-js" / "dist"
PAGE_SIZE = 50
STATUS_LABELS = {"running": "Berjalan", "completed": "Selesai", "cancelled": "Dibatalkan"}
END_KINDS = {"error": "berakhir dengan error", "terminate": "dihentikan (terminate)"}
TASK_STATES = {"ready": "Menunggu", "completed": "Selesai", "cancelled": "Dibatalkan"}
SOP_IDENTITY = [
    ("sop_nomor", "Nomor SOP"),
    ("sop_nama", "Nama SOP"),
    ("sop_unit", "Unit"),
    ("sop_dasar_hukum", "Dasar hukum"),
    ("sop_kualifikasi_pelaksana", "Kualifikasi pelaksana"),
    ("sop_keterkaitan", "Keterkaitan"),
    ("sop_peralatan", "Peralatan / perlengkapan"),
    ("sop_peringatan", "Peringatan"),
    ("sop_pencatatan", "Pencatatan dan pendataan"),
]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des"]
UPLOAD_ACCEPT = ".pdf,.docx,.odt,.jpg,.jpeg,.png"
_SIMPLE_CONDITION = re.compile(r"^\s*(\w+)\s*==\s*'([^']*)'\s*$")
MAX_ID = 2**31 - 1      # ids are 32-bit integers in every database Alur supports
MAX_PAGE = 1_000_000


# ---- helpers -----------------------------------------------------------------------------

def actor() -> Actor:
    return current_user.actor


def _tz() -> str:
    return services().settings.timezone


def _fmt(moment: datetime | None, with_time: bool = True) -> str:
    if moment is None:
        return "-"
    shown = local(moment, _tz())
    text = f"{shown.day} {MONTHS[shown.month - 1]} {shown.year}"
    return f"{text} {shown:%H:%M}" if with_time else text


def _fmt_local(moment: datetime | None, since: datetime | None = None) -> str:
    """A datetime already in local time (timeline rows); only the time when on the same day as `since`."""
    if moment is None:
        return "-"
    if since is not None and since.date() == moment.date():
        return f"{moment:%H:%M}"
    year = "" if moment.year == local(utcnow(), _tz()).year else f" {moment.year}"
    return f"{moment.day} {MONTHS[moment.month - 1]}{year} {moment:%H:%M}"


def _fmt_iso_date(text: str | None) -> str:
    try:
        day = date.fromisoformat(text or "")
    except ValueError:
        return text or "-"
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def _latest_definitions() -> list[ProcessDefinition]:
    if "alur_definitions" not in g:
        g.alur_definitions = services().latest_definitions()
    return g.alur_definitions


def _model(definition: ProcessDefinition) -> SopModel:
    return services().parsed(definition).model


def _startable(who: Actor) -> list[ProcessDefinition]:
    """Processes whose first step is in one of the actor's lanes (the engine's rule)."""
    if "alur_startable" not in g:
        g.alur_startable = services().startable(who)
    return g.alur_startable


def _first_step(definition: ProcessDefinition) -> Step:
    step = services().first_step(definition)
    if step is None:
        raise Forbidden(f"proses '{definition.key}' tidak punya langkah")
    return step


def _query_int(name: str, low: int, high: int) -> int | None:
    """An integer query parameter within bounds, None when absent; 400 naming it otherwise."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 10 and low <= int(raw) <= high):
        raise BadRequest(f"Parameter '{name}' harus bilangan bulat {low} sampai {high}.")
    return int(raw)


def _safe_next(target: str | None) -> str | None:
    if not target or any(ord(c) < 32 or ord(c) == 127 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


def requirement_hint(step: Step, form_field: FormField) -> str | None:
    """`required_when` in words: "wajib diisi bila Keputusan: Tidak setuju (kembalikan)"."""
    if not form_field.required_when:
        return None
    match = _SIMPLE_CONDITION.match(form_field.required_when)
    if match:
        other = step.field(match.group(1))
        if other is not None:
            if other.id == decisions.FIELD and match.group(2) == decisions.RETURN:
                return "Wajib diisi bila dikembalikan."
            value = dict(other.options).get(match.group(2), match.group(2))
            return f"Wajib diisi bila {other.label} = {value}."
    return f"Wajib diisi bila {form_field.required_when}."


def _form_values(fields: Iterable[FormField]) -> dict[str, Any]:
    """The submitted values of the step's own fields, as strings (the engine converts them)."""
    values: dict[str, Any] = {}
    for form_field in fields:
        if form_field.type == "boolean":
            values[form_field.id] = "true" if request.form.get(form_field.id) else "false"
        elif form_field.id in request.form:
            values[form_field.id] = request.form.get(form_field.id, "")
    return values


def _uploads(doc_types: Iterable[str]) -> list[Upload]:
    uploads = []
    for doc_type in doc_types:
        file: FileStorage | None = request.files.get(f"dokumen_{doc_type}")
        if file is not None and file.filename:
            uploads.append(Upload(doc_type, file.filename, file.read()))
    return uploads


def _friendly(step: Step, exc: AlurError) -> AlurError:
    """An engine refusal in the form's words: the field's label (never its id), option names, conditions as text."""
    form_field = step.field(exc.field) if isinstance(exc, InvalidData) and exc.field else None
    if form_field is None or not isinstance(exc, InvalidData):
        return exc
    if exc.reason == "required_when":
        label = form_field.label.split(" (")[0]
        hint = requirement_hint(step, form_field) or ""
        return InvalidData(f"{label} {hint[0].lower()}{hint[1:]}" if hint else exc.message, form_field.id,
                           exc.reason, exc.params)
    if form_field.type == "enum" and exc.reason == "not_in_options":
        names = ", ".join(name for _, name in form_field.options)
        return InvalidData(f"{form_field.label}: pilih salah satu dari {names}", form_field.id, exc.reason,
                           exc.params)
    message = exc.message.replace(f"'{form_field.label}' ({form_field.id})", form_field.label)
    return InvalidData(message.replace(f"'{form_field.label}'", form_field.label), form_field.id, exc.reason,
                       exc.params)


def _form_problems(step: Step, values: dict[str, Any], uploads: list[Upload], errors: FormErrors) -> bool:
    """Every problem of the form at once, before anything is stored; says which files to choose again."""
    for problem in forms.problems(step.fields, values):
        errors.add(_friendly(step, problem), [f.id for f in step.fields])
    limit = services().settings.max_upload_bytes
    for upload in uploads:  # the files' own problems too, next to each file (the engine checks them again)
        if len(upload.content) > limit:
            errors.documents[upload.doc_type] = (f"Berkas {size_text(len(upload.content))} melebihi batas "
                                                 f"{size_text(limit)}.")
            continue
        try:
            sniff(upload.content)
        except InvalidData as exc:
            errors.documents[upload.doc_type] = exc.message
    if errors and uploads:
        chosen = ", ".join(doc_label(u.doc_type) for u in uploads)
        errors.general.append(f"Berkas yang tadi dipilih ({chosen}) belum tersimpan: pilih ulang sebelum mengirim.")
    return bool(errors)


def _refused(step: Step, exc: AlurError, uploads: list[Upload]) -> FormErrors:
    """The form's errors after a refused submission; the chosen files were not stored and must be picked again."""
    errors = FormErrors()
    errors.add(_friendly(step, exc), [f.id for f in step.fields])
    if uploads:
        errors.general.append("Berkas yang tadi dipilih belum tersimpan: pilih ulang sebelum mengirim.")
    return errors


@dataclass
class FormErrors:
    """Messages for the form: by field id, by document type, or for the whole form."""

    fields: dict[str, str] = field(default_factory=dict)
    documents: dict[str, str] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)

    def add(self, exc: AlurError, fields: Iterable[str]) -> None:
        doc_type = exc.params.get("doc_type") if isinstance(exc, InvalidData) else None
        if isinstance(exc, MissingDocument):
            self.documents[exc.document_type] = exc.message
        elif isinstance(exc, InvalidData) and exc.field in set(fields):
            self.fields[exc.field] = exc.message
        elif isinstance(doc_type, str):
            self.documents[doc_type] = exc.message
        else:
            self.general.append(exc.message)

    def __bool__(self) -> bool:
        return bool(self.fields or self.documents or self.general)


def _instance_data(model: SopModel, instance: Instance) -> list[tuple[str, str]]:
    """The request's form values with their labels, in step order (no decisions/notes)."""
    shown: list[tuple[str, str]] = []
    seen: set[str] = set()
    for step in model.ordered_steps():
        for form_field in step.fields:
            if form_field.id in seen or form_field.id in decisions.FIELDS:
                continue
            seen.add(form_field.id)
            value = instance.data.get(form_field.id)
            if value in (None, ""):
                continue
            if form_field.type == "enum":
                value = dict(form_field.options).get(value, value)
            elif form_field.type == "date":
                value = _fmt_iso_date(str(value))
            elif form_field.type == "boolean":
                value = "Ya" if value else "Tidak"
            shown.append((form_field.label, str(value)))
    return shown


def _waiting(record: TaskRecord | InboxTask) -> dict[str, Any]:
    """How long a step has waited in office working time (what its standard is measured against)."""
    waited = services().calendar().working_seconds(record.ready_at, record.completed_at or utcnow())
    return {"text": f"{timeline.duration_text(waited)} jam kerja", "overdue": overdue(record),
            "standard": f"{record.standard_minutes} mnt" if record.standard_minutes is not None else "-"}


@bp.app_template_filter("waktu")
def _waktu_filter(moment: datetime | None) -> str:
    return _fmt(moment)


@bp.app_template_filter("tanggal")
def _tanggal_filter(text: str | None) -> str:
    return _fmt_iso_date(text)


@bp.app_template_filter("dok")
def _dok_filter(doc_type: str) -> str:
    return doc_label(doc_type)


@bp.app_template_filter("kalimat")
def _kalimat_filter(text: str | None) -> str:
    """An engine message as a sentence: capital first letter."""
    text = (text or "").strip()
    return text[:1].upper() + text[1:] if text else ""


@bp.context_processor
def _layout() -> dict[str, Any]:
    context: dict[str, Any] = {"doc_label": doc_label, "status_label": STATUS_LABELS,
                               "duration_text": timeline.duration_text, "decision": decisions,
                               "size_text": size_text, "maxlength": forms.max_length,
                               "max_upload": size_text(services().settings.max_upload_bytes)}
    if current_user.is_authenticated:
        who = actor()
        context.update(
            me=who, my_name=current_user.user.full_name or who.username,
            my_lanes=", ".join(sorted(who.lanes)),
            nav_processes=[(d.key, d.name) for d in _latest_definitions()])
    return context


@bp.errorhandler(AlurError)
def _domain_error(exc: AlurError) -> tuple[str, int]:
    return render_template("error.html", message=exc.message, code=status_of(exc)), status_of(exc)


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc: RequestEntityTooLarge) -> tuple[str, int]:
    limit = services().settings.max_upload_bytes // (1024 * 1024)
    message = f"Berkas terlalu besar: batas unggahan {limit} MB. Kembali dan pilih berkas yang lebih kecil."
    return render_template("error.html", message=message, code=413), 413


@bp.errorhandler(BadRequest)
def _bad_request(exc: BadRequest) -> tuple[str, int]:
    return render_template("error.html", message=exc.description, code=400), 400


@bp.errorhandler(CSRFError)
def _csrf_error(exc: CSRFError) -> Any:
    if not current_user.is_authenticated and request.endpoint not in ("ui.login", "ui.logout"):
        # the session ended while the form was open
        flash("Sesi Anda berakhir sebelum isian terkirim. Masuk lagi: Anda kembali ke halaman yang sama "
              "dan isian yang tadi diketik dikembalikan.", "info")
        return redirect(url_for("ui.login", next=_safe_next(request.full_path.rstrip("?"))))
    message = "Formulir kedaluwarsa atau tidak sah. Muat ulang halaman lalu coba lagi."
    return render_template("error.html", message=message, code=400), 400


# ---- login ------------------------------------------------------------------------------

@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("ui.inbox"))
    error, username = None, ""
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        try:
            user = authenticate(services(), username, request.form.get("password", ""), client_address())
        except Throttled as exc:
            return render_template("login.html", error=exc.message, username=username), 429
        if user is not None:
            login_user(SessionUser(user))
            return redirect(_safe_next(request.args.get("next")) or url_for("ui.inbox"))
        error = "Nama pengguna atau kata sandi salah."
    return render_template("login.html", error=error, username=username), (401 if error else 200)


@bp.post("/logout")
def logout() -> Any:
    if current_user.is_authenticated:
        end_sessions(services(), current_user.user.id)  # a copied cookie stops working too
    logout_user()
    flash("Anda telah keluar.", "ok")
    return redirect(url_for("ui.login"))


# ---- inbox ------------------------------------------------------------------------------

@bp.get("/")
@login_required
def inbox() -> str:
    who = actor()
    args = request.args
    page_no = max(args.get("halaman", 1, type=int) or 1, 1)
    sort = args.get("urut", "menunggu")
    query = InboxQuery(
        search=args.get("cari", "").strip()[:200], step_no=args.get("langkah", type=int),
        lane=args.get("lane") or None, overdue=args.get("terlambat") == "1",
        returned=args.get("dikembalikan") == "1", mine=args.get("saya") == "1",
        sort=sort if sort in SORTS else "menunggu", limit=PAGE_SIZE, offset=(page_no - 1) * PAGE_SIZE)
    found = inbox_page(services(), who, query)
    tasks = [{"record": r, "instance": r.instance, **_waiting(r)} for r in found.tasks]
    mine: list[Row[Any]] = []
    if who.agency:
        mine = services().instances(who, Filters(limit=20))
    steps = sorted({(s.step_no, s.name) for d in _latest_definitions() for s in _model(d).steps.values()
                    if s.lane in who.lanes and s.step_no is not None})
    kept = {k: v for k, v in args.items() if k != "halaman" and v}
    toggles = {k: v for k, v in kept.items() if k not in {"terlambat", "dikembalikan", "saya"}}
    home = people.desk(services(), who) if who.is_admin or who.is_process_owner else None
    return render_template("inbox.html", tasks=tasks, startable=_startable(who), mine=mine, query=query,
                           counts=found.counts, has_next=found.has_next, page=page_no, args=kept,
                           toggles=toggles, steps=steps, lanes=sorted(who.lanes), home=home,
                           ready_of=services().ready_of([i.id for i in mine]) if mine else {})


# ---- tasks ------------------------------------------------------------------------------

def _render_task(task_id: str, values: dict[str, Any] | None = None, errors: FormErrors | None = None,
                 status: int = 200) -> tuple[str, int]:
    who = actor()
    detail = services().task(task_id, who)
    model = _model(detail.instance.definition)
    inputs = {d.doc_type: d for d in detail.inputs}
    in_lane = detail.can_complete(who)
    held_by_other = bool(detail.record.claimed_by and detail.record.claimed_by != who.username)
    rework = detail.rework
    directs = (who.directs(detail.record.lane) and detail.record.state == "ready"
               and detail.instance.status == "running")
    return render_template(
        "task.html", detail=detail, record=detail.record, step=detail.step, instance=detail.instance,
        model=model, inputs=[(t, inputs.get(t)) for t in detail.step.inputs], upload_types=detail.step.upload_types,
        attached=detail.attached_by_type(), can_act=in_lane and not held_by_other, in_lane=in_lane,
        held_by_other=held_by_other, rework=rework, directs=directs,
        lane_members=claims.lane_members(services(), detail.record.lane) if directs else [],
        values=values if values is not None else rework.prefill, errors=errors or FormErrors(),
        fields=[f for f in detail.step.fields if not (detail.step.is_decision and f.id == decisions.FIELD)],
        hint=lambda f: requirement_hint(detail.step, f), waiting=_waiting(detail.record),
        request_data=_instance_data(model, detail.instance), accept=UPLOAD_ACCEPT,
        task_state=TASK_STATES, step_templates=generated.step_templates(detail.step),
        esign=signing.signs_electronically(detail.step),
        **_speaker_context(model, detail)), status


def _speaker_context(model: SopModel, detail: Any) -> dict[str, Any]:
    """The speaker calendar of a `kalender=periksa` step and the registry names for the speaker fields."""
    fields = speakers.CalendarFields.of(model)
    if fields is None:
        return {"schedules": [], "speaker_names": [], "speaker_fields": ()}
    shown = detail is not None and detail.step.prop("kalender") == speakers.CHECK
    return {"schedules": services().schedules(detail.instance) if shown else [],
            "speaker_names": [s.name for s in services().speaker_list(active_only=True)],
            "speaker_fields": tuple(n for n in (fields.requested, fields.assigned) if n)}


@bp.get("/tugas/<task_id>")
@login_required
def task(task_id: str) -> Any:
    return _render_task(task_id)


@bp.post("/tugas/<task_id>")
@login_required
def task_submit(task_id: str) -> Any:
    who = actor()
    alur = services()
    detail = alur.task(task_id, who)
    step = detail.step
    values = _form_values(step.fields)
    errors = FormErrors()
    uploads = _uploads(step.upload_types)
    if _form_problems(step, values, uploads, errors):
        return _render_task(task_id, values, errors, 422)
    try:
        instance_id = alur.complete(task_id, who, values, uploads)
    except ScheduleConflict as exc:
        errors = FormErrors()
        errors.general.append(exc.message)
        return _render_task(task_id, values, errors, 409)
    except NotReady:
        flash(_already_done(task_id), "error")
        return redirect(url_for("ui.instance", instance_id=detail.instance.id))
    except Held as exc:
        errors.general.append(exc.message)
        return _render_task(task_id, values, errors, 409)
    except (InvalidData, MissingDocument) as exc:
        return _render_task(task_id, values, _refused(step, exc, uploads), 422)
    verb = "dikembalikan" if decisions.is_return(values) else "selesai"
    message = f"Langkah {step.step_no or ''} \u201c{step.name}\u201d {verb} (permohonan #{instance_id})."
    if "penomoran_surat" in step.handlers:
        number = alur.progress(instance_id, who)[0].letter_number
        message += f" Nomor surat keluar: {number}."
    flash(message, "ok")
    return redirect(url_for("ui.inbox"))


def _already_done(task_id: str) -> str:
    """A second submit of the same form (another tab, a slow network): what happened, in words."""
    record = services().task(task_id, actor()).record
    if record.state == "completed":
        who = f" oleh {record.completed_by}" if record.completed_by else ""
        return (f"Tugas \u201c{record.name}\u201d sudah diselesaikan{who} pada {_fmt(record.completed_at)}. "
                f"Kiriman kedua tidak disimpan.")
    return (f"Tugas \u201c{record.name}\u201d tidak menunggu lagi (permohonan sudah berpindah). "
            f"Kiriman ini tidak disimpan.")


@bp.post("/tugas/<task_id>/ambil")
@login_required
def task_claim(task_id: str) -> Any:
    try:
        claims.claim(services(), task_id, actor())
        flash("Tugas ini sekarang tercatat sedang Anda kerjakan.", "ok")
    except Held as exc:
        flash(exc.message, "error")
    except NotReady:
        flash(_already_done(task_id), "error")
    return redirect(url_for("ui.task", task_id=task_id))


@bp.post("/tugas/<task_id>/lepas")
@login_required
def task_release(task_id: str) -> Any:
    try:
        claims.release(services(), task_id, actor())
        flash("Tugas dilepas: rekan satu lane dapat mengerjakannya.", "ok")
    except NotReady:
        flash(_already_done(task_id), "error")
    return redirect(url_for("ui.task", task_id=task_id))


@bp.post("/tugas/<task_id>/alihkan")
@login_required
def task_reassign(task_id: str) -> Any:
    username = request.form.get("pengguna", "").strip()
    try:
        claims.reassign(services(), task_id, actor(), username)
        flash(f"Tugas dialihkan ke {username}.", "ok")
    except InvalidData as exc:
        flash(exc.message, "error")
    except NotReady:
        flash(_already_done(task_id), "error")
    return redirect(url_for("ui.task", task_id=task_id))


# ---- new request ------------------------------------------------------------------------

def _pick_process(who: Actor) -> ProcessDefinition | None:
    startable = _startable(who)
    key = request.args.get("proses")
    if key:
        match = next((d for d in startable if d.key == key), None)
        if match is None:
            raise Forbidden(f"anda tidak dapat memulai permohonan proses '{key}'")
        return match
    return startable[0] if len(startable) == 1 else None


def _render_new(definition: ProcessDefinition, values: dict[str, Any], errors: FormErrors,
                status: int = 200) -> tuple[str, int]:
    model = _model(definition)
    step = _first_step(definition)
    return render_template(
        "new_request.html", definition=definition, model=model, step=step, fields=step.fields,
        upload_types=step.upload_types, values=values, errors=errors,
        hint=lambda f: requirement_hint(step, f), accept=UPLOAD_ACCEPT, **_speaker_context(model, None)), status


@bp.get("/permohonan/baru")
@login_required
def new_request() -> Any:
    who = actor()
    definition = _pick_process(who)
    if definition is None:
        startable = _startable(who)
        if not startable:
            raise Forbidden("anda tidak berada di lane langkah pertama proses mana pun")
        return render_template("choose_process.html", startable=startable)
    return _render_new(definition, {"instansi_pemohon": who.agency or ""}, FormErrors())


@bp.post("/permohonan/baru")
@login_required
def new_request_submit() -> Any:
    who = actor()
    definition = _pick_process(who)
    if definition is None:
        abort(400)
    step = _first_step(definition)
    values = _form_values(step.fields)
    uploads = _uploads(step.upload_types)
    if who.agency and step.field(AGENCY_FIELD):
        values[AGENCY_FIELD] = who.agency
    errors = FormErrors()
    if _form_problems(step, values, uploads, errors):
        return _render_new(definition, values, errors, 422)
    try:
        instance_id = services().start(definition.key, who, uploads=uploads, complete_first=True,
                                       first_data=values)
    except (InvalidData, MissingDocument) as exc:
        return _render_new(definition, values, _refused(step, exc, uploads), 422)
    flash(f"Permohonan #{instance_id} terkirim. Langkah berikutnya menunggu petugas.", "ok")
    return redirect(url_for("ui.instance", instance_id=instance_id))


# ---- instances ----------------------------------------------------------------------------

def _parse_day(name: str, problems: list[str]) -> date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        problems.append(f"Tanggal '{raw}' tidak valid (format TTTT-BB-HH).")
        return None


@bp.get("/permohonan")
@login_required
def instances() -> str:
    who = actor()
    problems: list[str] = []
    status = request.args.get("status", "")
    status = status if status in STATUS_LABELS else ""
    day_from, day_to = _parse_day("dari", problems), _parse_day("sampai", problems)
    late = request.args.get("terlambat", "")
    page = _query_int("halaman", 1, MAX_PAGE) or 1
    started_from, started_to = days_utc(day_from, day_to, _tz())
    filters = Filters(
        status=status or None, process=request.args.get("proses") or None,
        started_from=started_from, started_to=started_to,
        overdue={"ya": True, "tidak": False}.get(late), limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    found = services().instances(who, filters)
    has_next, found = len(found) > PAGE_SIZE, found[:PAGE_SIZE]
    ready = services().ready_of([i.id for i in found]) if found else {}
    args = {k: v for k, v in request.args.items() if k != "halaman" and v}
    return render_template("instances.html", instances=found, ready=ready, problems=problems, page=page,
                           has_next=has_next, args=args, status=status, late=late,
                           day_from=day_from.isoformat() if day_from else "",
                           day_to=day_to.isoformat() if day_to else "", overdue=overdue)


@bp.get("/permohonan/<int(max=2147483647):instance_id>")
@login_required
def instance(instance_id: int) -> str:
    who = actor()
    before = _query_int("sebelum", 1, 2**31 - 1)  # "Lihat yang lebih lama": the entries before this seq
    detail = services().instance(instance_id, who, recent=RECENT_HISTORY, before=before, steps=True)
    every = request.args.get("semua_versi", "")  # one document with every version, not only the newest few
    detail.documents = [services().document_versions(instance_id, who, d.doc_type) if d.doc_type == every else d
                        for d in detail.documents]
    model = detail.parsed.model
    running = detail.instance.status == "running"
    end = worktime.expected_end(model, detail.ready, services().calendar()) if running else None
    return render_template(
        "instance.html", detail=detail, instance=detail.instance, model=model,
        rows=timeline.rows(detail.history, _tz(), calendar=services().calendar()), fmt_local=_fmt_local,
        overdue=overdue, current=detail.current_steps, completed=detail.completed_steps,
        returned=detail.returned_steps, request_data=_instance_data(model, detail.instance),
        timers=[(t, model.timers.get(t.spec_id)) for t in timers.pending(services(), instance_id)],
        total_minutes=model.total_standard_minutes, task_state=TASK_STATES, end_kinds=END_KINDS,
        cancelled=next((e for e in services().audit_log(instance_id) if e.kind == "cancel"), None)
        if detail.instance.status == "cancelled" else None,
        initials=services().initials(instance_id, who),
        expected=_fmt(end) if end else None, paged_back=before is not None,
        final_letters=_final_letters(model, detail))


def _final_letters(model: SopModel, detail: Any) -> list[Any]:
    """The newest version of each document a step stamps its number into (`cap_nomor`), once it is a PDF."""
    kinds = {s.prop(signing.STAMP) for s in model.steps.values() if s.prop(signing.STAMP)}
    return [d.versions[-1] for d in detail.documents
            if d.doc_type in kinds and d.versions and d.versions[-1].media_type == "application/pdf"]


@bp.get("/permohonan/<int(max=2147483647):instance_id>/diagram.xml")
@login_required
def instance_diagram(instance_id: int) -> Response:
    instance, _ = services().progress(instance_id, actor())
    return _diagram_download(instance.definition)


@bp.get("/dokumen/<int(max=2147483647):version_id>")
@login_required
def document(version_id: int) -> Response:
    version, content = services().document(version_id, actor())
    return send_file(BytesIO(content), mimetype=version.media_type, as_attachment=True,
                     download_name=version.filename, max_age=0)


# ---- register and processes ---------------------------------------------------------------

@bp.get("/buku-agenda")
@login_required
def register() -> str:
    year = _query_int("tahun", 1, 9999)
    entries = services().register(actor(), year)
    return render_template("register.html", entries=entries, year=year)


@bp.get("/proses")
@login_required
def processes() -> Any:
    definitions = _latest_definitions()
    if len(definitions) == 1:
        return redirect(url_for("ui.process", key=definitions[0].key))
    return render_template("processes.html", definitions=definitions, model_of=_model)


@bp.get("/proses/<key>")
@login_required
def process(key: str) -> str:
    definition = services().definition(key, _query_int("versi", 1, MAX_ID))
    model = _model(definition)
    xml = services().diagram_xml(definition)
    steps = flowchart.flow_order(xml, model)
    drawn = flowchart.chart(model, steps, flowchart.edges(xml, model, steps), DOC_LABELS)
    sheets = [[row for row in drawn.rows if row.sheet == n] for n in range(drawn.sheets)]
    versions = sorted((d for d in services().definitions() if d.key == definition.key), key=lambda d: -d.version)
    return render_template("process.html", definition=definition, model=model, steps=steps, chart=drawn,
                           sheets=sheets, versions=versions, markup=Markup,
                           identity=[(label, model.properties.get(name, "")) for name, label in SOP_IDENTITY],
                           total_minutes=model.total_standard_minutes,
                           startable=any(d.key == definition.key for d in _startable(actor())))


@bp.get("/proses/<key>/diagram.xml")
@login_required
def process_diagram(key: str) -> Response:
    definition = services().definition(key, _query_int("versi", 1, MAX_ID))
    return _diagram_download(definition)


def _diagram_download(definition: ProcessDefinition) -> Response:
    """The XML as a download: a browser never renders it as a page (documentation is user input)."""
    response = Response(services().diagram_xml(definition), mimetype="application/xml")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{re.sub(r"[^A-Za-z0-9_.-]", "_", definition.key)[:100]}-v{definition.version}.bpmn"')
    return response


PDFJS_DIST = ROOT / "node_modules" / "pdfjs-dist"
PDFJS_PARTS = ("legacy/build/", "standard_fonts/", "cmaps/", "wasm/")  # what the preview may load
PREVIEW_TYPES = {"application/pdf", "image/png", "image/jpeg"}


@bp.get("/dokumen/<int:version_id>/pratinjau")
@login_required
def document_preview(version_id: int) -> Response:
    """A PDF or image shown inside the page; sandboxed so a document can never run anything."""
    version, content = services().document(version_id, actor())
    if version.media_type not in PREVIEW_TYPES:
        abort(404)
    response = send_file(BytesIO(content), mimetype=version.media_type, as_attachment=False,
                         download_name=version.filename, max_age=0)
    response.headers["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    return response


@bp.get("/vendor/pdfjs/<path:filename>")
def vendor_pdfjs(filename: str) -> Response:
    """pdf.js's built files from node_modules (pinned in package.json; nothing from the internet)."""
    if not filename.startswith(PDFJS_PARTS):
        abort(404)
    mimetype = "text/javascript" if filename.endswith((".mjs", ".js")) else None
    return send_from_directory(PDFJS_DIST, filename, max_age=3600, mimetype=mimetype)


@bp.get("/vendor/bpmn-js/<path:filename>")
def vendor(filename: str) -> Response:
    """bpmn-js's built files from node_modules (nothing is loaded from the internet)."""
    return send_from_directory(BPMN_JS_DIST, filename, max_age=3600)
