"""What the tests and the benchmark share: the bundled SOP, databases made for a run, free ports.

A composition helper like engine/bootstrap.py (it builds a whole Alur, handlers included);
the engine's own modules never import it.
"""

from __future__ import annotations

import socket
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from engine.bootstrap import build, init
from engine.diagram import SopModel, parse_diagram
from engine.services import Alur
from engine.settings import ROOT, Settings
from handlers import REGISTRY

PROCESS = "fasilitasi_narasumber"
SOP_FILE = ROOT / "bpmn" / f"{PROCESS}.bpmn"
SECRET_KEY = "uji-rahasia"  # tests and the benchmark never write a key into the checkout


def settings_for(url: str, instance_path: Path | None = None, **overrides: Any) -> Settings:
    """Settings for a test or benchmark database: a fixed secret key, an instance folder outside the checkout."""
    if instance_path is None:
        instance_path = Path(tempfile.gettempdir()) / "alur-test-instance"
    return Settings(database_url=url, instance_path=instance_path, secret_key=SECRET_KEY, **overrides)


def make_alur(url: str, demo: bool = True, **overrides: Any) -> Alur:
    """Migrate, deploy the bundled SOP and (by default) add the demo users, as `alur init --demo` does."""
    alur = build(settings_for(url, **overrides))
    init(alur, demo)
    return alur


def sop_model() -> SopModel:
    return parse_diagram(SOP_FILE.read_bytes(), REGISTRY).model


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def pg_database(server_url: str, prefix: str) -> Iterator[str]:
    """A brand-new PostgreSQL database `<prefix>_<random>` on the server, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
