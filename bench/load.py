"""Part 4: concurrent clients drive whole instances through the REST API of a real gunicorn server.

Every client is a thread with its own HTTP connection (http.client: the lightest client,
since it shares the machine's cores with the server). Per step it does what
tests/test_reliability.py's Driver does: GET /instances/<id> for the ready task, POST the
step's required documents, POST /tasks/<id>/complete. Only the completion requests'
latencies are reported; throughput counts successful completions per second of wall time.
Given several servers (on one database), client i talks to server i mod their number.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from bench.common import PROCESS, decide, demo_returns, median, ms, percentile
from bench.server import Endpoint, Server, machine_cpu_seconds
from engine.bootstrap import build
from engine.demo import SAMPLE_PDF, fill
from engine.diagram import SopModel
from engine.settings import Settings
from engine.users import get_user, issue_token, slug


class ApiError(Exception):
    pass


class Http:
    """One client's connection; gunicorn's sync workers close it after each answer, http.client reopens it."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def call(self, method: str, path: str, token: str | None = None, body: bytes | None = None,
             content_type: str = "application/json") -> tuple[int, bytes]:
        headers = {"Content-Type": content_type} if body is not None else {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            self.conn.request(method, f"/api/v1{path}", body=body, headers=headers)
            response = self.conn.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            raise

    def json(self, method: str, path: str, token: str, payload: Any = None, expect: int = 200) -> Any:
        body = None if payload is None else json.dumps(payload).encode()
        status, data = self.call(method, path, token, body)
        if status != expect:
            raise ApiError(f"{method} {path}: {status} {data[:300]!r}")
        return json.loads(data)

    def close(self) -> None:
        self.conn.close()


def multipart(fields: dict[str, str], filename: str, content: bytes, media_type: str) -> tuple[bytes, str]:
    return form_data(list(fields.items()), [("file", filename, content, media_type)])


def form_data(fields: list[tuple[str, str]], files: list[tuple[str, str, bytes, str]]) -> tuple[bytes, str]:
    """A multipart/form-data body: text parts, then (part name, filename, bytes, media type) file parts."""
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields]
    parts += [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
              f"Content-Type: {media_type}\r\n\r\n".encode() + content + b"\r\n"
              for name, filename, content, media_type in files]
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def issue_tokens(url: str, usernames: list[str]) -> dict[str, str]:
    """Bearer tokens issued straight through the service layer (logging in is not what is measured)."""
    alur = build(Settings(database_url=url))
    try:
        return {username: issue_token(alur, get_user(alur, username)) for username in usernames}
    finally:
        alur.db.engine.dispose()


@dataclass
class ClientStats:
    completions: int = 0
    requests: int = 0
    instances_finished: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class Client:
    """Drives instances to their end until the deadline, as the demo user of each lane."""

    def __init__(self, port: int, model: SopModel, lane_tokens: dict[str, str]) -> None:
        self.http = Http(port)
        self.model = model
        self.lane_tokens = lane_tokens
        self.first_lane = model.ordered_steps()[0].lane
        self.stats = ClientStats()

    def _json(self, method: str, path: str, lane: str, payload: Any = None, expect: int = 200) -> Any:
        self.stats.requests += 1
        return self.http.json(method, path, self.lane_tokens[lane], payload, expect)

    def run(self, barrier: threading.Barrier, deadline_box: list[float]) -> None:
        barrier.wait()
        deadline = deadline_box[0]
        try:
            while time.monotonic() < deadline and len(self.stats.errors) < 20:
                try:
                    self._one_instance(deadline)
                except (ApiError, OSError, http.client.HTTPException, ValueError) as exc:
                    self.stats.errors.append(f"{type(exc).__name__}: {exc}")  # and go on with a new instance
        finally:
            self.http.close()

    def _one_instance(self, deadline: float) -> None:
        started = self._json("POST", "/instances", self.first_lane, {"process": PROCESS, "data": {}}, 201)
        instance_id, pending = started["id"], demo_returns(self.model)
        while time.monotonic() < deadline:
            ready = self._json("GET", f"/instances/{instance_id}", self.first_lane)["ready_tasks"]
            if not ready:
                self.stats.instances_finished += 1
                return
            task = ready[0]
            step = self.model.steps[task["spec_id"]]
            decision = decide(step, pending)
            token = self.lane_tokens[step.lane]
            if decision is None:
                for doc_type in step.required_uploads:
                    body, content_type = multipart({"type": doc_type}, f"{doc_type}.pdf", SAMPLE_PDF,
                                                   "application/pdf")
                    self.stats.requests += 1
                    status, data = self.http.call("POST", f"/tasks/{task['id']}/documents", token, body, content_type)
                    if status != 201:
                        raise ApiError(f"upload: {status} {data[:300]!r}")
            payload = json.dumps({"data": fill(step, decision)}).encode()
            self.stats.requests += 1
            t0 = time.perf_counter()
            status, data = self.http.call("POST", f"/tasks/{task['id']}/complete", token, payload)
            elapsed = time.perf_counter() - t0
            if status != 200:
                raise ApiError(f"complete: {status} {data[:300]!r}")
            self.stats.completions += 1
            self.stats.latencies.append(elapsed)


