"""The service layer's front door: `Alur` wires the database, settings, spec cache and handlers.

Entry points (HTTP, CLI) call its methods and render what comes back. The work is done
in engine/commands.py (writes, each one unit of work from engine/uow.py) and
engine/queries.py (the read models shared by UI, API and CLI); this class only delegates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from engine import generated, initials, owner, signing, speakers
from engine.actors import Actor, Filters, Upload
from engine.clock import utcnow
from engine.commands import Commands, DeployResult
from engine.db import Database
from engine.diagram import ParsedDiagram, Step
from engine.diff import VersionDiff
from engine.hooks import Registry
from engine.models import (
    AuditEvent,
    Document,
    DocumentTemplate,
    DocumentVersion,
    Engagement,
    Instance,
    LetterRegisterEntry,
    LetterVerification,
    ProcessDefinition,
    Speaker,
    TaskRecord,
)
from engine.office import DayEntry, Office
from engine.owner import BulkMigration, MigrationCheck, MigrationResult, Validation, VersionSummary
from engine.queries import HISTORY_PAGE, HistoryPage, InstanceDetail, InstanceRows, Queries, TaskDetail
from engine.settings import Settings
from engine.specs import SpecCache
from engine.uow import UnitOfWork, unit_of_work
from engine.worktime import OfficeCalendar


class Alur:
    """The application's services over one database, with the handlers the diagrams may name."""

    def __init__(self, db: Database, settings: Settings, handlers: Registry) -> None:
        self.db, self.settings, self.handlers = db, settings, handlers
        self.specs = SpecCache(db, handlers.keys())
        self.office = Office(db, settings)
        self.commands = Commands(db, settings, self.specs, handlers, self.office)
        self.queries = Queries(db, settings, self.specs, self.office)

    @contextmanager
    def unit_of_work(self, write: bool = True) -> Iterator[UnitOfWork]:
        """A transaction for the other services of the engine (users, demo)."""
        with unit_of_work(self.db, write) as uow:
            yield uow

    # ---- commands ------------------------------------------------------------------------

    def deploy(self, xml: bytes, actor: Actor, filename: str = "diagram.bpmn") -> DeployResult:
        return self.commands.deploy(xml, actor, filename)

    def start(self, process_key: str, actor: Actor, data: Mapping[str, Any] | None = None,
              uploads: Sequence[Upload] = (), complete_first: bool = False,
              first_data: Mapping[str, Any] | None = None) -> int:
        return self.commands.start(process_key, actor, data, uploads, complete_first, first_data)

    def complete(self, task_id: str, actor: Actor, data: Mapping[str, Any], uploads: Sequence[Upload] = ()) -> int:
        return self.commands.complete(task_id, actor, data, uploads)

    def complete_step(self, task_id: str, actor: Actor, data: Mapping[str, Any],
                      uploads: Sequence[Upload] = ()) -> tuple[Instance, list[TaskRecord]]:
        """`complete`, with the request's row and ready tasks as the step left them (no second read)."""
        return self.commands.complete_step(task_id, actor, data, uploads)

    def attach_document(self, task_id: str, actor: Actor, upload: Upload) -> DocumentVersion:
        return self.commands.attach(task_id, actor, upload)

    def cancel(self, instance_id: int, actor: Actor, reason: str = "") -> None:
        self.commands.cancel(instance_id, actor, reason)

    def optimize(self) -> None:
        self.commands.optimize()

    # ---- working time: the office calendar -------------------------------------------------

    def calendar(self, session: Session | None = None) -> OfficeCalendar:
        """The office calendar (hours, national holidays, the admin's changes), cached per process."""
        return self.office.calendar(session)

    def calendar_days(self, year: int) -> list[DayEntry]:
        return self.office.days(year)

    def add_holiday(self, day: date, name: str, actor: Actor) -> None:
        self.office.add_holiday(day, name, actor)

    def work_on_holiday(self, day: date, actor: Actor) -> None:
        self.office.work_on_holiday(day, actor)

    def remove_calendar_change(self, day: date, actor: Actor) -> None:
        self.office.remove_change(day, actor)

    def backfill_working_time(self) -> int:
        return self.office.backfill()

    # ---- queries -------------------------------------------------------------------------

    def definitions(self) -> list[ProcessDefinition]:
        return self.queries.definitions()

    def latest_definitions(self) -> list[ProcessDefinition]:
        return self.queries.latest_definitions()

    def definition(self, key: str, version: int | None = None) -> ProcessDefinition:
        return self.queries.definition(key, version)

    def first_step(self, definition: ProcessDefinition) -> Step | None:
        return self.queries.first_step(definition)

    def startable(self, actor: Actor) -> list[ProcessDefinition]:
        return self.queries.startable(actor)

    def parsed(self, definition: ProcessDefinition) -> ParsedDiagram:
        return self.specs.get(definition)

    def diagram_xml(self, definition: ProcessDefinition) -> str:
        """The BPMN XML of a process version, as deployed."""
        return self.specs.xml(definition)

    def ready_tasks(self, actor: Actor, lane: str | None = None, limit: int = 500) -> list[TaskRecord]:
        return self.queries.ready_tasks(actor, lane, limit)

    def task(self, task_id: str, actor: Actor) -> TaskDetail:
        return self.queries.task(task_id, actor)

    def instance(self, instance_id: int, actor: Actor, recent: int | None = None, before: int | None = None,
                 steps: bool = False) -> InstanceDetail:
        return self.queries.instance(instance_id, actor, recent, before, steps)

    def instance_rows(self, instance_id: int, actor: Actor, recent: int) -> InstanceRows:
        return self.queries.instance_rows(instance_id, actor, recent)

    def history(self, instance_id: int, actor: Actor, after: int | None = None, before: int | None = None,
                limit: int = HISTORY_PAGE) -> HistoryPage:
        return self.queries.history(instance_id, actor, after, before, limit)

    def document_versions(self, instance_id: int, actor: Actor, doc_type: str) -> Document:
        return self.queries.document_versions(instance_id, actor, doc_type)

    def progress(self, instance_id: int, actor: Actor) -> tuple[Instance, list[TaskRecord]]:
        return self.queries.progress(instance_id, actor)

    def instances(self, actor: Actor, filters: Filters) -> list[Row[Any]]:
        return self.queries.instances(actor, filters)

    def ready_of(self, instance_ids: Sequence[int]) -> dict[int, list[Row[Any]]]:
        return self.queries.ready_of(instance_ids)

    def document(self, version_id: int, actor: Actor) -> tuple[DocumentVersion, bytes]:
        return self.queries.document(version_id, actor)

    def register(self, actor: Actor, year: int | None = None) -> list[LetterRegisterEntry]:
        return self.queries.register(actor, year)

    def verify(self, instance_id: int) -> list[str]:
        return self.queries.verify(instance_id)

    def audit_log(self, instance_id: int) -> list[AuditEvent]:
        return self.queries.audit_log(instance_id)

    # ---- speakers and their calendar (engine/speakers.py) ----------------------------------

    def speaker_list(self, active_only: bool = False) -> list[Speaker]:
        with unit_of_work(self.db, write=False) as uow:
            return speakers.list_speakers(uow.session, active_only)

    def speaker(self, speaker_id: int) -> Speaker:
        with unit_of_work(self.db, write=False) as uow:
            return speakers.speaker(uow.session, speaker_id)

    def save_speaker(self, actor: Actor, values: Mapping[str, Any], speaker_id: int | None = None) -> Speaker:
        with unit_of_work(self.db) as uow:
            return speakers.save_speaker(uow, actor, values, utcnow(), speaker_id)

    def speaker_calendar(self, speaker_id: int, first: dt.date | None = None, last: dt.date | None = None,
                         include_released: bool = False) -> list[Engagement]:
        with unit_of_work(self.db, write=False) as uow:
            return speakers.calendar(uow.session, speaker_id, first, last, include_released)

    def add_engagement(self, actor: Actor, speaker_id: int, values: Mapping[str, Any]) -> Engagement:
        with unit_of_work(self.db) as uow:
            return speakers.add_entry(uow, actor, speaker_id, values, utcnow())

    def remove_engagement(self, actor: Actor, speaker_id: int, entry_id: int, reason: str = "") -> Engagement:
        with unit_of_work(self.db) as uow:
            return speakers.remove_entry(uow, actor, speaker_id, entry_id, utcnow(), reason)

    def schedules(self, instance: Instance) -> list[speakers.SpeakerSchedule]:
        """The requested/assigned speaker's calendar around an (already readable) request's date."""
        with unit_of_work(self.db, write=False) as uow:
            model = self.specs.get(instance.definition).model
            return speakers.schedules(uow.session, model, instance.data, instance.id)

    # ---- the process owner's desk (engine/owner.py, engine/diff.py) ----------------------

    def validate(self, xml: bytes, filename: str = "diagram.bpmn", actor: Actor | None = None) -> Validation:
        """A dry run of deploy: errors and warnings, nothing stored."""
        return owner.validate(self, xml, filename, actor)

    def versions(self, key: str, actor: Actor | None = None) -> list[VersionSummary]:
        return owner.versions(self, key, actor)

    def diff(self, key: str, from_version: int, to_version: int, actor: Actor | None = None) -> VersionDiff:
        return owner.diff(self, key, from_version, to_version, actor)

    def migrate(self, instance_id: int, to_version: int, actor: Actor,
                mapping: Mapping[str, str] | None = None) -> MigrationResult:
        return owner.migrate(self, instance_id, to_version, actor, mapping)

    def plan_migration(self, key: str, from_version: int, to_version: int,
                       mapping: Mapping[str, str] | None = None, actor: Actor | None = None) -> list[MigrationCheck]:
        return owner.plan_migration(self, key, from_version, to_version, mapping, actor)

    def migrate_all(self, key: str, from_version: int, to_version: int, actor: Actor,
                    mapping: Mapping[str, str] | None = None) -> BulkMigration:
        return owner.migrate_all(self, key, from_version, to_version, actor, mapping)

    # ---- generated documents (engine/generated.py) --------------------------------------------

    def generate_document(self, task_id: str, actor: Actor, doc_type: str) -> DocumentVersion:
        return self.commands.generate(task_id, actor, doc_type)

    def template_names(self, process_key: str) -> list[str]:
        """Templates the newest version of a process names (task property `templat`)."""
        return generated.template_names(self.specs.get(self.definition(process_key)).model)

    def templates(self, process_key: str) -> list[DocumentTemplate]:
        """Every stored version of the process's templates, newest first per name."""
        with unit_of_work(self.db, write=False) as uow:
            return generated.versions(uow.session, process_key)

    def template_content(self, process_key: str, name: str) -> tuple[bytes, int]:
        """The template in use (version 0 = the bundled default)."""
        with unit_of_work(self.db, write=False) as uow:
            return generated.current(uow.session, process_key, name)

    def replace_template(self, actor: Actor, process_key: str, name: str, content: bytes, filename: str = "",
                         note: str = "") -> DocumentTemplate:
        model = self.specs.get(self.definition(process_key)).model
        with unit_of_work(self.db) as uow:
            return generated.replace(uow, actor, model, name, content, filename, note, utcnow(),
                                     self.settings.timezone)

    def initials(self, instance_id: int, actor: Actor) -> list[initials.Initial]:
        """The paraf recorded on a request's documents (engine/initials.py), oldest first."""
        self.queries.progress(instance_id, actor)  # may the actor read it at all (404 otherwise)
        with unit_of_work(self.db, write=False) as uow:
            return initials.of_instance(uow.session, instance_id)

    def verification(self, code: str) -> LetterVerification:
        """What a letter's verification code proves (public: the code is printed on the letter)."""
        with unit_of_work(self.db, write=False) as uow:
            return signing.verification(uow, code)
