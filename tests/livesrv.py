"""A real multi-process server (the production gunicorn command) on loopback, and an HTTP client."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from engine.settings import ROOT
from engine.testing import SECRET_KEY, free_port

GUNICORN = Path(sys.executable).with_name("gunicorn")


@dataclass
class LiveServer:
    database_url: str
    workers: int = 3
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log: Path = field(default_factory=lambda: Path(tempfile.mkstemp(prefix="alur-server-", suffix=".log")[1]))
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        env = {**os.environ, "DATABASE_URL": self.database_url, "ALUR_SECRET_KEY": SECRET_KEY, **self.env}
        with open(self.log, "ab") as out:  # the server keeps its own copy of the file
            self.process = subprocess.Popen(
                [str(GUNICORN), "--workers", str(self.workers), "--bind", f"127.0.0.1:{self.port}",
                 "--timeout", "60", "api.wsgi:app"],
                cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/api/v1/openapi.json", timeout=10).status_code == 200:
                    return self
            except requests.RequestException:
                time.sleep(0.2)
        self.kill()
        raise RuntimeError("server did not start within 60 s")

    def tracebacks(self) -> str:
        """The server's log when it holds a Python traceback (an unexpected error), else ''."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return text[-5000:] if "Traceback" in text else ""

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=30)
        self.process = None


class Client:
    """One API user with a bearer token."""

    def __init__(self, server: LiveServer, username: str, password: str = "alur-demo") -> None:
        self.base = f"{server.url}/api/v1"
        self.http = requests.Session()
        r = self.http.post(f"{self.base}/auth/token", json={"username": username, "password": password}, timeout=30)
        r.raise_for_status()
        self.http.headers["Authorization"] = f"Bearer {r.json()['token']}"

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.http.get(self.base + path, timeout=60, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        return self.http.post(self.base + path, timeout=60, **kw)
