"""`python -m bench [--tiny] [--json PATH] [--workers N] [--baseline FILE] [--only inbox [--keep DIR]]`:
measure Alur on this machine and print a table.

Everything runs on data made here, in a temporary folder and fresh PostgreSQL databases
(`alur_bench_<random>_*`), all removed at the end. See bench/README.md for what is measured.
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench import http_flat, inbox, load, reporting, service, spiff, storage, targets
from bench.common import FULL, PG_SERVER_URL, TINY, Sizes, SqliteFiles, make_alur, pg_database, sop_model
from bench.report import Baseline, Report
from bench.server import Server, ServerGroup, default_workers
from engine.bootstrap import build
from engine.services import Alur
from engine.settings import ROOT, Settings

MB = 1024 * 1024
KB = 1024
DEFAULT_JSON = Path(__file__).resolve().parent / "results.json"
DEFAULT_BASELINE = Path(__file__).resolve().parent / "baseline.json"


class Progress:
    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self, message: str) -> None:
        print(f"[{time.monotonic() - self.started:6.1f}s] {message}", file=sys.stderr, flush=True)


@contextmanager
def database(kind: str, files: SqliteFiles, purpose: str) -> Iterator[str]:
    """A fresh database with the SOP deployed and the demo users: a SQLite copy, or a new PostgreSQL one."""
    if kind == "SQLite":
        yield files.fresh(purpose)
        return
    with pg_database(purpose) as url:
        make_alur(url).db.engine.dispose()
        yield url


def service_layer(url: str) -> Alur:
    return build(Settings(database_url=url))


def one_whole_instance(url: str) -> None:
    alur = service_layer(url)
    try:
        service.Steps(alur).whole_instance()
    finally:
        alur.db.engine.dispose()


def part_spiff(report: Report, sizes: Sizes) -> float:
    result = spiff.run(sizes.spiff_instances)
    report.add("1", "per user step (median)", result.step_ms_median, "ms")
    report.add("1", "per user step (p95)", result.step_ms_p95, "ms")
    report.detail("spiff", result)
    return result.step_ms_median


def part_service(report: Report, sizes: Sizes, files: SqliteFiles, bare_ms: float) -> None:
    url = files.fresh("service")
    alur = service_layer(url)
    try:
        result = service.per_step(alur, sizes.engine_instances)
    finally:
        alur.db.engine.dispose()
    ratio = result.step_ms_median / bare_ms
    report.add("2", "per complete() (median)", result.step_ms_median, "ms")
    report.add("2", "per complete() (p95)", result.step_ms_p95, "ms")
    report.add("2", "engine / bare", ratio, "x", f"<= {targets.ENGINE_OVER_BARE:g}", ratio <= targets.ENGINE_OVER_BARE)
    report.detail("service", result)
    size = storage.sqlite_file_bytes(url, files.fresh("baseline"))
    report.add("6", "SQLite bytes per completed instance", size.bytes_per_instance / KB, "KB",
               f"<= {targets.STORED_KB:g} KB", size.bytes_per_instance <= targets.STORED_KB * KB)
    report.detail("storage_sqlite", size)


def part_flatness(report: Report, sizes: Sizes, files: SqliteFiles, workdir: Path) -> None:
    """The engine's step after many returns, then the same loop through the API of a one-worker server."""
    alur = service_layer(files.fresh("flat"))
    try:
        result = service.flatness(alur, sizes.flat_checkpoints, sizes.flat_window)
    finally:
        alur.db.engine.dispose()
    for returns, value in sorted(result.step_ms_median.items()):
        report.add("3", f"per step after {returns} returns (median)", value, "ms")
    first, last = min(result.step_ms_median), max(result.step_ms_median)
    report.add("3", f"{last} returns / {first} returns", result.ratio, "x", f"<= {targets.FLAT_RATIO:g}",
               result.ratio <= targets.FLAT_RATIO)
    report.detail("flatness", result)
    with Server(files.fresh("flat-http"), 1, workdir / "gunicorn.log") as server:
        http = http_flat.run(server, server.database_url, sop_model(), (0, last), sizes.flat_window)
    for returns, value in sorted(http.step_ms_median.items()):
        report.add("3", f"HTTP: per step after {returns} returns (median)", value, "ms")
        report.add("3", f"HTTP: bytes read per step after {returns} returns (median)", http.bytes_median[returns] / KB,
                   "KB")
    report.add("3", f"HTTP: {last} returns / {first} returns", http.ratio, "x", f"<= {targets.HTTP_FLAT_RATIO:g}",
               http.ratio <= targets.HTTP_FLAT_RATIO)
    report.detail("flatness_http", http)


