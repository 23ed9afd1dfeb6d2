"""The OpenAPI 3.1 description of the JSON API (served at GET /api/v1/openapi.json).

Kept by hand next to `api/rest.py`: every endpoint, its parameters, request bodies and
the schema of every answer, errors included. tests/test_api.py checks the answers of the
test client against these schemas, and a schemathesis run may fuzz the API with it.
"""

from __future__ import annotations

import copy
from typing import Any

MAX_ID = 2**31 - 1

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(kind: str, **extra: Any) -> Schema:
    return {"type": [kind, "null"], **extra}


def obj(properties: dict[str, Schema], required: list[str] | None = None, **extra: Any) -> Schema:
    """An object; every property is required unless `required` says otherwise."""
    return {"type": "object", "properties": properties,
            "required": list(properties) if required is None else required, **extra}


def array(items: Schema, **extra: Any) -> Schema:
    return {"type": "array", "items": items, **extra}


STRING: Schema = {"type": "string"}
NO_NUL = "^[^\\u0000]*$"  # text with a NUL character is refused (400): no database stores it
TEXT: Schema = {"type": "string", "pattern": NO_NUL}
NOT_BLANK = "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$"  # some visible character, no NUL
INTEGER: Schema = {"type": "integer"}
BOOLEAN: Schema = {"type": "boolean"}
DATETIME: Schema = {"type": "string", "format": "date-time"}
NULLABLE_DATETIME: Schema = nullable("string", format="date-time")
FREE_OBJECT: Schema = {"type": "object", "additionalProperties": True}
MEDIA_TYPES = ["application/pdf", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
               "application/vnd.oasis.opendocument.text", "image/jpeg", "image/png"]

PROCESS_VERSION = {
    "key": STRING, "name": STRING, "version": INTEGER, "sha256": STRING, "deployed_at": DATETIME,
    "deployed_by": STRING, "bpmn_url": {"type": "string", "description": "URL of this version's BPMN XML"},
}
READY_TASK = {
    "id": {"type": "string", "description": "task activation id (UUID)"},
    "spec_id": {"type": "string", "description": "id of the user task in the diagram"},
    "name": STRING, "step_no": nullable("integer"), "lane": STRING,
    "ready_at": DATETIME, "due_at": NULLABLE_DATETIME, "standard_minutes": nullable("integer"),
    "waited_seconds": {"type": "integer", "minimum": 0}, "overdue": BOOLEAN,
}
INSTANCE_HEAD = {
    "id": INTEGER, "process": STRING, "process_name": STRING, "version": INTEGER,
    "status": {"type": "string", "enum": ["running", "completed", "cancelled"]},
    "perihal": nullable("string"), "agency": nullable("string"), "started_at": DATETIME, "started_by": STRING,
    "ended_at": NULLABLE_DATETIME, "letter_number": nullable("string"), "url": STRING,
    "end_event": {**nullable("object", description="the end event the request reached (null while running)"),
                  "properties": {"id": STRING, "name": STRING,
                                 "kind": {"type": "string", "enum": ["biasa", "error", "terminate"]}}},
}

