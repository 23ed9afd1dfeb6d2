"""Driving the bundled SOP step by step in tests, as its lanes' demo users."""

from __future__ import annotations

from typing import Any

from engine.actors import SYSTEM, Upload
from engine.demo import SAMPLE_PDF, actor_for_lane, fill
from engine.models import TaskRecord
from engine.services import Alur
from engine.testing import PROCESS


def current(alur: Alur, instance_id: int) -> TaskRecord:
    ready = alur.ready_of([instance_id])[instance_id]
    assert len(ready) == 1, f"expected one ready task, found {[r.name for r in ready]}"
    return ready[0]


def step(alur: Alur, instance_id: int, decision: str | None = None, data: dict[str, Any] | None = None,
         upload: bool = True) -> TaskRecord:
    """Complete the single ready task as its lane's demo user; return the record completed."""
    record = current(alur, instance_id)
    spec = alur.task(record.id, SYSTEM).step
    actor = actor_for_lane(alur, record.lane)
    if upload and decision != "tidak_setuju":
        for doc_type in spec.required_uploads:
            alur.attach_document(record.id, actor, Upload(doc_type, f"{doc_type}.pdf", SAMPLE_PDF))
    alur.complete(record.id, actor, data if data is not None else fill(spec, decision))
    return record


def start(alur: Alur) -> int:
    return alur.start(PROCESS, actor_for_lane(alur, "Pemohon"))


def drive_to(alur: Alur, instance_id: int, step_no: int) -> TaskRecord:
    """Approve everything until the ready task is SOP step `step_no`."""
    for _ in range(50):
        record = current(alur, instance_id)
        if record.step_no == step_no:
            return record
        step(alur, instance_id)
    raise AssertionError(f"never reached step {step_no}")
