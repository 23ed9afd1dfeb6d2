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
    older_notes: bool = False  # notes before `notes` exist (the request's history has them all)


RECENT_NOTES = 20  # the notes a task page shows; older ones are in the request's history


def notes(history: Iterable[TaskRecord]) -> list[Note]:
    """The notes among these activations, in order."""
    return [Note(r.step_no, r.name, r.lane, r.completed_by or "-", r.completed_at, r.catatan, r.keputusan)
            for r in history if r.catatan and r.completed_at is not None and r.state == "completed"]


def recent_notes(session: Session, instance_id: int, limit: int = RECENT_NOTES) -> tuple[list[Note], bool]:
    """The request's last `limit` notes in order, and whether older ones exist (read by LIMIT, newest first)."""
    rows = list(session.scalars(select(TaskRecord).where(
        TaskRecord.instance_id == instance_id, TaskRecord.state == "completed", TaskRecord.catatan.is_not(None),
        TaskRecord.catatan != "", TaskRecord.completed_at.is_not(None))
        .order_by(TaskRecord.seq.desc()).limit(limit + 1)))
    return notes(reversed(rows[:limit])), len(rows) > limit


def prefill(step: Step, instance: Instance, own_last_note: str | None) -> dict[str, Any]:
    """The step's form from the request's current data; a decision and its note start empty.

    A non-decision step's `catatan` comes from its own previous activation (the request's data
    holds the last note of any step, e.g. the reviewer's reason for returning).
    """
    values: dict[str, Any] = {}
    for form_field in step.fields:
        if form_field.id in decisions.FIELDS:
            if form_field.id == decisions.NOTE and not step.is_decision and own_last_note:
                values[decisions.NOTE] = own_last_note
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


def _own_last_note(session: Session, instance_id: int, step: Step) -> str | None:
    """The note of this step's latest completed activation (only a non-decision step pre-fills it)."""
    if step.is_decision or step.field(decisions.NOTE) is None:
        return None
    return session.scalar(select(TaskRecord.catatan).where(
        TaskRecord.instance_id == instance_id, TaskRecord.spec_id == step.id, TaskRecord.state == "completed")
        .order_by(TaskRecord.seq.desc()).limit(1))


def _attached_by_step(session: Session, instance_id: int, step: Step, doc_types: list[str]) -> set[str]:
    """Which of these document types an activation of this step attached a version of, at any time."""
    if not doc_types:
        return set()
    return set(session.scalars(
        select(Document.doc_type).distinct().join(DocumentVersion, DocumentVersion.document_id == Document.id)
        .join(TaskRecord, TaskRecord.id == DocumentVersion.task_id)
        .where(Document.instance_id == instance_id, Document.doc_type.in_(doc_types),
               TaskRecord.instance_id == instance_id, TaskRecord.spec_id == step.id)))


def rework(session: Session, record: TaskRecord, instance: Instance, step: Step,
           documents: Iterable[Document]) -> Rework:
    """Everything a task page needs about earlier work on the request, read by key and LIMIT: what it
    costs does not grow with the number of returns. `documents` need only their newest version."""
    source = session.get(TaskRecord, record.returned_by_task) if record.returned_by_task else None
    returned = None
    if source is not None and source.completed_at is not None:
        returned = ReturnInfo(source.completed_by or "-", source.step_no, source.name, source.lane,
                              source.completed_at, source.catatan or "")
    replaceable = [d for d in documents if d.doc_type in step.upload_types and d.versions]
    own = _attached_by_step(session, instance.id, step, [d.doc_type for d in replaceable
                                                         if d.doc_type not in step.new_version_required])
    earlier: dict[str, EarlierDocument] = {}
    for document in replaceable:
        latest = document.versions[-1]
        renew = document.doc_type in step.new_version_required
        earlier[document.doc_type] = EarlierDocument(
            document.doc_type, latest, renew, replaced_here=latest.task_id == record.id,
            kept=not renew and document.doc_type in own)
    shown, older = recent_notes(session, instance.id)
    ready = record.state == "ready"
    return Rework(returned, shown, prefill(step, instance, _own_last_note(session, instance.id, step)) if ready else {},
                  earlier, decision_labels(step), older_notes=older)
