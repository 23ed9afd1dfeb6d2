"""The process owner's desk at the service level: check, versions, diff, migration, `init` after a revision."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from engine.actors import SYSTEM
from engine.bootstrap import init
from engine.demo import actor_for_lane
from engine.errors import Forbidden, InvalidData
from engine.models import AuditEvent, Instance, ProcessDefinition, TaskRecord
from engine.owner import CannotMigrate
from engine.services import Alur
from engine.users import create_user
from tests.conftest import PDF, SOP_FILE
from tests.helpers import current, drive_to, start, step
from tests.owner_diagrams import NEW_LANE, NEW_STEP, renamed_step_sop, revised_sop
from tests.test_concurrency import run_together
from tests.test_permissions import token
from tests.test_ui import login

PROCESS = "fasilitasi_narasumber"
PARALLEL = Path(__file__).parent / "diagrams" / "paralel.bpmn"


def row_counts(alur: Alur) -> dict[str, int]:
    with alur.unit_of_work(write=False) as uow:
        return {m.__tablename__: uow.session.scalar(select(func.count()).select_from(m))
                for m in (ProcessDefinition, Instance, TaskRecord, AuditEvent)}


def finish(alur: Alur, instance_id: int) -> None:
    for _ in range(60):
        if not alur.ready_of([instance_id])[instance_id]:
            return
        step(alur, instance_id)
    raise AssertionError("request did not finish")


# ---- check -------------------------------------------------------------------------------

def test_validate_reports_errors_and_warnings_and_stores_nothing(alur: Alur) -> None:
    before = row_counts(alur)
    clean = alur.validate(SOP_FILE.read_bytes())
    assert clean.errors == [] and clean.warnings == [] and clean.key == PROCESS
    revised = alur.validate(revised_sop())
    assert revised.errors == []
    [warning] = revised.warnings
    assert warning.element_id == "lane_bagian_hukum" and f"lane '{NEW_LANE}' belum punya anggota" in warning.message
    text = revised_sop().decode()
    assert warning.line == text[: text.index('id="lane_bagian_hukum"')].count("\n") + 1
    broken = alur.validate(text.replace('sourceRef="gw_06b_persetujuan_hukum" targetRef="gw_gabung_07"',
                                         'sourceRef="gw_06b_persetujuan_hukum" targetRef="tidak_ada"').encode())
    assert broken.warnings == []
    assert any(p.element_id == "flow_06b_setuju" and "tidak_ada" in p.message and p.line for p in broken.errors)
    assert alur.validate(b"<bukan xml").errors[0].message.startswith("XML tidak valid")
    assert row_counts(alur) == before


def test_deploy_returns_the_lane_warning_and_it_goes_once_the_lane_has_a_member(alur: Alur) -> None:
    result = alur.deploy(revised_sop(), SYSTEM)
    assert result.created and [w.element_id for w in result.warnings] == ["lane_bagian_hukum"]
    create_user(alur, "staf-hukum", "kata-sandi-1", [NEW_LANE])
    assert alur.validate(revised_sop()).warnings == []


# ---- versions and diff -------------------------------------------------------------------

def test_versions_count_requests_per_version(alur: Alur) -> None:
    running, done = start(alur), start(alur)
    finish(alur, done)
    alur.deploy(revised_sop(), SYSTEM)
    cancelled = start(alur)
    alur.cancel(cancelled, SYSTEM)
    v1, v2 = alur.versions(PROCESS)
    assert (v1.version, v1.running, v1.completed, v1.cancelled) == (1, 1, 1, 0)
    assert (v2.version, v2.running, v2.completed, v2.cancelled) == (2, 0, 0, 1)
    assert v2.deployed_by == "system" and len(v2.sha256) == 64 and v2.sha256 != v1.sha256
    assert alur.instance(running, SYSTEM).instance.status == "running"


def test_diff_names_the_three_changes_in_sop_terms(alur: Alur) -> None:
    alur.deploy(revised_sop(), SYSTEM)
    diff = alur.diff(PROCESS, 1, 2)
    by = {(c.element_id, c.aspect): c for c in diff.changes}
    time = by[("langkah_06_buat_draft", "waktu_menit")]
    assert (time.kind, time.before, time.after) == ("changed", 20, 30)
    assert "20 menit menjadi 30 menit" in time.message
    label = by[("langkah_03_teruskan_surat", "field:catatan")]
    assert (label.element_type, label.before, label.after) == ("field", "Catatan", "Catatan untuk Kepala Biro")
    new_step = by[(NEW_STEP, "langkah")]
    assert new_step.kind == "added" and NEW_LANE in new_step.message
    assert by[("lane_bagian_hukum", "lane")].kind == "added"
    assert by[("gw_06b_persetujuan_hukum", "decision")].kind == "added"
    back = by[("flow_06b_tidak_setuju", "alur")]
    assert back.message.startswith("Jalur pengembalian baru") and "tidak_setuju" in back.after
    assert by[("flow_langkah_06_ke_berikutnya", "tujuan")].kind == "changed"
    assert diff.element_status[NEW_STEP] == "added"
    assert diff.element_status["langkah_06_buat_draft"] == "changed"
    assert "langkah_01_sampaikan_berkas" not in diff.element_status
    reverse = alur.diff(PROCESS, 2, 1)
    assert reverse.element_status[NEW_STEP] == "removed"
    assert alur.diff(PROCESS, 1, 1).changes == []


def test_only_process_owners_and_admins_use_the_desk(alur: Alur) -> None:
    sekda, owner = actor_for_lane(alur, "Sekda"), SYSTEM
    alur.deploy(revised_sop(), owner)
    for call in (lambda a: alur.validate(revised_sop(), actor=a), lambda a: alur.versions(PROCESS, a),
                 lambda a: alur.diff(PROCESS, 1, 2, a), lambda a: alur.plan_migration(PROCESS, 1, 2, actor=a),
                 lambda a: alur.migrate_all(PROCESS, 1, 2, a)):
        with pytest.raises(Forbidden):
            call(sekda)
        call(owner)


# ---- migration ---------------------------------------------------------------------------

def test_migrated_request_keeps_history_and_ready_time_and_completes_through_the_new_step(alur: Alur) -> None:
    iid = start(alur)
    ready6 = drive_to(alur, iid, 6)
    history_before = [(r.id, r.state) for r in alur.instance(iid, SYSTEM).history]
    alur.deploy(revised_sop(), SYSTEM)
    [check] = alur.plan_migration(PROCESS, 1, 2)
    assert (check.instance_id, check.can_move, check.reasons) == (iid, True, [])
    owner = actor_for_lane(alur, "Pemohon")
    with pytest.raises(Forbidden):
        alur.migrate(iid, 2, owner)
    result = alur.migrate(iid, 2, SYSTEM)
    assert (result.from_version, result.to_version) == (1, 2)
    moved = current(alur, iid)
    assert (moved.id, moved.ready_at, moved.standard_minutes) == (ready6.id, ready6.ready_at, 30)
    assert moved.due_at == alur.calendar().add_working(moved.ready_at, 30 * 60)  # the new standard, working time
    detail = alur.instance(iid, SYSTEM)
    assert detail.instance.definition.version == 2
    assert [(r.id, r.state) for r in detail.history] == history_before
    assert alur.verify(iid) == []
    [event] = [e for e in alur.audit_log(iid) if e.kind == "migrate"]
    assert event.actor == "system" and event.payload["from_version"] == 1 and event.payload["to_version"] == 2
    assert event.payload["mapping"] == {} and event.payload["tasks"] == {ready6.id: "langkah_06_buat_draft"}
    create_user(alur, "staf-hukum", "kata-sandi-1", [NEW_LANE])
    step(alur, iid)                                        # step 6 on version 2 leads to the new step
    new = current(alur, iid)
    assert (new.spec_id, new.lane) == (NEW_STEP, NEW_LANE)
    step(alur, iid, decision="tidak_setuju")               # its return path goes back to step 6
    assert current(alur, iid).spec_id == "langkah_06_buat_draft"
    finish(alur, iid)
    done = alur.instance(iid, SYSTEM)
    assert done.instance.status == "completed" and done.instance.definition.version == 2
    assert [r.spec_id for r in done.history].count(NEW_STEP) == 2
    with pytest.raises(CannotMigrate):
        alur.migrate(iid, 1, SYSTEM)


def test_refused_when_a_ready_step_is_missing_and_moved_with_a_mapping(alur: Alur) -> None:
    iid = start(alur)
    ready6 = drive_to(alur, iid, 6)
    other = start(alur)                                    # at step 1: exists in the target
    alur.deploy(renamed_step_sop(), SYSTEM)
    before = row_counts(alur)
    with pytest.raises(CannotMigrate) as err:
        alur.migrate(iid, 2, SYSTEM)
    assert err.value.steps == ["langkah_06_buat_draft"] and "Buat draft surat balasan" in err.value.message
    assert row_counts(alur) == before and alur.instance(iid, SYSTEM).instance.definition.version == 1
    checks = {c.instance_id: c for c in alur.plan_migration(PROCESS, 1, 2)}
    assert checks[other].can_move and not checks[iid].can_move
    assert checks[iid].steps == ["langkah_06_buat_draft"]
    with pytest.raises(InvalidData) as bad:
        alur.migrate(iid, 2, SYSTEM, {"langkah_06_buat_draft": "tidak_ada"})
    assert bad.value.field == "mapping"
    mapping = {"langkah_06_buat_draft": "langkah_06_susun_draft"}
    result = alur.migrate(iid, 2, SYSTEM, mapping)
    assert result.tasks == {ready6.id: "langkah_06_susun_draft"} and result.mapping == mapping
    moved = current(alur, iid)
    assert (moved.id, moved.spec_id, moved.ready_at) == (ready6.id, "langkah_06_susun_draft", ready6.ready_at)
    finish(alur, iid)
    assert alur.instance(iid, SYSTEM).instance.status == "completed"
    event = [e for e in alur.audit_log(iid) if e.kind == "migrate"][0]
    assert event.payload["mapping"] == mapping


def test_migrate_all_moves_those_that_can_and_reports_the_others(alur: Alur) -> None:
    at6, at1 = start(alur), start(alur)
    drive_to(alur, at6, 6)
    alur.deploy(renamed_step_sop(), SYSTEM)
    bulk = alur.migrate_all(PROCESS, 1, 2, SYSTEM)
    assert [m.instance_id for m in bulk.moved] == [at1]
    assert [(c.instance_id, c.steps) for c in bulk.refused] == [(at6, ["langkah_06_buat_draft"])]
    assert alur.instance(at1, SYSTEM).instance.definition.version == 2
    finish(alur, at1)
    assert alur.instance(at1, SYSTEM).instance.status == "completed"


def test_refused_when_the_target_needs_a_document_the_request_lacks(alur: Alur) -> None:
    iid = start(alur)
    drive_to(alur, iid, 4)
    text = SOP_FILE.read_text(encoding="utf-8")
    # step 4 (disposisi) now expects a 'nota_dinas' nobody has uploaded
    needle = ('value="4" />\n          <camunda:property name="waktu_menit" value="5" />\n'
              '          <camunda:property name="kelengkapan" value="surat_pd,disposisi')
    assert text.count(needle) == 1
    alur.deploy(text.replace(needle, needle + ",nota_dinas").encode(), SYSTEM)
    with pytest.raises(CannotMigrate) as err:
        alur.migrate(iid, 2, SYSTEM)
    assert "nota_dinas" in err.value.message and err.value.steps == ["langkah_04_disposisi"]


def test_only_running_requests_move(alur: Alur) -> None:
    iid = start(alur)
    alur.cancel(iid, SYSTEM)
    alur.deploy(revised_sop(), SYSTEM)
    with pytest.raises(CannotMigrate, match="cancelled"):
        alur.migrate(iid, 2, SYSTEM)


def _parallel_v2(alur: Alur) -> None:
    alur.deploy(PARALLEL.read_bytes(), SYSTEM)
    alur.deploy(PARALLEL.read_text(encoding="utf-8").replace('name="Cabang B"', 'name="Cabang B (baru)"')
                .replace('name="Periksa"', 'name="Periksa akhir"').encode(), SYSTEM)


@pytest.mark.parametrize("done_before", [False, True])
def test_parallel_branches_migrate_and_join_on_the_target(alur: Alur, done_before: bool) -> None:
    _parallel_v2(alur)
    pemohon = actor_for_lane(alur, "Pemohon")
    iid = alur.start("uji_paralel", pemohon)
    # start on version 1: move the request there first (it started on the newest)
    alur.migrate(iid, 1, SYSTEM)
    first = current(alur, iid)
    alur.complete(first.id, pemohon, {"perihal": "uji"})
    branches = {r.lane: r for r in alur.ready_of([iid])[iid]}
    if done_before:
        alur.complete(branches["Kepala Biro"].id, actor_for_lane(alur, "Kepala Biro"), {"hasil_b": "B"})
    result = alur.migrate(iid, 2, SYSTEM)
    assert set(result.tasks.values()) == ({"cabang_c"} if done_before else {"cabang_b", "cabang_c"})
    assert alur.verify(iid) == []
    names = {r.lane: r.name for r in alur.ready_of([iid])[iid]}
    if not done_before:
        assert names["Kepala Biro"] == "Cabang B (baru)"
        alur.complete(branches["Kepala Biro"].id, actor_for_lane(alur, "Kepala Biro"), {"hasil_b": "B"})
        assert [r.spec_id for r in alur.ready_of([iid])[iid]] == ["cabang_c"]
    alur.complete(branches["Sekda"].id, actor_for_lane(alur, "Sekda"), {"hasil_c": "C"})
    [periksa] = alur.ready_of([iid])[iid]
    assert (periksa.spec_id, periksa.name) == ("periksa", "Periksa akhir")
    alur.complete(periksa.id, pemohon, {})
    detail = alur.instance(iid, SYSTEM)
    assert detail.instance.status == "completed" and detail.instance.data["hasil_b"] == "B"


def _concurrent_migration_and_completion(alur: Alur) -> None:
    iid = start(alur)
    record = drive_to(alur, iid, 6)
    kasubbag = actor_for_lane(alur, record.lane)
    alur.attach_document(record.id, kasubbag, _upload())
    alur.deploy(revised_sop(), SYSTEM)
    data = {"catatan": "draft siap"}
    results = run_together([lambda: alur.complete(record.id, kasubbag, data),
                            lambda: alur.migrate(iid, 2, SYSTEM)])
    assert results[0] == iid, results
    assert not isinstance(results[1], Exception), results
    assert alur.verify(iid) == []
    detail = alur.instance(iid, SYSTEM)
    assert detail.instance.definition.version == 2
    [ready] = detail.ready
    moved = results[1].tasks
    if ready.spec_id == NEW_STEP:        # migrated first: step 6 completed on version 2
        assert moved == {record.id: "langkah_06_buat_draft"}
    else:                                # completed first: step 7 was moved
        assert ready.spec_id == "langkah_07_koreksi_kabag" and moved == {ready.id: ready.spec_id}
    assert [r.state for r in detail.history].count("completed") == 6


def _upload():
    from engine.actors import Upload

    return Upload("draft_surat", "draft.pdf", PDF)


def test_migration_is_atomic_under_a_concurrent_completion_on_sqlite(alur: Alur) -> None:
    _concurrent_migration_and_completion(alur)


def test_migration_is_atomic_under_a_concurrent_completion_on_postgresql(pg_alur: Alur) -> None:
    _concurrent_migration_and_completion(pg_alur)


# ---- init ---------------------------------------------------------------------------------

def test_init_after_a_revision_creates_no_new_version(alur: Alur) -> None:
    alur.deploy(revised_sop(), SYSTEM)
    report = init(alur, demo=False)
    assert report.deployed == [(PROCESS, 2, False)]
    assert [v.version for v in alur.versions(PROCESS)] == [1, 2]
    assert alur.definition(PROCESS).version == 2



def test_refused_when_a_condition_ahead_needs_data_the_request_never_gave(alur: Alur) -> None:
    passed, waiting = start(alur), start(alur)
    drive_to(alur, passed, 3)
    text = SOP_FILE.read_text(encoding="utf-8")
    field = ('<camunda:formField id="perihal" label="Perihal surat" type="string">')
    assert text.count(field) == 1 and text.count(">keputusan == 'setuju'</") == 5
    revised = text.replace(field, '<camunda:formField id="prioritas" label="Prioritas" type="string" />' + field)
    revised = revised.replace(
        "sourceRef=\"gw_07_persetujuan_kabag\" targetRef=\"gw_gabung_08\">\n      <bpmn:conditionExpression "
        "xsi:type=\"bpmn:tFormalExpression\">keputusan == 'setuju'<",
        "sourceRef=\"gw_07_persetujuan_kabag\" targetRef=\"gw_gabung_08\">\n      <bpmn:conditionExpression "
        "xsi:type=\"bpmn:tFormalExpression\">keputusan == 'setuju' and prioritas != 'rendah'<")
    assert "prioritas != 'rendah'" in revised
    alur.deploy(revised.encode(), SYSTEM)
    checks = {c.instance_id: c for c in alur.plan_migration(PROCESS, 1, 2)}
    assert checks[waiting].can_move, checks[waiting].reasons   # step 1 will ask for it
    assert not checks[passed].can_move and checks[passed].steps == ["flow_07_setuju"]
    assert "prioritas" in checks[passed].reasons[0]
    with pytest.raises(CannotMigrate, match="prioritas"):
        alur.migrate(passed, 2, SYSTEM)


def test_a_done_step_the_target_lacks_still_opens_after_the_move(alur: Alur, client: FlaskClient) -> None:
    iid = start(alur)
    drive_to(alur, iid, 3)
    done2 = next(r for r in alur.instance(iid, SYSTEM).history if r.spec_id == "langkah_02_cek_kelengkapan")
    alur.deploy(renamed_step_sop("langkah_02_cek_kelengkapan", "langkah_02_periksa_berkas"), SYSTEM)
    alur.migrate(iid, 2, SYSTEM)
    detail = alur.task(done2.id, SYSTEM)
    assert detail.step.id == "langkah_02_cek_kelengkapan" and detail.record.state == "completed"
    shown = client.get(f"/api/v1/tasks/{done2.id}", headers=token(client, "pemilik-proses"))
    assert shown.status_code == 200 and shown.get_json()["step"]["id"] == "langkah_02_cek_kelengkapan"
    login(client, "pemilik-proses")
    page = client.get(f"/permohonan/{iid}")
    assert page.status_code == 200 and "Catat dan cek kelengkapan berkas" in page.text
    assert client.get(f"/tugas/{done2.id}").status_code == 200
