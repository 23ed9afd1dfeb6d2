"""The stored records of Alur (SQLAlchemy 2 typed ORM). Schema changes go through Alembic."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    inspect,
    literal_column,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.orm.attributes import flag_modified

from engine.db import TaskId, Timestamp


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, datetime: Timestamp()}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    full_name: Mapped[str] = mapped_column(String(200), default="")
    agency: Mapped[str | None] = mapped_column(String(200))
    is_process_owner: Mapped[bool] = mapped_column(Boolean, default=False)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    email: Mapped[str | None] = mapped_column(String(254))  # for reminders; optional
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    # Carried in the session cookie and checked on every request: logout, a password change
    # or disabling the account bump it, and every older session stops working.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    lanes: Mapped[list[UserLane]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def lane_names(self) -> set[str]:
        return {lane.lane for lane in self.lanes}

    @property
    def head_lanes(self) -> set[str]:
        """The lanes this user heads (kepala): they may reassign and release that lane's tasks."""
        return {lane.lane for lane in self.lanes if lane.is_head}


class UserLane(Base):
    """Membership of a user in a lane, by the lane's name in the diagram."""

    __tablename__ = "user_lanes"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    lane: Mapped[str] = mapped_column(String(200), primary_key=True)
    # the lane's head: a flag on the membership, so only a member can head a lane and
    # leaving the lane ends the headship
    is_head: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))


class LoginThrottle(Base):
    """Login attempts per user name (existing or not) and client address together.

    Keyed by both, so guessing from one place slows that place down without locking the
    real user out at their own desk.
    """

    __tablename__ = "login_throttle"

    username: Mapped[str] = mapped_column(String(80), primary_key=True)
    client: Mapped[str] = mapped_column(String(64), primary_key=True, default="")
    failures: Mapped[int] = mapped_column(default=0)
    first_failure_at: Mapped[datetime]
    last_failure_at: Mapped[datetime]
    locked_until: Mapped[datetime | None]


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class ProcessDefinition(Base):
    __tablename__ = "process_definitions"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int]
    name: Mapped[str] = mapped_column(String(300))
    bpmn_xml: Mapped[str] = mapped_column(Text, deferred=True)  # read through SpecCache.xml
    sha256: Mapped[str] = mapped_column(String(64))
    deployed_by: Mapped[str] = mapped_column(String(80))
    deployed_at: Mapped[datetime]


