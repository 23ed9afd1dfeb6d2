"""JSON API under /api/v1: parse the request, authenticate, call the service, render JSON.

Nothing here knows SQL or SpiffWorkflow. Every answer under /api/v1 is JSON (documents
excepted): domain errors are mapped by `api.errors`, HTTP errors and unknown URLs become
JSON too, and an unexpected error is a 500 without a stack trace. The OpenAPI document
that describes all of this is `api.openapi` (served at /api/v1/openapi.json).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Blueprint, Response, current_app, g, jsonify, request, send_file, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.routing import PathConverter

from api import services
from api.auth import bearer_user
from api.errors import body_of, status_of
from engine.actors import Actor, Filters, Upload
from engine.clock import days_utc, utcnow
from engine.diagram import FormField
from engine.errors import AlurError, DiagramProblem, InvalidDiagram, NotFound, Throttled
from engine.models import Document, DocumentVersion, Instance, LetterRegisterEntry, ProcessDefinition, TaskRecord
from engine.queries import InstanceDetail, TaskDetail, overdue
from engine.users import TOKEN_LIFETIME, actor_of, add_user, authenticate, issue_token, list_users, revoke_token

bp = Blueprint("rest", __name__, url_prefix="/api/v1")


class _AnyPath(PathConverter):
    """Like `path`, but also across newlines, so that no URL under /api/v1 escapes the catch-all."""

    regex = "[^/](?s:.*?)"


# Recorded first: the converter must exist before the catch-all rule is added to the app's map.
bp.record_once(lambda state: state.app.url_map.converters.setdefault("api_path", _AnyPath))

F = TypeVar("F", bound=Callable[..., Any])

MAX_ID = 2**31 - 1              # ids are 32-bit integers in every database Alur supports
MAX_LIMIT = 500
STATUSES = ("running", "completed", "cancelled")
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "QUERY", "CONNECT"]
_TASK_ID = re.compile(r"^[0-9a-fA-F-]{1,36}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DIGITS = re.compile(r"^[0-9]{1,10}$")


class BadRequest(AlurError):
    """The request itself is malformed (HTTP 400): bad JSON, wrong type, unknown key, bad parameter."""

    code = "bad_request"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.field = field


# ---- errors: always JSON ----------------------------------------------------------------


def _error(status: int, message: str, code: str, **extra: Any) -> Response:
    response = jsonify({"error": message, "code": code, **extra})
    response.status_code = status
    return response


@bp.errorhandler(AlurError)
def _domain_error(exc: AlurError) -> Response:
    body = body_of(exc)
    if isinstance(exc, BadRequest) and exc.field:
        body["field"] = exc.field
    response = jsonify(body)
    response.status_code = status_of(exc)
    if isinstance(exc, Throttled):
        response.headers["Retry-After"] = str(max(1, exc.retry_after))
    return response


_HTTP_MESSAGES = {
    400: "permintaan tidak valid",
    404: "tidak ditemukan",
    405: "metode tidak diizinkan",
    413: "permintaan melebihi batas ukuran",
}


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    code = re.sub(r"[^a-z0-9]+", "_", (exc.name or "error").lower()).strip("_")
    response = _error(status, _HTTP_MESSAGES.get(status) or exc.description or exc.name or "error", code)
    if status == 405:
        response.headers["Allow"] = ", ".join(getattr(exc, "valid_methods", None) or [])
    return response


@bp.errorhandler(Exception)
def _unexpected(exc: Exception) -> Response:
    current_app.logger.exception("kesalahan tak terduga di API: %s %s", request.method, request.path)
    return _error(500, "terjadi kesalahan internal pada server", "internal_error")


# ---- authentication ---------------------------------------------------------------------


def _unauthorized() -> Response:
    response = _error(401, "token tidak ada, tidak valid, kedaluwarsa atau sudah dicabut", "unauthorized")
    response.headers["WWW-Authenticate"] = 'Bearer realm="alur"'
    return response


def authenticated(view: F) -> F:
    """Resolve the bearer token to an actor (`g.actor`) or answer 401."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        user = bearer_user()
        if user is None:
            return _unauthorized()
        g.actor = actor_of(user)
        return view(*args, **kwargs)

    return cast(F, wrapper)


def actor() -> Actor:
    return cast(Actor, g.actor)


# ---- request parsing --------------------------------------------------------------------

_KIND: dict[Any, str] = {str: "string", dict: "objek", list: "daftar", bool: "boolean",
                         (str, type(None)): "string atau null"}


