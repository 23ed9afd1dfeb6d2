"""The production server (gunicorn, sync workers) on loopback, and its workers' memory."""

from __future__ import annotations

import http.client
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from engine.settings import ROOT
from engine.testing import SECRET_KEY, free_port

GUNICORN = Path(sys.executable).with_name("gunicorn")


def default_workers() -> int:
    return 2 * (os.cpu_count() or 1) + 1


def gunicorn(workers: int, port: int) -> list[str]:
    return [str(GUNICORN), "--workers", str(workers), "--bind", f"127.0.0.1:{port}", "--timeout", "120",
            "api.wsgi:app"]


def answers(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/api/v1/openapi.json")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def server_env(database_url: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": database_url, "ALUR_SECRET_KEY": SECRET_KEY}


@dataclass
class Server:
    """`gunicorn --workers N --bind 127.0.0.1:PORT api.wsgi:app` with DATABASE_URL, as in production."""

    database_url: str
    workers: int
    log: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(gunicorn(self.workers, self.port), cwd=ROOT,
                                            env=server_env(self.database_url), stdout=log, stderr=log,
                                            start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}; see {self.log}")
            if answers(self.port) and len(self.worker_pids()) == self.workers:
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gunicorn did not start within 60 s; see {self.log}")

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        self.process = None

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        master = self.process.pid
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == master:
                pids.append(int(entry.name))
        return sorted(pids)

    def cpu_seconds(self) -> float:
        """CPU time of the master and its workers so far."""
        return process_cpu_seconds(([self.process.pid] if self.process else []) + self.worker_pids())

    def worker_memory(self) -> dict[int, tuple[int, int]]:
        """pid -> (VmRSS, VmHWM) in bytes for every worker."""
        result = {}
        for pid in self.worker_pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            values = {}
            for line in status.splitlines():
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    values[key] = int(rest.split()[0]) * 1024
            result[pid] = (values.get("VmRSS", 0), values.get("VmHWM", 0))
        return result


def process_cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far (a process that has gone counts nothing)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> float:
    """CPU time the whole machine has been busy (every core; /proc/stat minus idle and iowait)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


@dataclass
class Endpoint:
    """One of the servers of a `ServerGroup`: where its clients connect."""

    port: int
    workers: int


@dataclass
class ServerGroup:
    """Several gunicorns (each its own master, workers and port, as separate hosts would run them) on one database.

    They are started by one shell in one new session, as one `Server` is: Linux (autogroup) shares
    the CPU between sessions, so two sessions would get two shares of a busy machine and the
    comparison with one server would measure the scheduler, not the deployment.
    """

    database_url: str
    workers: list[int]
    log: Path
    endpoints: list[Endpoint] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ServerGroup:
        self.endpoints = [Endpoint(free_port(), n) for n in self.workers]
        # the shell ignores SIGTERM and waits, so that it reaps the masters once they have shut down
        script = "trap '' TERM; " + " ".join(f"{shlex.join(gunicorn(e.workers, e.port))} &"
                                             for e in self.endpoints) + " wait"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(["/bin/sh", "-c", script], cwd=ROOT, env=server_env(self.database_url),
                                            stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"a gunicorn of the group exited; see {self.log}")
            if all(answers(e.port) for e in self.endpoints):
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the servers did not start within 60 s; see {self.log}")

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """SIGTERM to the process group (the shell ignores it and waits for the masters); SIGKILL after 30 s."""
        if self.process is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.process.pid, sig)
                self.process.wait(timeout=30)
                break
            except subprocess.TimeoutExpired:
                continue
            except ProcessLookupError:
                break
        self.process = None
