"""Paraf: a reviewer's initial on the exact version of a document they approved.

A step with the task property `paraf` (document types, comma-separated) records, when it is
approved, the current version of each of those documents: version number and sha256 go into
the audit trail (kind `paraf`), which the document's page shows, as verifiers initial a
draft on paper. A step cannot be approved without the document to initial.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.diagram import Step
from engine.errors import MissingDocument
from engine.models import AuditEvent, Document, DocumentVersion, Instance, TaskRecord
from engine.uow import UnitOfWork

PROPERTY = "paraf"
KIND = "paraf"


def doc_types(step: Step) -> list[str]:
    return [x.strip() for x in (step.prop(PROPERTY) or "").split(",") if x.strip()]


def latest(session: Session, instance_id: int, doc_type: str) -> DocumentVersion | None:
    return session.scalars(select(DocumentVersion).join(Document).where(
        Document.instance_id == instance_id, Document.doc_type == doc_type)
        .order_by(DocumentVersion.version.desc()).limit(1)).first()


def record(uow: UnitOfWork, instance: Instance, step: Step, task: TaskRecord, actor: str, now: datetime) -> None:
    """Initial the current version of each document the step names (called when the step is approved)."""
    for doc_type in doc_types(step):
        version = latest(uow.session, instance.id, doc_type)
        if version is None:
            raise MissingDocument(f"tidak ada dokumen '{doc_type}' untuk diparaf", doc_type)
        uow.audit(actor, KIND, now, instance.id, task.id, doc_type=doc_type, version=version.version,
                  version_id=version.id, sha256=version.sha256)  # the step: the task row (task_id)


@dataclass(frozen=True)
class Initial:
    actor: str
    at: datetime
    doc_type: str
    version: int
    version_id: int
    sha256: str
    step: str
    step_no: int | None


def of_instance(session: Session, instance_id: int) -> list[Initial]:
    """The initials of a request, oldest first; the step comes from the activation's task row."""
    rows = session.execute(select(AuditEvent, TaskRecord.name, TaskRecord.step_no)
                           .outerjoin(TaskRecord, TaskRecord.id == AuditEvent.task_id)
                           .where(AuditEvent.instance_id == instance_id, AuditEvent.kind == KIND)
                           .order_by(AuditEvent.id))
    return [Initial(e.actor, e.at, e.payload["doc_type"], e.payload["version"], e.payload["version_id"],
                    e.payload["sha256"], e.payload.get("step", name or ""), e.payload.get("step_no", step_no))
            for e, name, step_no in rows]