def _check_text(value: Any, where: str) -> None:
    """Refuse NUL characters (no database stores them in text) and lone surrogates (not Unicode) anywhere."""
    if isinstance(value, str):
        if "\x00" in value:
            raise BadRequest(f"'{where}' memuat karakter NUL", where)
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise BadRequest(f"'{where}' bukan teks Unicode yang valid", where) from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, where)
            _check_text(item, where)
    elif isinstance(value, list):
        for item in value:
            _check_text(item, where)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} bukan nilai JSON")


def json_body(fields: dict[str, Any], required: Iterable[str] = ()) -> dict[str, Any]:
    """The request's JSON object, with only the known keys, each of its type; an empty body is `{}`."""
    raw = request.get_data(cache=True)
    body: Any = {}
    if raw.strip():
        try:
            body = json.loads(raw, parse_constant=_no_constant)
        except (ValueError, RecursionError):
            raise BadRequest("badan permintaan bukan JSON yang valid") from None
    if not isinstance(body, dict):
        raise BadRequest("badan permintaan harus berupa objek JSON")
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise BadRequest(f"kunci tidak dikenal: {', '.join(unknown)} (boleh: {', '.join(fields)})", unknown[0])
    for key in required:
        if key not in body:
            raise BadRequest(f"'{key}' wajib ada", key)
    for key, kind in fields.items():
        if key in body and not isinstance(body[key], kind):
            raise BadRequest(f"'{key}' harus berupa {_KIND.get(kind) or kind.__name__}", key)
        _check_text(body.get(key), key)
    return body


def _query_text(name: str) -> str | None:
    value = request.args.get(name)
    if value is None or value == "":
        return None
    _check_text(value, name)
    return value


def _query_int(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not _DIGITS.match(raw) or not low <= int(raw) <= high:
        raise BadRequest(f"'{name}' harus bilangan bulat {low}..{high}", name)
    return int(raw)


def _query_bool(name: str) -> bool | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    if raw not in ("true", "false"):
        raise BadRequest(f"'{name}' harus 'true' atau 'false'", name)
    return raw == "true"


def _query_date(name: str) -> date | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    try:
        if not _DATE.match(raw):
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"'{name}' harus tanggal ISO 8601 (TTTT-BB-HH)", name) from None


def _id_or_404(value: int, what: str) -> int:
    if not 1 <= value <= MAX_ID:
        raise NotFound(f"{what} {value} tidak ditemukan")
    return value


def _task_id(value: str) -> str:
    if not _TASK_ID.match(value):
        raise NotFound(f"tugas {value[:60]!r} tidak ditemukan")
    return value


