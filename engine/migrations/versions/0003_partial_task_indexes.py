"""partial task indexes, instance task counter

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 02:00:23.867253
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


READY_ONLY = {"sqlite_where": sa.text("state = 'ready'"), "postgresql_where": sa.text("state = 'ready'")}


def upgrade() -> None:
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('task_count', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_index('ix_instances_status_id', ['status', 'id'], unique=False)
    op.execute("UPDATE instances SET task_count = (SELECT count(*) FROM tasks WHERE tasks.instance_id = instances.id)")

    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tasks_state_due'))
        batch_op.drop_index(batch_op.f('ix_tasks_state_lane_ready'))
        batch_op.create_index('ix_tasks_ready_due', ['due_at'], unique=False, **READY_ONLY)
        batch_op.create_index('ix_tasks_ready_lane', ['lane', 'ready_at'], unique=False, **READY_ONLY)



def downgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_ready_lane', **READY_ONLY)
        batch_op.drop_index('ix_tasks_ready_due', **READY_ONLY)
        batch_op.create_index(batch_op.f('ix_tasks_state_lane_ready'), ['state', 'lane', 'ready_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_tasks_state_due'), ['state', 'due_at'], unique=False)

    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.drop_index('ix_instances_status_id')
        batch_op.drop_column('task_count')