SCHEMAS: dict[str, Schema] = {
    "Error": obj({
        "error": {"type": "string", "description": "what is wrong, in words"},
        "code": {"type": "string", "description": "machine-readable kind, e.g. not_found, invalid_data"},
        "field": {"type": ["string", "null"], "description": "the offending form field or request key"},
        "document_type": {"type": "string", "description": "the missing document's type"},
        "errors": array(ref("DiagramProblem"), description="every problem of a refused diagram"),
    }, required=["error", "code"]),
    "DiagramProblem": obj({"message": STRING, "line": nullable("integer"), "element_id": nullable("string")}),
    "TokenRequest": obj({"username": {"type": "string", "minLength": 1, "pattern": NO_NUL}, "password": TEXT},
                        additionalProperties=False),
    "User": obj({"username": STRING, "full_name": STRING, "lanes": array(STRING), "agency": nullable("string"),
                 "is_process_owner": BOOLEAN, "is_admin": BOOLEAN}),
    "Token": obj({"token": STRING, "token_type": {"type": "string", "enum": ["Bearer"]},
                  "expires_in": {"type": "integer", "description": "seconds"}, "user": ref("User")}),
    "ProcessVersion": obj(PROCESS_VERSION),
    "Process": obj({"key": STRING, "name": STRING, "latest_version": INTEGER,
                    "versions": array(ref("ProcessVersion"))}),
    "ProcessList": obj({"processes": array(ref("Process"))}),
    "DeployResult": obj({**PROCESS_VERSION, "created": {
        "type": "boolean", "description": "false when the same diagram was already the latest version"}}),
    "DeployRequest": obj({"file": {"type": "string", "format": "binary",
                                   "description": "the BPMN 2.0 XML file (UTF-8)"}}),
    "FormValue": {"type": ["string", "integer", "boolean", "null"], "pattern": NO_NUL,
                  "description": "a form field's value: text (also dates TTTT-BB-HH and enum ids), "
                                 "whole number, true/false, or null for empty"},
    "FormData": {"type": "object", "propertyNames": {"pattern": NO_NUL}, "additionalProperties": ref("FormValue"),
                 "description": "form values by field id; the step's form (see GET /api/v1/tasks/{task_id}) "
                                "decides which ids and values are accepted (422 otherwise)"},
    "StartRequest": obj({"process": {"type": "string", "pattern": NO_NUL, "description": "process key"},
                         "data": {**ref("FormData"), "description": "initial form values (fields of the diagram)"}},
                        required=["process"], additionalProperties=False),
    "CompleteRequest": obj({"data": ref("FormData")}, required=[], additionalProperties=False),
    "CancelRequest": obj({"reason": TEXT}, required=[], additionalProperties=False),
    "UploadRequest": obj({"type": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,63}$",
                                   "description": "document type key, e.g. draft_surat; one of the step's "
                                                  "outputs or required uploads (422 otherwise)"},
                          "file": {"type": "string", "format": "binary",
                                   "description": "PDF, DOCX, ODT, JPEG or PNG (sniffed from the bytes)"}}),
    "ReadyTask": obj(READY_TASK),
    "InboxTask": obj({**READY_TASK, "instance_id": INTEGER, "perihal": nullable("string"),
                      "agency": nullable("string"), "process": STRING, "url": STRING}),
    "InboxList": obj({"tasks": array(ref("InboxTask"))}),
    "HistoryEntry": obj({
        "id": STRING, "spec_id": STRING, "name": STRING, "step_no": nullable("integer"), "lane": STRING,
        "state": {"type": "string", "enum": ["ready", "completed", "cancelled"]},
        "ready_at": DATETIME, "due_at": NULLABLE_DATETIME, "completed_at": NULLABLE_DATETIME,
        "completed_by": nullable("string"),
        "duration_seconds": nullable("number", description="completed_at - ready_at; null while open"),
        "standard_minutes": nullable("integer"), "keputusan": nullable("string"), "catatan": nullable("string"),
    }),
    "DocumentVersion": obj({
        "id": INTEGER, "type": STRING, "version": INTEGER, "filename": STRING,
        "media_type": {"type": "string", "enum": MEDIA_TYPES}, "size": INTEGER, "sha256": STRING,
        "uploaded_by": STRING, "uploaded_at": DATETIME, "task_id": nullable("string"),
        "url": {"type": "string", "description": "download URL"},
    }),
    "DocumentGroup": obj({"type": STRING, "versions": array(ref("DocumentVersion"))}),
    "InstanceSummary": obj({**INSTANCE_HEAD, "overdue": BOOLEAN, "ready_tasks": array(ref("ReadyTask"))}),
    "InstanceList": obj({"instances": array(ref("InstanceSummary")), "limit": INTEGER, "offset": INTEGER}),
    "Instance": obj({
        **INSTANCE_HEAD, "data": FREE_OBJECT, "overdue": BOOLEAN, "ready_tasks": array(ref("ReadyTask")),
        "history": array(ref("HistoryEntry"), description="one entry per task activation, in order"),
        "returns": {"type": "integer", "description": "decisions 'tidak_setuju' so far"},
        "documents": array(ref("DocumentGroup")),
    }),
    "FormField": obj({
        "id": STRING, "label": STRING,
        "type": {"type": "string", "enum": ["string", "long", "boolean", "date", "enum"]},
        "required": BOOLEAN, "required_when": nullable("string"), "default": nullable("string"),
        "options": array(obj({"id": STRING, "name": STRING})),
        "constraints": {"type": "object", "additionalProperties": STRING},
    }),
    "InputDocument": obj({"type": STRING, "current": ref("DocumentVersion"),
                          "older": array(ref("DocumentVersion"))}),
    "Step": obj({"id": STRING, "name": STRING, "documentation": STRING, "step_no": nullable("integer"),
                 "standard_minutes": nullable("integer"), "lane": STRING, "is_decision": BOOLEAN}),
    "TaskDetail": obj({
        "id": STRING, "instance_id": INTEGER, "process": STRING, "version": INTEGER,
        "perihal": nullable("string"), "agency": nullable("string"),
        "instance_status": {"type": "string", "enum": ["running", "completed", "cancelled"]},
        "state": {"type": "string", "enum": ["ready", "completed", "cancelled"]},
        "ready_at": DATETIME, "due_at": NULLABLE_DATETIME, "completed_at": NULLABLE_DATETIME,
        "completed_by": nullable("string"), "waited_seconds": {"type": "integer", "minimum": 0},
        "overdue": BOOLEAN, "can_complete": BOOLEAN, "step": ref("Step"), "fields": array(ref("FormField")),
        "inputs": array(STRING), "outputs": array(STRING), "required_uploads": array(STRING),
        "missing_uploads": array(STRING, description="required uploads not yet attached in this activation"),
        "input_documents": array(ref("InputDocument")),
        "attached": array(ref("DocumentVersion"), description="versions uploaded in this activation"),
        "data": FREE_OBJECT,
    }),
    "RegisterEntry": obj({
        "number": STRING, "year": INTEGER, "sequence": INTEGER, "letter_date": {"type": "string", "format": "date"},
        "instance_id": INTEGER, "recipient": nullable("string"), "subject": nullable("string"),
        "created_by": STRING, "created_at": DATETIME,
    }),
    "Register": obj({"entries": array(ref("RegisterEntry"))}),
    "Users": obj({"users": array(ref("User"))}),
    "NewUser": obj({
        "username": {"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{1,79}$"},
        "password": {"type": "string", "minLength": 8, "maxLength": 200, "pattern": NO_NUL},
        "full_name": {"type": "string", "maxLength": 200, "pattern": NO_NUL},
        "lanes": array({"type": "string", "minLength": 1, "maxLength": 200, "pattern": NOT_BLANK}, maxItems=50),
        "agency": nullable("string", minLength=1, maxLength=200, pattern=NOT_BLANK),
        "is_process_owner": BOOLEAN, "is_admin": BOOLEAN,
    }, required=["username", "password"], additionalProperties=False),
}