def part_api(report: Report, sizes: Sizes, files: SqliteFiles, kind: str, workers: int, workdir: Path,
             progress: Progress) -> None:
    """Parts 4, 5 and the memory and PostgreSQL storage of 6, on one database and one server."""
    model = sop_model()
    with database(kind, files, "api") as url, Server(url, workers, workdir / "gunicorn.log") as server:
        progress(f"4. HTTP load on {kind}")
        tokens = load.lane_tokens(url, model)
        warm = load.run(server, model, tokens, max(sizes.http_clients), sizes.http_seconds)  # every worker warm
        summaries, memory = [], []
        for clients in sizes.http_clients:
            runs = []
            for repeat in range(sizes.http_repeats):
                progress(f"   {clients} clients, run {repeat + 1}/{sizes.http_repeats}")
                runs.append(load.run(server, model, tokens, clients, sizes.http_seconds))
                if clients == max(sizes.http_clients):
                    memory.append(server.worker_memory())
            summaries.append(load.summarize(runs))
        report_http(report, kind, summaries, warm)
        report_memory(report, kind, memory, max(sizes.http_clients))
        if kind == "PostgreSQL":
            two_servers(report, sizes, url, workers, workdir, tokens, max(summaries, key=lambda s: s.clients),
                        progress)
            rows = storage.pg_row_bytes(url, at_least_one=lambda: one_whole_instance(url))
            report.add("6", "PostgreSQL row bytes per completed instance", rows.bytes_per_instance / KB, "KB",
                       f"<= {targets.STORED_KB:g} KB", rows.bytes_per_instance <= targets.STORED_KB * KB)
            report.detail("storage_postgresql", rows)
        progress(f"5. inbox on {kind}: generating {sizes.inbox_instances:,} instances")
        alur = service_layer(url)
        try:
            generated = inbox.generate(alur, sizes.inbox_instances, sizes.inbox_open_tasks)
        finally:
            alur.db.engine.dispose()
        progress(f"   {generated.instances:,} instances, {generated.task_rows:,} task rows, "
                 f"{generated.open_tasks:,} open tasks, made in {generated.seconds:.0f} s")
        result = inbox.measure(server, model, sizes.inbox_requests, sizes.inbox_budget_seconds, generated)
        progress(f"7. reports and event log on {kind}")
        alur = service_layer(url)
        try:
            reported = reporting.run(alur, server, sizes.inbox_requests, sizes.inbox_budget_seconds,
                                     sizes.eventlog_mb)
        finally:
            alur.db.engine.dispose()
    report_inbox(report, kind, result)
    report_reporting(report, kind, reported)


