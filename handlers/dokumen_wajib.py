"""`dokumen_wajib`: a step cannot be completed until the documents it must produce are attached.

A step run again after a return keeps what it attached before, unless the diagram asks for a
new version (`versi_baru_wajib`).
"""

from __future__ import annotations

from sqlalchemy import select

from engine.documents import doc_label
from engine.errors import MissingDocument
from engine.models import Document, DocumentVersion, TaskRecord
from handlers.base import StepContext


class DokumenWajib:
    name = "dokumen_wajib"

    def check(self, ctx: StepContext) -> None:
        if ctx.is_return:
            return  # a returned step produces nothing
        for doc_type in ctx.step.required_uploads:
            stmt = select(DocumentVersion.id).join(Document).where(
                Document.instance_id == ctx.instance.id, Document.doc_type == doc_type)
            if doc_type in ctx.step.new_version_required:
                stmt = stmt.where(DocumentVersion.task_id == ctx.task_id)
            else:  # this activation's upload, or this step's own upload in an earlier activation
                stmt = stmt.join(TaskRecord, TaskRecord.id == DocumentVersion.task_id).where(
                    TaskRecord.spec_id == ctx.step.id)
            if ctx.session.scalar(stmt.limit(1)) is None:
                again = " (versi baru)" if doc_type in ctx.step.new_version_required else ""
                raise MissingDocument(f"dokumen {doc_label(doc_type)} wajib diunggah{again} pada langkah ini",
                                      doc_type)

    def apply(self, ctx: StepContext) -> None:
        return None