class Instance(Base):
    """One request travelling through one process version."""

    __tablename__ = "instances"
    __table_args__ = (
        # the list, newest first (started_at DESC, id DESC), under a status and/or a date range
        Index("ix_instances_status_started", "status", "started_at", "id"),
        Index("ix_instances_started", "started_at", "id"),
        Index("ix_instances_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definitions.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="running")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    perihal: Mapped[str | None] = mapped_column(String(500))
    agency: Mapped[str | None] = mapped_column(String(200), index=True)
    letter_number: Mapped[str | None] = mapped_column(String(100))
    started_by: Mapped[str] = mapped_column(String(80))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    lock_version: Mapped[int] = mapped_column(Integer, default=0)
    task_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # activations so far
    # kept at each completion so that a request's page need not read its history: decisions `tidak_setuju`,
    # and the standard minutes of the completed activations (the standard of the path taken)
    return_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    path_standard_minutes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    end_event: Mapped[dict[str, Any] | None]  # how it ended: {"id", "name", "kind"} of the end event reached
    definition: Mapped[ProcessDefinition] = relationship(lazy="joined")
    # loaded only by commands (joinedload); a running request's workflow, None once it has ended
    workflow_state: Mapped[InstanceState | None] = relationship(cascade="all, delete-orphan", passive_deletes=True)

    __mapper_args__ = {"version_id_col": lock_version}

    @property
    def state(self) -> bytes | None:
        """The stored SpiffWorkflow state (engine/state.py), None for an ended request."""
        return self.workflow_state.state if self.workflow_state is not None else None

    @state.setter
    def state(self, blob: bytes | None) -> None:
        if blob is None:
            self.workflow_state = None
        elif self.workflow_state is None:
            self.workflow_state = InstanceState(state=blob)
        else:
            self.workflow_state.state = blob
        if inspect(self).persistent:  # a new state is a new version of the request (lock_version)
            flag_modified(self, "task_count")


class InstanceState(Base):
    """A running request's SpiffWorkflow state, apart from its row and deleted when it ends.

    An ended workflow says nothing the instance row does not (status, end_event, data), and
    kept in the row it left finished requests (the many) with pages sized for running ones.
    """

    __tablename__ = "instance_states"

    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[bytes] = mapped_column(LargeBinary)


# `state = 'ready'` written into the SQL, not bound: the partial indexes below are chosen by it, and SQLite
# prepares a statement again at every execution when a bound value decides whether a partial index applies
# (measured: 0.069 -> 0.028 ms CPU for the ready tasks of a request).
READY = literal_column("'ready'")


class TaskRecord(Base):
    """One activation of a user task: the inbox, timeline and reports read only this table."""

    __tablename__ = "tasks"
    __table_args__ = (
        # Open tasks are few among millions of finished ones: index only those.
        # the inbox of a lane: covers its counts per filter and its pages without reading the rows, in the
        # order of waiting and of due time; both cover the counts (SQLite, without statistics, picks either;
        # state too: SQLite counts an index as covering only when it holds every column the query names)
        Index("ix_tasks_ready_inbox", "lane", "ready_at", "seq", "due_at", "returned_by_task", "claimed_by",
              "step_no", "instance_id", "state", sqlite_where=text("state = 'ready'"),
              postgresql_where=text("state = 'ready'")),
        Index("ix_tasks_ready_lane_due", "lane", "due_at", "seq", "returned_by_task", "claimed_by", "step_no", "state",
              sqlite_where=text("state = 'ready'"), postgresql_where=text("state = 'ready'")),
        Index("ix_tasks_ready_due", "due_at", sqlite_where=text("state = 'ready'"),
              postgresql_where=text("state = 'ready'")),
        Index("ix_tasks_instance_seq", "instance_id", "seq"),
        # the open tasks of a request: the list's overdue filter and the ready tasks of a page of requests
        Index("ix_tasks_ready_instance", "instance_id", "due_at", sqlite_where=text("state = 'ready'"),
              postgresql_where=text("state = 'ready'")),
        Index("ix_tasks_ready_claimed", "claimed_by", "ready_at", sqlite_where=text("state = 'ready'"),
              postgresql_where=text("state = 'ready'")),
        # Reports: backlog and overdue per step without reading the rows of open tasks.
        # (state too: SQLite counts an index as covering only when it holds every column the query names)
        Index("ix_tasks_ready_step", "spec_id", "lane", "due_at", "instance_id", "state",
              sqlite_where=text("state = 'ready'"), postgresql_where=text("state = 'ready'")),
    )

    id: Mapped[str] = mapped_column(TaskId, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"))
    seq: Mapped[int]
    spec_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300))
    lane: Mapped[str] = mapped_column(String(200))
    step_no: Mapped[int | None]
    standard_minutes: Mapped[int | None]
    state: Mapped[str] = mapped_column(String(20))
    ready_at: Mapped[datetime]
    due_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    completed_by: Mapped[str | None] = mapped_column(String(80))
    keputusan: Mapped[str | None] = mapped_column(String(40))
    catatan: Mapped[str | None] = mapped_column(Text)
    waited_working_seconds: Mapped[int | None]  # ready -> completed/cancelled in office working time
    reminded_at: Mapped[datetime | None]  # when the one `overdue` reminder went out
    # the activation whose return (keputusan tidak_setuju) made this one; None for a first run
    returned_by_task: Mapped[str | None] = mapped_column(TaskId)
    claimed_by: Mapped[str | None] = mapped_column(String(80))  # who holds it ("Saya kerjakan")
    claimed_at: Mapped[datetime | None]
    instance: Mapped[Instance] = relationship(lazy="raise_on_sql", viewonly=True)

    @property
    def duration_seconds(self) -> float | None:
        if self.completed_at is None:
            return None
        return (self.completed_at - self.ready_at).total_seconds()


class CalendarDay(Base):
    """An admin's change to the office calendar: an extra holiday (`libur`) or a working day (`masuk`)."""

    __tablename__ = "calendar_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime]


class CalendarChanges(Base):
    """One row: how many times the office calendar has been changed. Every server's calendar cache is keyed
    by it (engine/uow.py CALENDAR_STAMP_COLUMNS): a count and the newest `created_at` of `calendar_days` miss
    a removal plus an addition made on a server whose clock is behind."""

    __tablename__ = "calendar_changes"

    id: Mapped[int] = mapped_column(primary_key=True)  # always 1
    changes: Mapped[int] = mapped_column(Integer, default=0)


class Timer(Base):
    """A BPMN timer waiting to fire; claimed with a lease so that any number of schedulers fire it once."""

    __tablename__ = "timers"
    __table_args__ = (Index("ix_timers_pending_due", "due_at", sqlite_where=text("fired_at IS NULL"),
                            postgresql_where=text("fired_at IS NULL")),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), index=True)
    definition_id: Mapped[int | None] = mapped_column(ForeignKey("process_definitions.id"))
    task_id: Mapped[str | None] = mapped_column(TaskId)  # the waiting SpiffWorkflow task
    spec_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10))  # date | duration | cycle | start
    expression: Mapped[str] = mapped_column(String(200))
    working_time: Mapped[bool] = mapped_column(Boolean, default=False)
    cycles_left: Mapped[int | None]  # cycles still to come after this one; -1: unbounded
    due_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    fired_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class AuditEvent(Base):
    """Append-only: nothing in Alur updates or deletes these rows."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(40))
    instance_id: Mapped[int | None] = mapped_column(index=True)
    task_id: Mapped[str | None] = mapped_column(TaskId)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Document(Base):
    """A document of one type in one instance; its versions are kept forever."""

    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("instance_id", "doc_type"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), index=True)
    doc_type: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    versions: Mapped[list[DocumentVersion]] = relationship(
        order_by="DocumentVersion.version", lazy="selectin", back_populates="document")


class DocumentVersion(Base):
    __tablename__ = "document_versions"
    __table_args__ = (UniqueConstraint("document_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    version: Mapped[int]
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    task_id: Mapped[str | None] = mapped_column(TaskId, index=True)
    uploaded_by: Mapped[str] = mapped_column(String(80))
    uploaded_at: Mapped[datetime]
    note: Mapped[str | None] = mapped_column(String(500))   # why this version exists (generated, replaced)
    document: Mapped[Document] = relationship(back_populates="versions")


class DocumentContent(Base):
    """The bytes of a version, apart so that listing versions never loads them."""

    __tablename__ = "document_contents"

    version_id: Mapped[int] = mapped_column(ForeignKey("document_versions.id", ondelete="CASCADE"),
                                            primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)


class LetterCounter(Base):
    """Last number drawn from the outgoing-letter register, per year (locked to stay gap-free)."""

    __tablename__ = "letter_counters"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(default=0)


class LetterRegisterEntry(Base):
    """Buku agenda surat keluar: one row per numbered outgoing letter."""

    __tablename__ = "letter_register"
    __table_args__ = (UniqueConstraint("year", "sequence"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int]
    sequence: Mapped[int]
    number: Mapped[str] = mapped_column(String(100), unique=True)
    letter_date: Mapped[str] = mapped_column(String(10))
    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id"), index=True)
    recipient: Mapped[str | None] = mapped_column(String(300))
    subject: Mapped[str | None] = mapped_column(String(500))
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime]


class Speaker(Base):
    """An official who serves as a speaker (narasumber): the registry the calendar hangs on."""

    __tablename__ = "speakers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    nip: Mapped[str | None] = mapped_column(String(30), unique=True)
    jabatan: Mapped[str] = mapped_column(String(200), default="")
    unit: Mapped[str] = mapped_column(String(200), default="")
    topics: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Engagement(Base):
    """One entry of a speaker's calendar: from a request (tentative, confirmed, released) or by hand.

    Times are the event's wall-clock time in the office's time zone (naive), as the form gives them."""

    __tablename__ = "speaker_engagements"
    __table_args__ = (Index("ix_engagements_speaker_start", "speaker_id", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    speaker_id: Mapped[int] = mapped_column(ForeignKey("speakers.id", ondelete="CASCADE"))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(20))        # request | manual
    status: Mapped[str] = mapped_column(String(20))        # tentative | confirmed | released
    title: Mapped[str] = mapped_column(String(500), default="")
    place: Mapped[str] = mapped_column(String(300), default="")
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class DocumentTemplate(Base):
    """A DOCX template of a process (docxtpl), every version kept; the newest one is used."""

    __tablename__ = "document_templates"
    __table_args__ = (UniqueConstraint("process_key", "name", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    process_key: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[int]
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    note: Mapped[str] = mapped_column(String(500), default="")
    uploaded_by: Mapped[str] = mapped_column(String(80))
    uploaded_at: Mapped[datetime]


class LetterVerification(Base):
    """What a letter's verification code proves: who signed it, and (once numbered) its number, date and PDF."""

    __tablename__ = "letter_verifications"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), index=True)
    signer_name: Mapped[str] = mapped_column(String(200))
    signer_jabatan: Mapped[str] = mapped_column(String(200))
    signer_nip: Mapped[str] = mapped_column(String(30))
    signed_by: Mapped[str] = mapped_column(String(80))
    signed_at: Mapped[datetime]
    number: Mapped[str | None] = mapped_column(String(100))
    letter_date: Mapped[str | None] = mapped_column(String(10))
    version_id: Mapped[int | None]
    sha256: Mapped[str | None] = mapped_column(String(64))


