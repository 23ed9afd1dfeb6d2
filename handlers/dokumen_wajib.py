"""`dokumen_wajib`: kept so that existing diagrams naming it still deploy.

The engine itself refuses to complete a step whose `unggah_wajib` documents are not
attached (a rule of the step, see engine/commands.py); this handler adds nothing.
"""

from __future__ import annotations

from handlers.base import StepContext


class DokumenWajib:
    name = "dokumen_wajib"

    def check(self, ctx: StepContext) -> None:
        return None

    def apply(self, ctx: StepContext) -> None:
        return None
