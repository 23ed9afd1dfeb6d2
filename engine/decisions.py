"""What a decision step means: the one place that knows `keputusan`, `setuju`, `tidak_setuju`, `catatan`.

A decision step has a `keputusan` field with exactly the options `setuju` and `tidak_setuju`
(checked at deploy); `tidak_setuju` returns the request, with a `catatan` saying why.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FIELD = "keputusan"
NOTE = "catatan"
AGREE = "setuju"
RETURN = "tidak_setuju"
OPTIONS = frozenset({AGREE, RETURN})
FIELDS = frozenset({FIELD, NOTE})
LABELS = {AGREE: "Setuju", RETURN: "Dikembalikan"}


def is_return(values: Mapping[str, Any]) -> bool:
    """Whether these step values return the request."""
    return values.get(FIELD) == RETURN


def label(decision: str | None) -> str:
    """The decision in words for the timeline ("" when the step made none)."""
    return LABELS.get(decision or "", "")
