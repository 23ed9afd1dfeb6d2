"""The inbox for a real office: search, filters with counts, sort, paging, claims and return marks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import event, update

from engine import claims
from engine.actors import SYSTEM, Filters
from engine.clock import utcnow
from engine.demo import actor_for_lane, fill
from engine.inbox import InboxQuery, inbox
from engine.models import Instance, TaskRecord
from engine.services import Alur
from engine.testing import make_alur
from tests.helpers import current, drive_to, start, step
from tests.test_api import Api
from tests.test_ui import login

TU = "Petugas Informasi/TU"


def _three_requests(alur: Alur) -> tuple[int, int, int]:
    """Three requests waiting at step 2; the second was returned once, the third is overdue."""
    pemohon = actor_for_lane(alur, "Pemohon")
    ids = [alur.start("fasilitasi_narasumber", pemohon, {"perihal": p}) for p in
           ("Narasumber bimtek koperasi", "Narasumber pelatihan UMKM 50%_x", "Narasumber rapat kerja")]
    step_1 = alur.parsed(alur.definition("fasilitasi_narasumber")).model.steps["langkah_01_sampaikan_berkas"]
    for iid in ids:
        step(alur, iid, data={**fill(step_1, None), "perihal": alur.instance(iid, SYSTEM).instance.perihal})
    step(alur, ids[1], "tidak_setuju")
    step(alur, ids[1], data={**fill(step_1, None), "perihal": "Narasumber pelatihan UMKM 50%_x"})
    # the applicant fixed it: step 2 again, a first activation again (not a return)
    late = current(alur, ids[2])
    with alur.unit_of_work() as uow:
        uow.session.execute(update(TaskRecord).where(TaskRecord.id == late.id)
                            .values(due_at=late.ready_at - timedelta(minutes=1)))
    return ids[0], ids[1], ids[2]


def test_search_filters_counts_sort_and_paging(alur: Alur) -> None:
    _search_filters_counts_sort_and_paging(alur)


def test_search_filters_counts_sort_and_paging_on_postgresql(pg_alur: Alur) -> None:
    _search_filters_counts_sort_and_paging(pg_alur)


def test_a_search_tests_the_request_of_each_ready_task_on_postgresql(pg_url: str) -> None:
    """The search's request test stays a subplan run for each of the lanes' ready tasks: made a join,
    PostgreSQL may start from the requests and read every one (at 100k, 150-300 ms for '#123' or a rare
    word, which it guesses from the ILIKEs few requests match)."""
    alur = make_alur(pg_url)
    try:
        first, _, third = _three_requests(alur)
        seen: list[tuple[str, Any]] = []

        def capture(_conn: Any, _cursor: Any, statement: str, params: Any, *_args: Any) -> None:
            seen.append((statement, params))

        event.listen(alur.db.engine, "before_cursor_execute", capture)
        try:
            tu = actor_for_lane(alur, TU)
            assert [r.instance_id for r in inbox(alur, tu, InboxQuery(search=f"#{third}")).tasks] == [third]
            assert inbox(alur, tu, InboxQuery(search=f"#{first}", overdue=True)).tasks == []  # and the counts
        finally:
            event.remove(alur.db.engine, "before_cursor_execute", capture)
        searches = [(statement, params) for statement, params in seen if "EXISTS" in statement]
        assert len(searches) == 2  # an empty page of a filter too: its counts ride in the same statement
        with alur.db.engine.connect() as conn:
            for statement, params in searches:
                plan = "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, params))
                assert "SubPlan" in plan, plan
    finally:
        alur.db.engine.dispose()


def _search_filters_counts_sort_and_paging(alur: Alur) -> None:
    first, second, third = _three_requests(alur)
    tu = actor_for_lane(alur, TU)
    everything = inbox(alur, tu, InboxQuery())
    assert [r.instance_id for r in everything.tasks] == [first, third, second]  # longest waiting first
    assert everything.counts == {"semua": 3, "terlambat": 1, "dikembalikan": 0, "saya": 0}

    assert [r.instance_id for r in inbox(alur, tu, InboxQuery(search="umkm 50%_")).tasks] == [second]
    assert [r.instance_id for r in inbox(alur, tu, InboxQuery(search="50%")).tasks] == [second]  # % is literal
    assert [r.instance_id for r in inbox(alur, tu, InboxQuery(search=f"#{third}")).tasks] == [third]
    agency = inbox(alur, tu, InboxQuery(search="dinas pendidikan"))
    assert len(agency.tasks) == 3 and agency.counts["semua"] == 3
    assert [r.instance_id for r in inbox(alur, tu, InboxQuery(overdue=True)).tasks] == [third]
    assert [r.instance_id for r in inbox(alur, tu, InboxQuery(sort="tenggat")).tasks][0] == third
    assert inbox(alur, tu, InboxQuery(step_no=3)).tasks == []

    page_1 = inbox(alur, tu, InboxQuery(limit=2))
    page_2 = inbox(alur, tu, InboxQuery(limit=2, offset=2))
    assert page_1.has_next and not page_2.has_next
    assert [r.instance_id for r in page_1.tasks + page_2.tasks] == [first, third, second]

    claims.claim(alur, current(alur, second).id, tu)
    mine = inbox(alur, tu, InboxQuery(mine=True))
    assert [r.instance_id for r in mine.tasks] == [second] and mine.counts["saya"] == 1
    assert inbox(alur, actor_for_lane(alur, "Kepala Biro"), InboxQuery()).tasks == []


def test_returned_tasks_are_marked_and_filtered(alur: Alur) -> None:
    iid = start(alur)
    drive_to(alur, iid, 7)
    step(alur, iid, "tidak_setuju")
    kasubbag = actor_for_lane(alur, "Kasubbag Terkait")
    found = inbox(alur, kasubbag, InboxQuery(returned=True))
    assert [r.step_no for r in found.tasks] == [6] and found.counts["dikembalikan"] == 1


def test_the_inbox_page_marks_returned_and_held_tasks_and_counts_filters(alur: Alur, client: FlaskClient) -> None:
    iid = start(alur)
    step(alur, iid)
    step(alur, iid, "tidak_setuju")  # back to the applicant
    login(client, "pemohon")
    page = client.get("/").text
    assert 'class="badge badge-return">dikembalikan<' in page
    assert 'data-filter="dikembalikan">Dikembalikan <span class="count">1</span>' in page
    filtered = client.get("/?dikembalikan=1").text
    assert f'data-instance="{iid}"' in filtered
    assert f'data-instance="{iid}"' not in client.get("/?cari=tidak-ada-yang-cocok").text
    claims.claim(alur, current(alur, iid).id, actor_for_lane(alur, "Pemohon"))
    assert "Anda kerjakan" in client.get("/").text


@contextmanager
def statements(alur: Alur) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(alur.db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(alur.db.engine, "before_cursor_execute", count)


def test_a_page_of_the_inbox_or_the_list_costs_the_same_statements_whatever_its_size(
        alur: Alur, client: FlaskClient) -> None:
    """No statement per row (N+1): a page of one task and a page of three read the same statements."""
    _three_requests(alur)
    api = Api(client)
    api.token("petugas-informasi-tu"), api.token("admin")
    counted = {}
    for path, who, key in (("/api/v1/tasks", "petugas-informasi-tu", "tasks"),
                           ("/api/v1/instances", "admin", "instances")):
        for limit in (1, 3):
            with statements(alur) as seen:
                body = api.get(f"{path}?limit={limit}", who).json
            assert len(body[key]) == limit
            counted[path, limit] = [s.split()[0].upper() for s in seen]
        assert counted[path, 1] == counted[path, 3], counted
    # the token, the counts of every filter, the page (each read in its own transaction on SQLite: BEGIN)
    assert [s for s in counted["/api/v1/tasks", 3] if s != "BEGIN"] == ["SELECT"] * 3
    assert [s for s in counted["/api/v1/instances", 3] if s != "BEGIN"] == ["SELECT"] * 3


def _an_applicants_empty_page_costs_one_statement(alur: Alur) -> None:
    """An applicant's rows are joined to their requests (for the agency), a search's tested against theirs: a few
    ms a statement at 100k. Their page and counts are one statement, also when a filter or an offset leaves
    the page empty (the tabs still count the other filters)."""
    iid = start(alur)
    pemohon = actor_for_lane(alur, "Pemohon")
    assert pemohon.agency
    counts = {"semua": 1, "terlambat": 0, "dikembalikan": 0, "saya": 0}
    for query in (InboxQuery(returned=True), InboxQuery(mine=True, overdue=True), InboxQuery(offset=1),
                  InboxQuery(search="tidak-ada-yang-cocok", returned=True), InboxQuery(search=f"#{iid}", mine=True),
                  InboxQuery(search=f"#{iid}", offset=1, limit=1)):
        with statements(alur) as seen:
            page = inbox(alur, pemohon, query)
        assert page.tasks == [] and not page.has_next, query
        assert page.counts == (counts if "tidak" not in query.search else dict.fromkeys(counts, 0)), query
        assert [s.split()[0].upper() for s in seen if s != "BEGIN"] == ["WITH"], (query, seen)
    with statements(alur) as seen:
        found = inbox(alur, pemohon, InboxQuery(limit=1))
    assert [r.instance_id for r in found.tasks] == [iid] and found.counts == counts and not found.has_next
    assert len([s for s in seen if s != "BEGIN"]) == 1


def test_an_applicants_empty_page_costs_one_statement(alur: Alur) -> None:
    _an_applicants_empty_page_costs_one_statement(alur)


def test_an_applicants_empty_page_costs_one_statement_on_postgresql(pg_alur: Alur) -> None:
    _an_applicants_empty_page_costs_one_statement(pg_alur)


def test_the_instance_list_filters_and_order_on_postgresql(pg_alur: Alur) -> None:
    """Newest first by start time, the overdue filter both ways and a date range, on PostgreSQL's plans."""
    first, second, third = _three_requests(pg_alur)
    with pg_alur.unit_of_work() as uow:  # the first request started a day earlier
        uow.session.execute(update(Instance).where(Instance.id == first)
                            .values(started_at=Instance.started_at - timedelta(days=1)))

    def ids(**filters: Any) -> list[int]:
        return [i.id for i in pg_alur.instances(SYSTEM, Filters(**filters))]

    assert ids() == [third, second, first]
    assert ids(overdue=True) == [third] and ids(overdue=False) == [second, first]
    assert ids(started_from=utcnow() - timedelta(hours=12)) == [third, second]
    assert ids(started_to=utcnow() - timedelta(hours=12)) == [first]
    assert ids(status="running", limit=1, offset=1) == [second]
