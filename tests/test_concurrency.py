"""Letters numbered under concurrent completions, and the same engine on PostgreSQL."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Callable

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from engine import db
from engine.actors import SYSTEM
from engine.demo import actor_for_lane, fill
from engine.errors import NotReady
from engine.models import LetterRegisterEntry
from engine.services import Alur
from engine.uow import unit_of_work
from tests.conftest import make_alur
from tests.helpers import current, drive_to, start, step


def run_together(calls: list[Callable[[], object]]) -> list[object]:
    """Start every call at the same moment on its own thread; return results or exceptions."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i]()
        except Exception as exc:  # noqa: BLE001 - the test inspects what each thread got
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def number_concurrently(alur: Alur, count: int) -> list[LetterRegisterEntry]:
    instances = [start(alur) for _ in range(count)]
    records = [drive_to(alur, iid, 11) for iid in instances]
    petugas = actor_for_lane(alur, records[0].lane)
    spec = alur.task(records[0].id, SYSTEM).step
    results = run_together([lambda r=r: alur.complete(r.id, petugas, fill(spec, None)) for r in records])
    assert results == instances, results
    with alur.unit_of_work(write=False) as uow:
        return list(uow.session.scalars(select(LetterRegisterEntry).order_by(LetterRegisterEntry.sequence)))


def check_register(entries: list[LetterRegisterEntry], alur: Alur, count: int) -> None:
    assert [e.sequence for e in entries] == list(range(1, count + 1)), "gap-free and unique"
    assert len({e.number for e in entries}) == count
    assert len({e.instance_id for e in entries}) == count
    for e in entries:
        assert re.fullmatch(rf"000\.1\.2\.3/{e.sequence:03d}/DISKOP-UKM/{e.year}", e.number)
        assert alur.instance(e.instance_id, SYSTEM).instance.letter_number == e.number


def test_concurrent_numbering_on_sqlite_has_no_gap_and_no_duplicate(alur: Alur) -> None:
    check_register(number_concurrently(alur, 12), alur, 12)


def race_for_one_task(alur: Alur) -> None:
    """Eight threads complete the same ready task at once: one wins, the rest are told it is not ready."""
    iid = start(alur)
    record = drive_to(alur, iid, 2)
    actor = actor_for_lane(alur, record.lane)
    results = run_together([lambda: alur.complete(record.id, actor, {"keputusan": "setuju"})] * 8)
    assert results.count(iid) == 1
    assert all(isinstance(r, NotReady) for r in results if r != iid)
    assert current(alur, iid).step_no == 3
    assert alur.verify(iid) == []


def test_same_task_completed_twice_at_once_succeeds_once(alur: Alur) -> None:
    race_for_one_task(alur)


@pytest.fixture
def pg_alur(pg_url: str) -> Alur:
    alur = make_alur(pg_url)
    yield alur
    alur.db.engine.dispose()


def test_postgresql_runs_the_whole_sop(pg_alur: Alur) -> None:
    iid = start(pg_alur)
    drive_to(pg_alur, iid, 10)
    step(pg_alur, iid, "tidak_setuju")
    assert current(pg_alur, iid).step_no == 9
    while pg_alur.ready_of([iid])[iid]:
        step(pg_alur, iid)
    detail = pg_alur.instance(iid, SYSTEM)
    assert detail.instance.status == "completed" and detail.returns == 1
    assert len(detail.history) == 15
    assert detail.instance.letter_number


def test_concurrent_numbering_on_postgresql(pg_alur: Alur) -> None:
    check_register(number_concurrently(pg_alur, 12), pg_alur, 12)


def test_double_completion_on_postgresql(pg_alur: Alur) -> None:
    race_for_one_task(pg_alur)


def _held_elsewhere(path: str) -> bool:
    """Whether another process holds the writers' flock on `path` (a child process asks without waiting)."""
    probe = ("import fcntl, os, sys\nfd = os.open(sys.argv[1], os.O_RDWR)\n"
             "try:\n    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\nexcept BlockingIOError:\n    sys.exit(3)\n")
    return subprocess.run([sys.executable, "-c", probe, path]).returncode == 3


def test_sqlite_writers_queue_on_a_file_lock_held_for_the_whole_unit_of_work(alur: Alur) -> None:
    """Writers wait in flock() for each other (woken when the holder ends), not in SQLite's polling busy handler;
    the lock is held from the unit of work's start to its end, nested writers of a thread do not wait for
    themselves, and a failed unit of work gives it back."""
    queue = alur.db.writers
    assert queue is not None
    path = str(queue.path)
    assert path.endswith(".sqlite-writer")
    with unit_of_work(alur.db) as uow:
        assert _held_elsewhere(path)
        with unit_of_work(alur.db):  # the same thread again: no self-deadlock
            pass
        assert _held_elsewhere(path)
        uow.session.execute(select(LetterRegisterEntry)).all()
    assert not _held_elsewhere(path)
    with pytest.raises(RuntimeError), unit_of_work(alur.db):
        raise RuntimeError("the command failed")
    assert not _held_elsewhere(path)
    with unit_of_work(alur.db, write=False):  # readers never queue
        assert not _held_elsewhere(path)

    entered = threading.Event()
    order: list[str] = []

    def second_writer() -> None:
        entered.set()
        with unit_of_work(alur.db):
            order.append("second")

    with unit_of_work(alur.db):
        other = threading.Thread(target=second_writer)
        other.start()
        entered.wait(10)
        other.join(0.3)  # it waits for this unit of work, however long it takes
        assert other.is_alive()
        order.append("first")
    other.join(10)
    assert order == ["first", "second"]


def _cut_pooled_connections(pg_alur: Alur) -> None:
    """What a database restart does to the pool: every other backend of this database is terminated."""
    admin = create_engine(pg_alur.db.url, poolclass=NullPool)
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
    finally:
        admin.dispose()


def test_a_pooled_postgresql_connection_cut_while_idle_is_replaced_before_use(
        pg_alur: Alur, monkeypatch: pytest.MonkeyPatch) -> None:
    """Connections idle longer than PING_AFTER_IDLE_SECONDS are tried first (not every checkout, as
    pool_pre_ping did): one cut meanwhile is replaced, and the request never sees it."""
    instance_id = start(pg_alur)
    _cut_pooled_connections(pg_alur)
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)  # every pooled connection counts as idle
    assert pg_alur.instance(instance_id, SYSTEM).instance.id == instance_id

    _cut_pooled_connections(pg_alur)  # a connection used again at once is not tried: a cut one fails
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 3600.0)
    with pytest.raises(OperationalError):
        pg_alur.instance(instance_id, SYSTEM)