def two_servers(report: Report, sizes: Sizes, url: str, workers: int, workdir: Path, tokens: dict[str, str],
                one_server: load.LoadSummary, progress: Progress) -> None:
    """Part 4 past one machine: the most clients spread over two gunicorns on the same PostgreSQL database.

    The two servers share the one server's number of workers (e.g. 3 + 2 for 5) and its one session
    (see ServerGroup), so that on this one machine the row compares the deployment, not more
    processes or a bigger share of the CPU; the one server idles meanwhile.
    """
    split = [max(1, (workers + 1) // 2), max(1, workers // 2)]
    clients = max(sizes.http_clients)
    model = sop_model()
    with ServerGroup(url, split, workdir / "gunicorn.log") as group:
        progress(f"   {clients} clients over two servers ({split[0]} + {split[1]} workers)")
        warm = load.run(group.endpoints, model, tokens, clients, sizes.http_seconds)
        runs = [load.run(group.endpoints, model, tokens, clients, sizes.http_seconds)
                for _ in range(sizes.http_repeats)]
    s = load.summarize(runs)
    name = f"PostgreSQL, {clients:>2} clients, 2 servers"
    report.add("4", f"{name}: completions/s", s.completions_per_s, "/s")
    report.add("4", f"{name}: p50", s.p50_ms, "ms")
    report.add("4", f"{name}: p99", s.p99_ms, "ms", f"< {targets.HTTP_P99_MS:g} ms", s.p99_ms < targets.HTTP_P99_MS)
    report.add("4", f"{name}: errors", s.errors, "", "0", s.errors == 0)
    report.add("4", "PostgreSQL, 2 servers / 1 server (completions/s)",
               s.completions_per_s / one_server.completions_per_s if one_server.completions_per_s else float("nan"),
               "x")
    report.detail("http_postgresql_2_servers", {"workers": split, "warmup": warm, "summary": s})


@contextmanager
def kept_database(kind: str, files: SqliteFiles, keep: Path | None) -> Iterator[str]:
    """Part 5 alone: a fresh database, or with `keep` one that outlives the run (a SQLite file in `keep`,
    the PostgreSQL database `alur_bench_inbox_kept`), migrated to the code's head on every run."""
    if keep is None:
        with database(kind, files, "inbox") as url:
            yield url
        return
    keep.mkdir(parents=True, exist_ok=True)
    if kind == "SQLite":
        url = SqliteFiles.sqlite_url(keep / "inbox.sqlite")
    else:
        admin = create_engine(PG_SERVER_URL, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = 'alur_bench_inbox_kept'")):
                    conn.execute(text('CREATE DATABASE "alur_bench_inbox_kept"'))
        finally:
            admin.dispose()
        url = make_url(PG_SERVER_URL).set(database="alur_bench_inbox_kept").render_as_string(hide_password=False)
    make_alur(url).db.engine.dispose()
    yield url


def part_inbox(report: Report, sizes: Sizes, files: SqliteFiles, kind: str, workers: int, workdir: Path,
               progress: Progress, keep: Path | None) -> None:
    """Part 5 alone (`--only inbox`): generate the big database (once, with `--keep`), then measure."""
    model = sop_model()
    with kept_database(kind, files, keep) as url:
        alur = service_layer(url)
        try:
            with alur.db.engine.connect() as conn:
                have = conn.scalar(text("SELECT COUNT(*) FROM instances")) or 0
            if have < sizes.inbox_instances:
                progress(f"5. inbox on {kind}: generating {sizes.inbox_instances:,} instances")
                generated = inbox.generate(alur, sizes.inbox_instances, sizes.inbox_open_tasks)
            else:
                progress(f"5. inbox on {kind}: reusing {have:,} instances in {url}")
                generated = inbox.counted(alur)
        finally:
            alur.db.engine.dispose()
        with Server(url, workers, workdir / "gunicorn.log") as server:
            result = inbox.measure(server, model, sizes.inbox_requests, sizes.inbox_budget_seconds, generated)
    report_inbox(report, kind, result)


def report_http(report: Report, kind: str, summaries: list[load.LoadSummary], warm: load.LoadRun) -> None:
    most = max(s.clients for s in summaries)
    for s in summaries:
        top = s.clients == most
        name = f"{kind}, {s.clients:>2} clients"
        if top:
            report.add_at_least_times("4", f"{name}: completions/s", s.completions_per_s, "/s", targets.HTTP_SPEEDUP)
        else:
            report.add("4", f"{name}: completions/s", s.completions_per_s, "/s")
        report.add("4", f"{name}: p50", s.p50_ms, "ms")
        report.add("4", f"{name}: p95", s.p95_ms, "ms")
        report.add("4", f"{name}: p99", s.p99_ms, "ms", f"< {targets.HTTP_P99_MS:g} ms" if top else "",
                   s.p99_ms < targets.HTTP_P99_MS if top else None)
        report.add("4", f"{name}: errors", s.errors, "", "0", s.errors == 0)
        if top:  # where the time goes: the run is CPU-bound when these times the rate fill the cores
            report.add("4", f"{name}: CPU per completion, whole machine", s.machine_cpu_ms_per_completion, "ms")
            report.add("4", f"{name}: CPU per completion, gunicorn", s.server_cpu_ms_per_completion, "ms")
    report.detail(f"http_{kind.lower()}", {"warmup": warm, "summaries": summaries})


def report_memory(report: Report, kind: str, memory: list[dict[int, tuple[int, int]]], clients: int) -> None:
    peaks = [max(hwm for _, hwm in m.values()) for m in memory]
    for n, (peak, m) in enumerate(zip(peaks, memory, strict=True), start=1):
        report.add("6", f"{kind} worker peak RSS after {clients}-client run {n}", peak / MB, "MB",
                   f"< {targets.WORKER_RSS_MB:g} MB", peak < targets.WORKER_RSS_MB * MB)
        per_worker = {str(pid): {"vmrss": rss, "vmhwm": hwm} for pid, (rss, hwm) in m.items()}
        report.detail(f"memory_{kind.lower()}_run{n}", per_worker)
    report.add("6", f"{kind} worker peak RSS growth run 1 -> {len(peaks)}", (peaks[-1] - peaks[0]) / MB, "MB",
               f"not growing (<= {targets.RSS_GROWTH:.0%})", peaks[-1] <= peaks[0] * (1 + targets.RSS_GROWTH))


def report_inbox(report: Report, kind: str, result: inbox.InboxResult) -> None:
    scale = f"{result.generated.instances:,} inst."
    report.add("5", f"{kind}, GET /tasks ({scale}): p50", result.inbox.p50_ms, "ms")
    target = f"< {targets.LIST_P95_MS:g} ms"
    report.add("5", f"{kind}, GET /tasks ({scale}): p95", result.inbox.p95_ms, "ms", target,
               result.inbox.p95_ms < targets.LIST_P95_MS)
    report.add("5", f"{kind}, GET /tasks?limit=50: p95", result.inbox_limit_50.p95_ms, "ms", target,
               result.inbox_limit_50.p95_ms < targets.LIST_P95_MS)
    for name, latency in result.inbox_filtered.items():
        report.add("5", f"{kind}, GET /tasks?{name}: p95", latency.p95_ms, "ms", target,
                   latency.p95_ms < targets.LIST_P95_MS)
    for name, latency in result.instances.items():
        report.add("5", f"{kind}, GET /instances?{name}: p50", latency.p50_ms, "ms")
        report.add("5", f"{kind}, GET /instances?{name}: p95", latency.p95_ms, "ms", target,
                   latency.p95_ms < targets.LIST_P95_MS)
    report.detail(f"inbox_{kind.lower()}", result)


def report_reporting(report: Report, kind: str, result: reporting.ReportingResult) -> None:
    report.add("7", f"{kind}, rebuild rollups from {result.activations:,} activations", result.rebuild_seconds, "s")
    report.add("7", f"{kind}, rollup rows", result.rollup_rows, "")
    for name, timing in result.http.items():
        report.add("7", f"{kind}, GET /reports ({name}): p50", timing.p50_ms, "ms")
        report.add("7", f"{kind}, GET /reports ({name}): p95", timing.p95_ms, "ms", f"< {targets.REPORT_P95_MS:g} ms",
                   timing.p95_ms < targets.REPORT_P95_MS)
    for name, timing in result.report.items():
        report.add("7", f"{kind}, in process ({name}): p95", timing.p95_ms, "ms")
    report.add("7", f"{kind}, XES first chunk", result.eventlog_first_chunk_ms, "ms")
    report.add("7", f"{kind}, XES streamed ({result.eventlog_mb:.1f} MB)", result.eventlog_mb_per_s, "MB/s")
    report.detail(f"reporting_{kind.lower()}", result)


def _pg_version() -> str:
    engine = create_engine(PG_SERVER_URL)
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("SHOW server_version")).scalar())
    finally:
        engine.dispose()


def _shown(path: Path) -> str:
    """A path as the table and the JSON show it: relative to the checkout when inside it."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--tiny", action="store_true", help="every part at a tiny size (under a minute)")
    parser.add_argument("--json", type=Path, default=None,
                        help=f"where to write the results as JSON (default {DEFAULT_JSON}; tiny runs: none)")
    parser.add_argument("--only", choices=["inbox"], default=None,
                        help="run one part alone: inbox = part 5 on SQLite and PostgreSQL")
    parser.add_argument("--keep", type=Path, default=None,
                        help="with --only inbox: keep the big databases (a SQLite file in this folder, the "
                             "PostgreSQL database alur_bench_inbox_kept) and reuse them in the next run")
    parser.add_argument("--workers", type=int, default=None,
                        help=f"gunicorn workers (default 2 * cores + 1 = {default_workers()}; tiny runs: 2)")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="the results.json of an earlier run: shown next to each row (A/B), and the relative "
                             f"targets (3x completions/s) are computed from it (default {DEFAULT_BASELINE} if it "
                             "exists)")
    parser.add_argument("--no-baseline", action="store_true", help="no baseline: relative targets are not judged")
    args = parser.parse_args(argv)
    baseline_path = None if args.no_baseline else (args.baseline or
                                                   (DEFAULT_BASELINE if DEFAULT_BASELINE.exists() else None))
    if baseline_path is not None and not baseline_path.exists():
        parser.error(f"--baseline: {baseline_path} does not exist")
    sizes = TINY if args.tiny else FULL
    workers = args.workers or (2 if args.tiny else default_workers())
    json_path = args.json or (None if args.tiny or args.only else DEFAULT_JSON)
    progress = Progress()
    report = Report(meta={
        "size": sizes.name, "cores": os.cpu_count(), "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version, "postgresql": _pg_version(), "gunicorn_workers": workers,
        "gunicorn_worker_class": "sync",
        "client": "threads of the benchmark process, one http.client connection each, on the same cores "
                  "as the server",
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "load_average_before": os.getloadavg(),
        "baseline": _shown(baseline_path) if baseline_path else None,
    }, baseline=Baseline.load(baseline_path) if baseline_path else None)
    with tempfile.TemporaryDirectory(prefix="alur-bench-") as tmp:
        workdir = Path(tmp)
        files = SqliteFiles(workdir)
        try:
            if args.only == "inbox":
                for kind in ("SQLite", "PostgreSQL"):
                    part_inbox(report, sizes, files, kind, workers, workdir, progress, args.keep)
            else:
                progress("1. bare SpiffWorkflow")
                bare = part_spiff(report, sizes)
                progress("2. service layer on SQLite")
                part_service(report, sizes, files, bare)
                progress("3. flatness")
                part_flatness(report, sizes, files, workdir)
                for kind in ("SQLite", "PostgreSQL"):
                    part_api(report, sizes, files, kind, workers, workdir, progress)
        except BaseException:
            log = workdir / "gunicorn.log"
            if log.exists():
                print("---- gunicorn log (tail) ----\n" + "\n".join(log.read_text().splitlines()[-40:]),
                      file=sys.stderr)
            raise
    report.meta["seconds"] = round(time.monotonic() - progress.started, 1)
    report.meta["load_average_after"] = os.getloadavg()
    print(f"Alur benchmark ({sizes.name}), {report.meta['cores']} cores, Python {report.meta['python']}, "
          f"SQLite {report.meta['sqlite']}, PostgreSQL {report.meta['postgresql']}, "
          f"gunicorn {workers} sync workers; clients are threads on the same cores.")
    before = report.meta["load_average_before"][0]
    if before > 0.5:
        print(f"note: the load average was {before:.1f} when the run started: other work on this machine "
              "shows up in these numbers")
    print(report.table())
    print(f"\ntotal {report.meta['seconds']:.0f} s")
    if json_path is not None:
        report.write_json(json_path)
        print(f"results written to {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
