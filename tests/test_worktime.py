"""Working time with a fixed clock: weekends, holidays, Friday afternoons and return loops.

Office hours are the defaults (Mon-Thu 07:30-16:00, Fri 07:30-16:30, Asia/Pontianak = UTC+7).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from engine.actors import SYSTEM, Filters
from engine.clock import fixed_clock
from engine.errors import Forbidden, InvalidData, NotFound
from engine.models import AuditEvent, CalendarDay, TaskRecord
from engine.queries import overdue
from engine.services import Alur
from engine.testing import make_alur
from engine.users import actor_of, create_user
from engine.worktime import OfficeCalendar, parse_office_hours
from tests.helpers import current, start, step

WIB7 = timedelta(hours=7)


def utc(local: str) -> datetime:
    """A Pontianak wall-clock time as the naive UTC Alur stores."""
    return datetime.fromisoformat(local) - WIB7


def calendar(**kwargs: object) -> OfficeCalendar:
    return OfficeCalendar(parse_office_hours("Mon-Thu 07:30-16:00, Fri 07:30-16:30"), "Asia/Pontianak",
                          **kwargs)  # type: ignore[arg-type]


def test_working_seconds_skip_nights_weekends_and_holidays() -> None:
    cal = calendar()
    # Thursday 15:55 -> Friday 07:40: 5 minutes on Thursday, 10 on Friday
    assert cal.working_seconds(utc("2026-11-26T15:55"), utc("2026-11-27T07:40")) == 15 * 60
    # Friday 16:20 -> Monday 07:40: 10 + 10 minutes, nothing on Saturday and Sunday
    assert cal.working_seconds(utc("2026-11-27T16:20"), utc("2026-11-30T07:40")) == 20 * 60
    # Christmas (Friday 25 December 2026) is a national holiday
    assert cal.holiday(date(2026, 12, 25))
    assert cal.working_seconds(utc("2026-12-24T15:50"), utc("2026-12-28T07:40")) == 20 * 60
    # a whole ordinary week: 4 x 8.5 h + 9 h
    assert cal.working_seconds(utc("2026-11-23T00:00"), utc("2026-11-30T00:00")) == (4 * 8.5 + 9) * 3600
    assert cal.working_seconds(utc("2026-11-30T00:00"), utc("2026-11-23T00:00")) == 0


def test_add_working_is_the_inverse_of_working_seconds() -> None:
    cal = calendar()
    assert cal.add_working(utc("2026-11-26T15:55"), 20 * 60) == utc("2026-11-27T07:45")  # Thursday late
    assert cal.add_working(utc("2026-11-26T15:55"), 5 * 60) == utc("2026-11-27T07:30")  # used up at closing
    assert cal.add_working(utc("2026-11-27T16:05"), 20 * 60) == utc("2026-11-27T16:25")  # Friday's longer day
    assert cal.add_working(utc("2026-11-26T16:05"), 20 * 60) == utc("2026-11-27T07:50")  # Thursday closed
    assert cal.add_working(utc("2026-11-27T16:20"), 20 * 60) == utc("2026-11-30T07:40")  # over the weekend
    assert cal.add_working(utc("2026-11-28T10:00"), 5 * 60) == utc("2026-11-30T07:35")  # Saturday arrival
    assert cal.add_working(utc("2026-12-24T15:50"), 20 * 60) == utc("2026-12-28T07:40")  # over Christmas
    start = utc("2026-11-25T09:13")
    for seconds in (1, 600, 8 * 3600, 30 * 3600, 100 * 3600):
        assert cal.working_seconds(start, cal.add_working(start, seconds)) == seconds


def test_admin_changes_to_the_calendar() -> None:
    extra = calendar(extra_holidays={date(2026, 12, 24): "Cuti bersama Natal"})
    assert extra.add_working(utc("2026-12-23T15:50"), 20 * 60) == utc("2026-12-28T07:40")
    worked = calendar(working_days=frozenset({date(2026, 12, 25)}))
    assert worked.add_working(utc("2026-12-24T15:50"), 20 * 60) == utc("2026-12-25T07:40")
    assert worked.holiday(date(2026, 12, 25)) is None


def test_add_working_days_keeps_the_time_of_day() -> None:
    cal = calendar()
    assert cal.add_working_days(utc("2026-11-26T10:00"), 1) == utc("2026-11-27T10:00")
    assert cal.add_working_days(utc("2026-11-27T10:00"), 1) == utc("2026-11-30T10:00")
    assert cal.add_working_days(utc("2026-11-27T16:20"), 1) == utc("2026-11-30T16:00")  # Monday closes earlier
    assert cal.add_working_days(utc("2026-11-28T12:00"), 1) == utc("2026-12-01T07:30")  # Saturday: from Monday


def test_office_hours_setting_is_checked() -> None:
    assert parse_office_hours("Sat 08:00-12:00")[5][1].hour == 12
    for bad in ("Mon-Thu 16:00-07:30", "Xyz 07:30-16:00", "Mon 7-16", ""):
        with pytest.raises(InvalidData) as err:
            parse_office_hours(bad)
        assert err.value.field == "ALUR_OFFICE_HOURS"


def test_due_and_waiting_time_of_steps_count_working_time(alur: Alur) -> None:
    with fixed_clock(utc("2026-11-26T15:55")):  # Thursday, five minutes before closing
        iid = start(alur)
    first = current(alur, iid)
    # the 5 minutes end at Thursday's closing: not overdue through the night, as wall time would say
    assert first.standard_minutes == 5 and first.due_at == utc("2026-11-27T07:30")
    assert first.waited_working_seconds is None
    with fixed_clock(utc("2026-11-27T07:30")):
        assert not overdue(first)
        assert alur.instances(SYSTEM, Filters(overdue=True)) == []
    with fixed_clock(utc("2026-11-27T07:40")):
        assert overdue(first)
        assert [i.id for i in alur.instances(SYSTEM, Filters(overdue=True))] == [iid]
        step(alur, iid)
    done = alur.instance(iid, SYSTEM).history[0]
    assert done.waited_working_seconds == 15 * 60
    assert done.duration_seconds == (utc("2026-11-27T07:40") - utc("2026-11-26T15:55")).total_seconds()
    second = current(alur, iid)
    assert second.ready_at == utc("2026-11-27T07:40") and second.due_at == utc("2026-11-27T07:45")


def test_return_loop_and_lead_time_against_the_path_standard(alur: Alur) -> None:
    with fixed_clock(utc("2026-11-27T16:20")):  # Friday afternoon
        iid = start(alur)
    with fixed_clock(utc("2026-11-30T07:40")):  # Monday: 10 + 10 working minutes
        step(alur, iid)
    with fixed_clock(utc("2026-11-30T08:00")):
        step(alur, iid, "tidak_setuju")  # step 2 returns the request to step 1
    assert current(alur, iid).step_no == 1
    with fixed_clock(utc("2026-11-30T08:30")):
        step(alur, iid)
        detail = alur.instance(iid, SYSTEM)
    assert [(r.step_no, r.state, r.waited_working_seconds) for r in detail.history] == [
        (1, "completed", 20 * 60), (2, "completed", 20 * 60), (1, "completed", 30 * 60), (2, "ready", None)]
    assert detail.path_standard_minutes == 15  # 5 + 5 + 5: the loop's steps count again
    assert detail.lead_seconds == (utc("2026-11-30T08:30") - utc("2026-11-27T16:20")).total_seconds()
    assert detail.lead_working_seconds == 70 * 60
    with fixed_clock(utc("2026-11-30T09:00")):
        alur.cancel(iid, SYSTEM, "uji")
    cancelled = alur.instance(iid, SYSTEM).history[-1]
    assert cancelled.state == "cancelled" and cancelled.waited_working_seconds == 30 * 60


def test_holidays_added_and_removed_by_the_admin_change_due_times(alur: Alur) -> None:
    admin = actor_of(create_user(alur, "admin2", "kata-sandi-baru", admin=True))
    alur.add_holiday(date(2026, 12, 24), "Cuti bersama Natal", admin)
    assert alur.calendar().holiday(date(2026, 12, 24)) == "Cuti bersama Natal"
    with fixed_clock(utc("2026-12-23T15:58")):  # Wednesday; Thursday is now off, Friday is Christmas
        iid = start(alur)
    assert current(alur, iid).due_at == utc("2026-12-28T07:33")
    alur.work_on_holiday(date(2026, 12, 25), admin)
    alur.remove_calendar_change(date(2026, 12, 24), admin)
    with fixed_clock(utc("2026-12-23T15:58")):
        second = start(alur)
    assert current(alur, second).due_at == utc("2026-12-24T07:33")
    days = {(e.day, e.source, e.kind) for e in alur.calendar_days(2026)}
    assert (date(2026, 12, 25), "nasional", "masuk") in days
    assert not any(d == date(2026, 12, 24) for d, _, _ in days)
    with alur.unit_of_work(write=False) as uow:
        kinds = list(uow.session.scalars(select(AuditEvent.kind).where(AuditEvent.kind.like("calendar%"))
                                         .order_by(AuditEvent.id)))
    assert kinds == ["calendar_holiday_added", "calendar_working_day", "calendar_change_removed"]
    with pytest.raises(InvalidData, match="sudah libur nasional"):
        alur.add_holiday(date(2026, 8, 17), "Dobel", admin)
    with pytest.raises(InvalidData, match="bukan libur nasional"):
        alur.work_on_holiday(date(2026, 11, 30), admin)
    with pytest.raises(NotFound):
        alur.remove_calendar_change(date(2026, 11, 30), admin)
    with pytest.raises(Forbidden):
        alur.add_holiday(date(2026, 11, 30), "x", SYSTEM.__class__("orang"))


def test_init_backfills_working_time_of_activations_recorded_before_it(alur: Alur) -> None:
    with fixed_clock(utc("2026-11-26T15:55")):
        iid = start(alur)
    with fixed_clock(utc("2026-11-27T07:40")):
        step(alur, iid)
    with alur.unit_of_work() as uow:  # as a database from before migration 0007 would have it
        uow.session.execute(update(TaskRecord).values(waited_working_seconds=None))
    assert alur.backfill_working_time() == 1
    assert alur.instance(iid, SYSTEM).history[0].waited_working_seconds == 15 * 60
    assert alur.backfill_working_time() == 0


def _naive_working_seconds(cal: OfficeCalendar, start: datetime, end: datetime) -> int:
    """The definition, day by day: the overlap of [start, end) with each day's office hours."""
    total, day = 0.0, (start + WIB7).date() - timedelta(days=1)
    while day <= (end + WIB7).date() + timedelta(days=1):
        span = cal.open_hours(day)
        if span is not None:
            lo, hi = max(span[0], start), min(span[1], end)
            total += max(0.0, (hi - lo).total_seconds())
        day += timedelta(days=1)
    return int(total)


