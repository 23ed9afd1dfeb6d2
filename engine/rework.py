"""Rework: what the person who gets work back needs to see, and who may change which document.

A return (keputusan `tidak_setuju`) activates an earlier step again. The activation remembers
which completion made it (`TaskRecord.returned_by_task`), so its page can say who returned it,
from which step, when and why; the request's notes so far, the form pre-filled from the
request's data and the documents the step attached before are read here too, for the UI and
the API alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import decisions
from engine.diagram import Step
from engine.documents import doc_label
from engine.errors import InvalidData
from engine.models import Document, DocumentVersion, Instance, TaskRecord


def check_upload_allowed(step: Step, doc_type: str) -> None:
    """A step may attach only its own output documents; its inputs are read-only there."""
    if doc_type in step.upload_types:
        return
    allowed = ", ".join(doc_label(t) for t in step.upload_types) or "tidak ada"
    why = " (dokumen masukan hanya dapat dibaca di langkah ini)" if doc_type in step.inputs else ""
    where = f"langkah {step.step_no} \u201c{step.name}\u201d" if step.step_no else f"langkah \u201c{step.name}\u201d"
    raise InvalidData(f"{doc_label(doc_type)} tidak dapat diunggah di {where}{why}; yang boleh diunggah: {allowed}",
                      "type", "not_in_options", {"doc_type": doc_type, "step": step.name, "step_no": step.step_no,
                                                 "options": list(step.upload_types)})


@dataclass(frozen=True)
class Note:
    """A note of the request (disposition, review, return), with its step, person and time."""

    step_no: int | None
    step: str
    lane: str
    by: str
    at: datetime
    text: str
    decision: str | None

    @property
    def is_return(self) -> bool:
        return self.decision == decisions.RETURN


@dataclass(frozen=True)
class ReturnInfo:
    """Who returned this activation, from which step, when, and the note in full."""

    by: str
    step_no: int | None
    step: str
    lane: str
    at: datetime
    note: str


@dataclass(frozen=True)
class EarlierDocument:
    """A document this step may (re)attach that already exists: shown with "ganti", not asked again."""

    doc_type: str
    version: DocumentVersion
    new_version_required: bool
    replaced_here: bool  # a new version was attached in this activation
    kept: bool  # counts for `unggah_wajib`: attached by this step before, and no new version required


@dataclass
class Rework:
    """The rework read model of one task: banner, notes, pre-fill, earlier documents, decision labels."""

    returned: ReturnInfo | None
    notes: list[Note]
    prefill: dict[str, Any]
    earlier_documents: dict[str, EarlierDocument] = field(default_factory=dict)
    decisions: list[tuple[str, str]] = field(default_factory=list)


def notes(history: Iterable[TaskRecord]) -> list[Note]:
    """Every note of the request so far, in order."""
    return [Note(r.step_no, r.name, r.lane, r.completed_by or "-", r.completed_at, r.catatan, r.keputusan)
            for r in history if r.catatan and r.completed_at is not None and r.state == "completed"]


def prefill(step: Step, instance: Instance, history: Iterable[TaskRecord]) -> dict[str, Any]:
    """The step's form from the request's current data; a decision and its note start empty.

    A non-decision step's `catatan` comes from its own previous activation (the request's data
    holds the last note of any step, e.g. the reviewer's reason for returning).
    """
    values: dict[str, Any] = {}
    own_earlier = [r for r in history if r.spec_id == step.id and r.state == "completed"]
    for form_field in step.fields:
        if form_field.id in decisions.FIELDS:
            if form_field.id == decisions.NOTE and not step.is_decision and own_earlier and own_earlier[-1].catatan:
                values[decisions.NOTE] = own_earlier[-1].catatan
            continue
        value = instance.data.get(form_field.id)
        if value is None:
            continue
        values[form_field.id] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return values


def decision_labels(step: Step) -> list[tuple[str, str]]:
    """The decision buttons: (value, label) from the diagram's enum names."""
    decision = step.field(decisions.FIELD)
    return list(decision.options) if decision is not None else []


def rework(session: Session, record: TaskRecord, instance: Instance, step: Step,
           documents: Iterable[Document]) -> Rework:
    """Everything a task page needs about earlier work on the request (one read of its history)."""
    history = list(session.scalars(select(TaskRecord).where(TaskRecord.instance_id == instance.id)
                                   .order_by(TaskRecord.seq)))
    by_id = {r.id: r for r in history}
    source = by_id.get(record.returned_by_task or "")
    returned = None
    if source is not None and source.completed_at is not None:
        returned = ReturnInfo(source.completed_by or "-", source.step_no, source.name, source.lane,
                              source.completed_at, source.catatan or "")
    earlier: dict[str, EarlierDocument] = {}
    own = {r.id for r in history if r.spec_id == step.id}
    for document in documents:
        if document.doc_type not in step.upload_types or not document.versions:
            continue
        latest = document.versions[-1]
        renew = document.doc_type in step.new_version_required
        earlier[document.doc_type] = EarlierDocument(
            document.doc_type, latest, renew, replaced_here=latest.task_id == record.id,
            kept=not renew and any(v.task_id in own for v in document.versions))
    return Rework(returned, notes(history), prefill(step, instance, history) if record.state == "ready" else {},
                  earlier, decision_labels(step))
