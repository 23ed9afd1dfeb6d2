"""`dokumen_wajib`: a step cannot be completed until the documents it must produce are attached."""

from __future__ import annotations

from sqlalchemy import select

from engine.errors import MissingDocument
from engine.models import Document, DocumentVersion
from handlers.base import StepContext


class DokumenWajib:
    name = "dokumen_wajib"

    def check(self, ctx: StepContext) -> None:
        if ctx.is_return:
            return  # a returned step produces nothing
        for doc_type in ctx.step.required_uploads:
            attached = ctx.session.scalar(
                select(DocumentVersion.id).join(Document)
                .where(Document.instance_id == ctx.instance.id, Document.doc_type == doc_type,
                       DocumentVersion.task_id == ctx.task_id).limit(1))
            if attached is None:
                raise MissingDocument(f"dokumen '{doc_type}' wajib diunggah pada langkah ini", doc_type)

    def apply(self, ctx: StepContext) -> None:
        return None
