"""Two app servers on one PostgreSQL database, as two hosts would run them: the promises still hold.

Each server is the production command (gunicorn, its own workers and scheduler) on its own port;
clients are spread over both. The scenarios are those of tests/test_reliability.py (one server,
SQLite); the scheduler's leases across processes are in tests/test_scheduler_pg.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.testing import make_alur
from tests.livesrv import LiveServer
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
