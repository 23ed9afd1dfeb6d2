"""A server process's first reads, made before it takes requests.

A worker's first request of each kind paid for what every later one reuses: SQLAlchemy compiling
the statement, and on PostgreSQL a new backend loading the catalog entries of every table and
index the statement touches. At 100,000 requests that made a worker's first inbox or instance
list 1.5-7x its usual time (e.g. 112 instead of 15 ms), and with five workers on one port a user
met a cold worker again and again after each restart. Here each worker reads the shapes the API
and the UI read most (the token check, the inbox and each of its filters, the instance list and
each of its filters, one request's page) once, as an admin and as a member of a lane nobody is in:
read-only, a few rows at most.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from engine.actors import Actor, Filters
from engine.errors import NotFound
from engine.inbox import InboxQuery, inbox
from engine.models import Instance
from engine.users import actor_for_token

if TYPE_CHECKING:
    from engine.services import Alur

log = logging.getLogger(__name__)

_ADMIN = Actor("alur-warm-up", is_admin=True, is_process_owner=True)
_APPLICANT = Actor("alur-warm-up", lanes=frozenset({"alur-warm-up"}), agency="alur-warm-up")
_MEMBER = Actor("alur-warm-up", lanes=frozenset({"alur-warm-up"}))
_LONG_AGO = dt.datetime(2000, 1, 1)


def warm_up(alur: Alur) -> float:
    """Read each hot shape once; the seconds it took. A database that cannot answer yet (not migrated,
    unreachable) is logged, not raised: the worker serves anyway and warms as it goes."""
    started = time.perf_counter()
    try:
        actor_for_token(alur, "alur-warm-up")
        for actor, query in ((_MEMBER, InboxQuery(limit=1)), (_MEMBER, InboxQuery(search="alur-warm-up", limit=1)),
                             (_MEMBER, InboxQuery(search="#1", limit=1)),
                             (_MEMBER, InboxQuery(overdue=True, sort="tenggat", limit=1)),
                             (_MEMBER, InboxQuery(returned=True, limit=1)), (_MEMBER, InboxQuery(mine=True, limit=1)),
                             (_APPLICANT, InboxQuery(limit=1))):
            inbox(alur, actor, query)
        for actor, filters in ((_ADMIN, Filters(limit=1)), (_ADMIN, Filters(status="running", limit=1)),
                               (_ADMIN, Filters(overdue=True, limit=1)), (_ADMIN, Filters(overdue=False, limit=1)),
                               (_ADMIN, Filters(process="alur-warm-up", limit=1)),
                               (_ADMIN, Filters(started_from=_LONG_AGO, started_to=_LONG_AGO, limit=1)),
                               (_APPLICANT, Filters(limit=1))):
            found = alur.instances(actor, filters)
            alur.ready_of([i.id for i in found] or [0])
        with alur.unit_of_work(write=False) as uow:
            newest = uow.session.scalar(select(func.max(Instance.id)))
        try:
            alur.instance_rows(newest or 0, _ADMIN, 10)
        except NotFound:
            pass  # no request yet: its first statement is compiled all the same
    except SQLAlchemyError as exc:
        log.warning("pemanasan awal dilewati: basis data belum dapat dibaca (%s)", exc.__class__.__name__)
    return time.perf_counter() - started