@settings(max_examples=300, deadline=None)
@given(st.datetimes(datetime(2025, 12, 1), datetime(2027, 2, 1)), st.integers(0, 400 * 24 * 3600))
def test_working_seconds_agree_with_the_day_by_day_definition(start: datetime, span: int) -> None:
    cal = calendar(extra_holidays={date(2026, 12, 24): "Cuti bersama"}, working_days=frozenset({date(2026, 8, 17)}))
    start = start.replace(microsecond=0)  # whole seconds: both sides sum the same floats
    end = start + timedelta(seconds=span)
    assert cal.working_seconds(start, end) == _naive_working_seconds(cal, start, end)
    moment = cal.add_working(start, span % (300 * 3600))
    assert cal.working_seconds(start, moment) == span % (300 * 3600)


def test_a_calendar_change_from_a_server_whose_clock_is_behind_reaches_every_server(db_url: str) -> None:
    """Two servers on one database: one removes an added holiday and adds another, and (its clock behind) the
    new row is no newer than the old one. Same count, same newest time: only the change counter tells the
    other server's cache that its calendar is old."""
    here, there = make_alur(db_url), make_alur(db_url)
    admin = actor_of(create_user(there, "admin2", "kata-sandi-baru", admin=True))
    there.add_holiday(date(2027, 3, 2), "Cuti bersama", admin)
    assert here.calendar().holiday(date(2027, 3, 2)) == "Cuti bersama"  # here caches this calendar
    with there.unit_of_work(write=False) as uow:
        old_time = uow.session.scalar(select(CalendarDay.created_at).where(CalendarDay.day == date(2027, 3, 2)))
    there.remove_calendar_change(date(2027, 3, 2), admin)
    there.add_holiday(date(2027, 3, 3), "Libur daerah", admin)
    with there.unit_of_work() as uow:  # the clock of `there` is behind
        uow.session.execute(update(CalendarDay).where(CalendarDay.day == date(2027, 3, 3)).values(created_at=old_time))
    calendar = here.calendar()
    assert calendar.holiday(date(2027, 3, 3)) == "Libur daerah" and calendar.holiday(date(2027, 3, 2)) is None