@dataclass
class LoadRun:
    clients: int
    seconds: float
    completions: int
    requests: int
    instances_finished: int
    errors: int
    error_samples: list[str]
    completions_per_s: float
    requests_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    completions_per_server: list[int] = field(default_factory=list)
    machine_cpu_ms_per_completion: float = float("nan")  # every process: server, database, these clients
    server_cpu_ms_per_completion: float = float("nan")  # gunicorn's master and workers (one Server only)


def run(servers: Server | list[Server] | list[Endpoint], model: SopModel, lane_tokens: dict[str, str], clients: int,
        seconds: float) -> LoadRun:
    servers = servers if isinstance(servers, list) else [servers]
    workers = [Client(servers[i % len(servers)].port, model, lane_tokens) for i in range(clients)]
    barrier = threading.Barrier(clients + 1)
    deadline_box = [0.0]
    threads = [threading.Thread(target=w.run, args=(barrier, deadline_box), daemon=True) for w in workers]
    for t in threads:
        t.start()
    one = servers[0] if len(servers) == 1 and isinstance(servers[0], Server) else None
    machine_cpu, server_cpu = machine_cpu_seconds(), one.cpu_seconds() if one else 0.0
    started = time.monotonic()
    deadline_box[0] = started + seconds
    barrier.wait()
    for t in threads:
        t.join(timeout=seconds + 300)
    wall = time.monotonic() - started
    machine_cpu, server_cpu = machine_cpu_seconds() - machine_cpu, (one.cpu_seconds() - server_cpu) if one else 0.0
    latencies = [x for w in workers for x in w.stats.latencies]
    errors = [e for w in workers for e in w.stats.errors]
    errors += ["client thread did not finish"] * sum(t.is_alive() for t in threads)
    completions = sum(w.stats.completions for w in workers)
    requests = sum(w.stats.requests for w in workers)
    return LoadRun(
        clients=clients, seconds=wall, completions=completions, requests=requests,
        instances_finished=sum(w.stats.instances_finished for w in workers), errors=len(errors),
        error_samples=errors[:3], completions_per_s=completions / wall, requests_per_s=requests / wall,
        p50_ms=ms(percentile(latencies, 50)), p95_ms=ms(percentile(latencies, 95)),
        p99_ms=ms(percentile(latencies, 99)),
        completions_per_server=[sum(w.stats.completions for w in workers[i::len(servers)])
                                for i in range(len(servers))],
        machine_cpu_ms_per_completion=ms(machine_cpu / completions) if completions else float("nan"),
        server_cpu_ms_per_completion=ms(server_cpu / completions) if completions and one else float("nan"))


@dataclass
class LoadSummary:
    """Medians over the repeats at one client count."""

    clients: int
    completions_per_s: float
    requests_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    runs: list[LoadRun]
    machine_cpu_ms_per_completion: float = float("nan")
    server_cpu_ms_per_completion: float = float("nan")


def summarize(runs: list[LoadRun]) -> LoadSummary:
    return LoadSummary(
        clients=runs[0].clients,
        completions_per_s=median([r.completions_per_s for r in runs]),
        requests_per_s=median([r.requests_per_s for r in runs]),
        p50_ms=median([r.p50_ms for r in runs]), p95_ms=median([r.p95_ms for r in runs]),
        p99_ms=median([r.p99_ms for r in runs]), errors=sum(r.errors for r in runs), runs=runs,
        machine_cpu_ms_per_completion=median([r.machine_cpu_ms_per_completion for r in runs]),
        server_cpu_ms_per_completion=median([r.server_cpu_ms_per_completion for r in runs]))


def lane_tokens(url: str, model: SopModel) -> dict[str, str]:
    """A bearer token for each lane, issued to the lane's demo user (user name = slug of the lane)."""
    by_user = issue_tokens(url, [slug(lane) for lane in model.lanes])
    return {lane: by_user[slug(lane)] for lane in model.lanes}