ERRORS = {
    "400": "Malformed request: bad JSON, wrong type, unknown key or bad parameter",
    "401": "Missing, invalid, expired or revoked bearer token",
    "403": "The caller may not do this (wrong lane or role)",
    "404": "Not found (or not visible to the caller)",
    "409": "The task or request is not in a state that allows this any more",
    "413": "The upload is too large",
    "429": "Too many failed logins for this name; see Retry-After",
    "422": "The data breaks the form, a required document is missing, or the diagram is refused",
    "500": "Unexpected server error (no details are exposed)",
}

HEADERS = {
    "401": {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}},
    "429": {"Retry-After": {"schema": {"type": "string", "pattern": "^[0-9]+$"}, "description": "seconds"}},
}


def json_content(schema: Schema) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def responses(ok: dict[str, Any], *errors: str) -> dict[str, Any]:
    result = dict(ok)
    for code in ("401", *errors, "500"):
        result[code] = {"$ref": f"#/components/responses/E{code}"}
    return result


def ok(code: str, description: str, schema: Schema, headers: dict[str, Any] | None = None,
       links: dict[str, Any] | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"description": description, "content": json_content(schema)}
    if headers:
        entry["headers"] = headers
    if links:
        entry["links"] = links
    return {code: entry}


def link(operation_id: str, **parameters: str) -> dict[str, Any]:
    return {"operationId": operation_id, "parameters": parameters}


FIRST_READY = "$response.body#/ready_tasks/0/id"
INSTANCE_LINKS = {
    "GetInstance": link("getInstance", instance_id="$response.body#/id"),
    "CancelInstance": link("cancelInstance", instance_id="$response.body#/id"),
    "GetReadyTask": link("getTask", task_id=FIRST_READY),
    "UploadToReadyTask": link("uploadDocument", task_id=FIRST_READY),
    "CompleteReadyTask": link("completeTask", task_id=FIRST_READY),
}


def json_body(schema_name: str, required: bool = True, example: Any = None) -> dict[str, Any]:
    content = json_content(ref(schema_name))
    if example is not None:
        content["application/json"]["example"] = example
    return {"required": required, "content": content}


def path_param(name: str, schema: Schema, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema, "description": description}


