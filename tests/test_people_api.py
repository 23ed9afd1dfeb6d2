"""PATCH /api/v1/users/<username>: lanes from the diagrams, disable, password reset, process-owner flag."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine.models import AuditEvent
from engine.services import Alur
from engine.users import DEMO_PASSWORD, get_user
from tests.test_api import Api


@pytest.fixture
def api(client: FlaskClient) -> Api:
    return Api(client)


def audit_kinds(alur: Alur, kind: str) -> list[dict]:
    with alur.unit_of_work(write=False) as uow:
        return [e.payload | {"actor": e.actor} for e in uow.session.query(AuditEvent).filter_by(kind=kind)]


def test_admin_gives_an_existing_user_a_second_lane_from_the_diagram(api: Api, alur: Alur) -> None:
    response = api.call("PATCH", "/api/v1/users/sekda", "admin", json={"add_lanes": ["  Kepala Biro "]})
    assert response.status_code == 200, response.json
    assert response.json["lanes"] == ["Kepala Biro", "Sekda"] and response.json["active"] is True
    assert get_user(alur, "sekda").lane_names == {"Kepala Biro", "Sekda"}
    # the new lane works at once: sekda now sees Kepala Biro's inbox through the API
    assert api.get("/api/v1/tasks?lane=Kepala%20Biro", "sekda").status_code == 200
    response = api.call("PATCH", "/api/v1/users/sekda", "admin", json={"remove_lanes": ["Sekda"]})
    assert response.json["lanes"] == ["Kepala Biro"]
    [added, removed] = audit_kinds(alur, "user_lanes_changed")
    assert added["added"] == ["Kepala Biro"] and added["actor"] == "admin" and added["username"] == "sekda"
    assert removed["removed"] == ["Sekda"]


def test_a_lane_name_in_no_diagram_needs_confirm(api: Api, alur: Alur) -> None:
    response = api.call("PATCH", "/api/v1/users/sekda", "admin", json={"add_lanes": ["Bendahara"]})
    assert response.status_code == 422
    assert response.json["field"] == "add_lanes" and "Bendahara" in response.json["error"]
    assert get_user(alur, "sekda").lane_names == {"Sekda"}  # nothing changed
    # a near miss (other case) is not the diagram's lane either
    assert api.call("PATCH", "/api/v1/users/sekda", "admin", json={"add_lanes": ["kepala biro"]}).status_code == 422
    response = api.call("PATCH", "/api/v1/users/sekda", "admin",
                        json={"add_lanes": ["Bendahara"], "confirm": True})
    assert response.status_code == 200 and response.json["lanes"] == ["Bendahara", "Sekda"]
    assert audit_kinds(alur, "user_lanes_changed")[0]["unconfirmed"] == ["Bendahara"]


def test_removing_a_lane_the_user_is_not_in_is_refused(api: Api, alur: Alur) -> None:
    response = api.call("PATCH", "/api/v1/users/sekda", "admin", json={"remove_lanes": ["Kepala Biro"]})
    assert response.status_code == 422 and response.json["field"] == "remove_lanes"
    assert api.call("PATCH", "/api/v1/users/tidak-ada", "admin", json={"active": False}).status_code == 404


def test_disable_ends_tokens_at_once_and_enable_lets_in_again(api: Api, alur: Alur) -> None:
    token = api.token("sekda")
    assert api.get("/api/v1/tasks", token=token).status_code == 200
    response = api.call("PATCH", "/api/v1/users/sekda", "admin", json={"active": False})
    assert response.status_code == 200 and response.json["active"] is False
    assert api.get("/api/v1/tasks", token=token).status_code == 401
    login = api.post("/api/v1/auth/token", json={"username": "sekda", "password": DEMO_PASSWORD})
    assert login.status_code == 401
    assert api.call("PATCH", "/api/v1/users/sekda", "admin", json={"active": True}).json["active"] is True
    assert api.post("/api/v1/auth/token", json={"username": "sekda", "password": DEMO_PASSWORD}).status_code == 200
    assert [e["username"] for e in audit_kinds(alur, "user_disabled")] == ["sekda"]
    assert [e["username"] for e in audit_kinds(alur, "user_enabled")] == ["sekda"]


def test_password_reset_ends_tokens_and_sessions_of_that_user_only(api: Api, alur: Alur, app: Flask) -> None:
    token = api.token("sekda")
    other = api.token("kepala-biro")
    browser = app.test_client()
    assert browser.post("/login", data={"username": "sekda", "password": DEMO_PASSWORD}).status_code == 302
    assert browser.get("/").status_code == 200
    response = api.call("PATCH", "/api/v1/users/sekda", "admin", json={"password": "sandi-baru-123"})
    assert response.status_code == 200
    assert api.get("/api/v1/tasks", token=token).status_code == 401
    assert browser.get("/").status_code == 302  # the session ended: back to the login page
    assert api.get("/api/v1/tasks", token=other).status_code == 200  # others keep theirs
    assert api.post("/api/v1/auth/token", json={"username": "sekda", "password": DEMO_PASSWORD}).status_code == 401
    assert api.post("/api/v1/auth/token",
                    json={"username": "sekda", "password": "sandi-baru-123"}).status_code == 200
    assert [e["actor"] for e in audit_kinds(alur, "password_reset")] == ["admin"]
    assert "sandi-baru-123" not in str(audit_kinds(alur, "password_reset"))
    short = api.call("PATCH", "/api/v1/users/sekda", "admin", json={"password": "pendek"})
    assert short.status_code == 422 and short.json["field"] == "password"


def test_process_owner_flag(api: Api, alur: Alur) -> None:
    response = api.call("PATCH", "/api/v1/users/kepala-biro", "admin", json={"is_process_owner": True})
    assert response.status_code == 200 and response.json["is_process_owner"] is True
    assert get_user(alur, "kepala-biro").is_process_owner is True
    # the flag takes effect: kepala-biro may now cancel a request
    instance = api.start()
    assert api.post(f"/api/v1/instances/{instance['id']}/cancel", "kepala-biro",
                    json={"reason": "uji"}).status_code == 200
    assert audit_kinds(alur, "user_process_owner")[0]["value"] is True


@pytest.mark.parametrize("who", ["pemilik-proses", "sekda", "pemohon"])
def test_only_admins_may_change_users(api: Api, alur: Alur, who: str) -> None:
    for body in ({"add_lanes": ["Sekda"]}, {"active": False}, {"password": "sandi-baru-123"},
                 {"is_process_owner": True}):
        response = api.call("PATCH", "/api/v1/users/kepala-biro", who, json=body)
        assert response.status_code == 403, (who, body)
    user = get_user(alur, "kepala-biro")
    assert user.lane_names == {"Kepala Biro"} and user.active and not user.is_process_owner
    assert api.get("/api/v1/users", who).status_code == 403
    assert api.call("PATCH", "/api/v1/users/kepala-biro", json={"active": False}).status_code == 401


def test_admin_may_not_disable_themselves(api: Api) -> None:
    response = api.call("PATCH", "/api/v1/users/admin", "admin", json={"active": False})
    assert response.status_code == 422 and response.json["field"] == "active"


def test_search_users(api: Api) -> None:
    found = api.get("/api/v1/users?q=kepala", "admin").json["users"]
    assert {u["username"] for u in found} == {"kepala-biro", "kepala-bagian-terkait"}
    by_lane = api.get("/api/v1/users?q=Informasi", "admin").json["users"]
    assert [u["username"] for u in by_lane] == ["petugas-informasi-tu"]
    assert len(api.get("/api/v1/users", "admin").json["users"]) == 9


def test_unknown_keys_and_bad_types_are_refused(api: Api, alur: Alur) -> None:
    assert api.call("PATCH", "/api/v1/users/sekda", "admin", json={"lanes": ["Sekda"]}).status_code == 400
    assert api.call("PATCH", "/api/v1/users/sekda", "admin", json={"active": "false"}).status_code == 400
    assert api.call("PATCH", "/api/v1/users/sekda", "admin", json={"add_lanes": ["  "]}).status_code == 422
    assert get_user(alur, "sekda").active


def test_a_new_account_with_a_lane_in_no_diagram_needs_confirm(api: Api, alur: Alur) -> None:
    body = {"username": "bendahara", "password": "kata-sandi-baru", "lanes": ["bendahara "]}
    refused = api.post("/api/v1/users", "admin", json=body)
    assert refused.status_code == 422 and refused.json["field"] == "lanes" and "bendahara" in refused.json["error"]
    assert api.get("/api/v1/users?q=bendahara", "admin").json["users"] == []
    created = api.post("/api/v1/users", "admin", json={**body, "confirm": True})
    assert created.status_code == 201 and created.json["lanes"] == ["bendahara"]
    [audit] = [e for e in audit_kinds(alur, "user_created") if e["username"] == "bendahara"]
    assert audit["actor"] == "admin" and audit["lanes"] == ["bendahara"]
    ok = api.post("/api/v1/users", "admin", json={**body, "username": "sekda-dua", "lanes": [" Sekda "]})
    assert ok.status_code == 201 and ok.json["lanes"] == ["Sekda"]
