"""Working time (jam kerja): when a request can be expected to end, counting only office hours.

Office hours are Monday to Friday, 08.00-16.00 in the office's time zone; public holidays are
not known to Alur yet. The expectation adds the standard minutes of the current step and of
every later step of the SOP (by step number) to the moment the current step became ready.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from engine.clock import local
from engine.diagram import SopModel
from engine.models import TaskRecord

START, END = dt.time(8, 0), dt.time(16, 0)


def add_working_minutes(moment: dt.datetime, minutes: int) -> dt.datetime:
    """`moment` (local, naive) plus `minutes` of office time."""
    current = moment
    left = minutes
    while True:
        if current.weekday() >= 5 or current.time() >= END:
            current = dt.datetime.combine(current.date() + dt.timedelta(days=1), START)
            continue
        if current.time() < START:
            current = dt.datetime.combine(current.date(), START)
        room = int((dt.datetime.combine(current.date(), END) - current).total_seconds() // 60)
        if left <= room:
            return current + dt.timedelta(minutes=left)
        left -= room
        current = dt.datetime.combine(current.date() + dt.timedelta(days=1), START)


def expected_end(model: SopModel, ready: Sequence[TaskRecord], timezone: str) -> dt.datetime | None:
    """Local time the request is expected to end if every remaining step takes its standard time."""
    numbered = [r for r in ready if r.step_no is not None]
    if not numbered:
        return None
    first = min(numbered, key=lambda r: (r.step_no, r.ready_at))
    minutes = sum(s.standard_minutes or 0 for s in model.steps.values()
                  if s.step_no is not None and s.step_no >= (first.step_no or 0))
    start = local(first.ready_at, timezone).replace(tzinfo=None)
    return add_working_minutes(start, minutes)
