"""The table: one row per number, with its target and PASS/MISS next to it; and the same as JSON.

Given a baseline (the results.json of an earlier run, the A of an A/B), each row also shows
that run's value of the same metric and the ratio, and relative targets are computed from it.
"""

from __future__ import annotations

import json
import math
import re
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


# Numbers in a metric's name that change from run to run (the generated instances, activations,
# megabytes streamed): left out when a row is matched with the baseline's.
_RUN_NUMBERS = re.compile(r"\d[\d,]*(?= (?:inst\.|activations))|\d+\.\d+(?= MB)")


def metric_key(section: str, metric: str) -> tuple[str, str]:
    return section, _RUN_NUMBERS.sub("#", metric)


@dataclass
class Baseline:
    """The rows of an earlier run's results.json, by section and metric."""

    path: Path
    meta: dict[str, Any]
    values: dict[tuple[str, str], float]

    @classmethod
    def load(cls, path: Path) -> Baseline:
        body = json.loads(path.read_text())
        values = {metric_key(r["section"], r["metric"]): float(r["value"]) for r in body["rows"]
                  if isinstance(r.get("value"), int | float)}
        return cls(path, body.get("meta", {}), values)

    def value(self, section: str, metric: str) -> float | None:
        return self.values.get(metric_key(section, metric))


@dataclass
class Row:
    section: str
    metric: str
    value: float
    unit: str
    target: str = ""
    ok: bool | None = None  # None: no target for this number
    baseline: float | None = None  # the same metric in the baseline run, if it has it

    @property
    def verdict(self) -> str:
        return "" if self.ok is None else ("PASS" if self.ok else "MISS")


@dataclass
class Report:
    meta: dict[str, Any] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    baseline: Baseline | None = None

    def add(self, section: str, metric: str, value: float, unit: str, target: str = "",
            ok: bool | None = None) -> None:
        self.rows.append(Row(section, metric, float(value), unit, target, ok, self.before(section, metric)))

    def before(self, section: str, metric: str) -> float | None:
        """The baseline run's value of this metric (None without a baseline or when it lacks the row)."""
        return self.baseline.value(section, metric) if self.baseline else None

    def add_at_least_times(self, section: str, metric: str, value: float, unit: str, factor: float) -> None:
        """A row whose target is `factor` times the baseline's value; without one it is shown, not judged."""
        base = self.before(section, metric)
        if base is None or math.isnan(base):
            self.add(section, metric, value, unit)
        else:
            self.add(section, metric, value, unit, f">= {_fmt(base * factor)} ({factor:g}x before)",
                     value >= base * factor)

    def detail(self, key: str, value: Any) -> None:
        self.details[key] = _plain(value)

    def table(self) -> str:
        width = max([len(r.metric) for r in self.rows] + [30])
        lines = []
        if self.baseline is not None:
            started = self.baseline.meta.get("started", "?")
            lines.append(f"before = {self.meta.get('baseline') or self.baseline.path} (run of {started}); "
                         "x = now / before")
        for number, title in SECTIONS.items():
            rows = [r for r in self.rows if r.section == number]
            if not rows:
                continue
            lines.append(f"\n{number}. {title}")
            for r in rows:
                value = f"{_fmt(r.value)} {r.unit}".rstrip()
                before = ""
                if self.baseline is not None:
                    before = f"before {_fmt(r.baseline)}" if r.baseline is not None else "before -"
                    if r.baseline and not math.isnan(r.baseline) and not math.isnan(r.value):
                        before += f" ({r.value / r.baseline:.2f}x)"
                target = f"target {r.target}" if r.target else ""
                lines.append(f"   {r.metric:<{width}}  {value:>16}  {before:<24}{target:<34} {r.verdict}".rstrip())
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
