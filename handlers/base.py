"""What a handler sees and offers: the engine's narrow types, re-exported for handler authors."""

from __future__ import annotations

from engine.hooks import Handler, Letter, StepContext

__all__ = ["Handler", "Letter", "StepContext"]
