"""Promises that must hold on a real multi-process server: no lost update, no gap, nothing lost on SIGKILL."""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from engine.actors import SYSTEM
from engine.demo import SAMPLE_PDF, fill
from engine.models import Document, DocumentContent, DocumentVersion, Instance, LetterRegisterEntry, TaskRecord
from engine.testing import sop_model
from tests.conftest import make_alur
from tests.livesrv import Client, LiveServer
from tests.test_concurrency import check_register, run_together

MODEL = sop_model()
LANE_USER = {lane: re.sub(r"[^a-z0-9]+", "-", lane.lower()).strip("-") for lane in MODEL.lanes}


@pytest.fixture
def server(db_url: str) -> Iterator[LiveServer]:
    make_alur(db_url).db.engine.dispose()
    live = LiveServer(db_url).start()
    yield live
    live.kill()
    assert not live.tracebacks(), live.tracebacks()


class Driver:
    """Drives requests through the API as the demo user of each lane.

    Given several servers (separate gunicorns on one database, as separate hosts would be), the
    servers take turns: each completion goes to the next server, and each read to the server
    after the last completion's, so every step reads and writes what another server just wrote.
    """

    def __init__(self, *servers: LiveServer) -> None:
        self.servers = servers
        self.turn = 0
        self.clients: dict[tuple[int, str], Client] = {}
        self.acknowledged_completions: list[str] = []
        self.acknowledged_uploads: list[tuple[int, str]] = []

    def client(self, lane: str, turn: int = 0) -> Client:
        key = (turn % len(self.servers), lane)
        if key not in self.clients:
            self.clients[key] = Client(self.servers[key[0]], LANE_USER[lane])
        return self.clients[key]

    def start(self) -> dict:
        r = self.client(MODEL.ordered_steps()[0].lane, self.turn + 1).post(
            "/instances", json={"process": MODEL.key, "data": {}})
        assert r.status_code == 201, r.text
        return r.json()

    def ready(self, instance_id: int) -> list[dict]:
        r = self.client(MODEL.ordered_steps()[0].lane, self.turn + 1).get(f"/instances/{instance_id}")
        assert r.status_code == 200, r.text
        return r.json()["ready_tasks"]

    def advance(self, task: dict, decision: str | None = None) -> requests.Response:
        step = MODEL.steps[task["spec_id"]]
        self.turn += 1
        client = self.client(step.lane, self.turn)
        if decision != "tidak_setuju":
            for doc_type in step.required_uploads:
                r = client.post(f"/tasks/{task['id']}/documents", data={"type": doc_type},
                                files={"file": (f"{doc_type}.pdf", SAMPLE_PDF, "application/pdf")})
                assert r.status_code == 201, r.text
                self.acknowledged_uploads.append((r.json()["id"], r.json()["sha256"]))
        r = client.post(f"/tasks/{task['id']}/complete", json={"data": fill(step, decision)})
        if r.status_code == 200:
            self.acknowledged_completions.append(task["id"])
        return r

    def drive_to(self, instance_id: int, step_no: int) -> dict:
        for _ in range(40):
            task = self.ready(instance_id)[0]
            if task["step_no"] == step_no:
                return task
            assert self.advance(task).status_code == 200
        raise AssertionError(f"never reached step {step_no}")


def twenty_clients_complete_the_same_task(servers: list[LiveServer], db_url: str) -> None:
    """Twenty clients, spread over the servers, complete one task at once: one wins, nothing is doubled."""
    driver = Driver(*servers)
    iid = driver.start()["id"]
    task = driver.drive_to(iid, 2)
    clients = [Client(servers[i % len(servers)], LANE_USER[task["lane"]]) for i in range(20)]
    responses = run_together([
        lambda c=c: c.post(f"/tasks/{task['id']}/complete", json={"data": {"keputusan": "setuju"}})
        for c in clients])
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * 19, statuses
    assert all("error" in r.json() for r in responses if r.status_code == 409)
    ready = driver.ready(iid)
    assert [t["step_no"] for t in ready] == [3]
    alur = make_alur(db_url, demo=False)
    try:
        assert alur.verify(iid) == []
        history = alur.instance(iid, SYSTEM).history
        assert [r.step_no for r in history if r.step_no == 2] == [2]
        with alur.unit_of_work(write=False) as uow:
            rows = uow.session.scalar(select(func.count()).select_from(TaskRecord).where(
                TaskRecord.instance_id == iid, TaskRecord.step_no.in_([2, 3])))
        assert rows == 2, "one completed step 2 and one ready step 3, no duplicate"
    finally:
        alur.db.engine.dispose()


def twenty_letters_numbered_at_once(servers: list[LiveServer], db_url: str) -> None:
    """Twenty requests complete step 11 at once, spread over the servers: numbers 1..20, no gap, no duplicate."""
    driver = Driver(*servers)
    tasks = [driver.drive_to(driver.start()["id"], 11) for _ in range(20)]
    on = [Driver(server) for server in servers]  # task n is completed on server n mod len(servers)
    responses = run_together([lambda n=n, t=t: on[n % len(on)].advance(t) for n, t in enumerate(tasks)])
    assert [r.status_code for r in responses] == [200] * 20, [r.text for r in responses if r.status_code != 200]
    alur = make_alur(db_url, demo=False)
    try:
        with alur.unit_of_work(write=False) as uow:
            entries = list(uow.session.scalars(select(LetterRegisterEntry).order_by(LetterRegisterEntry.sequence)))
        check_register(entries, alur, 20)
    finally:
        alur.db.engine.dispose()


