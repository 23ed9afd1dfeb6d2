"""Errors as HTTP: one table of statuses for domain errors, JSON bodies that name the problem,
and the one place where malformed requests (bad JSON, pydantic's findings) get their words."""

from __future__ import annotations

import json
from typing import Any

from flask import Request
from pydantic import BaseModel, ValidationError

from engine.documents import TooLarge
from engine.errors import (
    AlurError,
    Forbidden,
    Held,
    InvalidData,
    InvalidDiagram,
    MissingDocument,
    NotFound,
    NotReady,
    Throttled,
)
from engine.owner import CannotMigrate

STATUS: list[tuple[type[AlurError], int]] = [
    (TooLarge, 413),
    (Throttled, 429),
    (InvalidDiagram, 422),
    (InvalidData, 422),
    (MissingDocument, 422),
    (Forbidden, 403),
    (NotFound, 404),
    (NotReady, 409),
    (Held, 409),
]


def status_of(exc: AlurError) -> int:
    return next((code for cls, code in STATUS if isinstance(exc, cls)), 400)


def body_of(exc: AlurError) -> dict[str, Any]:
    body: dict[str, Any] = {"error": exc.message, "code": exc.code}
    if isinstance(exc, InvalidDiagram):
        body["errors"] = [{"message": p.message, "line": p.line, "element_id": p.element_id} for p in exc.problems]
    if isinstance(exc, InvalidData | BadRequest) and exc.field:
        body["field"] = exc.field
    if isinstance(exc, MissingDocument):
        body["document_type"] = exc.document_type
    if isinstance(exc, Held):
        body["holder"] = exc.holder
    if isinstance(exc, CannotMigrate):
        body["steps"] = exc.steps
    return body


# ---- malformed requests: one place that words them -----------------------------------------


class BadRequest(AlurError):
    """The request itself is malformed (HTTP 400): bad JSON, wrong type, unknown key, bad parameter."""

    code = "bad_request"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.field = field


MAX_UNKNOWN = 5  # unknown keys named in one message
_KIND = {"string_type": "string", "dict_type": "objek", "model_type": "objek", "list_type": "daftar",
         "bool_type": "boolean", "int_type": "bilangan bulat", "is_instance_of": "berkas"}


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} bukan nilai JSON")


def json_object(raw: bytes) -> dict[str, Any] | None:
    """A request body as a JSON object (None when empty); NaN, Infinity and other JSON are refused."""
    if not raw.strip():
        return None
    try:
        body = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise BadRequest("badan permintaan bukan JSON yang valid") from None
    if not isinstance(body, dict):
        raise BadRequest("badan permintaan harus berupa objek JSON")
    return body


class ApiRequest(Request):
    """Under /api/, a body read as JSON is JSON whatever its content type says; bad JSON is a worded 400."""

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        if not self.path.startswith("/api/"):
            return super().get_json(force=force, silent=silent, cache=cache)
        return json_object(self.get_data(cache=True))


def refusal(exc: ValidationError, model: type[BaseModel] | None = None) -> BadRequest:
    """The first problem pydantic found, in Indonesian, naming the top-level key (or query parameter)."""
    errors = exc.errors(include_url=False)
    unknown = sorted(str(e["loc"][0]) for e in errors if e["type"] == "extra_forbidden" and e["loc"])
    if unknown:
        allowed = ", ".join(f.alias or name for name, f in model.model_fields.items()) if model else ""
        shown = ", ".join(unknown[:MAX_UNKNOWN]) + (f" (dan {len(unknown) - MAX_UNKNOWN} lagi)"
                                                    if len(unknown) > MAX_UNKNOWN else "")
        return BadRequest(f"kunci tidak dikenal: {shown}" + (f" (boleh: {allowed})" if allowed else ""), unknown[0])
    first = errors[0]
    loc = [str(part) for part in first["loc"]]
    if not loc:
        return BadRequest("badan permintaan harus berupa objek JSON")
    field = loc[0]
    where = f"'{field}'" + (f" (di {'.'.join(loc[1:])})" if len(loc) > 1 else "")
    kind = first["type"]
    if kind == "missing":
        return BadRequest(f"'{field}' wajib ada", field)
    if kind in ("nul_character", "not_unicode", "query", "json_text"):
        return BadRequest(f"{where} {first['msg']}", field)
    if kind in _KIND:
        return BadRequest(f"{where} harus berupa {_KIND[kind]}", field)
    if kind == "string_too_short":
        return BadRequest(f"{where} tidak boleh kosong", field)
    if kind in ("literal_error", "enum"):
        return BadRequest(f"{where} harus salah satu dari: {first['ctx']['expected']}", field)
    return BadRequest(f"{where} tidak valid: {first['msg']}", field)
