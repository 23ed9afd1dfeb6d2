"""Shared fixtures: a real SQLite file per test, the bundled SOP deployed, demo users, the Flask app.

PostgreSQL tests use a fresh database on the local server (ALUR_TEST_PG_URL, default
postgresql+psycopg://postgres@127.0.0.1:5432/test); they fail, never skip, if it is down.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from api import create_app
from engine.actors import SYSTEM
from engine.bootstrap import build, init
from engine.demo import SAMPLE_PDF
from engine.services import Alur
from engine.settings import ROOT, Settings

PROCESS = "fasilitasi_narasumber"
SOP_FILE = ROOT / "bpmn" / "fasilitasi_narasumber.bpmn"
PDF = SAMPLE_PDF


def make_alur(url: str, demo: bool = True) -> Alur:
    alur = build(Settings(database_url=url))
    init(alur, demo)
    return alur


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
    name = f"alur_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def app(alur: Alur) -> Flask:
    return create_app(alur.settings, alur, TESTING=True, WTF_CSRF_ENABLED=False)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def ready(alur: Alur, instance_id: int) -> list:
    return alur.instance(instance_id, SYSTEM).ready
