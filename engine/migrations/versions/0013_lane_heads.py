"""lane heads: a flag on the lane membership (the head may reassign and release the lane's tasks)

Revision ID: 0013_lane_heads
Revises: 0010_inbox
Create Date: 2026-11-28 11:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013_lane_heads'
down_revision = '0010_inbox'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('user_lanes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_head', sa.Boolean(), nullable=False, server_default=sa.text('false')))


def downgrade() -> None:
    with op.batch_alter_table('user_lanes', schema=None) as batch_op:
        batch_op.drop_column('is_head')
