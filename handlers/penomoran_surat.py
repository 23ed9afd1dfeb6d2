"""`penomoran_surat`: the outgoing letter gets the next number of the register (buku agenda)."""

from __future__ import annotations

from engine.letters import AGENCY_FIELD, SUBJECT_FIELD
from handlers.base import StepContext


class PenomoranSurat:
    name = "penomoran_surat"

    def check(self, ctx: StepContext) -> None:
        return None

    def apply(self, ctx: StepContext) -> None:
        if ctx.is_return or ctx.letter_number:
            return
        data = {**ctx.task_data, **ctx.values}
        letter = ctx.draw_number(data.get(AGENCY_FIELD), data.get(SUBJECT_FIELD))
        ctx.values["nomor_surat"] = letter.number
        ctx.values["tanggal_surat"] = letter.letter_date
