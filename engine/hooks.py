"""What a task handler sees of a step being completed, and what it must offer.

Handlers (the `handlers` package) are named in a diagram and handed to the engine at
bootstrap; the engine never imports them. A handler gets this narrow context, not a
database session: the step, its values, and the few actions the engine allows it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from engine import decisions
from engine.diagram import Step


@dataclass(frozen=True)
class Letter:
    """A number drawn from the outgoing-letter register."""

    number: str
    letter_date: str


@dataclass
class StepContext:
    """One completion in progress, inside the command's transaction."""

    step: Step
    values: dict[str, Any]              # the cleaned form values; handlers may add to them
    task_data: Mapping[str, Any]        # the task's data before this step (read only)
    letter_number: str | None           # the instance's letter number, if it has one already
    _has_upload: Callable[[str], bool]
    _draw_number: Callable[[str | None, str | None], Letter]

    @property
    def is_return(self) -> bool:
        return decisions.is_return(self.values)

    def has_upload(self, doc_type: str) -> bool:
        """Whether a version of `doc_type` was attached in this activation of the step."""
        return self._has_upload(doc_type)

    def draw_number(self, recipient: str | None, subject: str | None) -> Letter:
        """The next number of the register for this instance (gap-free; given back on rollback)."""
        letter = self._draw_number(recipient, subject)
        self.letter_number = letter.number
        return letter


class Handler(Protocol):
    name: str

    def check(self, ctx: StepContext) -> None:
        """Raise a domain error if the step may not be completed yet."""

    def apply(self, ctx: StepContext) -> None:
        """Do the handler's work; runs after every check passed, before the task runs."""


Registry = Mapping[str, Handler]
