"""The Flask application: an app factory in the manner of Flask's tutorial.

Blueprints translate HTTP into calls of the service layer (`engine.services.Alur`) and
render what comes back; nothing here knows SpiffWorkflow or SQL. Configuration comes from
`engine.settings.Settings` (the environment is read there only).
"""

from __future__ import annotations

import os
import secrets
from typing import Any

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect

from api.errors import ApiRequest
from engine.bootstrap import build
from engine.services import Alur
from engine.settings import Settings, load

csrf = CSRFProtect()
MAX_JSON_BYTES = 64 * 1024


SECURITY_HEADERS = (
    ("Content-Security-Policy",
     "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
)


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed cookie sessions; a request without the cookie (every API call with a bearer token)
    gets its empty session without a signing serializer built first (Flask's own answer is the same)."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def _secret_key(settings: Settings) -> str:
    """The configured key, or a key made once and kept in the instance folder (shared by all workers)."""
    if settings.secret_key:
        return settings.secret_key
    path = settings.instance_path / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    except FileExistsError:
        pass
    return path.read_text().strip()


def create_app(settings: Settings | None = None, alur: Alur | None = None, **config: Any) -> Flask:
    settings = settings or load()
    app = Flask(__name__, instance_path=str(settings.instance_path))
    app.request_class = ApiRequest
    app.session_interface = CookieSessions()
    app.config.update(
        SECRET_KEY=_secret_key(settings),
        MAX_CONTENT_LENGTH=settings.max_upload_bytes + 1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.https,
        REMEMBER_COOKIE_HTTPONLY=True,
        WTF_CSRF_TIME_LIMIT=None,
        JSON_SORT_KEYS=False,
    )
    app.config.update(config)
    app.extensions["alur"] = alur or build(settings)
    if settings.scheduler and not app.testing:
        from engine.scheduler import start_thread

        app.extensions["alur_scheduler"] = start_thread(app.extensions["alur"])  # timers fire with the app

    from api import (  # noqa: F401 (ui_kalender adds its routes to ui, rest_reports to rest)
        auth,
        desk,
        documents_ui,
        exports_ui,
        people_ui,
        reports_ui,
        rest,
        rest_reports,
        speakers_ui,
        ui,
        ui_kalender,
    )

    csrf.init_app(app)
    auth.init_app(app)
    app.register_blueprint(rest.bp)
    csrf.exempt(rest.bp)
    app.register_blueprint(ui.bp)
    app.register_blueprint(speakers_ui.bp)
    app.register_blueprint(documents_ui.bp)
    app.register_blueprint(exports_ui.bp)
    app.register_blueprint(desk.bp)
    app.register_blueprint(people_ui.bp)
    app.register_blueprint(reports_ui.bp)

    @app.errorhandler(404)
    @app.errorhandler(405)
    def page_error(exc: Any) -> Any:
        """Unknown URLs and methods: JSON under /api/ (with a true Allow header), else the UI's error page."""
        from flask import jsonify, render_template, request

        code = exc.code or 500
        if request.path.startswith("/api/"):
            if code == 405:
                response = jsonify({"error": f"metode {request.method} tidak diizinkan untuk {request.path}",
                                    "code": "method_not_allowed"})
                response.headers["Allow"] = ", ".join(sorted(exc.valid_methods or []))
            else:
                response = jsonify({"error": f"tidak ada endpoint {request.path}", "code": "not_found"})
            return response, code
        message = "Halaman tidak ditemukan." if code == 404 else "Metode tidak diizinkan untuk halaman ini."
        return render_template("error.html", message=message, code=code), code

    @app.before_request
    def cap_api_bodies() -> None:
        """API bodies other than uploads are small JSON: cap them (413) before anything reads them."""
        from flask import request

        if request.path.startswith("/api/") and request.mimetype != "multipart/form-data":
            request.max_content_length = MAX_JSON_BYTES

    @app.after_request
    def security_headers(response: Any) -> Any:
        headers = response.headers
        for name, value in SECURITY_HEADERS:
            if name not in headers:  # a view may set its own
                headers.add(name, value)
        return response

    return app


def services() -> Alur:
    """The service layer of the current app."""
    from flask import current_app

    return current_app.extensions["alur"]
