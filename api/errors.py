"""Domain errors as HTTP: one table of statuses, JSON bodies that name the problem."""

from __future__ import annotations

from typing import Any

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
    if isinstance(exc, InvalidData) and exc.field:
        body["field"] = exc.field
    if isinstance(exc, MissingDocument):
        body["document_type"] = exc.document_type
    if isinstance(exc, Held):
        body["holder"] = exc.holder
    return body