class StepStat(Base):
    """Reports' rollup of finished activations: how many took how long, per step, person and month.

    One row per (process version, step, who, local month, duration class); kept up to date at
    each completion (engine.reports.count_completion) so that reports never scan the task table.
    """

    __tablename__ = "report_steps"
    __table_args__ = {"sqlite_with_rowid": False}  # rows kept in key order: a report reads one range

    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definitions.id"), primary_key=True)
    spec_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    completed_by: Mapped[str] = mapped_column(String(80), primary_key=True)
    month: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)  # yyyymm, office time
    bucket: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)  # engine.reports.bucket
    lane: Mapped[str] = mapped_column(String(200))
    n: Mapped[int]
    within: Mapped[int]  # finished within the step's standard
    returned: Mapped[int]  # decisions that returned the request
    max_seconds: Mapped[int]
    sum_seconds: Mapped[int] = mapped_column(BigInteger)


class CaseStat(Base):
    """Reports' rollup of finished requests: lead time per process version, month and week of the end."""

    __tablename__ = "report_cases"
    __table_args__ = {"sqlite_with_rowid": False}

    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definitions.id"), primary_key=True)
    month: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)  # yyyymm of the end, office time
    week: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)  # its Monday, yyyymmdd
    bucket: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    n: Mapped[int]
    returned: Mapped[int]  # requests returned at least once
    max_seconds: Mapped[int]
    sum_seconds: Mapped[int] = mapped_column(BigInteger)