def query(name: str, schema: Schema, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
TASK_ID = path_param("task_id", {"type": "string", "format": "uuid"}, "task activation id")
INSTANCE_ID = path_param("instance_id", ID, "request (instance) id")
LOCATION = {"Location": {"description": "URL of the created resource", "schema": STRING}}
ONE_INSTANCE = "The request with its ready tasks, history and documents"

PATHS: dict[str, Any] = {
    "/api/v1/auth/token": {"post": {
        "operationId": "issueToken", "tags": ["auth"], "security": [],
        "summary": "Exchange a username and password for a bearer token",
        "requestBody": json_body("TokenRequest"),
        "responses": responses(ok("200", "A new token and who it belongs to", ref("Token")), "400", "413", "429"),
    }},
    "/api/v1/auth/revoke": {"post": {
        "operationId": "revokeToken", "tags": ["auth"], "summary": "Revoke the token of this request",
        "responses": responses({"204": {"description": "Revoked"}}),
    }},
    "/api/v1/processes": {
        "get": {
            "operationId": "listProcesses", "tags": ["processes"],
            "summary": "Deployed processes with all their versions",
            "responses": responses(ok("200", "Processes by key, versions oldest first", ref("ProcessList"))),
        },
        "post": {
            "operationId": "deployProcess", "tags": ["processes"],
            "summary": "Deploy a BPMN diagram as the next version of its process (process owners only)",
            "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": ref("DeployRequest")}}},
            "responses": responses({
                **ok("201", "Deployed as a new version", ref("DeployResult")),
                **ok("200", "Identical to the latest version: nothing changed", ref("DeployResult")),
            }, "400", "403", "413", "422"),
        },
    },
    "/api/v1/processes/{key}/versions/{version}/bpmn": {"get": {
        "operationId": "getProcessBpmn", "tags": ["processes"], "summary": "The BPMN XML of one version",
        "parameters": [path_param("key", {"type": "string", "minLength": 1, "maxLength": 200}, "process key"),
                       path_param("version", ID, "version number")],
        "responses": responses({"200": {"description": "BPMN 2.0 XML",
                                        "content": {"application/xml": {"schema": STRING}}}}, "404"),
    }},
    "/api/v1/instances": {
        "post": {
            "operationId": "startInstance", "tags": ["instances"],
            "summary": "Start a request on the newest version of a process (caller must be in the first step's lane)",
            "requestBody": json_body("StartRequest", example={
                "process": "fasilitasi_narasumber",
                "data": {"perihal": "Permohonan narasumber bimtek tata naskah dinas",
                         "nama_kegiatan": "Bimtek tata naskah dinas", "tanggal_kegiatan": "2026-08-17"}}),
            "responses": responses(ok("201", ONE_INSTANCE, ref("Instance"), LOCATION, INSTANCE_LINKS),
                                   "400", "403", "404", "413", "422"),
        },
        "get": {
            "operationId": "listInstances", "tags": ["instances"],
            "summary": "Requests visible to the caller, newest first (applicants see their agency's only)",
            "parameters": [
                query("status", {"type": "string", "enum": ["running", "completed", "cancelled"]}, "status"),
                query("process", TEXT, "process key"),
                query("from", {"type": "string", "format": "date"},
                      "started on or after this day (office time zone)"),
                query("to", {"type": "string", "format": "date"}, "started on or before this day (office time zone)"),
                query("overdue", BOOLEAN, "true: with a ready task past its standard time; false: without"),
                query("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}, "page size"),
                query("offset", {"type": "integer", "minimum": 0, "maximum": MAX_ID, "default": 0}, "skip"),
            ],
            "responses": responses(ok("200", "Requests with their ready tasks", ref("InstanceList")), "400"),
        },
    },
    "/api/v1/instances/{instance_id}": {"get": {
        "operationId": "getInstance", "tags": ["instances"], "summary": "One request",
        "parameters": [INSTANCE_ID],
        "responses": responses(ok("200", ONE_INSTANCE, ref("Instance")), "404"),
    }},
    "/api/v1/instances/{instance_id}/cancel": {"post": {
        "operationId": "cancelInstance", "tags": ["instances"],
        "summary": "Cancel a running request (admins and process owners)",
        "parameters": [INSTANCE_ID], "requestBody": json_body("CancelRequest", required=False),
        "responses": responses(ok("200", ONE_INSTANCE, ref("Instance")), "400", "403", "404", "409", "413"),
    }},
    "/api/v1/tasks": {"get": {
        "operationId": "listTasks", "tags": ["tasks"],
        "summary": "Ready tasks of the caller's lanes, oldest first",
        "parameters": [query("lane", TEXT, "only this lane (one of the caller's)"),
                       query("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 100},
                             "at most this many")],
        "responses": responses(ok("200", "The inbox", ref("InboxList")), "400"),
    }},
    "/api/v1/tasks/{task_id}": {"get": {
        "operationId": "getTask", "tags": ["tasks"],
        "summary": "A task with its step, form, required outputs and input documents",
        "parameters": [TASK_ID],
        "responses": responses(ok("200", "The task", ref("TaskDetail")), "404"),
    }},
    "/api/v1/tasks/{task_id}/documents": {"post": {
        "operationId": "uploadDocument", "tags": ["tasks"],
        "summary": "Attach a document (a new version of its type) in this task activation",
        "parameters": [TASK_ID],
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": ref("UploadRequest")}}},
        "responses": responses(ok("201", "The stored version", ref("DocumentVersion"), LOCATION,
                                  {"Download": link("downloadDocument", version_id="$response.body#/id")}),
                               "400", "403", "404", "409", "413", "422"),
    }},
    "/api/v1/tasks/{task_id}/complete": {"post": {
        "operationId": "completeTask", "tags": ["tasks"],
        "summary": "Complete a ready task of the caller's lane with its form data",
        "parameters": [TASK_ID],
        "requestBody": json_body("CompleteRequest", required=False,
                                 example={"data": {"keputusan": "tidak_setuju", "catatan": "Tanggal surat salah"}}),
        "responses": responses(ok("200", "The request's new state", ref("Instance"), links=INSTANCE_LINKS),
                               "400", "403", "404", "409", "413", "422"),
    }},
    "/api/v1/documents/{version_id}": {"get": {
        "operationId": "downloadDocument", "tags": ["documents"], "summary": "The bytes of a document version",
        "parameters": [path_param("version_id", ID, "document version id")],
        "responses": responses({"200": {
            "description": "The file, as an attachment",
            "headers": {"Content-Disposition": {"schema": STRING, "description": "attachment; filename=..."}},
            "content": {media: {"schema": {"type": "string", "format": "binary"}} for media in MEDIA_TYPES},
        }}, "404"),
    }},
    "/api/v1/register": {"get": {
        "operationId": "letterRegister", "tags": ["register"],
        "summary": "Buku agenda surat keluar: numbered outgoing letters, newest first (staff only)",
        "parameters": [query("year", {"type": "integer", "minimum": 1, "maximum": 9999}, "only this year")],
        "responses": responses(ok("200", "Register entries", ref("Register")), "400", "403"),
    }},
    "/api/v1/users": {
        "get": {
            "operationId": "listUsers", "tags": ["users"], "summary": "All accounts (admin only)",
            "responses": responses(ok("200", "Accounts", ref("Users")), "403"),
        },
        "post": {
            "operationId": "createUser", "tags": ["users"], "summary": "Add an account (admin only)",
            "requestBody": json_body("NewUser", example={"username": "kabag-umum", "password": "rahasia-sekali",
                                                         "lanes": ["Kepala Bagian Terkait"]}),
            "responses": responses(ok("201", "The new account", ref("User")), "400", "403", "413", "422"),
        },
    },
    "/api/v1/openapi.json": {"get": {
        "operationId": "openapi", "tags": ["meta"], "security": [], "summary": "This document",
        "responses": {"200": {"description": "OpenAPI 3.1 document", "content": json_content(FREE_OBJECT)}},
    }},
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Alur API",
        "version": "1.0.0",
        "description": "Indonesian government SOPs run as BPMN processes. Every answer is JSON except BPMN XML "
                       "and document downloads; times are ISO 8601 in UTC with a Z. Authenticate with "
                       "POST /api/v1/auth/token and send `Authorization: Bearer <token>`.",
    },
    "servers": [{"url": "/"}],
    "security": [{"bearerAuth": []}],
    "tags": [{"name": n} for n in ("auth", "processes", "instances", "tasks", "documents", "register", "users",
                                                "meta")],
    "paths": PATHS,
    "components": {
        "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                           "description": "token from POST /api/v1/auth/token"}},
        "schemas": SCHEMAS,
        "responses": {f"E{code}": {"description": text, "content": json_content(ref("Error")),
                                   **({"headers": HEADERS[code]} if code in HEADERS else {})}
                      for code, text in ERRORS.items()},
    },
}


def document() -> dict[str, Any]:
    """A copy of the OpenAPI document (callers may change it freely)."""
    return copy.deepcopy(DOCUMENT)
