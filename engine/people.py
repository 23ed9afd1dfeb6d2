"""People in lanes: an administrator changes accounts; owners and admins see lanes and their desk.

Lane names are the lanes' names in the diagrams, trimmed and compared exactly: a name that
no deployed diagram has would leave its member waiting on an empty inbox forever, so it
needs an explicit confirmation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from werkzeug.security import generate_password_hash

from engine import users
from engine.actors import Actor
from engine.clock import utcnow
from engine.errors import Forbidden, InvalidData, NotFound
from engine.models import READY, Instance, ProcessDefinition, TaskRecord, User, UserLane
from engine.services import Alur

MAX_LANES = 50


def _require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise Forbidden("hanya admin yang boleh mengubah pengguna")


def _require_owner(actor: Actor) -> None:
    if not (actor.is_admin or actor.is_process_owner):
        raise Forbidden("hanya admin atau pemilik proses yang boleh melihat halaman ini")


def normalize_lane(name: str) -> str:
    return name.strip()


def deployed_lanes(alur: Alur) -> list[str]:
    """Every lane name of every deployed diagram version, sorted."""
    names: set[str] = set()
    for definition in alur.definitions():
        names.update(alur.parsed(definition).model.lanes)
    return sorted(names)


def require_known_lanes(alur: Alur, names: Iterable[str], confirm: bool, field_name: str) -> list[str]:
    """The names no deployed diagram has; refused unless the caller confirms them."""
    known = set(deployed_lanes(alur))
    unknown = [n for n in (normalize_lane(n) for n in names) if n not in known]
    if unknown and not confirm:
        raise InvalidData(f"lane '{unknown[0]}' tidak ada di diagram mana pun; konfirmasi bila memang dimaksud",
                          field_name, "unconfirmed_lane", {"lanes": unknown})
    return unknown


def search_users(alur: Alur, actor: Actor, query: str = "") -> list[User]:
    """Accounts whose user name, full name, agency or lane contains `query` (admin only)."""
    _require_admin(actor)
    stmt = select(User).order_by(User.username)
    text = query.strip().lower()
    if text:
        like = f"%{text}%"
        in_lane = select(UserLane.user_id).where(func.lower(UserLane.lane).like(like))
        stmt = stmt.where(or_(func.lower(User.username).like(like), func.lower(User.full_name).like(like),
                              func.lower(User.agency).like(like), User.id.in_(in_lane)))
    with alur.unit_of_work(write=False) as uow:
        return list(uow.session.scalars(stmt))


@dataclass
class UserChange:
    """What an administrator changes on one account; None (or empty) leaves that part as it is."""

    add_lanes: list[str] = field(default_factory=list)
    remove_lanes: list[str] = field(default_factory=list)
    active: bool | None = None
    is_process_owner: bool | None = None
    password: str | None = None
    confirm: bool = False  # lane names that no deployed diagram has are meant
    add_head_lanes: list[str] = field(default_factory=list)  # lanes (of the user's) they now head
    remove_head_lanes: list[str] = field(default_factory=list)


def _clean_lanes(names: Iterable[str], field_name: str) -> list[str]:
    cleaned = [normalize_lane(n) for n in names]
    if len(cleaned) > MAX_LANES or not all(0 < len(n) <= 200 for n in cleaned):
        raise InvalidData(f"{field_name}: paling banyak {MAX_LANES} nama lane, masing-masing 1 sampai 200 karakter",
                          field_name)
    return list(dict.fromkeys(cleaned))


def change_user(alur: Alur, actor: Actor, username: str, change: UserChange) -> User:
    """Apply an administrator's change to an account, all of it or nothing, each part audited."""
    _require_admin(actor)
    add = _clean_lanes(change.add_lanes, "add_lanes")
    remove = _clean_lanes(change.remove_lanes, "remove_lanes")
    if set(add) & set(remove):
        raise InvalidData(f"lane '{sorted(set(add) & set(remove))[0]}' tidak bisa ditambah dan dihapus sekaligus",
                          "add_lanes")
    if change.password is not None and not 8 <= len(change.password) <= 200:
        raise InvalidData("kata sandi baru 8 sampai 200 karakter", "password")
    heads = _clean_lanes(change.add_head_lanes, "add_head_lanes")
    unheads = _clean_lanes(change.remove_head_lanes, "remove_head_lanes")
    if set(heads) & set(unheads):
        raise InvalidData(f"kepala lane '{sorted(set(heads) & set(unheads))[0]}' tidak bisa dijadikan dan dicabut "
                          f"sekaligus", "add_head_lanes")
    unknown = require_known_lanes(alur, add, change.confirm, "add_lanes")
    now = utcnow()
    with alur.unit_of_work() as uow:
        user = uow.session.scalars(select(User).where(User.username == username)).first()
        if user is None:
            raise NotFound(f"pengguna '{username}' tidak ditemukan")
        if user.username == actor.username and change.active is False:
            raise InvalidData("admin tidak dapat menonaktifkan akunnya sendiri", "active")
        have = user.lane_names
        missing = [n for n in remove if n not in have]
        if missing:
            raise InvalidData(f"pengguna '{username}' tidak tergabung di lane '{missing[0]}'", "remove_lanes")
        added = [n for n in add if n not in have]
        if added or remove:
            user.lanes = [lane for lane in user.lanes if lane.lane not in set(remove)]
            user.lanes.extend(UserLane(lane=n) for n in added)
            uow.audit(actor.username, "user_lanes_changed", now, username=username, added=added,
                      removed=remove, unconfirmed=[n for n in unknown if n in added])
        _change_heads(uow, actor, user, heads, unheads, now)
        if change.is_process_owner is not None and change.is_process_owner != user.is_process_owner:
            user.is_process_owner = change.is_process_owner
            uow.audit(actor.username, "user_process_owner", now, username=username, value=change.is_process_owner)
        if change.active is not None and change.active != user.active:
            user.active = change.active
            if not change.active:
                users._end_access(uow, user, now)  # issue 13: sessions and tokens end
            uow.audit(actor.username, "user_enabled" if change.active else "user_disabled", now, username=username)
        if change.password is not None:
            user.password_hash = generate_password_hash(change.password)
            users._end_access(uow, user, now)  # issue 13: sessions and tokens end
            uow.audit(actor.username, "password_reset", now, username=username)
        uow.session.flush()
        return user


