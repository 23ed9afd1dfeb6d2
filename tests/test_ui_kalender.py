"""The Kalender kerja page: everyone on staff sees it; only the admin changes it, with clear errors."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask.testing import FlaskClient

from engine.actors import SYSTEM
from engine.clock import fixed_clock
from engine.services import Alur
from tests.helpers import start
from tests.test_ui import login, logout


def test_admin_adds_and_removes_days_and_the_due_times_follow(alur: Alur, client: FlaskClient) -> None:
    login(client, "admin")
    page = client.get("/kalender?tahun=2026").text
    assert "Hari Kemerdekaan Republik Indonesia" in page and 'data-day="2026-08-17"' in page
    assert "07:30-16:30" in page  # Friday's hours
    response = client.post("/kalender/libur", data={"tanggal": "2026-12-24", "nama": "Cuti bersama Natal"})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).text
    assert "Cuti bersama Natal" in page and "Ditambahkan admin" in page
    assert alur.calendar().holiday(date(2026, 12, 24)) == "Cuti bersama Natal"
    client.post("/kalender/2026-12-25/masuk")
    assert "Kantor tetap masuk" in client.get("/kalender?tahun=2026").text
    with fixed_clock(datetime(2026, 12, 23, 15, 58) - timedelta(hours=7)):
        iid = start(alur)
    ready = alur.instance(iid, SYSTEM).ready[0]
    assert ready.due_at == datetime(2026, 12, 25, 7, 33) - timedelta(hours=7)  # 24th off, 25th worked
    client.post("/kalender/2026-12-25/hapus")
    assert alur.calendar().holiday(date(2026, 12, 25))
    # bad input: a clear message, nothing stored
    page = client.post("/kalender/libur", data={"tanggal": "24-12-2026", "nama": "x"}, follow_redirects=True).text
    assert "Tanggal harus tanggal yang ada, berformat YYYY-MM-DD" in page
    page = client.post("/kalender/libur", data={"tanggal": "2026-12-26", "nama": ""}, follow_redirects=True).text
    assert "Nama hari libur harus diisi" in page
    assert [d.day for d in alur.calendar_days(2026) if d.source == "admin"] == [date(2026, 12, 24)]


def test_only_the_admin_changes_the_calendar(alur: Alur, client: FlaskClient) -> None:
    login(client, "sekda")
    page = client.get("/kalender").text
    assert "Kalender kerja" in page and "Tambah hari libur" not in page
    page = client.post("/kalender/libur", data={"tanggal": "2026-12-24", "nama": "Cuti"}, follow_redirects=True).text
    assert "Hanya admin" in page
    assert not any(d.source == "admin" for d in alur.calendar_days(2026))
    logout(client)


def test_inbox_and_task_page_count_the_wait_in_working_time(alur: Alur, client: FlaskClient) -> None:
    with fixed_clock(datetime(2026, 11, 26, 15, 55) - timedelta(hours=7)):  # Thursday
        iid = start(alur)
    record = alur.instance(iid, SYSTEM).ready[0]
    login(client, "pemohon")
    with fixed_clock(datetime(2026, 11, 27, 7, 40) - timedelta(hours=7)):  # Friday: 15 working minutes
        assert "Menunggu 15 mnt 0 dtk jam kerja" in client.get("/").text
        assert "Menunggu 15 mnt 0 dtk jam kerja" in client.get(f"/tugas/{record.id}").text
