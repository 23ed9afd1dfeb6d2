"""Parsed specs cached per process version: parsed once per process, never stored per instance.

The diagram's XML is deferred on `ProcessDefinition` (reading an instance must not drag
47 KB along); the cache reads it by id the first time a version is needed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from sqlalchemy import select

from engine.db import Database
from engine.diagram import ParsedDiagram, parse_diagram
from engine.models import ProcessDefinition


class SpecCache:
    def __init__(self, db: Database, handler_names: Iterable[str]) -> None:
        self.db = db
        self.handler_names = frozenset(handler_names)
        self._parsed: dict[int, ParsedDiagram] = {}
        self._xml: dict[int, str] = {}
        self._lock = threading.Lock()

    def xml(self, definition: ProcessDefinition) -> str:
        text = self._xml.get(definition.id)
        if text is None:
            session = self.db.session(write=False)
            try:
                text = session.scalars(select(ProcessDefinition.bpmn_xml)
                                       .where(ProcessDefinition.id == definition.id)).one()
            finally:
                self.db.release(session)
            self._xml[definition.id] = text
        return text

    def cached(self, definition_id: int) -> ParsedDiagram | None:
        """The parsed version if this process has parsed it already (no read)."""
        return self._parsed.get(definition_id)

    def get(self, definition: ProcessDefinition) -> ParsedDiagram:
        parsed = self._parsed.get(definition.id)
        if parsed is None:
            with self._lock:
                parsed = self._parsed.get(definition.id)
                if parsed is None:
                    xml = self.xml(definition).encode()
                    parsed = parse_diagram(xml, self.handler_names, f"{definition.key}.bpmn", deployed=True)
                    self._parsed[definition.id] = parsed
        return parsed