def _change_heads(uow: Any, actor: Actor, user: User, heads: list[str], unheads: list[str],
                  now: datetime) -> None:
    """Make the user head of lanes they belong to (after this change's lane changes), or no longer."""
    memberships = {m.lane: m for m in user.lanes}
    for name, field_name in [(n, "add_head_lanes") for n in heads] + [(n, "remove_head_lanes") for n in unheads]:
        if name not in memberships:
            raise InvalidData(f"pengguna '{user.username}' bukan anggota lane '{name}': hanya anggota lane yang "
                              f"dapat menjadi kepalanya", field_name)
    for name, value in [(n, True) for n in heads] + [(n, False) for n in unheads]:
        if bool(memberships[name].is_head) != value:
            memberships[name].is_head = value
            uow.audit(actor.username, "user_lane_head", now, username=user.username, lane=name, value=value)


# ---- what owners and admins see ----------------------------------------------------------


@dataclass
class LaneView:
    process_key: str
    process_name: str
    lane: str
    members: list[User]
    open_tasks: int
    overdue_tasks: int

    @property
    def heads(self) -> list[User]:
        return [u for u in self.members if self.lane in u.head_lanes]


def lanes_overview(alur: Alur, actor: Actor) -> list[LaneView]:
    """Each lane of each process (latest version) with its members and its open and overdue tasks."""
    _require_owner(actor)
    now = utcnow()
    with alur.unit_of_work(write=False) as uow:
        users = list(uow.session.scalars(select(User).where(User.active.is_(True)).order_by(User.username)))
        counts = uow.session.execute(
            select(ProcessDefinition.key, TaskRecord.lane, func.count(),
                   func.count().filter(TaskRecord.due_at < now))
            .join(Instance, Instance.id == TaskRecord.instance_id)
            .join(ProcessDefinition, ProcessDefinition.id == Instance.definition_id)
            .where(TaskRecord.state == READY).group_by(ProcessDefinition.key, TaskRecord.lane)).all()
    tasks = {(key, lane): (n, late) for key, lane, n, late in counts}
    views = []
    for definition in alur.latest_definitions():
        model = alur.parsed(definition).model
        for lane in model.lanes:
            n, late = tasks.get((definition.key, lane), (0, 0))
            views.append(LaneView(definition.key, definition.name, lane,
                                  [u for u in users if lane in u.lane_names], n, late))
    return views


@dataclass
class ProcessDesk:
    latest: ProcessDefinition
    versions: list[ProcessDefinition]
    running: int
    overdue: int
    empty_lanes: list[str]


@dataclass
class Desk:
    """The home page of a process owner or admin."""

    processes: list[ProcessDesk]
    accounts: dict[str, int] | None = None  # admins only


def desk(alur: Alur, actor: Actor) -> Desk:
    _require_owner(actor)
    now = utcnow()
    lanes = lanes_overview(alur, actor)
    with alur.unit_of_work(write=False) as uow:
        running = dict(uow.session.execute(
            select(ProcessDefinition.key, func.count()).join(Instance, Instance.definition_id == ProcessDefinition.id)
            .where(Instance.status == "running").group_by(ProcessDefinition.key)).all())
        late = dict(uow.session.execute(
            select(ProcessDefinition.key, func.count(func.distinct(Instance.id)))
            .join(Instance, Instance.definition_id == ProcessDefinition.id)
            .join(TaskRecord, TaskRecord.instance_id == Instance.id)
            .where(Instance.status == "running", TaskRecord.state == READY, TaskRecord.due_at < now)
            .group_by(ProcessDefinition.key)).all())
        accounts = None
        if actor.is_admin:
            total = uow.session.scalar(select(func.count()).select_from(User)) or 0
            active = uow.session.scalar(select(func.count()).select_from(User).where(User.active.is_(True))) or 0
            laneless = uow.session.scalar(select(func.count()).select_from(User).where(
                User.active.is_(True), User.id.not_in(select(UserLane.user_id)))) or 0
            accounts = {"total": total, "active": active, "disabled": total - active, "without_lanes": laneless}
    versions: dict[str, list[ProcessDefinition]] = {}
    for definition in alur.definitions():
        versions.setdefault(definition.key, []).append(definition)
    processes = [
        ProcessDesk(d, sorted(versions.get(d.key, [d]), key=lambda v: -v.version), running.get(d.key, 0),
                    late.get(d.key, 0), [v.lane for v in lanes if v.process_key == d.key and not v.members])
        for d in alur.latest_definitions()]
    return Desk(processes, accounts)
