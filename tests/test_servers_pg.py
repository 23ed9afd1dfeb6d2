"""Two app servers on one PostgreSQL database, as two hosts would run them: the promises still hold.

Each server is the production command (gunicorn, its own workers and scheduler) on its own port;
clients are spread over both. The scenarios are those of tests/test_reliability.py (one server,
SQLite), plus what a per-process cache must not hide (a revoked token, a disabled account);
the scheduler's leases across processes are in tests/test_scheduler_pg.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from engine.testing import make_alur
from tests.livesrv import Client, LiveServer
from tests.test_reliability import (
    parallel_branches_completed_at_once,
    twenty_clients_complete_the_same_task,
    twenty_letters_numbered_at_once,
)


@pytest.fixture
def pg_servers(pg_url: str) -> Iterator[list[LiveServer]]:
    """Two gunicorn servers (two workers each) on one fresh PostgreSQL database with the SOP and demo users."""
    make_alur(pg_url).db.engine.dispose()
    servers: list[LiveServer] = []
    try:
        for _ in range(2):
            servers.append(LiveServer(pg_url, workers=2).start())
        assert servers[0].port != servers[1].port
        yield servers
    finally:
        for server in servers:
            server.kill()
    for server in servers:
        assert not server.tracebacks(), server.tracebacks()


def test_twenty_clients_on_two_servers_complete_the_same_task_exactly_one_wins(
        pg_servers: list[LiveServer], pg_url: str) -> None:
    twenty_clients_complete_the_same_task(pg_servers, pg_url)


def test_letters_completed_on_two_servers_at_once_are_numbered_without_gap_or_duplicate(
        pg_servers: list[LiveServer], pg_url: str) -> None:
    twenty_letters_numbered_at_once(pg_servers, pg_url)


def test_parallel_branches_completed_on_two_servers_at_once_keep_both(
        pg_servers: list[LiveServer], pg_url: str) -> None:
    parallel_branches_completed_at_once(pg_servers, pg_url)


def test_a_token_revoked_or_a_user_disabled_on_one_server_is_refused_on_the_other(
        pg_servers: list[LiveServer]) -> None:
    """Tokens and accounts live in the database: what one server revokes, the other refuses at once."""
    first, other = pg_servers
    pemohon, sekda = Client(other, "pemohon"), Client(other, "sekda")
    assert pemohon.get("/tasks").status_code == 200 and sekda.get("/tasks").status_code == 200
    token = pemohon.http.headers["Authorization"]
    revoked = requests.post(f"{first.url}/api/v1/auth/revoke", headers={"Authorization": token}, timeout=60)
    assert revoked.status_code == 204, revoked.text
    assert all(pemohon.get("/tasks").status_code == 401 for _ in range(4))  # whichever worker answers
    disabled = Client(first, "admin").http.patch(f"{first.url}/api/v1/users/sekda", json={"active": False},
                                                 timeout=60)
    assert disabled.status_code == 200, disabled.text
    assert all(sekda.get("/tasks").status_code == 401 for _ in range(4))
