"""Claims: one person of a lane takes a task ("Saya kerjakan") so that two people do not both work on it.

A claimed task can be completed (and documents attached) only by its holder; the holder
releases it, or an admin or the lane's head (kepala, a flag on the membership) reassigns it to
another member of the lane or releases it. Every change is in the audit log. The holder is a
column of the task row, so the inbox shows it without a join.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from engine.clock import utcnow
from engine.errors import Forbidden, Held, InvalidData, NotFound, NotReady
from engine.models import TaskRecord, User, UserLane

if TYPE_CHECKING:
    from engine.actors import Actor
    from engine.services import Alur
    from engine.uow import UnitOfWork


def lane_members(alur: Alur, lane: str) -> list[str]:
    """The active members of a lane, by user name: whom a task of the lane can be given to."""
    with alur.unit_of_work(write=False) as uow:
        return list(uow.session.scalars(select(User.username).join(UserLane).where(
            UserLane.lane == lane, User.active.is_(True)).order_by(User.username)))


def check_holder(record: TaskRecord, actor: Actor) -> None:
    """Refuse work on a task someone else holds (HTTP 409): they must release it first."""
    if record.claimed_by and record.claimed_by != actor.username:
        raise Held(f"tugas '{record.name}' sedang dikerjakan oleh {record.claimed_by}; "
                   f"minta ia melepasnya terlebih dahulu", record.claimed_by)


def _ready_for_update(uow: UnitOfWork, task_id: str) -> TaskRecord:
    record = uow.session.get(TaskRecord, task_id)
    if record is None:
        raise NotFound(f"tugas {task_id} tidak ditemukan")
    uow.lock_instance(record.instance_id)  # claims serialize with completions of the same request
    uow.session.refresh(record)
    if record.state != "ready":
        raise NotReady(f"tugas '{record.name}' tidak siap lagi")
    return record


def claim(alur: Alur, task_id: str, actor: Actor) -> TaskRecord:
    """The actor takes a ready task of their lane; taking one's own claim again is a no-op."""
    now = utcnow()
    with alur.unit_of_work() as uow:
        record = _ready_for_update(uow, task_id)
        if record.lane not in actor.lanes:
            raise Forbidden(f"tugas '{record.name}' milik lane '{record.lane}', bukan lane anda")
        if record.claimed_by == actor.username:
            return record
        check_holder(record, actor)
        record.claimed_by, record.claimed_at = actor.username, now
        uow.audit(actor.username, "claim", now, record.instance_id, record.id, step=record.name)
        return record


def release(alur: Alur, task_id: str, actor: Actor) -> TaskRecord:
    """The holder (or an admin, or the lane's head) gives the task back to the lane."""
    now = utcnow()
    with alur.unit_of_work() as uow:
        record = _ready_for_update(uow, task_id)
        if record.claimed_by is None:
            return record
        if record.claimed_by != actor.username and not actor.directs(record.lane):
            raise Forbidden(f"tugas '{record.name}' dipegang oleh {record.claimed_by}; hanya ia, kepala lane "
                            f"'{record.lane}' atau admin yang dapat melepasnya")
        uow.audit(actor.username, "release", now, record.instance_id, record.id, step=record.name,
                  holder=record.claimed_by)
        record.claimed_by, record.claimed_at = None, None
        return record


def reassign(alur: Alur, task_id: str, actor: Actor, username: str) -> TaskRecord:
    """An admin or the lane's head gives the task to another (active) member of its lane."""
    now = utcnow()
    with alur.unit_of_work() as uow:
        record = _ready_for_update(uow, task_id)
        if not actor.directs(record.lane):
            raise Forbidden(f"hanya admin atau kepala lane '{record.lane}' yang dapat mengalihkan tugas "
                            f"'{record.name}'")
        member = uow.session.scalar(select(User.id).join(UserLane).where(
            User.username == username, User.active.is_(True), UserLane.lane == record.lane))
        if member is None:
            raise InvalidData(f"pengguna '{username}' bukan anggota aktif lane '{record.lane}'", "username",
                              "not_in_lane", {"lane": record.lane})
        uow.audit(actor.username, "reassign", now, record.instance_id, record.id, step=record.name,
                  holder=record.claimed_by, to=username)
        record.claimed_by, record.claimed_at = username, now
        return record
