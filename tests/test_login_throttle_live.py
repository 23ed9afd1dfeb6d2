"""Login throttling on the real multi-process server, from several loopback addresses.

127.0.0.2, 127.0.0.3 ... all reach a server bound to 127.0.0.1, so one machine plays an
attacker elsewhere and the real user at their desk.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from engine.users import DEMO_PASSWORD, MAX_FAILURES
from tests.conftest import make_alur
from tests.livesrv import LiveServer
from tests.test_concurrency import run_together


class FromAddress(HTTPAdapter):
    """Connections that leave from a chosen local address."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def session_from(address: str) -> requests.Session:
    http = requests.Session()
    http.mount("http://", FromAddress(address))
    return http


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    make_alur(db_url).db.engine.dispose()
    live = LiveServer(db_url, log=tmp_path / "server.log").start()
    yield live
    live.kill()
    assert not live.tracebacks(), live.tracebacks()


def token(http: requests.Session, server: LiveServer, password: str) -> requests.Response:
    return http.post(f"{server.url}/api/v1/auth/token", json={"username": "sekda", "password": password},
                     timeout=60)


def ui_login(http: requests.Session, server: LiveServer) -> requests.Response:
    form = http.get(f"{server.url}/login", timeout=60).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert csrf, form
    return http.post(f"{server.url}/login", data={"username": "sekda", "password": DEMO_PASSWORD,
                                                  "csrf_token": csrf.group(1)}, allow_redirects=False, timeout=60)


def test_forty_parallel_guesses_get_at_most_the_limit_through(server: LiveServer) -> None:
    attacker = [session_from("127.0.0.2") for _ in range(40)]
    responses = run_together([lambda h=h: token(h, server, "tebakan-salah") for h in attacker])
    statuses = [r.status_code for r in responses]
    assert statuses.count(401) <= MAX_FAILURES, statuses
    assert statuses.count(401) + statuses.count(429) == 40, statuses
    assert token(session_from("127.0.0.2"), server, DEMO_PASSWORD).status_code == 429


def test_an_attacker_elsewhere_does_not_lock_out_the_user_at_their_desk(server: LiveServer) -> None:
    attacker, desk = session_from("127.0.0.2"), session_from("127.0.0.3")
    for _ in range(MAX_FAILURES):
        assert token(attacker, server, "tebakan-salah").status_code == 401
    assert token(attacker, server, DEMO_PASSWORD).status_code == 429
    assert token(desk, server, DEMO_PASSWORD).status_code == 200
    assert ui_login(attacker, server).status_code == 429
    assert ui_login(desk, server).status_code == 302
    spoofed = session_from("127.0.0.2")
    spoofed.headers["X-Forwarded-For"] = "127.0.0.3"  # no trusted proxy configured: not believed
    assert token(spoofed, server, DEMO_PASSWORD).status_code == 429
