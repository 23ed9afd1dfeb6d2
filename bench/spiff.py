"""Part 1, the ceiling: bare SpiffWorkflow in memory, no database, no Alur."""

from __future__ import annotations

import time
from dataclasses import dataclass

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.parser import CamundaParser
from SpiffWorkflow.util.task import TaskState

from bench.common import PROCESS, SOP_FILE, decide, demo_returns, median, ms, percentile, sop_model
from engine.demo import fill


@dataclass
class SpiffResult:
    instances: int
    steps: int
    steps_per_instance: int
    step_ms_median: float
    step_ms_p95: float


def run(instances: int) -> SpiffResult:
    """Each user step: set the form data, run the task, do_engine_steps (the same decisions as engine.demo)."""
    model = sop_model()
    parser = CamundaParser()
    parser.add_bpmn_file(str(SOP_FILE))
    spec, subprocess_specs = parser.get_spec(PROCESS), parser.get_subprocess_specs(PROCESS)
    times: list[float] = []
    per_instance = 0
    for _ in range(instances):
        workflow = BpmnWorkflow(spec, subprocess_specs)
        workflow.do_engine_steps()
        pending, steps = demo_returns(model), 0
        while True:
            ready = [t for t in workflow.tasks.values() if t.state == TaskState.READY and t.task_spec.manual]
            if not ready:
                break
            task = ready[0]
            step = model.steps[task.task_spec.name]
            data = fill(step, decide(step, pending))
            started = time.perf_counter()
            task.set_data(**data)
            task.run()
            workflow.do_engine_steps()
            times.append(time.perf_counter() - started)
            steps += 1
        if not workflow.is_completed():
            raise RuntimeError("bare SpiffWorkflow did not finish the SOP")
        per_instance = steps
    return SpiffResult(instances, len(times), per_instance, ms(median(times)), ms(percentile(times, 95)))
