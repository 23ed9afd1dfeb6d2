"""A diagram with a parallel gateway: two lanes complete their branches at the same moment."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

from engine import state
from engine.actors import SYSTEM
from engine.demo import actor_for_lane
from engine.models import Instance
from engine.services import Alur
from tests.test_concurrency import run_together

DIAGRAM = Path(__file__).parent / "diagrams" / "paralel.bpmn"


def test_both_branches_complete_at_once_and_keep_their_data(alur: Alur) -> None:
    alur.deploy(DIAGRAM.read_bytes(), SYSTEM)
    pemohon = actor_for_lane(alur, "Pemohon")
    iid = alur.start("uji_paralel", pemohon)
    first = alur.ready_of([iid])[iid][0]
    alur.complete(first.id, pemohon, {"perihal": "uji"})
    branches = {r.lane: r for r in alur.ready_of([iid])[iid]}
    assert set(branches) == {"Kepala Biro", "Sekda"}
    b, c = branches["Kepala Biro"], branches["Sekda"]
    results = run_together([
        lambda: alur.complete(b.id, actor_for_lane(alur, "Kepala Biro"), {"hasil_b": "B selesai"}),
        lambda: alur.complete(c.id, actor_for_lane(alur, "Sekda"), {"hasil_c": "C selesai"}),
    ])
    assert results == [iid, iid]
    ready = alur.ready_of([iid])[iid]
    assert [r.spec_id for r in ready] == ["periksa"]
    detail = alur.instance(iid, SYSTEM)
    assert detail.instance.data["hasil_b"] == "B selesai" and detail.instance.data["hasil_c"] == "C selesai"
    assert {r.spec_id: r.state for r in detail.history} == {
        "isi": "completed", "cabang_b": "completed", "cabang_c": "completed", "periksa": "ready"}
    with alur.unit_of_work(write=False) as uow:
        instance = uow.session.get_one(Instance, iid)
        parsed = alur.parsed(instance.definition)
        workflow = state.load(instance.state, parsed.spec, parsed.subprocess_specs)
    periksa = workflow.tasks[UUID(ready[0].id)]
    assert periksa.data["hasil_b"] == "B selesai" and periksa.data["hasil_c"] == "C selesai"
    alur.complete(ready[0].id, pemohon, {})
    assert alur.instance(iid, SYSTEM).instance.status == "completed"


def test_a_completion_answers_with_the_ready_tasks_a_fresh_read_finds(alur: Alur) -> None:
    """`complete_step` (the API's answer) gives the ready tasks from the step's own transaction: after a split,
    one branch done, and the join, they are the rows (ids, order, fields) a read afterwards returns."""
    alur.deploy(DIAGRAM.read_bytes(), SYSTEM)
    pemohon = actor_for_lane(alur, "Pemohon")
    iid = alur.start("uji_paralel", pemohon)

    def fields(records: list) -> list[tuple]:
        return [(r.id, r.spec_id, r.lane, r.seq, r.state, r.ready_at, r.due_at) for r in records]

    answers = []
    for values in ({"perihal": "uji"}, {"hasil_b": "B"}, {"hasil_c": "C"}, {}):
        record = alur.ready_of([iid])[iid][0]
        instance, ready = alur.complete_step(record.id, actor_for_lane(alur, record.lane), values)
        assert instance.id == iid and fields(ready) == fields(alur.ready_of([iid])[iid])
        assert instance.status == alur.instance(iid, SYSTEM).instance.status
        answers.append([r.spec_id for r in ready])
    assert answers == [["cabang_b", "cabang_c"], ["cabang_c"], ["periksa"], []]
