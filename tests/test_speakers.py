"""Speakers and their calendar: the registry, tentative/confirmed/released engagements, the
conflict shown at step 5 and the one-booking rule under concurrent confirmations."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from engine.actors import SYSTEM, Actor, Upload
from engine.demo import SAMPLE_PDF, actor_for_lane, fill
from engine.errors import Forbidden, InvalidData, ScheduleConflict
from engine.models import Engagement
from engine.services import Alur
from tests.helpers import current, drive_to, start, step
from tests.test_concurrency import run_together

OWNER = Actor("pemilik-proses", is_process_owner=True)
DAY = "2026-12-10"


def request_data(speaker: str, day: str = DAY, jam: str = "09:00", hours: int = 2) -> dict[str, Any]:
    return {"instansi_pemohon": "Dinas Pendidikan", "perihal": "Permohonan narasumber",
            "nama_kegiatan": "Bimtek koperasi sekolah", "topik": "Tata kelola koperasi", "tanggal_kegiatan": day,
            "jam_mulai": jam, "durasi_jam": hours, "tempat_kegiatan": "Aula Dinas", "peserta": "Guru",
            "narasumber_diminta": speaker}


def new_request(alur: Alur, speaker: str, **kw: Any) -> int:
    iid = start(alur)
    step(alur, iid, data=request_data(speaker, **kw))
    return iid


def assign(alur: Alur, iid: int, speaker: str, availability: str = "bersedia") -> None:
    drive_to(alur, iid, 5)
    step(alur, iid, data={"ketersediaan": availability, "narasumber_ditunjuk": speaker, "jadwal_narasumber": ""})


def bookings(alur: Alur, speaker_id: int, include_released: bool = True) -> list[Engagement]:
    return alur.speaker_calendar(speaker_id, include_released=include_released)


@pytest.fixture
def siti(alur: Alur) -> int:
    return alur.save_speaker(OWNER, {"name": "Dr. Siti Aminah", "nip": "197001012000032001",
                                     "jabatan": "Kepala Bidang Kelembagaan", "unit": "Bidang Kelembagaan",
                                     "topics": "koperasi, kelembagaan"}).id


@pytest.fixture
def budi(alur: Alur) -> int:
    return alur.save_speaker(OWNER, {"name": "Budi Santoso", "nip": "198002022005011002",
                                     "jabatan": "Kepala Seksi Pembiayaan", "unit": "Bidang UKM"}).id


def test_registry_is_managed_by_owners_and_admins_with_named_errors(alur: Alur, siti: int) -> None:
    with pytest.raises(Forbidden):
        alur.save_speaker(Actor("kasubbag", lanes=frozenset({"Kasubbag Terkait"})), {"name": "X"})
    with pytest.raises(InvalidData) as refused:
        alur.save_speaker(OWNER, {"name": "  "})
    assert refused.value.field == "name"
    with pytest.raises(InvalidData) as refused:
        alur.save_speaker(OWNER, {"name": "Ani", "nip": "12345"})
    assert refused.value.field == "nip" and "18 angka" in refused.value.message
    with pytest.raises(InvalidData) as refused:
        alur.save_speaker(OWNER, {"name": "Ani", "nip": "197001012000032001"})
    assert refused.value.field == "nip" and "Dr. Siti Aminah" in refused.value.message
    changed = alur.save_speaker(SYSTEM, {"jabatan": "Sekretaris Dinas", "active": False}, siti)
    assert (changed.name, changed.jabatan, changed.active) == ("Dr. Siti Aminah", "Sekretaris Dinas", False)
    assert [s.name for s in alur.speaker_list(active_only=True)] == []
    assert [s.name for s in alur.speaker_list()] == ["Dr. Siti Aminah"]


def test_request_books_tentatively_then_confirms_at_signature(alur: Alur, siti: int) -> None:
    iid = new_request(alur, "dr. siti aminah")        # the registry name, case ignored
    [booking] = bookings(alur, siti)
    assert (booking.status, booking.instance_id, booking.title, booking.place) == (
        "tentative", iid, "Bimtek koperasi sekolah", "Aula Dinas")
    assert (booking.starts_at, booking.ends_at) == (dt.datetime(2026, 12, 10, 9), dt.datetime(2026, 12, 10, 11))
    assign(alur, iid, "Dr. Siti Aminah")
    drive_to(alur, iid, 11)
    [booking] = bookings(alur, siti)
    assert booking.status == "confirmed"
    kinds = [e.kind for e in alur.audit_log(iid)]
    assert "engagement_confirmed" in kinds


def test_step_five_shows_the_conflict_and_a_substitute_moves_the_booking(alur: Alur, siti: int, budi: int) -> None:
    alur.add_engagement(OWNER, siti, {"title": "Rapat kerja gubernur", "starts_at": "2026-12-10T10:00",
                                      "ends_at": "2026-12-10T12:00"})
    alur.add_engagement(OWNER, siti, {"title": "Cuti", "starts_at": "2026-12-20T00:00",
                                      "ends_at": "2026-12-21T00:00"})   # outside the window: not shown
    iid = new_request(alur, "Dr. Siti Aminah")
    record = drive_to(alur, iid, 5)
    detail = alur.task(record.id, SYSTEM)
    [schedule] = alur.schedules(detail.instance)
    assert schedule.speaker is not None and schedule.speaker.id == siti
    assert [(r.engagement.title, r.conflict, r.own) for r in schedule.rows] == [
        ("Bimtek koperasi sekolah", False, True), ("Rapat kerja gubernur", True, False)]
    assign(alur, iid, "Budi Santoso", "usul_pengganti")
    assert [b.source for b in bookings(alur, siti, include_released=False)] == ["manual", "manual"]
    [moved] = bookings(alur, budi)
    assert (moved.status, moved.instance_id) == ("tentative", iid)


def test_confirming_an_overlapping_booking_is_refused_and_nothing_changes(alur: Alur, siti: int) -> None:
    first, second = new_request(alur, "Dr. Siti Aminah"), new_request(alur, "Dr. Siti Aminah", jam="10:00")
    for iid in (first, second):
        assign(alur, iid, "Dr. Siti Aminah")
        drive_to(alur, iid, 10)
    step(alur, first)
    before = current(alur, second)
    with pytest.raises(ScheduleConflict) as refused:
        step(alur, second)
    assert "Dr. Siti Aminah" in refused.value.message and f"permohonan {first}" in refused.value.message
    assert current(alur, second).id == before.id, "the refused step stays ready"
    assert sorted((b.instance_id, b.status) for b in bookings(alur, siti)) == [
        (first, "confirmed"), (second, "tentative")]
    # a request at another time is no conflict
    third = new_request(alur, "Dr. Siti Aminah", jam="13:00")
    assign(alur, third, "Dr. Siti Aminah")
    drive_to(alur, third, 11)


def test_cancel_and_refusal_release_the_speaker(alur: Alur, siti: int) -> None:
    cancelled, refused = new_request(alur, "Dr. Siti Aminah"), new_request(alur, "Dr. Siti Aminah")
    alur.cancel(cancelled, SYSTEM, "pemohon membatalkan")
    assign(alur, refused, "Dr. Siti Aminah", "tidak_bersedia")
    assert {(b.instance_id, b.status) for b in bookings(alur, siti)} == {
        (cancelled, "released"), (refused, "released")}
    assert bookings(alur, siti, include_released=False) == []


def test_free_text_speaker_and_the_demo_fill_keep_working(alur: Alur, siti: int) -> None:
    iid = new_request(alur, "Pakar dari universitas")
    assert bookings(alur, siti) == []
    while alur.ready_of([iid])[iid]:
        step(alur, iid)
    assert alur.instance(iid, SYSTEM).instance.status == "completed"
    spec = alur.parsed(alur.definition("fasilitasi_narasumber")).model.steps["langkah_01_sampaikan_berkas"]
    assert fill(spec, None)["jam_mulai"] == "07:00"


def test_manual_entries_are_checked(alur: Alur, siti: int) -> None:
    with pytest.raises(InvalidData) as refused:
        alur.add_engagement(OWNER, siti, {"title": "Cuti", "starts_at": "besok", "ends_at": "2026-12-10T10:00"})
    assert refused.value.field == "starts_at"
    with pytest.raises(InvalidData) as refused:
        alur.add_engagement(OWNER, siti, {"title": "Cuti", "starts_at": "2026-12-10T10:00",
                                          "ends_at": "2026-12-10T09:00"})
    assert refused.value.field == "ends_at"
    entry = alur.add_engagement(OWNER, siti, {"title": "Cuti", "starts_at": "2026-12-10T00:00",
                                              "ends_at": "2026-12-11T00:00"})
    iid = new_request(alur, "Dr. Siti Aminah")
    assign(alur, iid, "Dr. Siti Aminah")
    drive_to(alur, iid, 10)
    with pytest.raises(ScheduleConflict):
        step(alur, iid)
    alur.remove_engagement(OWNER, siti, entry.id)
    step(alur, iid)
    assert [b.status for b in bookings(alur, siti, include_released=False)] == ["confirmed"]


def _confirm_concurrently(alur: Alur) -> None:
    speaker = alur.save_speaker(OWNER, {"name": "Dr. Siti Aminah"}).id
    instances = [new_request(alur, "Dr. Siti Aminah", jam=f"{9 + i % 2:02d}:00") for i in range(4)]
    records = []
    for iid in instances:
        assign(alur, iid, "Dr. Siti Aminah")
        records.append(drive_to(alur, iid, 10))
    sekda = alur.task(records[0].id, SYSTEM)
    actor = actor_for_lane(alur, records[0].lane)
    data = fill(sekda.step, None)
    for r in records:
        alur.attach_document(r.id, actor, Upload("surat_ditandatangani", "ttd.pdf", SAMPLE_PDF))
    results = run_together([lambda r=r: alur.complete(r.id, actor, data) for r in records])
    won = [r for r in results if isinstance(r, int)]
    lost = [r for r in results if isinstance(r, ScheduleConflict)]
    assert len(won) == 1 and len(lost) == 3, results
    confirmed = [b for b in alur.speaker_calendar(speaker) if b.status == "confirmed"]
    assert [b.instance_id for b in confirmed] == won


def test_one_confirmation_wins_under_concurrency_sqlite(alur: Alur) -> None:
    _confirm_concurrently(alur)


def test_one_confirmation_wins_under_concurrency_postgres(pg_alur: Alur) -> None:
    _confirm_concurrently(pg_alur)
