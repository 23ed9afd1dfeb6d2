"""Wiring: build the services from settings, and initialize a fresh database."""

from __future__ import annotations

from dataclasses import dataclass

from engine import reports
from engine.db import Database
from engine.migrate import upgrade
from engine.services import SYSTEM, Alur
from engine.settings import Settings
from engine.users import create_demo_users


def build(settings: Settings) -> Alur:
    return Alur(Database(settings.database_url), settings)


@dataclass
class InitReport:
    deployed: list[tuple[str, int, bool]]
    demo_users: list[tuple[str, str]]


def init(alur: Alur, demo: bool) -> InitReport:
    """Migrate, deploy the bundled diagrams (no-op when unchanged), optionally add demo users."""
    upgrade(alur.db.url)
    with alur.unit_of_work() as uow:
        reports.rebuild_if_empty(uow.session, alur.calendar(uow.session))
    deployed, users = [], []
    for path in sorted(alur.settings.bpmn_dir.glob("*.bpmn")):
        result = alur.deploy(path.read_bytes(), SYSTEM, path.name)
        deployed.append((result.definition.key, result.definition.version, result.created))
        if demo:
            model = alur.parsed(result.definition).model
            first = model.ordered_steps()[0].lane if model.steps else None
            users += [u for u in create_demo_users(alur, model.lanes, first) if u not in users]
    alur.optimize()
    return InitReport(deployed, users)
