"""Parsed specs cached per process version: parsed once per process, never stored per instance."""

from __future__ import annotations

import threading

from engine.diagram import ParsedDiagram, parse_diagram
from engine.models import ProcessDefinition
from handlers import REGISTRY


class SpecCache:
    def __init__(self) -> None:
        self._parsed: dict[int, ParsedDiagram] = {}
        self._lock = threading.Lock()

    def get(self, definition: ProcessDefinition) -> ParsedDiagram:
        parsed = self._parsed.get(definition.id)
        if parsed is None:
            with self._lock:
                parsed = self._parsed.get(definition.id)
                if parsed is None:
                    parsed = parse_diagram(definition.bpmn_xml.encode(), REGISTRY, f"{definition.key}.bpmn")
                    self._parsed[definition.id] = parsed
        return parsed
