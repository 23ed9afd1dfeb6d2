"""Wiring: build the services from settings and the handler registry, and initialize a database.

The only place that puts engine and handlers together (the engine never imports handlers).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine import reports
from engine.actors import SYSTEM
from engine.db import Database
from engine.migrate import upgrade
from engine.services import Alur
from engine.settings import Settings
from engine.users import create_demo_users
from handlers import REGISTRY


def build(settings: Settings) -> Alur:
    return Alur(Database(settings.database_url), settings, REGISTRY)


@dataclass
class InitReport:
    deployed: list[tuple[str, int, bool]]
    demo_users: list[tuple[str, str]]


def init(alur: Alur, demo: bool) -> InitReport:
    """Migrate, deploy the bundled diagrams (no-op when unchanged), optionally add demo users."""
    upgrade(alur.db.url)
    alur.backfill_working_time()  # rows from before working time was recorded (a no-op afterwards)
    with alur.unit_of_work() as uow:  # the report rollups of an upgraded database (a no-op afterwards)
        reports.rebuild_if_empty(uow.session, alur.calendar(uow.session))
    deployed, users = [], []
    for path in sorted(alur.settings.bpmn_dir.glob("*.bpmn")):
        result = alur.deploy(path.read_bytes(), SYSTEM, path.name)
        deployed.append((result.definition.key, result.definition.version, result.created))
        if demo:
            model = alur.parsed(result.definition).model
            first = alur.first_step(result.definition)
            users += [u for u in create_demo_users(alur, model.lanes, first.lane if first else None)
                      if u not in users]
    alur.optimize()
    return InitReport(deployed, users)
