"""Tests for breakages the suite once let through (each found by breaking the code on purpose)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from api import create_app
from engine.actors import Actor
from engine.demo import actor_for_lane, fill
from engine.errors import Forbidden, NotReady
from engine.models import AuditEvent, Instance, TaskRecord
from engine.services import Alur
from engine.users import DEMO_PASSWORD
from tests.conftest import PROCESS
from tests.helpers import current, drive_to, start, step


def test_the_app_as_wsgi_builds_it_checks_csrf(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """No override: the factory's own defaults must refuse a form without its CSRF token."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("ALUR_SECRET_KEY", "uji-rahasia")
    app = create_app()
    client = app.test_client()
    r = client.post("/login", data={"username": "sekda", "password": DEMO_PASSWORD})
    assert r.status_code == 400
    assert client.get("/").status_code == 302, "not logged in"


def test_an_admin_without_the_lane_cannot_complete_the_first_step_through_start(alur: Alur) -> None:
    admin = Actor("admin", frozenset(), is_process_owner=True, is_admin=True)
    pemohon_data = fill(alur.parsed(alur.definition(PROCESS)).model.ordered_steps()[0], None)
    with alur.unit_of_work(write=False) as uow:
        before = uow.session.scalar(select(func.count()).select_from(Instance))
    with pytest.raises(Forbidden, match="lane"):
        alur.start(PROCESS, admin, complete_first=True, first_data=pemohon_data)
    with alur.unit_of_work(write=False) as uow:
        assert uow.session.scalar(select(func.count()).select_from(Instance)) == before


def test_a_task_row_that_says_ready_against_the_stored_workflow_is_not_completed(alur: Alur) -> None:
    iid = start(alur)
    done = drive_to(alur, iid, 3)
    step(alur, iid)  # step 3 completed; step 4 is ready in the workflow
    previous = done.id
    with alur.unit_of_work() as uow:  # the table now disagrees: step 2's row claims to be ready again
        record = uow.session.get(TaskRecord, previous)
        record.state = "ready"
    with alur.unit_of_work(write=False) as uow:
        events = uow.session.scalar(select(func.count()).select_from(AuditEvent))
    actor = actor_for_lane(alur, record.lane)
    with pytest.raises(NotReady):
        alur.complete(previous, actor, {"keputusan": "setuju"} if record.keputusan else {})
    with alur.unit_of_work(write=False) as uow:
        assert uow.session.scalar(select(func.count()).select_from(AuditEvent)) == events
    assert current_ids(alur, iid) == {previous, current_step4(alur, iid)}


def current_ids(alur: Alur, iid: int) -> set[str]:
    return {r.id for r in alur.ready_of([iid])[iid]}


def current_step4(alur: Alur, iid: int) -> str:
    return next(r.id for r in alur.ready_of([iid])[iid] if r.step_no == 4)


@pytest.mark.parametrize(("decision", "kind"), [("tidak_setuju", "return"), ("setuju", "complete")])
def test_the_audit_kind_says_whether_a_step_returned(alur: Alur, decision: str, kind: str) -> None:
    iid = start(alur)
    step(alur, iid)
    record = current(alur, iid)
    assert record.step_no == 2
    step(alur, iid, decision=decision)
    events = [e for e in alur.audit_log(iid) if e.task_id == record.id and e.kind in ("return", "complete")]
    assert [e.kind for e in events] == [kind]