# ---- rendering --------------------------------------------------------------------------


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z` (moments are stored as naive UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="seconds") + "Z"


def _seconds(start: datetime, end: datetime) -> int:
    return max(0, int((end - start).total_seconds()))


def user_json(user: Any) -> dict[str, Any]:
    return {"username": user.username, "full_name": user.full_name or "", "lanes": sorted(user.lane_names),
            "agency": user.agency, "is_process_owner": bool(user.is_process_owner), "is_admin": bool(user.is_admin)}


def definition_json(definition: ProcessDefinition) -> dict[str, Any]:
    return {"key": definition.key, "name": definition.name, "version": definition.version,
            "sha256": definition.sha256, "deployed_at": iso(definition.deployed_at),
            "deployed_by": definition.deployed_by,
            "bpmn_url": url_for("rest.process_bpmn", key=definition.key, version=definition.version)}


def ready_json(record: TaskRecord, now: datetime) -> dict[str, Any]:
    return {"id": record.id, "spec_id": record.spec_id, "name": record.name, "step_no": record.step_no,
            "lane": record.lane, "ready_at": iso(record.ready_at), "due_at": iso(record.due_at),
            "standard_minutes": record.standard_minutes, "waited_seconds": _seconds(record.ready_at, now),
            "overdue": overdue(record, now)}


def history_json(record: TaskRecord) -> dict[str, Any]:
    duration = record.duration_seconds
    return {"id": record.id, "spec_id": record.spec_id, "name": record.name, "step_no": record.step_no,
            "lane": record.lane, "state": record.state, "ready_at": iso(record.ready_at),
            "due_at": iso(record.due_at), "completed_at": iso(record.completed_at),
            "completed_by": record.completed_by,
            "duration_seconds": None if duration is None else max(0.0, round(duration, 3)),
            "standard_minutes": record.standard_minutes, "keputusan": record.keputusan, "catatan": record.catatan}


def version_json(doc_type: str, version: DocumentVersion) -> dict[str, Any]:
    return {"id": version.id, "type": doc_type, "version": version.version, "filename": version.filename,
            "media_type": version.media_type, "size": version.size, "sha256": version.sha256,
            "uploaded_by": version.uploaded_by, "uploaded_at": iso(version.uploaded_at),
            "task_id": version.task_id, "url": url_for("rest.download", version_id=version.id)}


def document_json(document: Document) -> dict[str, Any]:
    return {"type": document.doc_type, "versions": [version_json(document.doc_type, v) for v in document.versions]}


def _instance_head(instance: Instance) -> dict[str, Any]:
    return {"id": instance.id, "process": instance.definition.key, "process_name": instance.definition.name,
            "version": instance.definition.version, "status": instance.status, "perihal": instance.perihal,
            "agency": instance.agency, "started_at": iso(instance.started_at), "started_by": instance.started_by,
            "ended_at": iso(instance.ended_at), "letter_number": instance.letter_number,
            "url": url_for("rest.get_instance", instance_id=instance.id)}


def instance_json(detail: InstanceDetail, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    ready = detail.ready
    return {**_instance_head(detail.instance), "data": dict(detail.instance.data or {}),
            "overdue": any(overdue(r, now) for r in ready),
            "ready_tasks": [ready_json(r, now) for r in ready],
            "history": [history_json(r) for r in detail.history],
            "returns": detail.returns,
            "documents": [document_json(d) for d in detail.documents]}


def field_json(field: FormField) -> dict[str, Any]:
    return {"id": field.id, "label": field.label, "type": field.type, "required": field.required,
            "required_when": field.required_when, "default": field.default,
            "options": [{"id": value, "name": name} for value, name in field.options],
            "constraints": {name: config for name, config in field.constraints if name != "required"}}


def task_json(detail: TaskDetail, who: Actor, now: datetime) -> dict[str, Any]:
    record, instance, step = detail.record, detail.instance, detail.step
    inputs = []
    for document in detail.inputs:
        if document.versions:
            *older, current = document.versions
            inputs.append({"type": document.doc_type, "current": version_json(document.doc_type, current),
                           "older": [version_json(document.doc_type, v) for v in reversed(older)]})
    attached = [version_json(d.doc_type, v) for d in detail.documents for v in d.versions if v.task_id == record.id]
    is_ready = record.state == "ready" and instance.status == "running"
    return {
        "id": record.id, "instance_id": instance.id, "process": instance.definition.key,
        "version": instance.definition.version, "perihal": instance.perihal, "agency": instance.agency,
        "instance_status": instance.status, "state": record.state, "ready_at": iso(record.ready_at),
        "due_at": iso(record.due_at), "completed_at": iso(record.completed_at), "completed_by": record.completed_by,
        "waited_seconds": _seconds(record.ready_at, record.completed_at or now),
        "overdue": overdue(record, now), "can_complete": is_ready and record.lane in who.lanes,
        "step": {"id": step.id, "name": step.name, "documentation": step.documentation, "step_no": step.step_no,
                 "standard_minutes": step.standard_minutes, "lane": step.lane, "is_decision": step.is_decision},
        "fields": [field_json(f) for f in step.fields],
        "inputs": list(step.inputs), "outputs": list(step.outputs),
        "required_uploads": list(step.required_uploads), "missing_uploads": detail.missing_uploads,
        "input_documents": inputs, "attached": attached,
        "data": dict(instance.data or {}),
    }


def register_json(entry: LetterRegisterEntry) -> dict[str, Any]:
    return {"number": entry.number, "year": entry.year, "sequence": entry.sequence,
            "letter_date": entry.letter_date, "instance_id": entry.instance_id, "recipient": entry.recipient,
            "subject": entry.subject, "created_by": entry.created_by, "created_at": iso(entry.created_at)}


def _instance_response(instance_id: int, status: int = 200) -> Response:
    response = jsonify(instance_json(services().instance(instance_id, actor())))
    response.status_code = status
    return response


# ---- authentication endpoints -----------------------------------------------------------


@bp.post("/auth/token")
def token() -> Response:
    body = json_body({"username": str, "password": str}, required=("username", "password"))
    user = authenticate(services(), body["username"], body["password"])
    if user is None:
        return _error(401, "nama pengguna atau kata sandi salah", "invalid_credentials")
    return jsonify({"token": issue_token(services(), user), "token_type": "Bearer",
                    "expires_in": int(TOKEN_LIFETIME.total_seconds()), "user": user_json(user)})


@bp.post("/auth/revoke")
@authenticated
def revoke() -> Response:
    header = request.headers.get("Authorization", "")
    revoke_token(services(), header[7:].strip())
    return Response(status=204)


# ---- processes --------------------------------------------------------------------------


@bp.get("/processes")
@authenticated
def processes() -> Response:
    grouped: dict[str, list[ProcessDefinition]] = {}
    for definition in services().definitions():
        grouped.setdefault(definition.key, []).append(definition)
    result = []
    for key, versions in grouped.items():
        versions.sort(key=lambda d: d.version)
        latest = versions[-1]
        result.append({"key": key, "name": latest.name, "latest_version": latest.version,
                       "versions": [definition_json(d) for d in versions]})
    return jsonify({"processes": result})


@bp.get("/processes/<key>/versions/<int:version>/bpmn")
@authenticated
def process_bpmn(key: str, version: int) -> Response:
    if "\x00" in key or len(key) > 200:
        raise NotFound(f"proses '{key[:60]}' tidak ditemukan")
    definition = services().definition(key, _id_or_404(version, "versi"))
    return Response(services().diagram_xml(definition), mimetype="application/xml")


@bp.post("/processes")
@authenticated
def deploy() -> Response:
    upload = request.files.get("file")
    if upload is None:
        raise BadRequest("berkas diagram (multipart 'file') wajib ada", "file")
    try:
        result = services().deploy(upload.read(), actor(), (upload.filename or "diagram.bpmn")[:200])
    except UnicodeDecodeError:  # a well-formed diagram in another encoding: the service stores UTF-8 text only
        raise InvalidDiagram([DiagramProblem("diagram harus berupa teks UTF-8")]) from None
    response = jsonify({**definition_json(result.definition), "created": result.created})
    response.status_code = 201 if result.created else 200
    return response


# ---- instances --------------------------------------------------------------------------


@bp.post("/instances")
@authenticated
def start_instance() -> Response:
    body = json_body({"process": str, "data": dict}, required=("process",))
    instance_id = services().start(body["process"], actor(), body.get("data") or {})
    response = _instance_response(instance_id, 201)
    response.headers["Location"] = url_for("rest.get_instance", instance_id=instance_id)
    return response


@bp.get("/instances")
@authenticated
def list_instances() -> Response:
    status = request.args.get("status")
    if status is not None and status not in STATUSES:
        raise BadRequest(f"'status' harus salah satu dari: {', '.join(STATUSES)}", "status")
    first, last = _query_date("from"), _query_date("to")
    started_from, started_to = days_utc(first, last, services().settings.timezone)
    filters = Filters(status=status, process=_query_text("process"),
                      started_from=started_from, started_to=started_to,
                      overdue=_query_bool("overdue"), limit=_query_int("limit", 100, 1, MAX_LIMIT),
                      offset=_query_int("offset", 0, 0, MAX_ID))
    found = services().instances(actor(), filters)
    ready = services().ready_of([i.id for i in found]) if found else {}
    now = utcnow()
    items = [{**_instance_head(i), "overdue": any(overdue(r, now) for r in ready.get(i.id, [])),
              "ready_tasks": [ready_json(r, now) for r in ready.get(i.id, [])]} for i in found]
    return jsonify({"instances": items, "limit": filters.limit, "offset": filters.offset})


@bp.get("/instances/<int:instance_id>")
@authenticated
def get_instance(instance_id: int) -> Response:
    return _instance_response(_id_or_404(instance_id, "permohonan"))


@bp.post("/instances/<int:instance_id>/cancel")
@authenticated
def cancel_instance(instance_id: int) -> Response:
    body = json_body({"reason": str})
    services().cancel(_id_or_404(instance_id, "permohonan"), actor(), body.get("reason", ""))
    return _instance_response(instance_id)


# ---- tasks and documents ----------------------------------------------------------------


@bp.get("/tasks")
@authenticated
def list_tasks() -> Response:
    lane = _query_text("lane")
    limit = _query_int("limit", 100, 1, MAX_LIMIT)
    records = services().ready_tasks(actor(), lane, limit)
    now = utcnow()
    tasks = [{**ready_json(r, now), "instance_id": r.instance_id, "perihal": r.instance.perihal,
              "agency": r.instance.agency, "process": r.instance.definition.key,
              "url": url_for("rest.get_task", task_id=r.id)} for r in records]
    return jsonify({"tasks": tasks})


@bp.get("/tasks/<task_id>")
@authenticated
def get_task(task_id: str) -> Response:
    detail = services().task(_task_id(task_id), actor())
    return jsonify(task_json(detail, actor(), utcnow()))


@bp.post("/tasks/<task_id>/documents")
@authenticated
def upload_document(task_id: str) -> Response:
    task_id = _task_id(task_id)
    doc_type = request.form.get("type")
    upload = request.files.get("file")
    if not doc_type:
        raise BadRequest("jenis dokumen (multipart 'type') wajib ada", "type")
    if upload is None:
        raise BadRequest("berkas (multipart 'file') wajib ada", "file")
    _check_text(doc_type, "type")
    version = services().attach_document(task_id, actor(), Upload(doc_type, upload.filename or "", upload.read()))
    response = jsonify(version_json(doc_type, version))
    response.status_code = 201
    response.headers["Location"] = url_for("rest.download", version_id=version.id)
    return response


@bp.post("/tasks/<task_id>/complete")
@authenticated
def complete_task(task_id: str) -> Response:
    body = json_body({"data": dict})
    instance_id = services().complete(_task_id(task_id), actor(), body.get("data") or {})
    return _instance_response(instance_id)


_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._\- ()]+")


@bp.get("/documents/<int:version_id>")
@authenticated
def download(version_id: int) -> Response:
    version, content = services().document(_id_or_404(version_id, "dokumen"), actor())
    filename = _UNSAFE_FILENAME.sub("_", version.filename).strip(" ._") or "dokumen"
    response = send_file(io.BytesIO(content), mimetype=version.media_type, as_attachment=True,
                         download_name=filename, etag=version.sha256, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    return response


# ---- register ---------------------------------------------------------------------------


@bp.get("/register")
@authenticated
def register() -> Response:
    year = _query_int("year", 0, 1, 9999)
    entries = services().register(actor(), year or None)
    return jsonify({"entries": [register_json(e) for e in entries]})


@bp.get("/users")
@authenticated
def users() -> Response:
    return jsonify({"users": [user_json(u) for u in list_users(services(), actor())]})


@bp.post("/users")
@authenticated
def create_user() -> tuple[Response, int]:
    body = json_body({"username": str, "password": str, "full_name": str, "lanes": list, "agency": (str, type(None)),
                      "is_process_owner": bool, "is_admin": bool}, required=("username", "password"))
    lanes = body.get("lanes", [])
    if not all(isinstance(lane, str) for lane in lanes):
        raise BadRequest("'lanes' harus daftar nama lane (teks)", "lanes")
    user = add_user(services(), actor(), body["username"], body["password"], lanes, body.get("full_name", ""),
                    body.get("agency"), body.get("is_process_owner", False), body.get("is_admin", False))
    return jsonify(user_json(user)), 201


# ---- the API's own description, and JSON for every other URL ----------------------------


@bp.get("/openapi.json")
def openapi() -> Response:
    from api.openapi import document

    return jsonify(document())


def _allowed_methods() -> list[str]:
    """Methods that a real endpoint of this path accepts (the catch-all below excluded)."""
    adapter = current_app.create_url_adapter(request)
    allowed = []
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        try:
            rule, _ = adapter.match(request.path, method=method, return_rule=True)  # type: ignore[union-attr]
        except Exception:  # noqa: BLE001 - NotFound, MethodNotAllowed, RequestRedirect
            continue
        if rule.endpoint != "rest.unknown":
            allowed.append(method)
    return allowed


def _allow_header(allowed: list[str]) -> str:
    return ", ".join([*allowed, *(["HEAD"] if "GET" in allowed else []), "OPTIONS"])


@bp.after_request
def _automatic_options(response: Response) -> Response:
    """Flask's automatic OPTIONS would count the catch-all's methods in; name only the real ones."""
    rule = request.url_rule
    if request.method == "OPTIONS" and rule is not None and rule.endpoint != "rest.unknown":
        response.headers["Allow"] = _allow_header(_allowed_methods())
    return response


@bp.route("", methods=ALL_METHODS)
@bp.route("/", methods=ALL_METHODS)
@bp.route("/<api_path:anything>", methods=ALL_METHODS)
def unknown(anything: str = "") -> Response:
    """Every other URL under /api/v1 (blueprint 404 handlers never see unmatched URLs)."""
    allowed = _allowed_methods()
    if allowed:
        response = _error(405, f"metode {request.method} tidak diizinkan untuk {request.path}",
                          "method_not_allowed")
        response.headers["Allow"] = _allow_header(allowed)
        return response
    return _error(404, f"tidak ada endpoint {request.path}", "not_found")
