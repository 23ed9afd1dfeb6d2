"""instances.return_count and instances.path_standard_minutes: a request's page reads no history for them

Revision ID: 0014_instance_counts
Revises: 0013_lane_heads
Create Date: 2026-11-28 11:10:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014_instance_counts'
down_revision = '0013_lane_heads'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('instances') as batch_op:
        batch_op.add_column(sa.Column('return_count', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('path_standard_minutes', sa.Integer(), server_default='0', nullable=False))
    # from the task table, as engine.queries counted them before
    op.execute("UPDATE instances SET "
               "return_count = (SELECT count(*) FROM tasks WHERE tasks.instance_id = instances.id "
               "AND tasks.keputusan = 'tidak_setuju'), "
               "path_standard_minutes = (SELECT coalesce(sum(tasks.standard_minutes), 0) FROM tasks "
               "WHERE tasks.instance_id = instances.id AND tasks.state = 'completed')")


def downgrade() -> None:
    with op.batch_alter_table('instances') as batch_op:
        batch_op.drop_column('path_standard_minutes')
        batch_op.drop_column('return_count')
