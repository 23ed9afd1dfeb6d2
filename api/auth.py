"""Who is asking: a session cookie for the UI (Flask-Login), a bearer token for the API."""

from __future__ import annotations

import ipaddress

from flask import Flask, g, request
from flask_login import LoginManager, UserMixin

from engine.actors import Actor
from engine.models import User
from engine.users import actor_for_token, actor_of, user_by_id

login_manager = LoginManager()
login_manager.login_view = "ui.login"
login_manager.login_message = "Silakan masuk terlebih dahulu."


class SessionUser(UserMixin):
    """The logged-in user as Flask-Login wants it."""

    def __init__(self, user: User) -> None:
        self.user = user
        self.id = f"{user.id}:{user.session_version}"  # the cookie ends when the user's version moves on

    @property
    def actor(self) -> Actor:
        return actor_of(self.user)


def init_app(app: Flask) -> None:
    login_manager.init_app(app)

    @login_manager.user_loader
    def load_user(session_id: str) -> SessionUser | None:
        """Checked on every request: the account is active and the session's version is current."""
        from api import services

        user_id, _, version = session_id.partition(":")
        if not (user_id.isdigit() and version.isdigit() and len(user_id) < 12 and len(version) < 12):
            return None
        user = user_by_id(services(), int(user_id))
        if user is None or not user.active or user.session_version != int(version):
            return None
        return SessionUser(user)


def _networks(entries: tuple[str, ...]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            continue
    return networks


def _within(address: str, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address() -> str:
    """The client's address: the connection's peer, or X-Forwarded-For only when that peer is a trusted proxy.

    The forwarded chain is read from the right, skipping trusted proxies; what a client writes
    into the header itself is never believed.
    """
    from api import services

    peer = request.remote_addr or ""
    trusted = _networks(services().settings.trusted_proxies)
    if not trusted or not _within(peer, trusted):
        return peer
    chain = [a.strip() for h in request.headers.getlist("X-Forwarded-For") for a in h.split(",") if a.strip()]
    for address in reversed(chain):
        try:
            ipaddress.ip_address(address)
        except ValueError:
            return peer
        if not _within(address, trusted):
            return address
    return peer


def bearer_actor() -> Actor | None:
    """The actor of the request's bearer token, cached for the request."""
    if "bearer_actor" not in g:
        from api import services

        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        g.bearer_actor = actor_for_token(services(), token) if token else None
    return g.bearer_actor
