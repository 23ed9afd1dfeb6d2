"""task claims (who holds a task), the rework mark (activated by a return), covering inbox indexes

Revision ID: 0009_claims
Revises: 0005_hardening
Create Date: 2026-11-28 07:45:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009_claims'
down_revision = '0005_hardening'
branch_labels = None
depends_on = None


READY_ONLY = {"sqlite_where": sa.text("state = 'ready'"), "postgresql_where": sa.text("state = 'ready'")}


def upgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('returned_by_task', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('claimed_at', sa.DateTime(), nullable=True))
        batch_op.create_index('ix_tasks_ready_claimed', ['claimed_by', 'ready_at'], unique=False, **READY_ONLY)
        # the lane's inbox, covering (its counts per filter read no rows); and its sort by due time
        batch_op.drop_index('ix_tasks_ready_lane', **READY_ONLY)
        batch_op.create_index('ix_tasks_ready_inbox', ['lane', 'ready_at', 'seq', 'due_at', 'returned_by_task',
                                                       'claimed_by', 'step_no', 'instance_id'], unique=False,
                              **READY_ONLY)
        batch_op.create_index('ix_tasks_ready_lane_due', ['lane', 'due_at', 'seq'], unique=False, **READY_ONLY)


def downgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_ready_lane_due', **READY_ONLY)
        batch_op.drop_index('ix_tasks_ready_inbox', **READY_ONLY)
        batch_op.create_index('ix_tasks_ready_lane', ['lane', 'ready_at'], unique=False, **READY_ONLY)
        batch_op.drop_index('ix_tasks_ready_claimed', **READY_ONLY)
        batch_op.drop_column('claimed_at')
        batch_op.drop_column('claimed_by')
        batch_op.drop_column('returned_by_task')
