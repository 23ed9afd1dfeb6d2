"""people: a session version per user (a password reset or disabling ends the user's sessions)

Revision ID: 0010_people
Revises: 0003
Create Date: 2026-11-28 08:10:00

Issue 13's migration adds the same column; this one adds it only where it is missing, so the
two can be chained in either order.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010_people'
down_revision = '0003'
branch_labels = None
depends_on = None


def _has_column() -> bool:
    return any(c["name"] == "session_version" for c in sa.inspect(op.get_bind()).get_columns("users"))


def upgrade() -> None:
    if not _has_column():
        with op.batch_alter_table('users', schema=None) as batch_op:
            batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    if _has_column():
        with op.batch_alter_table('users', schema=None) as batch_op:
            batch_op.drop_column('session_version')
