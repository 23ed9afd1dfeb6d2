"""JSON API under /api/v1: authenticate, call the service, answer with a model of `api.schemas`.

Nothing here knows SQL or SpiffWorkflow. spectree checks each request against the models of
`api.schemas` before the view runs (a refusal is worded by `api.errors`) and builds the
OpenAPI 3.1 document from the same models and the live routes (GET /api/v1/openapi.json).
Every answer under /api/v1 is JSON (BPMN XML and documents excepted); unknown URLs and
methods are answered by the app (`api.create_app`).
"""

from __future__ import annotations

import copy
import io
import json
import re
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Blueprint, Response, current_app, g, jsonify, request, send_file, url_for
from pydantic import BaseModel, ValidationError
from spectree import Response as Answers
from spectree import SecurityScheme, SecuritySchemeData, SpecTree
from spectree.model_adapter.pydantic_adapter import PydanticModelAdapter
from sqlalchemy import Row
from werkzeug.exceptions import HTTPException

from api import schemas as s
from api import services
from api.auth import bearer_actor, client_address
from api.errors import BadRequest, body_of, refusal, status_of
from engine import claims, timers
from engine.actors import Actor, Filters, Upload
from engine.clock import days_utc, local, utcnow
from engine.errors import AlurError, DiagramProblem, Forbidden, InvalidData, InvalidDiagram, NotFound, Throttled
from engine.inbox import InboxQuery, inbox
from engine.models import Document, DocumentVersion, Instance, ProcessDefinition, TaskRecord
from engine.office import parse_day
from engine.people import UserChange, change_user, search_users
from engine.queries import RECENT_HISTORY, InstanceRows, TaskDetail, overdue
from engine.users import TOKEN_LIFETIME, add_user, authenticate, issue_token, revoke_token
from engine.worktime import HARI

bp = Blueprint("rest", __name__, url_prefix="/api/v1")

F = TypeVar("F", bound=Callable[..., Any])
FORM_MEDIA = ("multipart/form-data", "application/x-www-form-urlencoded")
ID = f"int(min=1, max={s.MAX_ID})"   # ids are 32-bit integers; others are no route (404)


def _refuse(req: Any, resp: Any, error: ValidationError | None, instance: Any, adapter: Any = None) -> None:
    """spectree's hook: a request the models refuse is a worded 400 (see `api.errors.refusal`).

    spectree reads no JSON body from a request that says it is a form; a JSON endpoint reads it anyway.
    """
    if error is None:
        metadata = spec.get_function_metadata(current_app.view_functions[req.endpoint])
        context = getattr(req, "context", None)
        if metadata is None or metadata.json is None or context is None or context.json is not None:
            return
        if metadata.form is not None and req.mimetype in FORM_MEDIA:  # the endpoint takes a form too: it is one
            return
        model = getattr(s, metadata.json)
        try:
            req.context = context._replace(json=model.model_validate(req.get_json() or {}))
            return
        except ValidationError as exc:
            error = exc
    model = getattr(s, error.title, None)
    raise refusal(error, model if isinstance(model, type) and issubclass(model, BaseModel) else None)


class _Models(PydanticModelAdapter):
    """spectree's pydantic adapter, but its own (unused) error list leaves the input out: files are no JSON."""

    def validation_errors(self, err: ValidationError) -> Any:
        return err.errors(include_context=False, include_input=False)


spec = SpecTree(
    "flask", mode="strict", title="Alur API", version="1.0.0", annotations=True,
    description="Indonesian government SOPs run as BPMN processes. Every answer is JSON except BPMN XML and "
                "document downloads; times are ISO 8601 in UTC with a Z. Authenticate with "
                "POST /api/v1/auth/token and send `Authorization: Bearer <token>`.",
    security_schemes=[SecurityScheme(name="bearerAuth", data=SecuritySchemeData(**{
        "type": "http", "scheme": "bearer", "description": "token from POST /api/v1/auth/token"}))],
    security={"bearerAuth": []}, before=_refuse, validation_error_status=400, validation_error_model=s.Error,
    model_adapter=_Models(), naming_strategy=lambda model: model.__name__,
    nested_naming_strategy=lambda parent, child: child,
)

ERRORS = {
    400: "Malformed request: bad JSON, wrong type, unknown key or bad parameter",
    401: "Not authenticated: wrong credentials, or a missing, invalid, expired or revoked bearer token",
    403: "The caller may not do this (wrong lane or role)",
    404: "Not found (or not visible to the caller)",
    409: "The task or request is not in a state that allows this any more",
    413: "The upload is too large, or a JSON body is over 64 KB",
    422: "The data breaks the form, a required document is missing, or the diagram is refused",
    429: "Too many failed logins for this name; see Retry-After",
    500: "Unexpected server error (no details are exposed)",
}


def answers(*errors: int, public: bool = False, **ok: Any) -> Answers:
    """The documented answers of an operation: its successes, these errors, 401 (unless public) and 500."""
    codes = sorted({*errors, *(() if public else (401,)), 500})
    return Answers(**ok, **{f"HTTP_{code}": (s.Error, ERRORS[code]) for code in codes})


# ---- errors: always JSON ----------------------------------------------------------------


def _error(status: int, message: str, code: str) -> Response:
    response = jsonify({"error": message, "code": code})
    response.status_code = status
    return response


@bp.errorhandler(AlurError)
def _domain_error(exc: AlurError) -> Response:
    response = jsonify(body_of(exc))
    response.status_code = status_of(exc)
    if isinstance(exc, Throttled):
        response.headers["Retry-After"] = str(max(1, exc.retry_after))
    return response


