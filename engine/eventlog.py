"""The event log of a process for process-mining tools: IEEE 1849 XES or CSV, streamed in chunks.

One trace per request (concept:name = request id, with the process key, version and status),
one `start` event when an activation became ready and one `complete` event when it was done
(concept:name = step name, time:timestamp, lifecycle:transition, concept:instance = the
activation's id, org:role = lane, org:resource = who completed it; the decision and note as
`keputusan` and `catatan`). A cancelled activation ends with `ate_abort` instead of `complete`.
Requests are read a batch at a time and the text written out in chunks of about 64 KB, so a
log of any size never sits in memory whole.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from engine.models import Instance, ProcessDefinition, TaskRecord
from engine.reports import definitions_of, require_reader

if TYPE_CHECKING:
    from engine.services import Alur

CHUNK = 64 * 1024
BATCH = 500  # requests per query
FORMATS = {"xes": "application/xml", "csv": "text/csv"}
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_XES_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<log xes.version="1849-2016" xes.features="nested-attributes" xmlns="http://www.xes-standard.org/">
  <extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>
  <extension name="Time" prefix="time" uri="http://www.xes-standard.org/time.xesext"/>
  <extension name="Lifecycle" prefix="lifecycle" uri="http://www.xes-standard.org/lifecycle.xesext"/>
  <extension name="Organizational" prefix="org" uri="http://www.xes-standard.org/org.xesext"/>
  <global scope="trace">
    <string key="concept:name" value="__INVALID__"/>
  </global>
  <global scope="event">
    <string key="concept:name" value="__INVALID__"/>
    <date key="time:timestamp" value="1970-01-01T00:00:00.000+00:00"/>
    <string key="lifecycle:transition" value="complete"/>
  </global>
  <classifier name="Langkah" keys="concept:name"/>
  <classifier name="Langkah dan transisi" keys="concept:name lifecycle:transition"/>
"""
CSV_COLUMNS = ["case_id", "process", "version", "activity", "lifecycle", "timestamp", "resource", "role",
               "keputusan", "catatan", "activity_instance"]


@dataclass(frozen=True)
class Event:
    case_id: int
    activity: str
    transition: str
    at: datetime
    role: str
    resource: str | None
    keputusan: str | None
    catatan: str | None
    activity_instance: str


def _timestamp(moment: datetime) -> str:
    """Stored moments are naive UTC: written as ISO 8601 with milliseconds and +00:00."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+00:00"


def _attr(value: str) -> str:
    value = _NOT_XML.sub("\ufffd", value)
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
            .replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;"))


def _cell(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula gets a leading apostrophe (OWASP)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


class EventLog:
    """The log of one process (all versions, or one); permission and names are checked when made."""

    def __init__(self, alur: Alur, actor: Any, key: str, version: int | None = None) -> None:
        require_reader(actor)
        with alur.unit_of_work(write=False) as uow:
            self.definitions: dict[int, ProcessDefinition] = {
                d.id: d for d in definitions_of(uow.session, key, version)}
        self.alur, self.key, self.version = alur, key, version

    def filename(self, fmt: str) -> str:
        suffix = f"-v{self.version}" if self.version is not None else ""
        return f"eventlog-{self.key}{suffix}.{fmt}"

    def _rows(self) -> Iterator[tuple[Any, ...]]:
        """(instance id, definition id, instance status, task columns...) in request then activation order.

        Requests are read in id order, BATCH at a time (keyset), each batch's activations by the
        (instance_id, seq) index: the first chunk comes at once and no query sorts the whole log.
        """
        definitions = list(self.definitions)
        with self.alur.unit_of_work(write=False) as uow:
            last = 0
            while True:
                heads = {iid: (did, status) for iid, did, status in uow.session.execute(
                    select(Instance.id, Instance.definition_id, Instance.status)
                    .where(Instance.definition_id.in_(definitions), Instance.id > last)
                    .order_by(Instance.id).limit(BATCH))}
                if not heads:
                    return
                last = max(heads)
                for row in uow.session.execute(
                        select(TaskRecord.instance_id, TaskRecord.id, TaskRecord.name, TaskRecord.lane,
                               TaskRecord.state, TaskRecord.ready_at, TaskRecord.completed_at,
                               TaskRecord.completed_by, TaskRecord.keputusan, TaskRecord.catatan)
                        .where(TaskRecord.instance_id.in_(list(heads)))
                        .order_by(TaskRecord.instance_id, TaskRecord.seq)):
                    yield (row[0], *heads[row[0]], *row[1:])

    def traces(self) -> Iterator[tuple[tuple[int, int, str], list[Event]]]:
        """Each request with its events, one at a time."""
        head: tuple[int, int, str] | None = None
        events: list[Event] = []
        for iid, did, status, tid, name, lane, state, ready_at, completed_at, who, keputusan, catatan in self._rows():
            if head is not None and head[0] != iid:
                yield head, events
                events = []
            head = (iid, did, status)
            events.append(Event(iid, name, "start", ready_at, lane, None, None, None, tid))
            if state in ("completed", "cancelled") and completed_at is not None:
                events.append(Event(iid, name, "complete" if state == "completed" else "ate_abort", completed_at,
                                    lane, who, keputusan, catatan, tid))
        if head is not None:
            yield head, events

    def xes(self) -> Iterator[str]:
        parts = [_XES_HEAD, f'  <string key="concept:name" value="{_attr(self.key)}"/>\n']
        size = 0
        for (iid, did, status), events in self.traces():
            definition = self.definitions[did]
            trace = [f'  <trace>\n    <string key="concept:name" value="{iid}"/>\n'
                     f'    <string key="process" value="{_attr(definition.key)}"/>\n'
                     f'    <int key="version" value="{definition.version}"/>\n'
                     f'    <string key="status" value="{_attr(status)}"/>\n']
            for e in sorted(events, key=lambda e: e.at):
                trace.append(f'    <event>\n      <string key="concept:name" value="{_attr(e.activity)}"/>\n'
                             f'      <string key="lifecycle:transition" value="{e.transition}"/>\n'
                             f'      <date key="time:timestamp" value="{_timestamp(e.at)}"/>\n'
                             f'      <string key="concept:instance" value="{e.activity_instance}"/>\n'
                             f'      <string key="org:role" value="{_attr(e.role)}"/>\n')
                if e.resource is not None:
                    trace.append(f'      <string key="org:resource" value="{_attr(e.resource)}"/>\n')
                if e.keputusan is not None:
                    trace.append(f'      <string key="keputusan" value="{_attr(e.keputusan)}"/>\n')
                if e.catatan:
                    trace.append(f'      <string key="catatan" value="{_attr(e.catatan)}"/>\n')
                trace.append("    </event>\n")
            trace.append("  </trace>\n")
            text = "".join(trace)
            parts.append(text)
            size += len(text)
            if size >= CHUNK:
                yield "".join(parts)
                parts, size = [], 0
        parts.append("</log>\n")
        yield "".join(parts)

    def csv(self) -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        for (iid, did, _status), events in self.traces():
            definition = self.definitions[did]
            for e in sorted(events, key=lambda e: e.at):
                writer.writerow([iid, definition.key, definition.version, _cell(e.activity), e.transition,
                                 _timestamp(e.at), _cell(e.resource or ""), _cell(e.role), e.keputusan or "",
                                 _cell(e.catatan or ""), e.activity_instance])
            if buffer.tell() >= CHUNK:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    def stream(self, fmt: str) -> Iterator[str]:
        return self.xes() if fmt == "xes" else self.csv()
