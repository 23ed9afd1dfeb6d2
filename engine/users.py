"""Users, lanes and API tokens: accounts of people who act in the SOP."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from engine.actors import Actor
from engine.clock import utcnow
from engine.errors import Forbidden, InvalidData, NotFound, Throttled
from engine.models import ApiToken, LoginThrottle, User, UserLane
from engine.services import Alur

TOKEN_LIFETIME = timedelta(hours=12)
DEMO_PASSWORD = "alur-demo"
DEMO_AGENCY = "Dinas Pendidikan Provinsi Kalimantan Barat"


def actor_of(user: User) -> Actor:
    return Actor(user.username, frozenset(user.lane_names), user.agency, user.is_process_owner, user.is_admin)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def create_user(alur: Alur, username: str, password: str, lanes: Iterable[str] = (), full_name: str = "",
                agency: str | None = None, process_owner: bool = False, admin: bool = False,
                email: str | None = None) -> User:
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{1,79}", username):
        raise InvalidData("nama pengguna: huruf kecil, angka, titik, garis; 2-80 karakter", "username")
    if not 8 <= len(password) <= 200:
        raise InvalidData("kata sandi 8 sampai 200 karakter", "password")
    if len(full_name) > 200:
        raise InvalidData("nama lengkap paling banyak 200 karakter", "full_name")
    if agency is not None and not (agency.strip() and len(agency) <= 200):
        raise InvalidData("instansi harus diisi (paling banyak 200 karakter) atau tidak ada", "agency")
    if email is not None and not re.fullmatch(r"[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{1,63}", email):
        raise InvalidData("alamat e-mail tidak valid", "email")
    lanes = [lane.strip() for lane in lanes]
    if len(lanes) > 50 or not all(0 < len(lane) <= 200 for lane in lanes):
        raise InvalidData("lane: paling banyak 50 nama, masing-masing 1 sampai 200 karakter", "lanes")
    now = utcnow()
    with alur.unit_of_work() as uow:
        if uow.session.scalar(select(User.id).where(User.username == username)) is not None:
            raise InvalidData(f"pengguna '{username}' sudah ada", "username")
        user = User(username=username, password_hash=generate_password_hash(password), full_name=full_name,
                    agency=agency, is_process_owner=process_owner, is_admin=admin, created_at=now, email=email,
                    lanes=[UserLane(lane=lane) for lane in sorted(set(lanes))])
        uow.session.add(user)
        uow.audit("system", "user_created", now, username=username, lanes=sorted(set(lanes)))
        return user


def _require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise Forbidden("hanya admin yang boleh mengelola pengguna")


def list_users(alur: Alur, actor: Actor) -> list[User]:
    _require_admin(actor)
    with alur.unit_of_work(write=False) as uow:
        return list(uow.session.scalars(select(User).order_by(User.username)))


def add_user(alur: Alur, actor: Actor, username: str, password: str, lanes: Iterable[str] = (),
             full_name: str = "", agency: str | None = None, process_owner: bool = False,
             admin: bool = False, email: str | None = None) -> User:
    """An administrator adds an account (the CLI's `user-add` is the operator's equivalent)."""
    _require_admin(actor)
    return create_user(alur, username, password, lanes, full_name, agency, process_owner, admin, email=email)


def get_user(alur: Alur, username: str) -> User:
    with alur.unit_of_work(write=False) as uow:
        user = uow.session.scalars(select(User).where(User.username == username)).first()
        if user is None:
            raise NotFound(f"pengguna '{username}' tidak ditemukan")
        return user


def user_by_id(alur: Alur, user_id: int) -> User | None:
    with alur.unit_of_work(write=False) as uow:
        return uow.session.get(User, user_id)


MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)


def authenticate(alur: Alur, username: str, password: str) -> User | None:
    """The user if the password is right; None if not; Throttled after repeated failures."""
    key = username.strip().lower()[:80]
    now = utcnow()
    with alur.unit_of_work(write=False) as uow:
        throttle = uow.session.get(LoginThrottle, key)
        if throttle is not None and throttle.locked_until is not None and throttle.locked_until > now:
            wait = int((throttle.locked_until - now).total_seconds()) + 1
            raise Throttled(f"terlalu banyak percobaan masuk yang gagal; coba lagi dalam {wait // 60 + 1} menit",
                            wait)
        user = uow.session.scalars(select(User).where(User.username == key, User.active.is_(True))).first()
    if user is None:
        check_password_hash(_DUMMY_HASH, password)  # same work either way
    ok = user is not None and check_password_hash(user.password_hash, password)
    if not ok or throttle is not None:  # a clean success writes nothing
        _record_attempt(alur, key, ok, now)
    return user if ok else None


_DUMMY_HASH = generate_password_hash("alur-dummy-password")


def _record_attempt(alur: Alur, key: str, ok: bool, now: datetime) -> None:
    with alur.unit_of_work() as uow:
        throttle = uow.session.get(LoginThrottle, key)
        if ok:
            if throttle is not None:
                uow.session.delete(throttle)
            return
        if throttle is None or now - throttle.first_failure_at > FAILURE_WINDOW:
            if throttle is not None:
                uow.session.delete(throttle)
                uow.session.flush()
            throttle = LoginThrottle(username=key, failures=0, first_failure_at=now)
            uow.session.add(throttle)
        throttle.failures += 1
        if throttle.failures >= MAX_FAILURES:
            throttle.locked_until = now + LOCKOUT
            uow.audit(key, "login_locked", now, failures=throttle.failures)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(alur: Alur, user: User) -> str:
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with alur.unit_of_work() as uow:
        uow.session.add(ApiToken(token_hash=_hash(token), user_id=user.id, created_at=now,
                                 expires_at=now + TOKEN_LIFETIME))
    return token


def user_for_token(alur: Alur, token: str) -> User | None:
    """The active user of a valid (known, unexpired, unrevoked) token: one query, on every API call."""
    with alur.unit_of_work(write=False) as uow:
        return uow.session.scalars(
            select(User).join(ApiToken, ApiToken.user_id == User.id).options(joinedload(User.lanes))
            .where(ApiToken.token_hash == _hash(token), ApiToken.revoked_at.is_(None),
                   ApiToken.expires_at > utcnow(), User.active.is_(True))).unique().first()


def revoke_token(alur: Alur, token: str) -> bool:
    with alur.unit_of_work() as uow:
        row = uow.session.scalars(select(ApiToken).where(ApiToken.token_hash == _hash(token))).first()
        if row is None or row.revoked_at is not None:
            return False
        row.revoked_at = utcnow()
        return True


def create_demo_users(alur: Alur, lanes: Iterable[str], applicant_lane: str | None) -> list[tuple[str, str]]:
    """One demo user per lane (named after the lane), a process owner and an admin; existing ones are kept.

    Returns every demo account (new or not) with what it is for, so `make run` can always list them.
    """
    accounts = []
    plan = [(slug(lane), [lane], DEMO_AGENCY if lane == applicant_lane else None, False, False, lane)
            for lane in lanes]
    plan += [("pemilik-proses", [], None, True, False, "Pemilik proses"), ("admin", [], None, True, True, "Admin")]
    for username, user_lanes, agency, owner, admin, name in plan:
        try:
            create_user(alur, username, DEMO_PASSWORD, user_lanes, name, agency, owner, admin)
        except InvalidData:
            pass  # already there
        accounts.append((username, ", ".join(user_lanes) or name))
    return accounts
