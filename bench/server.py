"""The production server (gunicorn, sync workers) on loopback, and its workers' memory."""

from __future__ import annotations

import http.client
import os
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


@dataclass
class Server:
    """`gunicorn --workers N --bind 127.0.0.1:PORT api.wsgi:app` with DATABASE_URL, as in production."""

    database_url: str
    workers: int
    log: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        env = {**os.environ, "DATABASE_URL": self.database_url, "ALUR_SECRET_KEY": SECRET_KEY}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(GUNICORN), "--workers", str(self.workers), "--bind", f"127.0.0.1:{self.port}",
                 "--timeout", "120", "api.wsgi:app"],
                cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}; see {self.log}")
            if self._answers() and len(self.worker_pids()) == self.workers:
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gunicorn did not start within 60 s; see {self.log}")

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _answers(self) -> bool:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request("GET", "/api/v1/openapi.json")
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()

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
