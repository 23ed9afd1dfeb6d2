"""The table: one row per number, with its target and PASS/MISS next to it; and the same as JSON."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any

SECTIONS = {
    "1": "Ceiling: bare SpiffWorkflow in memory",
    "2": "Service layer on a SQLite file (Alur.complete)",
    "3": "Flatness: cost of a step after many returns",
    "4": "HTTP API under load (gunicorn)",
    "5": "Inbox and instance list with a big database",
    "6": "Storage and worker memory",
    "7": "Reports and event log with a big database",
}


@dataclass
class Row:
    section: str
    metric: str
    value: float
    unit: str
    target: str = ""
    ok: bool | None = None  # None: no target for this number

    @property
    def verdict(self) -> str:
        return "" if self.ok is None else ("PASS" if self.ok else "MISS")


@dataclass
class Report:
    meta: dict[str, Any] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def add(self, section: str, metric: str, value: float, unit: str, target: str = "",
            ok: bool | None = None) -> None:
        self.rows.append(Row(section, metric, float(value), unit, target, ok))

    def detail(self, key: str, value: Any) -> None:
        self.details[key] = _plain(value)

    def table(self) -> str:
        width = max([len(r.metric) for r in self.rows] + [30])
        lines = []
        for number, title in SECTIONS.items():
            rows = [r for r in self.rows if r.section == number]
            if not rows:
                continue
            lines.append(f"\n{number}. {title}")
            for r in rows:
                value = f"{_fmt(r.value)} {r.unit}".rstrip()
                target = f"target {r.target}" if r.target else ""
                lines.append(f"   {r.metric:<{width}}  {value:>16}  {target:<28} {r.verdict}".rstrip())
        misses = [r for r in self.rows if r.ok is False]
        passes = [r for r in self.rows if r.ok is True]
        lines.append(f"\n{len(passes)} PASS, {len(misses)} MISS")
        return "\n".join(lines)

    def write_json(self, path: Path) -> None:
        body = {"meta": self.meta, "rows": [{**asdict(r), "verdict": r.verdict} for r in self.rows],
                "details": self.details}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n")


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if value == int(value) and abs(value) >= 100:
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return _plain(asdict(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
