"""Parts 2 and 3: the service layer (Alur.complete) on a SQLite file, and its cost after many returns."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlalchemy import select

from bench.common import PROCESS, decide, demo_returns, median, ms, percentile
from engine import decisions
from engine.actors import Actor, Upload
from engine.demo import SAMPLE_PDF, actor_for_lane, fill
from engine.diagram import SopModel
from engine.models import TaskRecord
from engine.services import Alur


class Steps:
    """Drives instances step by step as the lanes' demo users; only `Alur.complete` is timed."""

    def __init__(self, alur: Alur) -> None:
        self.alur = alur
        self.model: SopModel = alur.parsed(alur.definition(PROCESS)).model
        self.actors: dict[str, Actor] = {lane: actor_for_lane(alur, lane) for lane in self.model.lanes}
        self.times: list[float] = []

    def start(self) -> int:
        return self.alur.start(PROCESS, self.actors[self.model.ordered_steps()[0].lane])

    def ready(self, instance_id: int) -> list[TaskRecord]:
        return self.alur.ready_of([instance_id])[instance_id]

    def complete(self, record: TaskRecord, decision: str | None) -> float:
        """Upload what the step needs (untimed), then time one `complete()`: load, run, persist, commit."""
        step = self.model.steps[record.spec_id]
        actor = self.actors[record.lane]
        if decision is None:
            for doc_type in step.required_uploads:
                self.alur.attach_document(record.id, actor, Upload(doc_type, f"{doc_type}.pdf", SAMPLE_PDF))
        data = fill(step, decision)
        started = time.perf_counter()
        self.alur.complete(record.id, actor, data)
        elapsed = time.perf_counter() - started
        self.times.append(elapsed)
        return elapsed

    def whole_instance(self) -> int:
        instance_id, pending = self.start(), demo_returns(self.model)
        while ready := self.ready(instance_id):
            self.complete(ready[0], decide(self.model.steps[ready[0].spec_id], pending))
        return instance_id

    def to_step(self, instance_id: int, step_no: int) -> TaskRecord:
        for _ in range(100):
            record = self.ready(instance_id)[0]
            if record.step_no == step_no:
                return record
            self.complete(record, None)
        raise RuntimeError(f"step {step_no} never became ready")


@dataclass
class ServiceResult:
    instances: int
    steps: int
    step_ms_median: float
    step_ms_p95: float


def per_step(alur: Alur, instances: int) -> ServiceResult:
    steps = Steps(alur)
    steps.whole_instance()  # warm-up: spec cache, SQLAlchemy statement cache
    steps.times.clear()
    for _ in range(instances):
        steps.whole_instance()
    return ServiceResult(instances, len(steps.times), ms(median(steps.times)), ms(percentile(steps.times, 95)))


@dataclass
class FlatnessResult:
    window_steps: int
    step_ms_median: dict[int, float] = field(default_factory=dict)  # returns made before the window -> ms

    @property
    def ratio(self) -> float:
        first, last = min(self.step_ms_median), max(self.step_ms_median)
        return self.step_ms_median[last] / self.step_ms_median[first]


def flatness(alur: Alur, checkpoints: tuple[int, ...], window: int) -> FlatnessResult:
    """Returns at step 7 back to step 6, over and over; a window of `window` return cycles is timed at each checkpoint.

    A cycle is two completions: step 7 `tidak_setuju` and step 6 again (with its new draft upload, untimed).
    """
    steps = Steps(alur)
    instance_id = steps.start()
    steps.to_step(instance_id, 7)
    result = FlatnessResult(window_steps=2 * window)
    returns = 0

    def cycle() -> tuple[float, float]:
        nonlocal returns
        at_seven = steps.ready(instance_id)[0]
        assert at_seven.step_no == 7, at_seven.step_no
        back = steps.complete(at_seven, decisions.RETURN)
        returns += 1
        at_six = steps.ready(instance_id)[0]
        assert at_six.step_no == 6, at_six.step_no
        return back, steps.complete(at_six, None)

    for checkpoint in sorted(checkpoints):
        while returns < checkpoint:
            cycle()
        timed: list[float] = []
        for _ in range(window):
            timed.extend(cycle())
        result.step_ms_median[checkpoint] = ms(median(timed))
    with alur.unit_of_work(write=False) as uow:
        count = len(list(uow.session.scalars(select(TaskRecord.id).where(TaskRecord.instance_id == instance_id))))
    if count < 2 * returns:
        raise RuntimeError("the returns did not all happen")
    return result
