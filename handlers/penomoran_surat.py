"""`penomoran_surat`: the outgoing letter gets the next number of the register (buku agenda)."""

from __future__ import annotations

from engine.letters import AGENCY_FIELD, SUBJECT_FIELD, draw_number
from handlers.base import StepContext


class PenomoranSurat:
    name = "penomoran_surat"

    def check(self, ctx: StepContext) -> None:
        return None

    def apply(self, ctx: StepContext) -> None:
        if ctx.is_return or ctx.instance.letter_number:
            return
        data = {**ctx.task_data, **ctx.values}
        entry = draw_number(
            ctx.session, ctx.settings, ctx.instance, ctx.now, ctx.actor,
            recipient=data.get(AGENCY_FIELD), subject=data.get(SUBJECT_FIELD))
        ctx.values["nomor_surat"] = entry.number
        ctx.values["tanggal_surat"] = entry.letter_date
