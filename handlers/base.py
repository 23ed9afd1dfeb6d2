"""What a handler sees of a step being completed, and what it must offer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from engine.diagram import Step
from engine.models import Instance
from engine.settings import Settings


@dataclass
class StepContext:
    """One completion in progress, inside the unit of work's transaction."""

    session: Session
    settings: Settings
    instance: Instance
    step: Step
    task_id: str
    actor: str
    now: datetime
    values: dict[str, Any]          # the cleaned form values; handlers may add to them
    task_data: dict[str, Any]       # the task's data before this step (read only)

    @property
    def is_return(self) -> bool:
        return self.values.get("keputusan") == "tidak_setuju"


class Handler(Protocol):
    name: str

    def check(self, ctx: StepContext) -> None:
        """Raise a domain error if the step may not be completed yet."""

    def apply(self, ctx: StepContext) -> None:
        """Do the handler's work; runs after every check passed, before the task runs."""
