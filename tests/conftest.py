"""Shared fixtures: a real SQLite file per test, the bundled SOP deployed, demo users, the Flask app.

PostgreSQL tests use a fresh database on the local server (ALUR_TEST_PG_URL, default
postgresql+psycopg://postgres@127.0.0.1:5432/test); they fail, never skip, if it is down.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from api import create_app
from engine.actors import SYSTEM
from engine.demo import SAMPLE_PDF
from engine.services import Alur
from engine.testing import PROCESS, SOP_FILE, make_alur, pg_database

__all__ = ["PDF", "PROCESS", "SOP_FILE", "make_alur", "ready"]

PDF = SAMPLE_PDF

# Markers by what a test uses (see pyproject.toml); `make test-fast` leaves these out.
SLOW_FILES = {"test_reliability.py", "test_fuzz.py", "test_bench.py", "test_bpmnlint.py"}
SLOW_FIXTURES = {"server", "pg_servers"}  # live gunicorn servers
BROWSER_FIXTURES = {"browser"}  # Playwright and Chromium

# Debian's chromium, as Playwright cannot download its own browsers here.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if any(f.startswith("pg_") for f in fixtures):
            item.add_marker(pytest.mark.postgres)
        if fixtures & BROWSER_FIXTURES:
            item.add_marker(pytest.mark.browser)
        if item.path.name in SLOW_FILES or fixtures & SLOW_FIXTURES:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated database with the SOP and demo users, made once; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "alur.sqlite"
    make_alur(f"sqlite:///{path}").db.engine.dispose()
    return path


@pytest.fixture
def db_url(tmp_path: Path, template_db: Path) -> str:
    path = tmp_path / "alur.sqlite"
    shutil.copyfile(template_db, path)
    return f"sqlite:///{path}"


@pytest.fixture
def alur(db_url: str) -> Iterator[Alur]:
    a = make_alur(db_url)
    yield a
    a.db.engine.dispose()


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    return os.environ.get("ALUR_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture
def pg_url(pg_server_url: str) -> Iterator[str]:
    """A brand-new PostgreSQL database for one test, dropped afterwards."""
    with pg_database(pg_server_url, "alur_test") as url:
        yield url


@pytest.fixture
def pg_alur(pg_url: str) -> Iterator[Alur]:
    """The service layer on a brand-new PostgreSQL database (the twin of `alur` for a test's PostgreSQL run)."""
    a = make_alur(pg_url)
    yield a
    a.db.engine.dispose()


@pytest.fixture
def app(alur: Alur) -> Flask:
    return create_app(alur.settings, alur, TESTING=True, WTF_CSRF_ENABLED=False)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def ready(alur: Alur, instance_id: int) -> list:
    return alur.instance(instance_id, SYSTEM).ready


# ---- browser tests: the real app (CSRF on) served on 127.0.0.1, and Debian's chromium ------------


@contextmanager
def serving(alur: Alur) -> Iterator[str]:
    """The app of `alur` under werkzeug on a free port of 127.0.0.1; yields its base URL."""
    app = create_app(alur.settings, alur, WTF_CSRF_ENABLED=True)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[str, Alur]]:
    """A served app on its own database with the SOP and the demo users: (base URL, Alur)."""
    alur = make_alur(f"sqlite:///{tmp_path / 'alur.sqlite'}")
    try:
        with serving(alur) as url:
            yield url, alur
    finally:
        alur.db.engine.dispose()


@pytest.fixture
def live_server(live: tuple[str, Alur]) -> str:
    return live[0]


@pytest.fixture
def browser() -> Iterator[Any]:
    """Chromium through Playwright; a missing /usr/bin/chromium fails the test (never skips)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} tidak ada: pasang dengan `apt-get install -y chromium` (tes browser wajib jalan)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
