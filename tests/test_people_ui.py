"""The people pages over HTTP: users (admins), lanes and the home (owners and admins), cancel with a reason."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from engine.actors import SYSTEM
from engine.clock import utcnow
from engine.models import TaskRecord
from engine.people import UserChange, change_user
from engine.services import Alur
from engine.users import DEMO_PASSWORD, get_user
from tests.test_ui import login, start


def test_users_page_lists_and_searches_for_admins_only(client: FlaskClient) -> None:
    login(client, "admin")
    page = client.get("/pengguna").text
    assert page.count('<tr data-user="') == 9 and "Kasubbag Terkait" in page
    found = client.get("/pengguna?q=sekda").text
    assert found.count('<tr data-user="') == 1 and 'data-user="sekda"' in found
    assert "Tidak ada pengguna" in client.get("/pengguna?q=tidak-ada-siapa-pun").text
    for who in ("pemilik-proses", "sekda"):
        other = client.application.test_client()
        login(other, who)
        assert other.get("/pengguna").status_code == 403
        assert other.get("/pengguna/sekda").status_code == 403
        assert other.post("/pengguna/sekda", data={"aksi": "nonaktifkan"}).status_code == 403
    assert get_user_active(client, "sekda")


def get_user_active(client: FlaskClient, username: str) -> bool:
    return get_user(client.application.extensions["alur"], username).active


def test_admin_adds_a_lane_from_the_diagram_and_an_unknown_one_only_when_confirmed(client: FlaskClient,
                                                                                  alur: Alur) -> None:
    login(client, "admin")
    page = client.get("/pengguna/sekda").text
    assert '<option value="Kepala Biro">' in page and '<option value="Sekda">' not in page  # has it already
    response = client.post("/pengguna/sekda", data={"aksi": "tambah_lane", "lane": "Kepala Biro"})
    assert response.status_code == 302
    assert get_user(alur, "sekda").lane_names == {"Sekda", "Kepala Biro"}
    refused = client.post("/pengguna/sekda", data={"aksi": "tambah_lane", "lane_lain": "bendahara "})
    assert refused.status_code == 422 and "tidak ada di diagram mana pun" in refused.text
    assert 'value="bendahara "' in refused.text  # what was typed stays
    assert get_user(alur, "sekda").lane_names == {"Sekda", "Kepala Biro"}
    ok = client.post("/pengguna/sekda", data={"aksi": "tambah_lane", "lane_lain": "bendahara ", "konfirmasi": "1"})
    assert ok.status_code == 302
    assert get_user(alur, "sekda").lane_names == {"Sekda", "Kepala Biro", "bendahara"}  # trimmed
    assert "tidak di diagram" in client.get("/pengguna/sekda").text
    assert client.post("/pengguna/sekda", data={"aksi": "hapus_lane", "lane": "Sekda"}).status_code == 302
    assert get_user(alur, "sekda").lane_names == {"Kepala Biro", "bendahara"}
    assert client.post("/pengguna/sekda", data={"aksi": "tambah_lane"}).status_code == 422


def test_disable_and_password_reset_end_that_users_session(app: Flask, alur: Alur) -> None:
    admin, sekda, kabiro = app.test_client(), app.test_client(), app.test_client()
    login(admin, "admin")
    login(sekda, "sekda")
    login(kabiro, "kepala-biro")
    assert admin.post("/pengguna/sekda", data={"aksi": "nonaktifkan"}).status_code == 302
    assert sekda.get("/").status_code == 302 and "/login" in sekda.get("/").headers["Location"]
    assert kabiro.get("/").status_code == 200
    failed = sekda.post("/login", data={"username": "sekda", "password": DEMO_PASSWORD})
    assert failed.status_code == 401
    assert admin.post("/pengguna/sekda", data={"aksi": "aktifkan"}).status_code == 302
    login(sekda, "sekda")
    short = admin.post("/pengguna/kepala-biro", data={"aksi": "sandi", "sandi": "pendek"})
    assert short.status_code == 422 and "8 sampai 200" in short.text
    assert kabiro.get("/").status_code == 200
    assert admin.post("/pengguna/kepala-biro", data={"aksi": "sandi", "sandi": "sandi-baru-123"}).status_code == 302
    assert kabiro.get("/").status_code == 302
    assert sekda.get("/").status_code == 200
    assert kabiro.post("/login", data={"username": "kepala-biro", "password": "sandi-baru-123"}).status_code == 302
    assert admin.post("/pengguna/admin", data={"aksi": "nonaktifkan"}).status_code == 422
    assert admin.post("/pengguna/sekda", data={"aksi": "jadikan_pemilik"}).status_code == 302
    assert get_user(alur, "sekda").is_process_owner


def test_lanes_page_shows_members_and_open_and_overdue_tasks(client: FlaskClient, alur: Alur) -> None:
    late = start(alur)
    start(alur)
    with alur.unit_of_work() as uow:  # one of the two waits past its standard time
        uow.session.execute(update(TaskRecord).where(TaskRecord.instance_id == late, TaskRecord.state == "ready")
                            .values(due_at=utcnow() - timedelta(hours=1)))
    change_user(alur, SYSTEM, "sekda", UserChange(remove_lanes=["Sekda"]))
    login(client, "pemilik-proses")
    page = client.get("/lane").text
    row = page.split('data-lane="Petugas Informasi/TU"')[1].split("</tr>")[0]
    assert "Petugas Informasi/TU" in row and '<td class="right open-tasks">2</td>' in row
    assert '<span class="badge badge-danger">1</span>' in row
    home = client.get("/").text
    assert '<strong class="stat-running">2</strong>' in home and '<strong class="stat-overdue">1</strong>' in home
    sekda = page.split('data-lane="Sekda"')[1].split("</tr>")[0]
    assert "Belum ada anggota" in sekda
    other = client.application.test_client()
    login(other, "kepala-biro")
    assert other.get("/lane").status_code == 403


def test_owner_and_admin_land_on_their_home_never_an_empty_page(client: FlaskClient, alur: Alur) -> None:
    start(alur)
    change_user(alur, SYSTEM, "sekda", UserChange(remove_lanes=["Sekda"]))
    login(client, "pemilik-proses")
    page = client.get("/").text
    assert "Beranda pemilik proses" in page and "belum tergabung di lane" not in page
    assert 'data-process="fasilitasi_narasumber"' in page
    assert '<strong class="stat-running">1</strong>' in page and "Sekda" in page.split("empty-lanes")[1]
    assert 'href="/proses/fasilitasi_narasumber?versi=1"' in page and 'href="/lane"' in page
    assert 'id="accounts"' not in page and 'href="/pengguna"' not in page
    admin = client.application.test_client()
    login(admin, "admin")
    home = admin.get("/").text
    assert "Beranda admin" in home and 'id="accounts"' in home and 'href="/pengguna"' in home
    # a member without lanes and no role is told what to do, with somewhere to go
    change_user(alur, SYSTEM, "kepala-biro", UserChange(remove_lanes=["Kepala Biro"]))
    member = client.application.test_client()
    login(member, "kepala-biro")
    text = member.get("/").text
    assert "minta admin menambahkan lane" in text and 'href="/permohonan"' in text


def test_owner_cancels_a_request_with_a_required_reason_shown_in_the_timeline(client: FlaskClient,
                                                                              alur: Alur) -> None:
    instance_id = start(alur)
    login(client, "pemilik-proses")
    page = client.get(f"/permohonan/{instance_id}").text
    assert 'id="batal"' in page and 'name="alasan"' in page
    refused = client.post(f"/permohonan/{instance_id}/batal", data={"alasan": "   "})
    assert refused.status_code == 302
    assert alur.instance(instance_id, SYSTEM).instance.status == "running"
    assert "Alasan pembatalan wajib diisi" in client.get(f"/permohonan/{instance_id}").text
    done = client.post(f"/permohonan/{instance_id}/batal", data={"alasan": "Kegiatan ditunda pemohon"})
    assert done.status_code == 302
    assert alur.instance(instance_id, SYSTEM).instance.status == "cancelled"
    [event] = [e for e in alur.audit_log(instance_id) if e.kind == "cancel"]
    assert event.actor == "pemilik-proses" and event.payload["reason"] == "Kegiatan ditunda pemohon"
    page = client.get(f"/permohonan/{instance_id}").text
    timeline = page.split('id="timeline"')[1]
    assert 'id="timeline-cancel"' in timeline and "Kegiatan ditunda pemohon" in timeline
    assert 'id="batal"' not in page
    member = client.application.test_client()
    login(member, "sekda")
    other = start(alur)
    assert 'id="batal"' not in member.get(f"/permohonan/{other}").text
    assert member.post(f"/permohonan/{other}/batal", data={"alasan": "x"}).status_code == 403


def test_people_rules_on_postgresql(pg_url: str) -> None:
    """The same changes and counts on PostgreSQL (the FILTER clause, the session version, token revocation)."""
    from engine.models import ApiToken
    from engine.people import desk, lanes_overview
    from engine.users import authenticate, issue_token, user_for_token
    from tests.conftest import make_alur

    alur = make_alur(pg_url)
    try:
        start(alur)
        token = issue_token(alur, get_user(alur, "sekda"))
        before = get_user(alur, "sekda").session_version
        change_user(alur, SYSTEM, "sekda", UserChange(add_lanes=[" Kepala Biro"], password="sandi-baru-123"))
        user = get_user(alur, "sekda")
        assert user.lane_names == {"Sekda", "Kepala Biro"} and user.session_version == before + 1
        assert user_for_token(alur, token) is None
        with alur.unit_of_work(write=False) as uow:
            assert all(t.revoked_at is not None for t in uow.session.query(ApiToken).filter_by(user_id=user.id))
        assert authenticate(alur, "sekda", "sandi-baru-123") is not None
        change_user(alur, SYSTEM, "kasubbag-terkait", UserChange(active=False))
        views = {v.lane: v for v in lanes_overview(alur, SYSTEM)}
        assert views["Petugas Informasi/TU"].open_tasks == 1 and views["Kasubbag Terkait"].members == []
        assert [u.username for u in views["Kepala Biro"].members] == ["kepala-biro", "sekda"]
        home = desk(alur, SYSTEM)
        assert home.processes[0].running == 1 and home.processes[0].empty_lanes == ["Kasubbag Terkait"]
        assert home.accounts == {"total": 9, "active": 8, "disabled": 1, "without_lanes": 2}
    finally:
        alur.db.engine.dispose()


def test_admin_adds_an_account_with_a_lane_from_the_diagram(client: FlaskClient, alur: Alur) -> None:
    login(client, "admin")
    page = client.get("/pengguna").text
    assert 'id="tambah"' in page and '<option value="Kasubbag Terkait">' in page
    form = {"username": "kasubbag-dua", "full_name": "Kasubbag Kedua", "password": "kata-sandi-awal",
            "lane": "Kasubbag Terkait"}
    assert client.post("/pengguna", data=form).status_code == 302
    user = get_user(alur, "kasubbag-dua")
    assert user.lane_names == {"Kasubbag Terkait"} and user.full_name == "Kasubbag Kedua"
    refused = client.post("/pengguna", data={**form, "username": "bendahara", "lane_lain": "Bendahara"})
    assert refused.status_code == 422 and "tidak ada di diagram mana pun" in refused.text
    assert 'value="bendahara"' in refused.text
    again = client.post("/pengguna", data=form)
    assert again.status_code == 422 and "sudah ada" in again.text
    assert client.post("/pengguna", data={**form, "username": "bendahara", "lane_lain": "Bendahara",
                                          "konfirmasi": "1"}).status_code == 302
    assert get_user(alur, "bendahara").lane_names == {"Bendahara"}


def test_admin_makes_a_lane_head_shown_on_the_user_and_lanes_pages(client: FlaskClient, alur: Alur) -> None:
    login(client, "admin")
    lanes = client.get("/lane").text
    kabag = lanes.split('data-lane="Kepala Bagian Terkait"')[1].split("</tr>")[0]
    assert 'class="chip is-head"' in kabag and "· kepala" in kabag  # the demo's Kabag heads the lane
    tu = lanes.split('data-lane="Petugas Informasi/TU"')[1].split("</tr>")[0]
    assert "is-head" not in tu
    page = client.get("/pengguna/sekda").text
    assert "Kepala lane</span>" not in page and 'value="jadikan_kepala"' in page
    made = client.post("/pengguna/sekda", data={"aksi": "jadikan_kepala", "lane": "Sekda"}, follow_redirects=True)
    assert made.status_code == 200 and "Sekarang kepala lane \u201cSekda\u201d" in made.text
    assert 'head-badge">Kepala lane</span>' in made.text and 'value="cabut_kepala"' in made.text
    assert get_user(alur, "sekda").head_lanes == {"Sekda"}
    assert "is-head" in client.get("/lane").text.split('data-lane="Sekda"')[1].split("</tr>")[0]
    outside = client.post("/pengguna/sekda", data={"aksi": "jadikan_kepala", "lane": "Kepala Biro"})
    assert outside.status_code == 422 and "bukan anggota lane" in outside.text  # a tampered form
    client.post("/pengguna/sekda", data={"aksi": "cabut_kepala", "lane": "Sekda"})
    assert get_user(alur, "sekda").head_lanes == set()
