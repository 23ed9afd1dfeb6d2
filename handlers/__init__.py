"""Task handlers, named in a diagram's task properties (`handlers`).

A process owner reuses a handler by naming it in the diagram; the registry below is
the only list of names, and an unknown name is a deploy error. engine/bootstrap.py
hands it to the engine (the engine never imports this package).
"""

from __future__ import annotations

from handlers.base import Handler, StepContext
from handlers.dokumen_wajib import DokumenWajib
from handlers.penomoran_surat import PenomoranSurat

REGISTRY: dict[str, Handler] = {h.name: h for h in (DokumenWajib(), PenomoranSurat())}

__all__ = ["REGISTRY", "Handler", "StepContext"]