def parallel_branches_completed_at_once(servers: list[LiveServer], db_url: str) -> None:
    """Both branches of a parallel gateway completed at the same moment (on different servers if given): both kept."""
    first, other = servers[0], servers[-1]
    diagram = Path(__file__).parent / "diagrams" / "paralel.bpmn"
    owner = Client(first, "pemilik-proses")
    deployed = owner.post("/processes", files={"file": ("paralel.bpmn", diagram.read_bytes(), "application/xml")})
    assert deployed.status_code == 201, deployed.text
    pemohon = Client(other, "pemohon")  # the version deployed on one server starts on the other
    started = pemohon.post("/instances", json={"process": "uji_paralel", "data": {}})
    assert started.status_code == 201, started.text
    iid, task = started.json()["id"], started.json()["ready_tasks"][0]
    done = Client(first, "pemohon").post(f"/tasks/{task['id']}/complete", json={"data": {"perihal": "uji"}})
    assert done.status_code == 200, done.text
    branches = {t["lane"]: t for t in pemohon.get(f"/instances/{iid}").json()["ready_tasks"]}
    assert set(branches) == {"Kepala Biro", "Sekda"}
    biro, sekda = Client(first, "kepala-biro"), Client(other, "sekda")
    responses = run_together([
        lambda: biro.post(f"/tasks/{branches['Kepala Biro']['id']}/complete", json={"data": {"hasil_b": "B"}}),
        lambda: sekda.post(f"/tasks/{branches['Sekda']['id']}/complete", json={"data": {"hasil_c": "C"}}),
    ])
    assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
    for server in servers:  # every server sees both branches' data and the join's next step
        final = Client(server, "pemohon").get(f"/instances/{iid}").json()
        assert final["data"]["hasil_b"] == "B" and final["data"]["hasil_c"] == "C"
        assert [t["spec_id"] for t in final["ready_tasks"]] == ["periksa"]
    alur = make_alur(db_url, demo=False)
    try:
        assert alur.verify(iid) == []
    finally:
        alur.db.engine.dispose()


def test_twenty_clients_complete_the_same_task_exactly_one_wins(server: LiveServer, db_url: str) -> None:
    twenty_clients_complete_the_same_task([server], db_url)


def test_letter_numbers_of_twenty_concurrent_instances_are_unique_and_gap_free(
        server: LiveServer, db_url: str) -> None:
    twenty_letters_numbered_at_once([server], db_url)


def test_sigkill_in_the_middle_of_a_load_loses_nothing_acknowledged(server: LiveServer, db_url: str) -> None:
    driver = Driver(server)
    stop = threading.Event()

    def worker() -> None:
        try:
            while not stop.is_set():
                iid = driver.start()["id"]
                while not stop.is_set():
                    ready = driver.ready(iid)
                    if not ready:
                        break
                    driver.advance(ready[0])
        except (requests.ConnectionError, AssertionError, ValueError):
            return  # the server died under us: what was acknowledged is checked below

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(driver.acknowledged_completions) < 60 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.kill()  # SIGKILL to the whole process group, mid-load
    stop.set()
    for t in threads:
        t.join(timeout=60)
    completions = list(driver.acknowledged_completions)
    uploads = list(driver.acknowledged_uploads)
    assert len(completions) >= 60, "the load did not get going"

    server.start()  # restart on the same database
    assert requests.get(f"{server.url}/api/v1/openapi.json", timeout=10).status_code == 200
    alur = make_alur(db_url, demo=False)
    with alur.unit_of_work(write=False) as uow:
        session = uow.session
        done = set(session.scalars(select(TaskRecord.id).where(TaskRecord.state == "completed")))
        assert set(completions) <= done, "an acknowledged completion vanished"
        for version_id, sha in uploads:
            version = session.get(DocumentVersion, version_id)
            assert version is not None and version.sha256 == sha, f"acknowledged upload {version_id} vanished"
            content = session.get(DocumentContent, version_id)
            assert content is not None and len(content.content) == version.size
        instance_ids = list(session.scalars(select(Instance.id)))
        versions_without_content = session.scalar(
            select(func.count()).select_from(DocumentVersion).outerjoin(
                DocumentContent, DocumentContent.version_id == DocumentVersion.id)
            .where(DocumentContent.version_id.is_(None)))
        documents_without_versions = session.scalar(
            select(func.count()).select_from(Document).where(~Document.versions.any()))
    assert versions_without_content == 0 and documents_without_versions == 0
    for iid in instance_ids:
        assert alur.verify(iid) == [], f"instance {iid} disagrees with its task rows"
    path = Path(db_url.removeprefix("sqlite:///"))
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # and the work goes on after the restart
    driver_after = Driver(server)
    iid = driver_after.start()["id"]
    assert driver_after.drive_to(iid, 3)["step_no"] == 3


def test_parallel_branches_completed_at_the_same_moment_keep_both(server: LiveServer, db_url: str) -> None:
    parallel_branches_completed_at_once([server], db_url)
