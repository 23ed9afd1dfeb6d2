"""`python -m bench --tiny` runs every part of the benchmark and reports a number for each (so it cannot rot)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from bench import targets
from bench.report import SECTIONS, Baseline, Report
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
    # 16 clients spread over two gunicorn servers on one PostgreSQL database, both of them serving
    two = "PostgreSQL, 16 clients, 2 servers"
    assert metrics[f"{two}: completions/s"]["value"] > 0 and metrics[f"{two}: p99"]["value"] > 0
    assert metrics[f"{two}: errors"]["value"] == 0
    runs = report["details"]["http_postgresql_2_servers"]["summary"]["runs"]
    assert all(sum(r["completions_per_server"][i] for r in runs) > 0 for i in (0, 1)), runs
    # issue 14's targets, every list filter judged, and the committed baseline beside each row (A/B)
    assert metrics["engine / bare"]["target"] == f"<= {targets.ENGINE_OVER_BARE:g}"
    assert all(r["target"] == f"< {targets.LIST_P95_MS:g} ms" for r in rows
               if r["section"] == "5" and r["metric"].endswith("p95"))
    assert report["meta"]["baseline"] == "bench/baseline.json"
    before = Baseline.load(ROOT / "bench" / "baseline.json")
    for kind in ("SQLite", "PostgreSQL"):
        row = metrics[f"{kind}, 16 clients: completions/s"]
        assert row["baseline"] == before.value("4", row["metric"]) > 0
        assert row["target"].startswith(">= ") and row["ok"] == (row["value"] >= 3 * row["baseline"])
        assert metrics[f"{kind}, 16 clients: p99"]["target"] == f"< {targets.HTTP_P99_MS:g} ms"
    assert "before = bench/baseline.json" in run.stdout


def test_baseline_rows_are_matched_by_metric_and_relative_targets_come_from_them(tmp_path: Path) -> None:
    earlier = Report()
    earlier.add("4", "SQLite, 16 clients: completions/s", 100.0, "/s")
    earlier.add("4", "SQLite,  1 clients: completions/s", 40.0, "/s")
    earlier.add("5", "SQLite, GET /tasks (100,567 inst.): p95", 30.0, "ms")
    path = tmp_path / "before.json"
    earlier.write_json(path)

    now = Report(baseline=Baseline.load(path))
    now.add_at_least_times("4", "SQLite, 16 clients: completions/s", 299.0, "/s", 3)
    now.add_at_least_times("4", "SQLite,  4 clients: completions/s", 500.0, "/s", 3)  # not in the baseline
    now.add("5", "SQLite, GET /tasks (1,079 inst.): p95", 15.0, "ms")  # another run's size, the same row
    sixteen, four, inbox = now.rows
    assert (sixteen.baseline, sixteen.target, sixteen.verdict) == (100.0, ">= 300 (3x before)", "MISS")
    assert (four.baseline, four.target, four.verdict) == (None, "", "")
    assert inbox.baseline == 30.0
    table = now.table()
    assert "before 100 (2.99x)" in table and "before -" in table and "before 30.0 (0.50x)" in table

    alone = Report()  # no baseline: shown, not judged
    alone.add_at_least_times("4", "SQLite, 16 clients: completions/s", 299.0, "/s", 3)
    assert (alone.rows[0].target, alone.rows[0].verdict, alone.rows[0].baseline) == ("", "", None)
    assert "before" not in alone.table()
