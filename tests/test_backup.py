"""`alur backup` while work goes on, `alur restore`, and completing a request from the restored copy."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from engine.actors import SYSTEM
from engine.backup import BackupError, backup, restore
from engine.services import Alur
from tests.conftest import make_alur
from tests.helpers import current, drive_to, start, step


def _round_trip(alur: Alur, url: str, target: Path) -> None:
    iid = start(alur)
    drive_to(alur, iid, 6)
    other = start(alur)
    stop = threading.Event()

    def keep_working() -> None:  # the "server" goes on while the backup is taken
        while not stop.is_set() and alur.ready_of([other])[other]:
            step(alur, other)

    worker = threading.Thread(target=keep_working)
    worker.start()
    backup(url, target)
    stop.set()
    worker.join()
    assert target.stat().st_size > 0
    step(alur, iid)  # after the backup: step 6 done, now at step 7
    assert current(alur, iid).step_no == 7
    alur.db.engine.dispose()
    restore(url, target)
    restored = make_alur(url, demo=False)
    assert current(restored, iid).step_no == 6, "the restore brings back the state at backup time"
    detail = restored.instance(iid, SYSTEM)
    assert {d.doc_type for d in detail.documents} == {"surat_pd"}
    while restored.ready_of([iid])[iid]:
        step(restored, iid)
    final = restored.instance(iid, SYSTEM)
    assert final.instance.status == "completed" and final.instance.letter_number
    restored.db.engine.dispose()


def test_sqlite_backup_and_restore(alur: Alur, db_url: str, tmp_path: Path) -> None:
    _round_trip(alur, db_url, tmp_path / "cadangan" / "alur.sqlite")


def test_postgresql_backup_and_restore(pg_url: str, tmp_path: Path) -> None:
    _round_trip(make_alur(pg_url), pg_url, tmp_path / "alur.pgdump")


def test_restore_refuses_a_file_that_is_not_a_backup(alur: Alur, db_url: str, tmp_path: Path) -> None:
    iid = start(alur)
    bogus = tmp_path / "bukan.sqlite"
    bogus.write_bytes(b"bukan basis data" * 100)
    with pytest.raises(BackupError, match="bukan cadangan"):
        restore(db_url, bogus)
    assert current(alur, iid).step_no == 1, "nothing stored changed"
