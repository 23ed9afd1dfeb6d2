"""`python -m bench --tiny` runs every part of the benchmark and reports a number for each (so it cannot rot)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from bench.report import SECTIONS
from engine.settings import ROOT


def test_tiny_benchmark_reports_every_section_with_numbers(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    run = subprocess.run([sys.executable, "-m", "bench", "--tiny", "--json", str(out)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    for number, title in SECTIONS.items():
        assert f"{number}. {title}" in run.stdout
    report = json.loads(out.read_text())
    rows = report["rows"]
    assert {r["section"] for r in rows} == set(SECTIONS)
    assert all(isinstance(r["value"], int | float) and math.isfinite(r["value"]) for r in rows), rows
    metrics = {r["metric"]: r for r in rows}
    assert "engine / bare" in metrics and metrics["engine / bare"]["value"] > 0
    for kind in ("SQLite", "PostgreSQL"):
        for clients in (1, 4, 16):
            assert metrics[f"{kind}, {clients:>2} clients: completions/s"]["value"] > 0
            assert metrics[f"{kind}, {clients:>2} clients: p99"]["value"] > 0
            assert metrics[f"{kind}, {clients:>2} clients: errors"]["value"] == 0  # the API never fails under load
        assert any(m.startswith(f"{kind}, GET /tasks (") and m.endswith("p95") for m in metrics)
        assert sum(m.startswith(f"{kind}, GET /instances?") for m in metrics) == 6
        assert sum(m.startswith(f"{kind} worker peak RSS after") for m in metrics) == 3
    assert metrics["SQLite bytes per completed instance"]["value"] > 0
    assert metrics["PostgreSQL row bytes per completed instance"]["value"] > 0
    verdicts = [r["verdict"] for r in rows if r["target"]]
    assert verdicts and set(verdicts) <= {"PASS", "MISS"}
    assert report["meta"]["gunicorn_workers"] >= 1 and report["meta"]["seconds"] < 120
