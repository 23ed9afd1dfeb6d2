"""Users, lanes and API tokens: accounts of people who act in the SOP."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
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
    return Actor(user.username, frozenset(user.lane_names), user.agency, user.is_process_owner, user.is_admin,
                 frozenset(user.head_lanes))


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def create_user(alur: Alur, username: str, password: str, lanes: Iterable[str] = (), full_name: str = "",
                agency: str | None = None, process_owner: bool = False, admin: bool = False,
                by: str = "system", email: str | None = None, head_lanes: Iterable[str] = ()) -> User:
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
    head_lanes = {lane.strip() for lane in head_lanes}
    if head_lanes - set(lanes):
        raise InvalidData(f"kepala lane '{sorted(head_lanes - set(lanes))[0]}': hanya anggota lane yang dapat "
                          f"menjadi kepalanya (tambahkan lanenya)", "head_lanes")
    now = utcnow()
    with alur.unit_of_work() as uow:
        if uow.session.scalar(select(User.id).where(User.username == username)) is not None:
            raise InvalidData(f"pengguna '{username}' sudah ada", "username")
        user = User(username=username, password_hash=generate_password_hash(password), full_name=full_name,
                    agency=agency, is_process_owner=process_owner, is_admin=admin, created_at=now, email=email,
                    lanes=[UserLane(lane=lane, is_head=lane in head_lanes) for lane in sorted(set(lanes))])
        uow.session.add(user)
        uow.audit(by, "user_created", now, username=username, lanes=sorted(set(lanes)), process_owner=process_owner,
                  admin=admin, **({"head_lanes": sorted(head_lanes)} if head_lanes else {}))
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
             admin: bool = False, confirm: bool = False, email: str | None = None) -> User:
    """An administrator adds an account (the CLI's `user-add` is the operator's equivalent).

    Lanes must be lanes of a deployed diagram unless `confirm` (see `engine.people`).
    """
    from engine.people import require_known_lanes

    _require_admin(actor)
    lanes = list(lanes)
    require_known_lanes(alur, lanes, confirm, "lanes")
    return create_user(alur, username, password, lanes, full_name, agency, process_owner, admin, actor.username,
                       email=email)


def get_user(alur: Alur, username: str) -> User:
    with alur.unit_of_work(write=False) as uow:
        user = uow.session.scalars(select(User).where(User.username == username)).first()
        if user is None:
            raise NotFound(f"pengguna '{username}' tidak ditemukan")
        return user


def user_by_id(alur: Alur, user_id: int) -> User | None:
    with alur.unit_of_work(write=False) as uow:
        return uow.session.get(User, user_id)


MAX_FAILURES = 5                      # attempts per user name and client before the first delay
FIRST_DELAY = timedelta(minutes=1)    # then 2, 4, 8 ... minutes for each further failure
LOCKOUT = timedelta(minutes=15)       # the longest delay
FAILURE_MEMORY = timedelta(hours=1)   # failures older than this (since the last one) are forgotten


def delay_after(failures: int) -> timedelta | None:
    """How long a user name and client wait after `failures` attempts without success."""
    if failures < MAX_FAILURES:
        return None
    return min(FIRST_DELAY * 2 ** min(failures - MAX_FAILURES, 20), LOCKOUT)


def authenticate(alur: Alur, username: str, password: str, client: str = "") -> User | None:
    """The user if the password is right; None if not; Throttled after repeated failures.

    The attempt is counted (atomically, under a row lock) *before* the password is checked,
    so parallel guesses cannot slip past the limit. Counting is per user name and client
    address together: guesses from elsewhere never lock the real user out at their desk.
    """
    key, client = username.strip().lower()[:80], client[:64]
    now = utcnow()
    _count_attempt(alur, key, client, now)
    with alur.unit_of_work(write=False) as uow:
        user = uow.session.scalars(select(User).where(User.username == key, User.active.is_(True))).first()
    if user is None:
        check_password_hash(_DUMMY_HASH, password)  # same work either way
    ok = user is not None and check_password_hash(user.password_hash, password)
    if ok:
        with alur.unit_of_work() as uow:
            uow.session.execute(delete(LoginThrottle).where(LoginThrottle.username == key,
                                                            LoginThrottle.client == client))
    return user if ok else None


_DUMMY_HASH = generate_password_hash("alur-dummy-password")


def _count_attempt(alur: Alur, key: str, client: str, now: datetime) -> None:
    """Record one more attempt of this name from this client, or raise Throttled while it must wait."""
    with alur.unit_of_work() as uow:
        dialect = alur.db.engine.dialect.name
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        # Upsert, not insert-or-ignore: the row is then ours (locked) until the attempt is counted, so a
        # parallel login of the account that succeeds cannot delete it between this and the SELECT.
        uow.session.execute(insert(LoginThrottle).values(
            username=key, client=client, failures=0, first_failure_at=now, last_failure_at=now,
        ).on_conflict_do_update(index_elements=[LoginThrottle.username, LoginThrottle.client],
                                set_={"username": key}))
        stmt = select(LoginThrottle).where(LoginThrottle.username == key, LoginThrottle.client == client)
        throttle = uow.session.scalars(stmt.with_for_update() if dialect == "postgresql" else stmt).one()
        if throttle.locked_until is not None and throttle.locked_until > now:
            wait = int((throttle.locked_until - now).total_seconds()) + 1
            raise Throttled(f"terlalu banyak percobaan masuk yang gagal; coba lagi dalam {wait // 60 + 1} menit",
                            wait)
        if now - throttle.last_failure_at > FAILURE_MEMORY:
            throttle.failures, throttle.first_failure_at = 0, now
        throttle.failures += 1
        throttle.last_failure_at = now
        delay = delay_after(throttle.failures)
        if delay is not None:
            throttle.locked_until = now + delay
            uow.audit(key, "login_locked", now, failures=throttle.failures, client=client,
                      seconds=int(delay.total_seconds()))


def end_sessions(alur: Alur, user_id: int) -> None:
    """Every session cookie of this user stops working (logout ends the session for real)."""
    with alur.unit_of_work() as uow:
        uow.session.execute(update(User).where(User.id == user_id)
                            .values(session_version=User.session_version + 1))


def _end_access(uow: Any, user: User, now: datetime) -> None:
    user.session_version += 1
    uow.session.execute(update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                        .values(revoked_at=now))


def change_password(alur: Alur, username: str, new_password: str) -> None:
    """A new password ends every session and token of the user."""
    if not 8 <= len(new_password) <= 200:
        raise InvalidData("kata sandi 8 sampai 200 karakter", "password")
    now = utcnow()
    with alur.unit_of_work() as uow:
        user = uow.session.scalars(select(User).where(User.username == username)).first()
        if user is None:
            raise NotFound(f"pengguna '{username}' tidak ditemukan")
        user.password_hash = generate_password_hash(new_password)
        _end_access(uow, user, now)
        uow.audit(username, "password_changed", now, username=username)


def set_active(alur: Alur, actor: Actor, username: str, active: bool) -> None:
    """An administrator disables (or enables) an account; disabling ends its sessions and tokens."""
    _require_admin(actor)
    now = utcnow()
    with alur.unit_of_work() as uow:
        user = uow.session.scalars(select(User).where(User.username == username)).first()
        if user is None:
            raise NotFound(f"pengguna '{username}' tidak ditemukan")
        user.active = active
        if not active:
            _end_access(uow, user, now)
        uow.audit(actor.username, "user_enabled" if active else "user_disabled", now, username=username)


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
        return uow.session.scalars(_TOKEN_USER, {"token_hash": _hash(token), "now": utcnow()}).unique().first()


# Built once (every API call runs it): constructing the select cost more CPU than running it.
_TOKEN_USER = (select(User).join(ApiToken, ApiToken.user_id == User.id).options(joinedload(User.lanes))
               .where(ApiToken.token_hash == bindparam("token_hash"), ApiToken.revoked_at.is_(None),
                      ApiToken.expires_at > bindparam("now"), User.active.is_(True)))


def actor_for_token(alur: Alur, token: str) -> Actor | None:
    """`user_for_token` as the API needs it, on every call: the actor, from one plain query (a row per lane)
    and no ORM objects (building the user and its lanes cost more CPU than the query)."""
    rows = alur.db.read_one(_TOKEN_ACTOR, {"token_hash": _hash(token), "now": utcnow()})
    if not rows:
        return None
    username, agency, owner, admin = rows[0][:4]
    return Actor(username, frozenset(r.lane for r in rows if r.lane is not None), agency, bool(owner), bool(admin),
                 frozenset(r.lane for r in rows if r.is_head))


_TOKEN_ACTOR = (select(User.username, User.agency, User.is_process_owner, User.is_admin, UserLane.lane,
                       UserLane.is_head)
                .join(ApiToken, ApiToken.user_id == User.id).outerjoin(UserLane, UserLane.user_id == User.id)
                .where(ApiToken.token_hash == bindparam("token_hash"), ApiToken.revoked_at.is_(None),
                       ApiToken.expires_at > bindparam("now"), User.active.is_(True)))


def revoke_token(alur: Alur, token: str) -> bool:
    with alur.unit_of_work() as uow:
        row = uow.session.scalars(select(ApiToken).where(ApiToken.token_hash == _hash(token))).first()
        if row is None or row.revoked_at is not None:
            return False
        row.revoked_at = utcnow()
        return True


# The demo users who head their lane: the SOP's "Terkait" lanes stand for one of several Kabag and
# Kasubbag of the Biro, so these lanes have many members in an office and a head who hands their
# tasks around. The single posts (Kepala Biro, Asisten, Sekda) need no head, the applicants none.
DEMO_HEAD_LANES = frozenset({"Kepala Bagian Terkait", "Kasubbag Terkait"})


def create_demo_users(alur: Alur, lanes: Iterable[str], applicant_lane: str | None) -> list[tuple[str, str]]:
    """One demo user per lane (named after the lane), a process owner and an admin; existing ones are kept.

    The user of a lane in `DEMO_HEAD_LANES` is its head (kepala).

    Returns every demo account (new or not) with what it is for, so `make run` can always list them.
    """
    accounts = []
    plan = [(slug(lane), [lane], DEMO_AGENCY if lane == applicant_lane else None, False, False, lane)
            for lane in lanes]
    plan += [("pemilik-proses", [], None, True, False, "Pemilik proses"), ("admin", [], None, True, True, "Admin")]
    for username, user_lanes, agency, owner, admin, name in plan:
        try:
            create_user(alur, username, DEMO_PASSWORD, user_lanes, name, agency, owner, admin,
                        head_lanes=DEMO_HEAD_LANES.intersection(user_lanes))
        except InvalidData:
            pass  # already there
        heads = DEMO_HEAD_LANES.intersection(user_lanes)
        accounts.append((username, ", ".join(user_lanes) + (" (kepala lane)" if heads else "") if user_lanes else name))
    return accounts
