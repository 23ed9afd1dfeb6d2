"""SQLite: a step runs on its request's workflow before the write lock (every other writer waits while it is
held), and that run is used under the lock only if the stored state and the values are still the same."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from SpiffWorkflow.task import Task as SpiffTask

from engine import commands, decisions, state
from engine.actors import SYSTEM, Upload
from engine.bootstrap import build
from engine.demo import SAMPLE_PDF, actor_for_lane, fill
from engine.errors import InvalidData
from engine.models import Instance
from engine.services import Alur
from engine.settings import Settings
from tests.helpers import current, drive_to, start, step

SOP = "fasilitasi_narasumber"
PARALLEL = Path(__file__).parent / "diagrams" / "paralel.bpmn"


@pytest.fixture
def worker(db_url: str, alur: Alur) -> Iterator[Alur]:
    """A second process's service layer on the same database (its own workflow cache)."""
    other = build(Settings(database_url=db_url, scheduler=False))
    yield other
    other.db.engine.dispose()


def _holding(alur: Alur) -> bool:
    """Whether this thread holds the process's SQLite write lock (engine.db.WriterQueue) now."""
    file = getattr(alur.db.writers._local, "file", None)
    return file is not None and file.depth > 0


def _record_loads(monkeypatch: pytest.MonkeyPatch, alur: Alur) -> list[bool]:
    """Each `state.load` from now on, as whether it ran holding this process's write lock."""
    held: list[bool] = []
    original = state.load

    def load(blob: bytes, spec: Any, subprocess_specs: dict[str, Any]) -> Any:
        held.append(_holding(alur))
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


def _record_runs(monkeypatch: pytest.MonkeyPatch, alur: Alur) -> list[bool]:
    """Each run of a user task from now on, as whether it ran holding this process's write lock."""
    held: list[bool] = []
    original = SpiffTask.run

    def run(task: SpiffTask) -> Any:
        if task.task_spec.manual:
            held.append(_holding(alur))
        return original(task)

    monkeypatch.setattr(SpiffTask, "run", run)
    return held


def test_a_step_runs_before_the_lock_and_its_run_is_what_is_stored(alur: Alur, monkeypatch: pytest.MonkeyPatch) -> None:
    iid = start(alur)
    drive_to(alur, iid, 7)
    runs = _record_runs(monkeypatch, alur)
    step(alur, iid, decisions.RETURN, {"keputusan": decisions.RETURN, "catatan": "perbaiki paragraf 2"})
    assert runs == [False]  # run once, before the lock
    back = current(alur, iid)
    assert back.step_no == 6  # the return took the request back, as the run said
    with alur.unit_of_work(write=False) as uow:
        instance = uow.session.get_one(Instance, iid)
        parsed = alur.parsed(instance.definition)
        workflow = state.load(instance.state, parsed.spec, parsed.subprocess_specs)
    assert workflow.tasks[UUID(back.id)].data["catatan"] == "perbaiki paragraf 2"


def test_a_handler_that_adds_to_the_values_makes_the_step_run_again_under_the_lock(
        alur: Alur, monkeypatch: pytest.MonkeyPatch) -> None:
    """Step 11 numbers the letter (handler `penomoran_surat`): the run before the lock did not have the number,
    so the step runs again with it, and the workflow's data carries the number on."""
    iid = start(alur)
    drive_to(alur, iid, 11)
    runs = _record_runs(monkeypatch, alur)
    step(alur, iid)
    assert runs == [False, True]
    number = alur.instance(iid, SYSTEM).instance.letter_number
    nxt = current(alur, iid)
    with alur.unit_of_work(write=False) as uow:
        instance = uow.session.get_one(Instance, iid)
        parsed = alur.parsed(instance.definition)
        workflow = state.load(instance.state, parsed.spec, parsed.subprocess_specs)
    assert number and workflow.tasks[UUID(nxt.id)].data["nomor_surat"] == number


def test_an_upload_is_sniffed_and_hashed_before_the_lock(alur: Alur, monkeypatch: pytest.MonkeyPatch) -> None:
    """A large file is read while no other writer waits; what is stored is the same as before."""
    held: list[bool] = []
    original = commands.sniff

    def sniff(content: bytes) -> str:
        held.append(_holding(alur))
        return original(content)

    monkeypatch.setattr(commands, "sniff", sniff)
    iid = start(alur)
    first = current(alur, iid)
    pemohon = actor_for_lane(alur, "Pemohon")
    content = SAMPLE_PDF + b"%" + b"x" * 200_000
    version = alur.attach_document(first.id, pemohon, Upload("surat_pd", "surat.pdf", content))
    assert held == [False]
    assert (version.sha256, version.media_type, version.size) == (
        hashlib.sha256(content).hexdigest(), "application/pdf", len(content))
    with pytest.raises(InvalidData) as refused:  # a refused type: said under the lock, as before, naming the type
        alur.attach_document(first.id, pemohon, Upload("surat_pd", "surat.pdf", b"MZ not a document"))
    assert refused.value.field == "file" and refused.value.params["doc_type"] == "surat_pd"
    assert held == [False, False, True]
