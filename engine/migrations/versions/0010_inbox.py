"""indexes for the inbox and the instance list at 100k requests: the list in start-time order under any
filter; the open tasks of a request (overdue filter, ready tasks of a page of requests); both inbox
indexes of a lane cover its counts per filter (SQLite without statistics may pick either)

Revision ID: 0010_inbox
Revises: 0008_reports
Create Date: 2026-11-28 11:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010_inbox'
down_revision = '0008_reports'
branch_labels = None
depends_on = None

READY_ONLY = {"sqlite_where": sa.text("state = 'ready'"), "postgresql_where": sa.text("state = 'ready'")}
INBOX = ['lane', 'ready_at', 'seq', 'due_at', 'returned_by_task', 'claimed_by', 'step_no', 'instance_id']
# state too: SQLite counts an index as covering only when it holds every column the query names
LANE_DUE = ['lane', 'due_at', 'seq', 'returned_by_task', 'claimed_by', 'step_no', 'state']


def upgrade() -> None:
    with op.batch_alter_table('instances', schema=None) as batch_op:
        # newest first (started_at DESC, id DESC) with or without a status and a date range
        batch_op.drop_index('ix_instances_status_started')
        batch_op.create_index('ix_instances_status_started', ['status', 'started_at', 'id'], unique=False)
        batch_op.create_index('ix_instances_started', ['started_at', 'id'], unique=False)
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index('ix_tasks_ready_instance', ['instance_id', 'due_at'], unique=False, **READY_ONLY)
        batch_op.drop_index('ix_tasks_ready_lane_due', **READY_ONLY)
        batch_op.create_index('ix_tasks_ready_lane_due', LANE_DUE, unique=False, **READY_ONLY)
        batch_op.drop_index('ix_tasks_ready_inbox', **READY_ONLY)
        batch_op.create_index('ix_tasks_ready_inbox', [*INBOX, 'state'], unique=False, **READY_ONLY)


def downgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_ready_inbox', **READY_ONLY)
        batch_op.create_index('ix_tasks_ready_inbox', INBOX, unique=False, **READY_ONLY)
        batch_op.drop_index('ix_tasks_ready_lane_due', **READY_ONLY)
        batch_op.create_index('ix_tasks_ready_lane_due', ['lane', 'due_at', 'seq'], unique=False, **READY_ONLY)
        batch_op.drop_index('ix_tasks_ready_instance', **READY_ONLY)
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.drop_index('ix_instances_started')
        batch_op.drop_index('ix_instances_status_started')
        batch_op.create_index('ix_instances_status_started', ['status', 'started_at'], unique=False)
