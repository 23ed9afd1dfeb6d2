"""Part 3 over HTTP: the flatness row's return loop (step 7 back to step 6, over and over), driven
through the REST API of a gunicorn server as a client would drive it.

A step is what a client does for it: GET /instances/<id> (which task is ready), GET /tasks/<id>
(its form), POST /tasks/<id>/complete (step 6 sends its new draft in the same multipart request).
The three requests are timed together; what grows with the history shows up here.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from bench.common import PROCESS, median, ms
from bench.load import ApiError, Http, form_data, lane_tokens
from bench.server import Server
from engine import decisions
from engine.demo import SAMPLE_PDF, fill
from engine.diagram import SopModel, Step


@dataclass
class HttpFlatnessResult:
    window_steps: int
    step_ms_median: dict[int, float] = field(default_factory=dict)  # returns made before the window -> ms
    bytes_median: dict[int, float] = field(default_factory=dict)  # bytes a client reads per step

    @property
    def ratio(self) -> float:
        first, last = min(self.step_ms_median), max(self.step_ms_median)
        return self.step_ms_median[last] / self.step_ms_median[first]


class Client:
    """One client on one connection, as the demo user of each lane."""

    def __init__(self, server: Server, model: SopModel, tokens: dict[str, str]) -> None:
        self.http, self.model, self.tokens = Http(server.port), model, tokens
        self.first_lane = model.ordered_steps()[0].lane
        self.read = 0

    def get(self, path: str, lane: str) -> Any:
        status, body = self.http.call("GET", path, self.tokens[lane])
        if status != 200:
            raise ApiError(f"GET {path}: {status} {body[:300]!r}")
        self.read += len(body)
        return json.loads(body)

    def start(self) -> int:
        started = self.http.json("POST", "/instances", self.tokens[self.first_lane],
                                 {"process": PROCESS, "data": {}}, 201)
        return int(started["id"])

    def step(self, instance_id: int, decision: str | None) -> tuple[int | None, float, int]:
        """One step as a client does it: (its SOP step number, seconds, bytes read)."""
        self.read = 0
        started = time.perf_counter()
        ready = self.get(f"/instances/{instance_id}", self.first_lane)["ready_tasks"][0]
        step: Step = self.model.steps[ready["spec_id"]]
        task = self.get(ready["url"].removeprefix("/api/v1"), step.lane)
        data = fill(step, decision)
        if decision is None and task["missing_uploads"]:
            uploads = task["missing_uploads"]
            body, content_type = form_data([("data", json.dumps(data)), *(("type", t) for t in uploads)],
                                           [("file", f"{t}.pdf", SAMPLE_PDF, "application/pdf") for t in uploads])
        else:
            body, content_type = json.dumps({"data": data}).encode(), "application/json"
        status, answer = self.http.call("POST", f"/tasks/{ready['id']}/complete", self.tokens[step.lane], body,
                                        content_type)
        elapsed = time.perf_counter() - started
        if status != 200:
            raise ApiError(f"complete: {status} {answer[:300]!r}")
        return step.step_no, elapsed, self.read + len(answer)


def run(server: Server, url: str, model: SopModel, checkpoints: tuple[int, ...], window: int) -> HttpFlatnessResult:
    """Returns at step 7 back to step 6; `window` return cycles (two steps each) are timed at each checkpoint."""
    client = Client(server, model, lane_tokens(url, model))
    try:
        instance_id = client.start()
        for _ in range(20):
            if client.get(f"/instances/{instance_id}", client.first_lane)["ready_tasks"][0]["step_no"] == 7:
                break
            client.step(instance_id, None)
        result = HttpFlatnessResult(window_steps=2 * window)
        returns = 0

        def cycle() -> list[tuple[float, int]]:
            nonlocal returns
            seven, back, back_bytes = client.step(instance_id, decisions.RETURN)
            returns += 1
            six, again, again_bytes = client.step(instance_id, None)
            if (seven, six) != (7, 6):
                raise RuntimeError(f"the loop went through steps {seven} and {six}, not 7 and 6")
            return [(back, back_bytes), (again, again_bytes)]

        for checkpoint in sorted(checkpoints):
            while returns < checkpoint:
                cycle()
            timed = [one for _ in range(window) for one in cycle()]
            result.step_ms_median[checkpoint] = ms(median([t for t, _ in timed]))
            result.bytes_median[checkpoint] = median([float(b) for _, b in timed])
        return result
    finally:
        client.http.close()
