"""What every part of the benchmark shares: sizes, statistics, the SOP, the databases."""

from __future__ import annotations

import os
import shutil
import statistics
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from engine import decisions, testing
from engine.diagram import SopModel, Step
from engine.testing import PROCESS, SOP_FILE, make_alur, sop_model

__all__ = ["PROCESS", "SOP_FILE", "make_alur", "sop_model"]
PG_SERVER_URL = os.environ.get(
    "ALUR_BENCH_PG_URL", os.environ.get("ALUR_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))


@dataclass(frozen=True)
class Sizes:
    """How much of everything one run does; `tiny` is for the test that keeps the script alive."""

    name: str
    spiff_instances: int
    engine_instances: int
    flat_checkpoints: tuple[int, ...]
    flat_window: int
    http_clients: tuple[int, ...]
    http_seconds: float
    http_repeats: int
    inbox_instances: int
    inbox_open_tasks: int
    inbox_requests: int
    inbox_budget_seconds: float
    eventlog_mb: float = 20.0  # part 7: how much XES to stream


FULL = Sizes("full", spiff_instances=200, engine_instances=40, flat_checkpoints=(0, 100, 400), flat_window=10,
             http_clients=(1, 4, 16), http_seconds=10.0, http_repeats=3, inbox_instances=100_000,
             inbox_open_tasks=10_000, inbox_requests=70, inbox_budget_seconds=40.0)
TINY = Sizes("tiny", spiff_instances=5, engine_instances=3, flat_checkpoints=(0, 4, 12), flat_window=2,
             http_clients=(1, 4, 16), http_seconds=0.5, http_repeats=3, inbox_instances=1_000,
             inbox_open_tasks=100, inbox_requests=7, inbox_budget_seconds=1.0, eventlog_mb=0.5)


# ---- statistics ------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100): a value that was really observed."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))  # ceil(n * p / 100)
    return ordered[int(rank) - 1]


def ms(seconds: float) -> float:
    return seconds * 1000.0


# ---- the SOP ---------------------------------------------------------------------------------


def demo_returns(model: SopModel) -> set[str]:
    """Where engine.demo.run_instance says `tidak_setuju` (once each): the second and the last decision."""
    decision_steps = [s for s in model.ordered_steps() if s.is_decision]
    return {decision_steps[1].id, decision_steps[-1].id} if len(decision_steps) > 1 else set()


def decide(step: Step, pending: set[str]) -> str | None:
    """The demo's decision at this step; a return is made once per step."""
    if step.id in pending:
        pending.discard(step.id)
        return decisions.RETURN
    return None


# ---- databases -------------------------------------------------------------------------------


class SqliteFiles:
    """A migrated SQLite template made once; every part gets a fresh copy of it."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.template = workdir / "template.sqlite"
        make_alur(self.sqlite_url(self.template)).db.engine.dispose()

    @staticmethod
    def sqlite_url(path: Path) -> str:
        return f"sqlite:///{path}"

    def fresh(self, name: str) -> str:
        path = self.workdir / f"{name}.sqlite"
        shutil.copyfile(self.template, path)
        return self.sqlite_url(path)


@contextmanager
def pg_database(purpose: str) -> Iterator[str]:
    """A brand-new PostgreSQL database `alur_bench_<purpose>_<random>`, dropped afterwards."""
    with testing.pg_database(PG_SERVER_URL, f"alur_bench_{purpose}") as url:
        yield url