_HTTP_MESSAGES = {400: "permintaan tidak valid", 413: "permintaan melebihi batas ukuran"}


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    code = re.sub(r"[^a-z0-9]+", "_", (exc.name or "error").lower()).strip("_")
    return _error(status, _HTTP_MESSAGES.get(status) or exc.description or exc.name or "error", code)


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
    """Resolve the bearer token to an actor (`g.actor`) or answer 401 -- before the body is even read."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        who = bearer_actor()
        if who is None:
            return _unauthorized()
        g.actor = who
        return view(*args, **kwargs)

    return cast(F, wrapper)


def actor() -> Actor:
    return cast(Actor, g.actor)


# ---- from the service's objects to the answer models ------------------------------------


def _seconds(start: datetime, end: datetime) -> int:
    return max(0, int((end - start).total_seconds()))


def user_of(user: Any) -> s.User:
    return s.User(username=user.username, full_name=user.full_name or "", lanes=sorted(user.lane_names),
                  head_lanes=sorted(user.head_lanes), agency=user.agency,
                  is_process_owner=bool(user.is_process_owner), is_admin=bool(user.is_admin))


def version_of(definition: ProcessDefinition) -> dict[str, Any]:
    return dict(
        key=definition.key, name=definition.name, version=definition.version, sha256=definition.sha256,
        deployed_at=definition.deployed_at, deployed_by=definition.deployed_by,
        bpmn_url=url_for("rest.process_bpmn", key=definition.key, version=definition.version))


def ready_of(record: TaskRecord | Row[Any], now: datetime, tasks_url: str | None = None) -> dict[str, Any]:
    """A ready task (its row or its ORM object) as answers show it; its url is <tasks_url>/<id> (pass
    `tasks_url` for a list: one url_for)."""
    return dict(id=record.id, spec_id=record.spec_id, name=record.name, step_no=record.step_no, lane=record.lane,
                ready_at=record.ready_at, due_at=record.due_at, standard_minutes=record.standard_minutes,
                waited_seconds=_seconds(record.ready_at, now), overdue=overdue(record, now),
                url=f"{tasks_url or url_for('rest.list_tasks')}/{record.id}")


def history_of(record: TaskRecord) -> s.HistoryEntry:
    duration = record.duration_seconds
    return s.HistoryEntry.model_validate(record, from_attributes=True).model_copy(update={
        "duration_seconds": None if duration is None else max(0.0, round(duration, 3))})


def document_version_of(doc_type: str, version: DocumentVersion) -> s.DocumentVersion:
    return s.DocumentVersion(id=version.id, type=doc_type, version=version.version, filename=version.filename,
                             media_type=version.media_type, size=version.size, sha256=version.sha256,
                             uploaded_by=version.uploaded_by, uploaded_at=version.uploaded_at,
                             task_id=version.task_id, url=url_for("rest.download", version_id=version.id),
                             note=version.note)


def group_of(document: Document) -> s.DocumentGroup:
    return s.DocumentGroup(type=document.doc_type, total=document.versions[-1].version,
                           versions=[document_version_of(document.doc_type, v) for v in document.versions],
                           url=url_for("rest.instance_document", instance_id=document.instance_id,
                                       doc_type=document.doc_type))


def summary_of(instance: Any, ready: list[Any], now: datetime, url: str | None = None,
               tasks_url: str | None = None) -> dict[str, Any]:
    """A request in a list, from a row of `Queries.instances` (or anything with its attribute names: the
    process's `key`, `process_name`, `version`) and its ready tasks."""
    tasks = [ready_of(r, now, tasks_url) for r in ready]
    return dict(id=instance.id, process=instance.key, process_name=instance.process_name,
                version=instance.version, status=instance.status, perihal=instance.perihal,
                agency=instance.agency, started_at=instance.started_at, started_by=instance.started_by,
                ended_at=instance.ended_at, end_event=instance.end_event, letter_number=instance.letter_number,
                url=url or url_for("rest.get_instance", instance_id=instance.id),
                overdue=any(t["overdue"] for t in tasks), ready_tasks=tasks)


def instance_of(detail: InstanceRows, now: datetime | None = None) -> s.Instance:
    """The answer of a request, validated once as a whole (one model, from plain rows and dicts)."""
    now = now or utcnow()
    row, ready, instance_id = detail.instance, detail.ready, detail.instance.id
    older = detail.older
    url = url_for("rest.get_instance", instance_id=instance_id)
    base = url[:url.rindex("/instances/")]  # one url_for: the task and document urls are made from it
    return s.Instance.model_validate(dict(
        id=instance_id, process=row.key, process_name=row.process_name, version=row.version, status=row.status,
        perihal=row.perihal, agency=row.agency, started_at=row.started_at, started_by=row.started_by,
        ended_at=row.ended_at, end_event=row.end_event, letter_number=row.letter_number, url=url,
        overdue=any(overdue(r, now) for r in ready), ready_tasks=[ready_of(r, now, f"{base}/tasks") for r in ready],
        data=dict(row.data or {}), history=[_history_entry(r) for r in detail.history],
        history_total=row.task_count, history_url=f"{url}/history",
        history_older_url=None if older is None else f"{url}/history?before={older}",
        returns=row.return_count, lead_seconds=max(0, int(detail.lead_seconds)),
        lead_working_seconds=detail.lead_working_seconds, path_standard_minutes=row.path_standard_minutes,
        documents=[dict(type=doc_type, total=versions[-1].version, versions=[_version_entry(doc_type, v, base)
                                                                             for v in versions],
                        url=url_for("rest.instance_document", instance_id=instance_id, doc_type=doc_type))
                   for doc_type, versions in detail.documents.items()]))


def _history_entry(row: Any) -> dict[str, Any]:
    """A history entry from a task row (a dict: the answer model validates it with the rest)."""
    entry = dict(row._mapping)
    entry["duration_seconds"] = (None if row.completed_at is None
                                 else max(0.0, round((row.completed_at - row.ready_at).total_seconds(), 3)))
    return entry


def _version_entry(doc_type: str, row: Any, base: str) -> dict[str, Any]:
    return dict(id=row.id, type=doc_type, version=row.version, filename=row.filename, media_type=row.media_type,
                size=row.size, sha256=row.sha256, uploaded_by=row.uploaded_by, uploaded_at=row.uploaded_at,
                task_id=row.task_id, url=f"{base}/documents/{row.id}", note=row.note)


def completion_of(instance: Instance, ready: list[TaskRecord], now: datetime) -> s.Completion:
    return s.Completion(instance_id=instance.id, status=instance.status, ended=instance.status != "running",
                        ended_at=instance.ended_at, end_event=instance.end_event, letter_number=instance.letter_number,
                        ready_tasks=[ready_of(r, now) for r in ready],
                        url=url_for("rest.get_instance", instance_id=instance.id),
                        history_url=url_for("rest.instance_history", instance_id=instance.id))


def task_of(detail: TaskDetail, who: Actor, now: datetime) -> s.TaskDetail:
    record, instance, step = detail.record, detail.instance, detail.step
    inputs = []
    for document in detail.inputs:
        if document.versions:
            *older, current = document.versions
            inputs.append(s.InputDocument(type=document.doc_type,
                                          current=document_version_of(document.doc_type, current),
                                          older=[document_version_of(document.doc_type, v) for v in reversed(older)],
                                          url=url_for("rest.instance_document", instance_id=instance.id,
                                                      doc_type=document.doc_type)))
    attached = [document_version_of(d.doc_type, v) for d in detail.documents for v in d.versions
                if v.task_id == record.id]
    fields = [s.FormField(id=f.id, label=f.label, type=f.type, required=f.required, required_when=f.required_when,
                          default=f.default, options=[s.Option(id=value, name=name) for value, name in f.options],
                          constraints={name: config for name, config in f.constraints if name != "required"})
              for f in step.fields]
    return s.TaskDetail(
        id=record.id, instance_id=instance.id, process=instance.definition.key, version=instance.definition.version,
        perihal=instance.perihal, agency=instance.agency, instance_status=instance.status, state=record.state,
        ready_at=record.ready_at, due_at=record.due_at, completed_at=record.completed_at,
        completed_by=record.completed_by, waited_seconds=_seconds(record.ready_at, record.completed_at or now),
        overdue=overdue(record, now),
        can_complete=detail.can_complete(who),
        step=s.Step.model_validate(step, from_attributes=True), fields=fields, inputs=list(step.inputs),
        outputs=list(step.outputs), required_uploads=list(step.required_uploads),
        missing_uploads=detail.missing_uploads, input_documents=inputs, attached=attached,
        data=dict(instance.data or {}), upload_types=list(step.upload_types), claimed_by=record.claimed_by,
        claimed_at=record.claimed_at, rework=rework_of(detail))


def rework_of(detail: TaskDetail) -> s.Rework:
    """The rework read model (engine/rework.py) as the API shows it."""
    rework = detail.rework
    assert rework is not None
    returned = rework.returned
    return s.Rework(
        returned=None if returned is None else s.ReturnInfo(
            by=returned.by, step_no=returned.step_no, step=returned.step, lane=returned.lane, at=returned.at,
            note=returned.note),
        notes=[s.Note(step_no=n.step_no, step=n.step, lane=n.lane, by=n.by, at=n.at, note=n.text,
                      decision=n.decision) for n in rework.notes],
        prefill=rework.prefill,
        documents=[s.EarlierDocument(doc_type=d.doc_type, version=d.version.version, version_id=d.version.id,
                                     filename=d.version.filename, new_version_required=d.new_version_required,
                                     replaced_here=d.replaced_here, kept=d.kept)
                   for d in rework.earlier_documents.values()],
        decisions=[s.Decision(value=v, label=label) for v, label in rework.decisions], older_notes=rework.older_notes)


def _instance(instance_id: int) -> s.Instance:
    return instance_of(services().instance_rows(instance_id, actor(), RECENT_HISTORY))


def _location(endpoint: str, **values: Any) -> dict[str, str]:
    return {"Location": url_for(endpoint, **values)}


# ---- authentication endpoints -----------------------------------------------------------


@bp.post("/auth/token")
@spec.validate(resp=answers(400, 401, 413, 429, public=True, HTTP_200=(s.Token, "A new token and who it belongs to")),
               tags=["auth"], security={}, operation_id="issueToken")
def token(json: s.TokenRequest) -> Any:
    """Exchange a username and password for a bearer token."""
    user = authenticate(services(), json.username, json.password, client_address())
    if user is None:
        return _error(401, "nama pengguna atau kata sandi salah", "invalid_credentials")
    return s.Token(token=issue_token(services(), user), expires_in=int(TOKEN_LIFETIME.total_seconds()),
                   user=user_of(user))


@bp.post("/auth/revoke")
@authenticated
@spec.validate(resp=answers(HTTP_204=None), tags=["auth"], operation_id="revokeToken")
def revoke() -> Any:
    """Revoke the token of this request."""
    header = request.headers.get("Authorization", "")
    revoke_token(services(), header[7:].strip())
    return Response(status=204)


# ---- processes --------------------------------------------------------------------------


@bp.get("/processes")
@authenticated
@spec.validate(resp=answers(HTTP_200=(s.ProcessList, "Processes by key, versions oldest first")),
               tags=["processes"], operation_id="listProcesses")
def processes() -> Any:
    """Deployed processes with all their versions."""
    grouped: dict[str, list[ProcessDefinition]] = {}
    for definition in services().definitions():
        grouped.setdefault(definition.key, []).append(definition)
    result = []
    for key, versions in grouped.items():
        versions.sort(key=lambda d: d.version)
        result.append(s.Process(key=key, name=versions[-1].name, latest_version=versions[-1].version,
                                versions=[version_of(d) for d in versions]))
    return s.ProcessList(processes=result)


@bp.get(f"/processes/<key>/versions/<{ID}:version>/bpmn")
@authenticated
@spec.validate(resp=answers(404, HTTP_200=None), tags=["processes"], operation_id="getProcessBpmn",
               path_parameter_descriptions={"key": "process key", "version": "version number"})
def process_bpmn(key: str, version: int) -> Any:
    """The BPMN XML of one version."""
    if "\x00" in key or len(key) > 200:
        return _error(404, f"proses '{key[:60]}' tidak ditemukan", "not_found")
    definition = services().definition(key, version)
    response = Response(services().diagram_xml(definition), mimetype="application/xml")
    # a download, never a page: the documentation inside is the process owner's text
    safe_key = re.sub(r"[^A-Za-z0-9_.-]", "_", definition.key)[:100]
    response.headers["Content-Disposition"] = f'attachment; filename="{safe_key}-v{definition.version}.bpmn"'
    return response


@bp.post("/processes")
@authenticated
@spec.validate(resp=answers(400, 403, 413, 422, HTTP_201=(s.DeployResult, "Deployed as a new version"),
                            HTTP_200=(s.DeployResult, "Identical to the latest version: nothing changed")),
               tags=["processes"], operation_id="deployProcess")
def deploy(form: s.DeployForm) -> Any:
    """Deploy a BPMN diagram as the next version of its process (process owners only)."""
    if form is None:  # not multipart at all
        raise BadRequest("berkas diagram (multipart 'file') wajib ada", "file")
    upload = form.file
    try:
        result = services().deploy(upload.read(), actor(), (upload.filename or "diagram.bpmn")[:200])
    except UnicodeDecodeError:  # a well-formed diagram in another encoding: the service stores UTF-8 text only
        raise InvalidDiagram([DiagramProblem("diagram harus berupa teks UTF-8")]) from None
    return s.DeployResult(**version_of(result.definition), created=result.created,
                          warnings=[problem_of(p) for p in result.warnings]), 201 if result.created else 200


# ---- instances --------------------------------------------------------------------------

ONE_INSTANCE = "The request with its ready tasks, history and documents"


@bp.post("/instances")
@authenticated
@spec.validate(resp=answers(400, 403, 404, 413, 422, HTTP_201=(s.Instance, ONE_INSTANCE)),
               tags=["instances"], operation_id="startInstance")
def start_instance(json: s.StartRequest) -> Any:
    """Start a request on the newest version of a process (caller must be in the first step's lane)."""
    instance_id = services().start(json.process, actor(), json.data)
    return _instance(instance_id), 201, _location("rest.get_instance", instance_id=instance_id)


@bp.get("/instances")
@authenticated
@spec.validate(resp=answers(400, HTTP_200=(s.InstanceList, "Requests with their ready tasks")),
               tags=["instances"], operation_id="listInstances")
def list_instances(query: s.InstanceQuery) -> Any:
    """Requests visible to the caller, newest first (applicants see their agency's only)."""
    started_from, started_to = days_utc(query.from_, query.to, services().settings.timezone)
    filters = Filters(status=query.status, process=query.process, started_from=started_from,
                      started_to=started_to, overdue=query.overdue, limit=query.limit, offset=query.offset)
    found = services().instances(actor(), filters)
    ready = services().ready_of([i.id for i in found]) if found else {}
    now = utcnow()
    list_url = url_for("rest.list_instances")  # each request's url is <this>/<id> (one url_for, not one a row)
    tasks_url = url_for("rest.list_tasks")
    return s.InstanceList(instances=[summary_of(i, ready.get(i.id, []), now, f"{list_url}/{i.id}", tasks_url)
                                     for i in found],
                          limit=filters.limit, offset=filters.offset)


@bp.get(f"/instances/<{ID}:instance_id>")
@authenticated
@spec.validate(resp=answers(404, HTTP_200=(s.Instance, ONE_INSTANCE)), tags=["instances"],
               operation_id="getInstance", path_parameter_descriptions={"instance_id": "request (instance) id"})
def get_instance(instance_id: int) -> Any:
    """One request."""
    return _instance(instance_id)


@bp.get(f"/instances/<{ID}:instance_id>/history")
@authenticated
@spec.validate(query=s.HistoryQuery, resp=answers(400, 404, HTTP_200=(s.History, "A page of the history")),
               tags=["instances"], operation_id="getInstanceHistory",
               path_parameter_descriptions={"instance_id": "request (instance) id"})
def instance_history(instance_id: int, query: s.HistoryQuery) -> Any:
    """A request's history (one entry per task activation) in order of `seq`, page by page: from the first
    (`after`, then the `next` link), or back from the newest (`before` alone, then the `previous` link);
    `after` and `before` together page forward through the entries between them."""
    page = services().history(instance_id, actor(), query.after, query.before, query.limit or 50)

    def link(**cursor: int | None) -> str:
        return url_for("rest.instance_history", instance_id=instance_id, **{k: v for k, v in cursor.items() if v},
                       limit=query.limit or 50)

    return s.History(instance_id=instance_id, total=page.total, entries=[history_of(r) for r in page.entries],
                     next=None if page.after is None else link(after=page.after, before=query.before),
                     previous=None if page.before is None else link(before=page.before))


@bp.get(f"/instances/<{ID}:instance_id>/documents/<doc_type>")
@authenticated
@spec.validate(resp=answers(404, HTTP_200=(s.DocumentGroup, "Every version of the document, oldest first")),
               tags=["instances"], operation_id="getInstanceDocument",
               path_parameter_descriptions={"instance_id": "request (instance) id", "doc_type": "document type"})
def instance_document(instance_id: int, doc_type: str) -> Any:
    """One document of a request with all its versions (the request's body carries the newest few)."""
    if "\x00" in doc_type or len(doc_type) > 64:  # no document type has them: not found, no database asked
        raise NotFound(f"dokumen '{doc_type[:64]}' belum ada pada permohonan {instance_id}")
    return group_of(services().document_versions(instance_id, actor(), doc_type))


@bp.post(f"/instances/<{ID}:instance_id>/cancel")
@authenticated
@spec.validate(resp=answers(400, 403, 404, 409, 413, HTTP_200=(s.Instance, ONE_INSTANCE)), tags=["instances"],
               operation_id="cancelInstance", path_parameter_descriptions={"instance_id": "request (instance) id"})
def cancel_instance(instance_id: int, json: s.CancelRequest) -> Any:
    """Cancel a running request (admins and process owners)."""
    services().cancel(instance_id, actor(), json.reason)
    return _instance(instance_id)


# ---- tasks and documents ----------------------------------------------------------------

TASK_ID = {"task_id": "task activation id"}


@bp.get("/tasks")
@authenticated
@spec.validate(resp=answers(400, HTTP_200=(s.InboxList, "The inbox")), tags=["tasks"], operation_id="listTasks")
def list_tasks(query: s.TaskQuery) -> Any:
    """Ready tasks of the caller's lanes: search, filters with their counts, sort (oldest first), paging."""
    now = utcnow()
    found = inbox(services(), actor(), InboxQuery(
        search=query.q or "", step_no=query.step, lane=query.lane, overdue=bool(query.overdue),
        returned=bool(query.returned), mine=bool(query.mine), sort="tenggat" if query.sort == "due" else "menunggu",
        limit=query.limit or 100, offset=query.offset or 0))
    counts = found.counts
    tasks_url = url_for("rest.list_tasks")  # each task's url is <this>/<id> (one url_for, not one a row)
    # plain dicts from the page's rows, validated once as a whole (one model_validate, not one model a row)
    return s.InboxList.model_validate({"tasks": [
        {"id": task_id, "spec_id": spec_id, "name": name, "step_no": step_no, "lane": lane, "ready_at": ready_at,
         "due_at": due_at, "standard_minutes": standard_minutes, "waited_seconds": _seconds(ready_at, now),
         "overdue": due_at is not None and due_at < now, "url": f"{tasks_url}/{task_id}",
         "instance_id": instance_id, "perihal": perihal, "agency": agency, "process": process,
         "returned": returned_by is not None, "claimed_by": claimed_by}
        for (task_id, instance_id, spec_id, name, lane, step_no, standard_minutes, ready_at, due_at, returned_by,
             claimed_by, perihal, agency, process) in found.rows],
        "counts": {"all": counts["semua"], "overdue": counts["terlambat"], "returned": counts["dikembalikan"],
                   "mine": counts["saya"]},
        "has_next": found.has_next})


@bp.get("/tasks/<uuid:task_id>")
@authenticated
@spec.validate(resp=answers(404, HTTP_200=(s.TaskDetail, "The task")), tags=["tasks"], operation_id="getTask",
               path_parameter_descriptions=TASK_ID)
def get_task(task_id: Any) -> Any:
    """A task with its step, form, required outputs, input documents, holder and rework (return, notes, pre-fill)."""
    return task_of(services().task(str(task_id), actor()), actor(), utcnow())


def claim_of(record: TaskRecord) -> s.Claim:
    return s.Claim(task_id=record.id, claimed_by=record.claimed_by, claimed_at=record.claimed_at)


@bp.post("/tasks/<uuid:task_id>/claim")
@authenticated
@spec.validate(resp=answers(403, 404, 409, HTTP_200=(s.Claim, "The caller holds the task")), tags=["tasks"],
               operation_id="claimTask", path_parameter_descriptions=TASK_ID)
def claim_task(task_id: Any) -> Any:
    """Take a ready task of the caller's lane ("Saya kerjakan"): only the holder may complete it (409 for others)."""
    return claim_of(claims.claim(services(), str(task_id), actor()))


@bp.post("/tasks/<uuid:task_id>/release")
@authenticated
@spec.validate(resp=answers(403, 404, 409, HTTP_200=(s.Claim, "Nobody holds the task")), tags=["tasks"],
               operation_id="releaseTask", path_parameter_descriptions=TASK_ID)
def release_task(task_id: Any) -> Any:
    """Give a held task back to the lane (its holder, the lane's head or an admin; 403 for others)."""
    return claim_of(claims.release(services(), str(task_id), actor()))


@bp.post("/tasks/<uuid:task_id>/reassign")
@authenticated
@spec.validate(resp=answers(400, 403, 404, 409, 422, HTTP_200=(s.Claim, "The new holder")), tags=["tasks"],
               operation_id="reassignTask", path_parameter_descriptions=TASK_ID)
def reassign_task(task_id: Any, json: s.ReassignRequest) -> Any:
    """An admin or the lane's head gives a ready task to another active member of its lane (403 for others)."""
    return claim_of(claims.reassign(services(), str(task_id), actor(), json.username))


@bp.post("/tasks/<uuid:task_id>/documents")
@authenticated
@spec.validate(resp=answers(400, 403, 404, 409, 413, 422, HTTP_201=(s.DocumentVersion, "The stored version")),
               tags=["tasks"], operation_id="uploadDocument", path_parameter_descriptions=TASK_ID)
def upload_document(task_id: Any, form: s.UploadForm) -> Any:
    """Attach a document (a new version of its type) in this task activation."""
    if form is None:
        raise BadRequest("berkas (multipart 'file') wajib ada", "file")
    upload = Upload(form.type, form.file.filename or "", form.file.read())
    version = services().attach_document(str(task_id), actor(), upload)
    return document_version_of(form.type, version), 201, _location("rest.download", version_id=version.id)


_JSON_KINDS = {list: "daftar", str: "teks", int: "angka", float: "angka", bool: "boolean", type(None): "null"}


def _not_json(name: str) -> Any:
    raise ValueError(name)


def _form_values(text: str) -> dict[str, Any]:
    """A multipart `data` part: the JSON text of the object the JSON body carries as `data` (else 422 naming it)."""
    try:
        parsed = json.loads(text, parse_constant=_not_json) if text.strip() else {}
    except (ValueError, RecursionError):
        raise InvalidData("'data' bukan teks JSON yang valid (harus objek JSON isian formulir, misalnya "
                          "{\"keputusan\": \"setuju\"})", "data", "bad_type") from None
    if not isinstance(parsed, dict):
        kind = _JSON_KINDS.get(type(parsed), "nilai lain")
        raise InvalidData(f"'data' harus berupa objek JSON (isian formulir per id), bukan {kind}", "data", "bad_type")
    try:
        return s.CompleteRequest.model_validate({"data": parsed}).data
    except ValidationError as exc:
        raise InvalidData(refusal(exc, s.CompleteRequest).message, "data", "bad_type") from None


@bp.post("/tasks/<uuid:task_id>/complete")
@authenticated
@spec.validate(resp=answers(400, 403, 404, 409, 413, 422, HTTP_200=(s.Completion, "The request's status and its "
                                                                     "ready tasks")),
               tags=["tasks"], operation_id="completeTask", path_parameter_descriptions=TASK_ID)
def complete_task(task_id: Any, json: s.CompleteRequest, form: s.CompleteForm) -> Any:
    """Complete a ready task of the caller's lane with its form data: a JSON body, or multipart/form-data with
    the step's documents too (`data` as JSON text, then `file` and `type` parts in pairs). Files and completion
    are one transaction: a refused completion stores no file."""
    uploads: list[Upload] = []
    if form is not None:
        if len(form.type) != len(form.file):
            raise InvalidData(f"setiap berkas ('file') perlu satu jenis dokumen ('type'), berurutan: ada "
                              f"{len(form.file)} berkas dan {len(form.type)} jenis", "type", "unpaired",
                              {"files": len(form.file), "types": len(form.type)})
        data = _form_values(form.data)
        uploads = [Upload(t, f.filename or "", f.read()) for t, f in zip(form.type, form.file, strict=True)]
    else:
        data = json.data if json is not None else {}
    who = actor()
    instance, ready = services().complete_step(str(task_id), who, data, uploads)
    return completion_of(instance, ready, utcnow())


@bp.get(f"/documents/<{ID}:version_id>")
@authenticated
@spec.validate(resp=answers(404, HTTP_200=None), tags=["documents"], operation_id="downloadDocument",
               path_parameter_descriptions={"version_id": "document version id"})
def download(version_id: int) -> Any:
    """The bytes of a document version, as an attachment."""
    version, content = services().document(version_id, actor())
    # the stored name is already safe (engine.documents.safe_filename); send_file adds filename*
    # (RFC 5987) for a name beyond ASCII, as the UI does
    response = send_file(io.BytesIO(content), mimetype=version.media_type, as_attachment=True,
                         download_name=version.filename, etag=version.sha256, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    response.direct_passthrough = False  # spectree reads the answer's bytes once more
    return response


# ---- register and users -----------------------------------------------------------------


@bp.get("/register")
@authenticated
@spec.validate(resp=answers(400, 403, HTTP_200=(s.Register, "Register entries")), tags=["register"],
               operation_id="letterRegister")
def register(query: s.RegisterQuery) -> Any:
    """Buku agenda surat keluar: numbered outgoing letters, newest first (staff only)."""
    entries = services().register(actor(), query.year)
    return s.Register(entries=[s.RegisterEntry.model_validate(e, from_attributes=True) for e in entries])


def account_of(user: Any) -> s.Account:
    return s.Account(**user_of(user).model_dump(), active=bool(user.active))


@bp.get("/users")
@authenticated
@spec.validate(resp=answers(400, 403, HTTP_200=(s.Users, "Accounts")), tags=["users"], operation_id="listUsers")
def users(query: s.UserQuery) -> Any:
    """Accounts, all or those matching `q` (admin only)."""
    return s.Users(users=[account_of(u) for u in search_users(services(), actor(), query.q or "")])


@bp.patch("/users/<username>")
@authenticated
@spec.validate(resp=answers(400, 403, 404, 413, 422, HTTP_200=(s.Account, "The changed account")),
               tags=["users"], operation_id="changeUser",
               path_parameter_descriptions={"username": "the account's user name"})
def change_user_view(username: str, json: s.UserChange) -> Any:
    """Add or remove lanes, make or unmake a lane's head, disable or enable, reset the password, set the
    process-owner flag (admin only)."""
    user = change_user(services(), actor(), username, UserChange(
        add_lanes=json.add_lanes, remove_lanes=json.remove_lanes, active=json.active,
        is_process_owner=json.is_process_owner, password=json.password, confirm=json.confirm,
        add_head_lanes=json.add_head_lanes, remove_head_lanes=json.remove_head_lanes))
    return account_of(user)


@bp.post("/users")
@authenticated
@spec.validate(resp=answers(400, 403, 413, 422, HTTP_201=(s.User, "The new account")), tags=["users"],
               operation_id="createUser")
def create_user(json: s.NewUser) -> Any:
    """Add an account (admin only)."""
    user = add_user(services(), actor(), json.username, json.password, json.lanes, json.full_name, json.agency,
                    json.is_process_owner, json.is_admin, json.confirm, email=json.email)
    return user_of(user), 201


# ---- speakers and their calendar --------------------------------------------------------

SPEAKER_ID = {"speaker_id": "speaker id"}


def speaker_of(speaker: Any) -> s.Speaker:
    return s.Speaker(id=speaker.id, name=speaker.name, nip=speaker.nip, jabatan=speaker.jabatan, unit=speaker.unit,
                     topics=speaker.topics, active=speaker.active,
                     calendar_url=url_for("rest.speaker_calendar", speaker_id=speaker.id))


def engagement_of(e: Any) -> s.Engagement:
    return s.Engagement(id=e.id, speaker_id=e.speaker_id, instance_id=e.instance_id, source=e.source,
                        status=e.status, title=e.title, place=e.place, created_by=e.created_by,
                        starts_at=e.starts_at.isoformat(timespec="minutes"),
                        ends_at=e.ends_at.isoformat(timespec="minutes"))


def _staff_only() -> None:
    if not actor().is_staff:
        raise Forbidden("daftar dan jadwal narasumber hanya untuk pegawai")


@bp.get("/speakers")
@authenticated
@spec.validate(resp=answers(403, HTTP_200=(s.SpeakerList, "The registry")), tags=["speakers"],
               operation_id="listSpeakers")
def list_speakers() -> Any:
    """Officials who serve as speakers (staff only), by name."""
    _staff_only()
    return s.SpeakerList(speakers=[speaker_of(x) for x in services().speaker_list()])


@bp.post("/speakers")
@authenticated
@spec.validate(resp=answers(400, 403, 413, 422, HTTP_201=(s.Speaker, "The new speaker")), tags=["speakers"],
               operation_id="createSpeaker")
def create_speaker(json: s.NewSpeaker) -> Any:
    """Add a speaker to the registry (admins and process owners)."""
    return speaker_of(services().save_speaker(actor(), json.model_dump())), 201


@bp.patch(f"/speakers/<{ID}:speaker_id>")
@authenticated
@spec.validate(resp=answers(400, 403, 404, 413, 422, HTTP_200=(s.Speaker, "The changed speaker")),
               tags=["speakers"], operation_id="updateSpeaker", path_parameter_descriptions=SPEAKER_ID)
def update_speaker(speaker_id: int, json: s.SpeakerChange) -> Any:
    """Change a speaker: only the keys given (admins and process owners)."""
    return speaker_of(services().save_speaker(actor(), json.model_dump(exclude_unset=True), speaker_id))


@bp.get(f"/speakers/<{ID}:speaker_id>/calendar")
@authenticated
@spec.validate(resp=answers(400, 403, 404, HTTP_200=(s.SpeakerCalendar, "The speaker's calendar")),
               tags=["speakers"], operation_id="speakerCalendar", path_parameter_descriptions=SPEAKER_ID)
def speaker_calendar(speaker_id: int, query: s.CalendarQuery) -> Any:
    """A speaker's engagements (requests' tentative and confirmed ones, manual entries), oldest first."""
    _staff_only()
    alur = services()
    speaker = alur.speaker(speaker_id)
    entries = alur.speaker_calendar(speaker_id, query.from_, query.to, bool(query.released))
    return s.SpeakerCalendar(speaker=speaker_of(speaker), engagements=[engagement_of(e) for e in entries])


@bp.post(f"/speakers/<{ID}:speaker_id>/calendar/entries")  # not POST .../calendar: see werkzeug's 405 quirk
@authenticated
@spec.validate(resp=answers(400, 403, 404, 413, 422, HTTP_201=(s.Engagement, "The new entry")),
               tags=["speakers"], operation_id="addEngagement", path_parameter_descriptions=SPEAKER_ID)
def add_engagement(speaker_id: int, json: s.NewEngagement) -> Any:
    """Add a manual entry (leave, other duties); it blocks confirmations like a confirmed request."""
    return engagement_of(services().add_engagement(actor(), speaker_id, json.model_dump())), 201


@bp.post(f"/speakers/<{ID}:speaker_id>/calendar/entries/<{ID}:entry_id>/release")
@authenticated
@spec.validate(resp=answers(400, 403, 404, 413, HTTP_200=(s.Engagement, "The released entry")), tags=["speakers"],
               operation_id="releaseEngagement",
               path_parameter_descriptions={**SPEAKER_ID, "entry_id": "calendar entry id"})
def release_engagement(speaker_id: int, entry_id: int, json: s.CancelRequest) -> Any:
    """Release a manual entry (kept in the calendar as released); the body (a reason) may be left out."""
    return engagement_of(services().remove_engagement(actor(), speaker_id, entry_id, json.reason))


# ---- document templates and generated documents -----------------------------------------

PROCESS_KEY = {"key": "process key"}
DOCX_MEDIA = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def template_of(key: str, name: str, row: Any = None) -> s.TemplateVersion:
    url = url_for("rest.template_file", key=key, name=name)
    if row is None:
        return s.TemplateVersion(name=name, version=0, sha256=None, filename=None, note=None, uploaded_by=None,
                                 uploaded_at=None, url=url)
    return s.TemplateVersion(name=name, version=row.version, sha256=row.sha256, filename=row.filename,
                             note=row.note, uploaded_by=row.uploaded_by, uploaded_at=row.uploaded_at, url=url)


@bp.get("/processes/<key>/templates")
@authenticated
@spec.validate(resp=answers(403, 404, HTTP_200=(s.TemplateList, "The process's templates")), tags=["processes"],
               operation_id="listTemplates", path_parameter_descriptions=PROCESS_KEY)
def list_templates(key: str) -> Any:
    """The DOCX templates the process's diagram names, with the version in use and every stored version."""
    _staff_only()
    alur = services()
    names = alur.template_names(key)
    history = alur.templates(key)
    newest = {}
    for row in history:
        newest.setdefault(row.name, row)
    return s.TemplateList(templates=[template_of(key, n, newest.get(n)) for n in names],
                          history=[template_of(key, r.name, r) for r in history])


@bp.get("/processes/<key>/templates/<name>")
@authenticated
@spec.validate(resp=answers(403, 404, HTTP_200=None), tags=["processes"], operation_id="getTemplate",
               path_parameter_descriptions={**PROCESS_KEY, "name": "template name"})
def template_file(key: str, name: str) -> Any:
    """The template in use, as a DOCX attachment."""
    _staff_only()
    content, _ = services().template_content(key, name)
    response = send_file(io.BytesIO(content), mimetype=DOCX_MEDIA, as_attachment=True,
                         download_name=f"{name}.docx", max_age=0)
    response.direct_passthrough = False
    return response


@bp.post("/processes/<key>/templates/<name>")
@authenticated
@spec.validate(resp=answers(400, 403, 404, 413, 422, HTTP_201=(s.TemplateVersion, "Stored as the next version")),
               tags=["processes"], operation_id="replaceTemplate",
               path_parameter_descriptions={**PROCESS_KEY, "name": "template name"})
def replace_template(key: str, name: str, form: s.TemplateForm) -> Any:
    """Replace a template (process owners); it must render with the process's sample data (422 names the
    placeholder that failed). The next generated document uses it."""
    if form is None:
        raise BadRequest("berkas templat (multipart 'file') wajib ada", "file")
    row = services().replace_template(actor(), key, name, form.file.read(), form.file.filename or "", form.note)
    return template_of(key, name, row), 201


@bp.post("/tasks/<uuid:task_id>/generate")
@authenticated
@spec.validate(resp=answers(400, 403, 404, 409, 413, 422, HTTP_201=(s.DocumentVersion, "The generated version")),
               tags=["tasks"], operation_id="generateDocument", path_parameter_descriptions=TASK_ID)
def generate_document(task_id: Any, json: s.GenerateRequest) -> Any:
    """Make the step's document of this type from its template and attach it in this activation."""
    version = services().generate_document(str(task_id), actor(), json.type)
    return document_version_of(json.type, version), 201, _location("rest.download", version_id=version.id)


# ---- working time and timers (issue 11) ---------------------------------------------------


def calendar_of(year: int) -> s.Calendar:
    alur = services()
    hours = alur.office.hours
    office_hours = [s.OfficeHours(weekday=d, day=HARI[d], opens=f"{hours[d][0]:%H:%M}" if d in hours else None,
                                  closes=f"{hours[d][1]:%H:%M}" if d in hours else None) for d in range(7)]
    return s.Calendar(year=year, timezone=alur.settings.timezone, office_hours=office_hours,
                      days=[s.CalendarDay(date=d.day, name=d.name, source=d.source, kind=d.kind)
                            for d in alur.calendar_days(year)])


@bp.get("/calendar")
@authenticated
@spec.validate(query=s.OfficeCalendarQuery,
               resp=answers(400, HTTP_200=(s.Calendar, "Office hours and holidays of a year")),
               tags=["calendar"], operation_id="getOfficeCalendar")
def get_calendar(query: s.OfficeCalendarQuery) -> Any:
    """The office calendar of a year (default: this year): hours, national holidays, the admin's changes."""
    return calendar_of(query.year or local(utcnow(), services().settings.timezone).year)


@bp.post("/calendar/holidays")
@authenticated
@spec.validate(resp=answers(400, 403, 422, HTTP_201=(s.Calendar, "Added; the calendar of that year")),
               tags=["calendar"], operation_id="addHoliday")
def add_holiday(json: s.NewHoliday) -> Any:
    """Add a day off (cuti bersama, a local holiday); admins only."""
    day = parse_day(json.date, "date")
    services().add_holiday(day, json.name, actor())
    return calendar_of(day.year), 201


@bp.post("/calendar/working-days")
@authenticated
@spec.validate(resp=answers(400, 403, 422, HTTP_201=(s.Calendar, "The holiday is a working day; the calendar")),
               tags=["calendar"], operation_id="addWorkingDay")
def add_working_day(json: s.NewWorkingDay) -> Any:
    """Make a national holiday a working day of the office; admins only."""
    day = parse_day(json.date, "date")
    services().work_on_holiday(day, actor())
    return calendar_of(day.year), 201


@bp.delete("/calendar/changes/<day>")
@authenticated
@spec.validate(resp=answers(403, 404, 422, HTTP_204=None), tags=["calendar"], operation_id="removeCalendarChange",
               path_parameter_descriptions={"day": "TTTT-BB-HH"})
def remove_calendar_change(day: str) -> Any:
    """Undo the admin's change of a day (an added holiday goes, a national one comes back); admins only."""
    services().remove_calendar_change(parse_day(day[:20], "day"), actor())
    return Response(status=204)


@bp.get("/timers")
@authenticated
@spec.validate(resp=answers(403, HTTP_200=(s.TimerList, "Timers still to fire, soonest first")),
               tags=["timers"], operation_id="listTimers")
def list_timers() -> Any:
    """BPMN timers waiting to fire (process owners and admins)."""
    who = actor()
    if not (who.is_admin or who.is_process_owner):
        raise Forbidden("hanya pemilik proses atau admin yang melihat daftar timer")
    return s.TimerList(timers=[s.TimerEntry.model_validate(t, from_attributes=True)
                               for t in timers.pending(services())])


# ---- the API's own description ----------------------------------------------------------

INSTANCE_LINKS = {
    "GetInstance": ("getInstance", {"instance_id": "$response.body#/id"}),
    "CancelInstance": ("cancelInstance", {"instance_id": "$response.body#/id"}),
    "GetReadyTask": ("getTask", {"task_id": "$response.body#/ready_tasks/0/id"}),
    "UploadToReadyTask": ("uploadDocument", {"task_id": "$response.body#/ready_tasks/0/id"}),
    "CompleteReadyTask": ("completeTask", {"task_id": "$response.body#/ready_tasks/0/id"}),
}
OPTIONAL_BODY = {"cancelInstance", "completeTask", "releaseEngagement", "updateSpeaker"}  # no body is the same as `{}`
# What the models cannot say: links between operations, headers, and answers that are not JSON.
EXTRAS: dict[tuple[str, str], dict[str, Any]] = {
    ("startInstance", "201"): {"links": INSTANCE_LINKS,
                               "headers": {"Location": {"schema": {"type": "string"}}}},
    ("completeTask", "200"): {"links": {
        "GetInstance": ("getInstance", {"instance_id": "$response.body#/instance_id"}),
        "GetHistory": ("getInstanceHistory", {"instance_id": "$response.body#/instance_id"}),
        "GetReadyTask": ("getTask", {"task_id": "$response.body#/ready_tasks/0/id"}),
        "CompleteReadyTask": ("completeTask", {"task_id": "$response.body#/ready_tasks/0/id"})}},
    ("uploadDocument", "201"): {"links": {"Download": ("downloadDocument", {"version_id": "$response.body#/id"})},
                                "headers": {"Location": {"schema": {"type": "string"}}}},
    ("getTemplate", "200"): {"description": "The DOCX template", "content": {
        DOCX_MEDIA: {"schema": {"type": "string", "format": "binary"}}}},
    ("getProcessBpmn", "200"): {"description": "BPMN 2.0 XML",
                                "content": {"application/xml": {"schema": {"type": "string"}}}},
    ("downloadDocument", "200"): {"description": "The file, as an attachment", "content": {
        media: {"schema": {"type": "string", "format": "binary"}} for media in s.MediaType.__args__}},
    ("openapi", "200"): {"description": "OpenAPI 3.1 document",
                         "content": {"application/json": {"schema": {"type": "object"}}}},
    ("issueToken", "429"): {"headers": {"Retry-After": {"schema": {"type": "string", "pattern": "^[0-9]+$"}}}},
}


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the routes of the current app, from the models.

    spectree builds it once per process (a second build would lose the nested models): every
    app of `create_app` has the same routes.
    """
    doc = copy.deepcopy(spec.spec)
    doc["servers"] = [{"url": "/"}]
    for item in doc["paths"].values():
        for operation in item.values():
            if operation["operationId"] in OPTIONAL_BODY:
                operation["requestBody"]["required"] = False
            for code, response in operation["responses"].items():
                extra = EXTRAS.get((operation["operationId"], code), {})
                links = {name: {"operationId": op, "parameters": params}
                         for name, (op, params) in extra.get("links", {}).items()}
                response.update({**extra, **({"links": links} if links else {})})
    return doc


@bp.get("/openapi.json")
@spec.validate(resp=Answers(HTTP_200=None), tags=["meta"], security={}, operation_id="openapi")
def openapi() -> Any:
    """This document."""
    if "alur.openapi" not in current_app.extensions:
        current_app.extensions["alur.openapi"] = document()
    return jsonify(current_app.extensions["alur.openapi"])


# ---- the process owner's desk: check, versions, differences, migration --------------------


def _process_key(key: str) -> str:
    """A key no process can have is simply not found (no database sees a NUL or a novel)."""
    if "\x00" in key or len(key) > 200:
        raise NotFound(f"proses '{key[:60]}' tidak ditemukan")
    return key


def problem_of(p: DiagramProblem) -> s.DiagramProblem:
    return s.DiagramProblem(message=p.message, line=p.line, element_id=p.element_id)


def _diagram_upload(form: Any) -> tuple[bytes, str]:
    if form is None:  # not multipart at all
        raise BadRequest("berkas diagram (multipart 'file') wajib ada", "file")
    return form.file.read(), (form.file.filename or "diagram.bpmn")[:200]


@bp.post("/processes/validate")
@authenticated
@spec.validate(resp=answers(400, 403, 413, HTTP_200=(s.Validation, "Errors and warnings; nothing is stored")),
               tags=["processes"], operation_id="validateProcess")
def validate_process(form: s.DeployForm) -> Any:
    """Check a diagram as deploy would, without storing it (process owners and admins)."""
    xml, filename = _diagram_upload(form)
    result = services().validate(xml, filename, actor())
    return s.Validation(errors=[problem_of(p) for p in result.errors],
                        warnings=[problem_of(p) for p in result.warnings], key=result.key, name=result.name)


@bp.get("/processes/<key>/versions")
@authenticated
@spec.validate(resp=answers(403, 404, HTTP_200=(s.VersionList, "Every version, oldest first, with request counts")),
               tags=["processes"], operation_id="listProcessVersions",
               path_parameter_descriptions={"key": "process key"})
def process_versions(key: str) -> Any:
    """Every version of a process: who deployed it, when, its hash, requests running/completed/cancelled on it."""
    summaries = services().versions(_process_key(key), actor())
    definitions = {d.version: d for d in services().definitions() if d.key == key}
    return s.VersionList(key=key, versions=[
        s.VersionSummary(**version_of(definitions[v.version]), running=v.running, completed=v.completed,
                         cancelled=v.cancelled) for v in summaries])


@bp.get("/processes/<key>/diff")
@authenticated
@spec.validate(query=s.DiffQuery, resp=answers(400, 403, 404, HTTP_200=(s.VersionDiff, "The changes, in SOP terms")),
               tags=["processes"], operation_id="diffProcessVersions",
               path_parameter_descriptions={"key": "process key"})
def process_diff(key: str, query: s.DiffQuery) -> Any:
    """What changed between two versions: steps, lanes, standard times, fields, documents, decisions, flows."""
    result = services().diff(_process_key(key), query.from_, query.to, actor())
    return s.VersionDiff(key=result.key, from_version=result.from_version, to_version=result.to_version,
                         changes=[s.Change.model_validate(c, from_attributes=True) for c in result.changes],
                         element_status=result.element_status)


def migration_of(result: Any) -> s.Migration:
    return s.Migration.model_validate(result, from_attributes=True)


@bp.post(f"/instances/<{ID}:instance_id>/migrate")
@authenticated
@spec.validate(resp=answers(400, 403, 404, 409, 422, HTTP_200=(s.Migration, "Moved; it continues on the target")),
               tags=["instances"], operation_id="migrateInstance",
               path_parameter_descriptions={"instance_id": "request id"})
def migrate_instance(instance_id: int, json: s.MigrateRequest) -> Any:
    """Move a running request to another version of its process (409 naming the steps in the way)."""
    return migration_of(services().migrate(instance_id, json.version, actor(), json.mapping))


@bp.post(f"/processes/<key>/versions/<{ID}:version>/migrate")
@authenticated
@spec.validate(resp=answers(400, 403, 404, 422, HTTP_200=(s.BulkMigration, "Who moved, who could not and why")),
               tags=["processes"], operation_id="migrateVersion",
               path_parameter_descriptions={"key": "process key", "version": "the version requests run on now"})
def migrate_version(key: str, version: int, json: s.BulkMigrateRequest) -> Any:
    """Move every running request of a version that can move; `dry_run` only reports."""
    checks = services().plan_migration(_process_key(key), version, json.to, json.mapping, actor())
    plain = [s.MigrationCheck.model_validate(c, from_attributes=True) for c in checks]
    if json.dry_run:
        return s.BulkMigration(from_version=version, to_version=json.to, dry_run=True, moved=[],
                               refused=[c for c in plain if not c.can_move], checks=plain)
    result = services().migrate_all(key, version, json.to, actor(), json.mapping)
    return s.BulkMigration(from_version=version, to_version=json.to, dry_run=False,
                           moved=[migration_of(m) for m in result.moved],
                           refused=[s.MigrationCheck.model_validate(c, from_attributes=True) for c in result.refused],
                           checks=plain)
