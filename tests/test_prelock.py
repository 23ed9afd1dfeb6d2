"""SQLite: a step loads its request's workflow before the write lock (every other writer waits while it is
held), and uses that load under the lock only if the stored state is still the same."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine import state
from engine.actors import SYSTEM, Upload
from engine.bootstrap import build
from engine.demo import SAMPLE_PDF, actor_for_lane, fill
from engine.services import Alur
from engine.settings import Settings

SOP = "fasilitasi_narasumber"
PARALLEL = Path(__file__).parent / "diagrams" / "paralel.bpmn"


@pytest.fixture
def worker(db_url: str, alur: Alur) -> Iterator[Alur]:
    """A second process's service layer on the same database (its own workflow cache)."""
    other = build(Settings(database_url=db_url, scheduler=False))
    yield other
    other.db.engine.dispose()


def _record_loads(monkeypatch: pytest.MonkeyPatch, alur: Alur) -> list[bool]:
    """Each `state.load` from now on, as whether it ran holding this process's write lock."""
    held: list[bool] = []
    original = state.load

    def load(blob: bytes, spec: Any, subprocess_specs: dict[str, Any]) -> Any:
        file = getattr(alur.db.writers._local, "file", None)
        held.append(file is not None and file.depth > 0)
        return original(blob, spec, subprocess_specs)

    monkeypatch.setattr(state, "load", load)
    return held


def test_a_step_another_process_left_loads_before_the_lock(alur: Alur, worker: Alur,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    steps = alur.parsed(alur.definition(SOP)).model.steps
    pemohon = actor_for_lane(alur, "Pemohon")
    iid = alur.start(SOP, pemohon)
    first = alur.ready_of([iid])[iid][0]
    uploads = [Upload(doc_type, f"{doc_type}.pdf", SAMPLE_PDF) for doc_type in steps[first.spec_id].required_uploads]
    alur.complete(first.id, pemohon, fill(steps[first.spec_id], None), uploads)
    second = alur.ready_of([iid])[iid][0]
    worker.instance(iid, SYSTEM)  # the worker has parsed the version, as a warmed one has
    loads = _record_loads(monkeypatch, worker)
    worker.complete(second.id, actor_for_lane(worker, second.lane), fill(steps[second.spec_id], None))
    assert loads == [False]  # loaded once, before the lock
    assert alur.ready_of([iid])[iid][0].step_no == second.step_no + 1


def test_a_state_changed_after_the_early_load_is_loaded_again_under_the_lock(
        alur: Alur, worker: Alur, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two branches: the early load of one branch's step sees the state before the other branch's step; that
    step commits in between, so the early load is stale and must not be used."""
    alur.deploy(PARALLEL.read_bytes(), SYSTEM)
    pemohon = actor_for_lane(alur, "Pemohon")
    iid = alur.start("uji_paralel", pemohon)
    alur.complete(alur.ready_of([iid])[iid][0].id, pemohon, {"perihal": "uji"})
    branches = {r.lane: r for r in alur.ready_of([iid])[iid]}
    worker.instance(iid, SYSTEM)
    early = worker.commands._before_lock

    def before_lock(task_id: str, *args: Any) -> Any:
        answer = early(task_id, *args)  # the worker's early load: the state with both branches open
        alur.complete(branches["Kepala Biro"].id, actor_for_lane(alur, "Kepala Biro"), {"hasil_b": "B selesai"})
        return answer

    monkeypatch.setattr(worker.commands, "_before_lock", before_lock)
    loads = _record_loads(monkeypatch, worker)
    worker.complete(branches["Sekda"].id, actor_for_lane(worker, "Sekda"), {"hasil_c": "C selesai"})
    assert loads == [False, True]  # early, then again under the lock: the stored state had moved on
    ready = alur.ready_of([iid])[iid]
    assert [r.spec_id for r in ready] == ["periksa"]  # the join saw both branches: no step was lost
    data = alur.instance(iid, SYSTEM).instance.data
    assert data["hasil_b"] == "B selesai" and data["hasil_c"] == "C selesai"
