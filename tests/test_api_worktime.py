"""/api/v1 for working time and timers: the calendar, holidays by the admin, timers, lead times."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

from engine.actors import SYSTEM
from engine.clock import fixed_clock
from engine.demo import actor_for_lane
from engine.services import Alur
from tests.helpers import start, step
from tests.test_api import Api, api  # noqa: F401 (the fixture)


def utc(local: str) -> datetime:
    return datetime.fromisoformat(local) - timedelta(hours=7)


def test_calendar_read_and_changed_by_the_admin(api: Api, alur: Alur) -> None:  # noqa: F811
    calendar = api.get("/api/v1/calendar?year=2026", "sekda").json
    assert calendar["year"] == 2026 and calendar["timezone"] == "Asia/Pontianak"
    assert calendar["office_hours"][4] == {"weekday": 4, "day": "Jumat", "opens": "07:30", "closes": "16:30"}
    assert calendar["office_hours"][5]["opens"] is None
    assert {"date": "2026-08-17", "name": "Hari Kemerdekaan Republik Indonesia", "source": "nasional",
            "kind": "libur"} in calendar["days"]
    added = api.post("/api/v1/calendar/holidays", "admin", json={"date": "2026-12-24", "name": "Cuti bersama"})
    assert added.status_code == 201
    assert {"date": "2026-12-24", "name": "Cuti bersama", "source": "admin", "kind": "libur"} in added.json["days"]
    worked = api.post("/api/v1/calendar/working-days", "admin", json={"date": "2026-12-25"})
    assert worked.status_code == 201
    assert any(d["date"] == "2026-12-25" and d["kind"] == "masuk" for d in worked.json["days"])
    assert alur.calendar().holiday(date(2026, 12, 25)) is None
    assert api.call("DELETE", "/api/v1/calendar/changes/2026-12-25", "admin").status_code == 204
    assert alur.calendar().holiday(date(2026, 12, 25))
    # refusals name the field; nothing changes
    refused = api.post("/api/v1/calendar/holidays", "sekda", json={"date": "2026-12-26", "name": "x"})
    assert refused.status_code == 403
    bad = api.post("/api/v1/calendar/holidays", "admin", json={"date": "26-12-2026", "name": "x"})
    assert bad.status_code == 422 and bad.json["field"] == "date" and "YYYY-MM-DD" in bad.json["error"]
    bad = api.post("/api/v1/calendar/holidays", "admin", json={"date": "2026-02-30", "name": "x"})
    assert bad.status_code == 422 and bad.json["field"] == "date"
    bad = api.post("/api/v1/calendar/holidays", "admin", json={"date": "2026-12-26", "nama": "x"})
    assert bad.status_code == 400
    again = api.post("/api/v1/calendar/holidays", "admin", json={"date": "2026-12-24", "name": "lagi"})
    assert again.status_code == 422 and "sudah hari libur" in again.json["error"]
    assert api.call("DELETE", "/api/v1/calendar/changes/2026-12-31", "admin").status_code == 404
    assert [d.day for d in alur.calendar_days(2026) if d.source == "admin"] == [date(2026, 12, 24)]


def test_instance_answers_lead_time_and_working_waits(api: Api, alur: Alur) -> None:  # noqa: F811
    with fixed_clock(utc("2026-11-26T15:55")):  # Thursday
        iid = start(alur)
    with fixed_clock(utc("2026-11-27T07:40")):
        step(alur, iid)
    with fixed_clock(utc("2026-11-27T08:00")):
        body = api.get(f"/api/v1/instances/{iid}", "admin").json
    assert body["history"][0]["waited_working_seconds"] == 15 * 60
    assert body["history"][1]["waited_working_seconds"] is None
    assert body["lead_working_seconds"] == 35 * 60 and body["path_standard_minutes"] == 5
    assert body["lead_seconds"] == (utc("2026-11-27T08:00") - utc("2026-11-26T15:55")).total_seconds()


def test_timers_are_listed_for_process_owners(api: Api, alur: Alur) -> None:  # noqa: F811
    alur.deploy((Path(__file__).parent / "diagrams" / "eskalasi.bpmn").read_bytes(), SYSTEM)
    pemohon = actor_for_lane(alur, "Pemohon")
    with fixed_clock(utc("2026-11-30T09:00")):
        iid = alur.start("uji_eskalasi", pemohon)
        alur.complete(alur.ready_of([iid])[iid][0].id, pemohon, {"perihal": "uji"})
    [timer] = api.get("/api/v1/timers", "pemilik-proses").json["timers"]
    assert timer["instance_id"] == iid and timer["spec_id"] == "tunggu" and timer["expression"] == "PT1H"
    assert timer["due_at"] == "2026-11-30T03:00:00Z" and timer["working_time"] is False
    assert api.get("/api/v1/timers", "sekda").status_code == 403
