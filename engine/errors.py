"""Domain errors: each names the problem so the API and CLI can say it plainly."""

from __future__ import annotations

from dataclasses import dataclass, field


class AlurError(Exception):
    """Base of every error the service layer raises on purpose."""

    code = "error"

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(AlurError):
    code = "not_found"


class Forbidden(AlurError):
    """The acting user may not do this (wrong lane, wrong role, other agency)."""

    code = "forbidden"


class NotReady(AlurError):
    """The task is not READY any more: completed already, or the instance moved on."""

    code = "not_ready"


class InvalidData(AlurError):
    """Submitted data breaks the task's form.

    `field` names the offending field, `reason` says why in a short code ("required",
    "required_when", "too_long", "too_short", "too_small", "too_big", "not_in_options",
    "bad_type", "unknown_field", "empty", "too_large", ...) and `params` carries its
    particulars (the limit, the options, the document type), so callers never parse
    the message."""

    code = "invalid_data"

    def __init__(self, message: str, field: str | None = None, reason: str = "invalid",
                 params: dict[str, object] | None = None) -> None:
        super().__init__(message, field=field)
        self.field, self.reason = field, reason
        self.params: dict[str, object] = dict(params or {})


class MissingDocument(AlurError):
    """A document the step must produce is not attached."""

    code = "missing_document"

    def __init__(self, message: str, document_type: str) -> None:
        super().__init__(message, document_type=document_type)
        self.document_type = document_type


class Held(AlurError):
    """Someone else of the lane holds (has claimed) the task: HTTP 409 until they release it."""

    code = "held"

    def __init__(self, message: str, holder: str) -> None:
        super().__init__(message, holder=holder)
        self.holder = holder


class Throttled(AlurError):
    """Too many failed logins; try again later (HTTP 429)."""

    code = "throttled"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after


@dataclass(frozen=True)
class DiagramProblem:
    message: str
    line: int | None = None
    element_id: str | None = None

    def __str__(self) -> str:
        where = []
        if self.line:
            where.append(f"baris {self.line}")
        if self.element_id:
            where.append(f"elemen {self.element_id}")
        return f"{', '.join(where)}: {self.message}" if where else self.message


@dataclass
class InvalidDiagram(AlurError):
    """A diagram was refused at deploy; every problem carries its line and element id."""

    problems: list[DiagramProblem] = field(default_factory=list)
    code = "invalid_diagram"

    def __post_init__(self) -> None:
        super().__init__("Diagram tidak valid: " + "; ".join(str(p) for p in self.problems))
