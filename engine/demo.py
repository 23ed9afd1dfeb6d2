"""A whole request driven through a process by its lanes' users: for `alur demo` and the benchmark.

Forms are filled from the diagram's own field definitions, so the demo follows whatever
version is deployed. The two returns happen at the second and the last decision step.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from engine import decisions
from engine.actors import Actor, Upload
from engine.diagram import FormField, Step
from engine.models import User, UserLane
from engine.services import Alur
from engine.users import actor_of

SAMPLE_PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n" \
             b"trailer<</Root 1 0 R>>\n%%EOF\n"


def sample_value(field: FormField) -> Any:
    if field.type == "enum":
        return field.options[0][0]
    if field.type == "date":
        return (dt.date.today() + dt.timedelta(days=14)).isoformat()
    if field.type == "long":
        return 1
    if field.type == "boolean":
        return True
    return f"Contoh {field.label.lower()}"


def fill(step: Step, decision: str | None) -> dict[str, Any]:
    values = {f.id: sample_value(f) for f in step.fields if f.id not in decisions.FIELDS}
    if step.is_decision:
        values[decisions.FIELD] = decision or decisions.AGREE
        if decision == decisions.RETURN:
            values[decisions.NOTE] = f"Mohon diperbaiki ({step.name})"
    return values


def actor_for_lane(alur: Alur, lane: str) -> Actor:
    with alur.unit_of_work(write=False) as uow:
        user = uow.session.scalars(select(User).join(UserLane).where(UserLane.lane == lane)
                                   .order_by(User.id).limit(1)).first()
    if user is None:
        raise LookupError(f"tidak ada pengguna di lane '{lane}': jalankan `alur init --demo`")
    return actor_of(user)


def run_instance(alur: Alur, process_key: str, returns_at: set[str] | None = None,
                 actor_for: Callable[[str], Actor] | None = None, max_steps: int = 10_000) -> int:
    """Drive one instance to its end; return at each step id in `returns_at` once."""
    definition = alur.definition(process_key)
    model = alur.parsed(definition).model
    decision_steps = [s for s in model.ordered_steps() if s.is_decision]
    pending = set(returns_at) if returns_at is not None else (
        {decision_steps[1].id, decision_steps[-1].id} if len(decision_steps) > 1 else set())
    cache: dict[str, Actor] = {}
    pick = actor_for or (lambda lane: cache.setdefault(lane, actor_for_lane(alur, lane)))
    first = model.ordered_steps()[0]
    instance_id = alur.start(process_key, pick(first.lane))
    for _ in range(max_steps):
        ready = alur.instance(instance_id, Actor("system", is_admin=True)).ready
        if not ready:
            return instance_id
        record = ready[0]
        step = model.steps[record.spec_id]
        decision = decisions.RETURN if step.id in pending else None
        pending.discard(step.id)
        actor = pick(record.lane)
        uploads = [] if decision else [Upload(t, f"{t}.pdf", SAMPLE_PDF) for t in step.required_uploads]
        alur.complete(record.id, actor, fill(step, decision), uploads)
    raise RuntimeError(f"permohonan {instance_id} tidak selesai dalam {max_steps} langkah")
