"""Wiring: build the services from settings and the handler registry, and initialize a database.

The only place that puts engine and handlers together (the engine never imports handlers).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine import reports
from engine.actors import SYSTEM
from engine.db import Database
from engine.diagram import parse_diagram
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
    """Migrate, deploy each bundled diagram whose process has no version yet, optionally add demo users.

    A process that has versions is left alone: a process owner's revision is replaced only by an
    explicit `alur deploy`, never by a restart.
    """
    upgrade(alur.db.url)
    alur.backfill_working_time()  # rows from before working time was recorded (a no-op afterwards)
    with alur.unit_of_work() as uow:  # the report rollups of an upgraded database (a no-op afterwards)
        reports.rebuild_if_empty(uow.session, alur.calendar(uow.session))
    deployed, users = [], []
    existing = {d.key: d for d in alur.definitions()}  # ordered by version: the newest wins
    for path in sorted(alur.settings.bpmn_dir.glob("*.bpmn")):
        xml = path.read_bytes()
        definition = existing.get(parse_diagram(xml, REGISTRY, path.name).model.key)
        created = definition is None
        if definition is None:
            definition = alur.deploy(xml, SYSTEM, path.name).definition
        deployed.append((definition.key, definition.version, created))
        if demo:
            model = alur.parsed(definition).model
            first = alur.first_step(definition)
            users += [u for u in create_demo_users(alur, model.lanes, first.lane if first else None)
                      if u not in users]
    alur.optimize()
    return InitReport(deployed, users)
