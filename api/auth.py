"""Who is asking: a session cookie for the UI (Flask-Login), a bearer token for the API."""

from __future__ import annotations

from flask import Flask, g, request
from flask_login import LoginManager, UserMixin

from engine.actors import Actor
from engine.models import User
from engine.users import actor_of, user_by_id, user_for_token

login_manager = LoginManager()
login_manager.login_view = "ui.login"
login_manager.login_message = "Silakan masuk terlebih dahulu."


class SessionUser(UserMixin):
    """The logged-in user as Flask-Login wants it."""

    def __init__(self, user: User) -> None:
        self.user = user
        self.id = str(user.id)

    @property
    def actor(self) -> Actor:
        return actor_of(self.user)


def init_app(app: Flask) -> None:
    login_manager.init_app(app)

    @login_manager.user_loader
    def load_user(user_id: str) -> SessionUser | None:
        from api import services

        user = user_by_id(services(), int(user_id)) if user_id.isdigit() else None
        return SessionUser(user) if user is not None and user.active else None


def bearer_user() -> User | None:
    """The user of the request's bearer token, cached for the request."""
    if "bearer_user" not in g:
        from api import services

        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        g.bearer_user = user_for_token(services(), token) if token else None
    return g.bearer_user

