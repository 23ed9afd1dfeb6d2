"""The Flask application: an app factory in the manner of Flask's tutorial.

Blueprints translate HTTP into calls of the service layer (`engine.services.Alur`) and
render what comes back; nothing here knows SpiffWorkflow or SQL.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from engine.bootstrap import build
from engine.services import Alur
from engine.settings import ROOT, Settings, load

csrf = CSRFProtect()


def _secret_key(instance_path: str) -> str:
    """ALUR_SECRET_KEY, or a key made once and kept in the instance folder (shared by all workers)."""
    if os.environ.get("ALUR_SECRET_KEY"):
        return os.environ["ALUR_SECRET_KEY"]
    path = Path(instance_path) / "secret_key"
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
    app = Flask(__name__, instance_path=str(ROOT / "instance"))
    app.config.update(
        SECRET_KEY=_secret_key(app.instance_path),
        MAX_CONTENT_LENGTH=settings.max_upload_bytes + 1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=os.environ.get("ALUR_HTTPS", "") == "1",
        REMEMBER_COOKIE_HTTPONLY=True,
        WTF_CSRF_TIME_LIMIT=None,
        JSON_SORT_KEYS=False,
    )
    app.config.update(config)
    app.extensions["alur"] = alur or build(settings)

    from api import auth, reports_ui, rest, ui

    csrf.init_app(app)
    auth.init_app(app)
    app.register_blueprint(rest.bp)
    csrf.exempt(rest.bp)
    app.register_blueprint(ui.bp)
    app.register_blueprint(reports_ui.bp)

    @app.errorhandler(404)
    @app.errorhandler(405)
    def page_error(exc: Any) -> Any:
        """Unknown pages get the UI's error page in Indonesian (the API answers JSON itself)."""
        from flask import jsonify, render_template, request

        code = exc.code or 500
        if request.path.startswith("/api/"):
            kind = "not_found" if code == 404 else "method_not_allowed"
            return jsonify({"error": exc.description, "code": kind}), code
        message = "Halaman tidak ditemukan." if code == 404 else "Metode tidak diizinkan untuk halaman ini."
        return render_template("error.html", message=message, code=code), code

    @app.after_request
    def security_headers(response: Any) -> Any:
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    return app


def services() -> Alur:
    """The service layer of the current app."""
    from flask import current_app

    return current_app.extensions["alur"]
