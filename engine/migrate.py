"""Bring a database to the newest schema with Alembic (used by `alur init` and the tests).

Alembic is imported when a migration runs, not by every app worker that imports this module
(about 5 MB of a worker's memory for code it never calls).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(url), "head")
