"""Who acts and what they bring: the small value types every entry point passes to the engine."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Actor:
    """Who acts: enough to authorize, nothing of the web. `agency` marks an external applicant."""

    username: str
    lanes: frozenset[str] = frozenset()
    agency: str | None = None
    is_process_owner: bool = False
    is_admin: bool = False
    head_of: frozenset[str] = frozenset()  # lanes this user heads (may reassign their tasks)

    def directs(self, lane: str) -> bool:
        """An admin or the lane's head may hand the lane's tasks around."""
        return self.is_admin or lane in self.head_of

    @property
    def is_staff(self) -> bool:
        return self.agency is None


SYSTEM = Actor("system", is_process_owner=True, is_admin=True)
TIMER_ACTOR = Actor("penjadwal", is_process_owner=True, is_admin=True)  # who acts when a timer fires


@dataclass(frozen=True)
class Upload:
    """A file to attach to the step being completed."""

    doc_type: str
    filename: str
    content: bytes


@dataclass
class Filters:
    """The instance list's filters (UI and API)."""

    status: str | None = None
    process: str | None = None
    started_from: datetime | None = None
    started_to: datetime | None = None
    overdue: bool | None = None
    limit: int = 100
    offset: int = 0
