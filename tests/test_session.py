"""The UI session: cookie flags, throttled logins, security headers on every page."""

from __future__ import annotations

from dataclasses import replace

import pytest
from flask.testing import FlaskClient

from api import create_app
from engine.services import Alur
from engine.settings import Settings
from engine.users import DEMO_PASSWORD, MAX_FAILURES


def login(client: FlaskClient, username: str, password: str = DEMO_PASSWORD):
    return client.post("/login", data={"username": username, "password": password})


def session_cookie(response) -> str:
    return next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))


def test_session_cookie_is_httponly_and_samesite(client: FlaskClient) -> None:
    response = login(client, "sekda")
    assert response.status_code == 302
    cookie = session_cookie(response)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_session_cookie_is_secure_behind_https(alur: Alur, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALUR_HTTPS", "1")
    settings = replace(alur.settings, https=Settings().https)  # read from the environment, as in production
    app = create_app(settings, alur, TESTING=True, WTF_CSRF_ENABLED=False)
    cookie = session_cookie(login(app.test_client(), "sekda"))
    assert "Secure" in cookie and "HttpOnly" in cookie


def test_repeated_failed_logins_are_throttled_in_the_ui(client: FlaskClient) -> None:
    for _ in range(MAX_FAILURES):
        assert login(client, "sekda", "salah-salah").status_code == 401
    throttled = login(client, "sekda")
    assert throttled.status_code == 429
    assert "coba lagi" in throttled.get_data(as_text=True)


def test_every_page_has_security_headers(client: FlaskClient) -> None:
    login(client, "sekda")
    for path in ["/", "/login", "/permohonan", "/tidak-ada", "/api/v1/openapi.json", "/api/v1/tidak-ada"]:
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert headers["X-Content-Type-Options"] == "nosniff", path
