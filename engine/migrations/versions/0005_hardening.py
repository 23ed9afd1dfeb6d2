"""hardening: throttle per account and client, session version, how a request ended

Revision ID: 0005_hardening
Revises: 0003
Create Date: 2026-11-28 08:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005_hardening'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Throttle rows are short-lived counters: the new key (user name and client) starts empty.
    op.drop_table('login_throttle')
    op.create_table('login_throttle',
                    sa.Column('username', sa.String(length=80), nullable=False),
                    sa.Column('client', sa.String(length=64), nullable=False),
                    sa.Column('failures', sa.Integer(), nullable=False),
                    sa.Column('first_failure_at', sa.DateTime(), nullable=False),
                    sa.Column('last_failure_at', sa.DateTime(), nullable=False),
                    sa.Column('locked_until', sa.DateTime(), nullable=True),
                    sa.PrimaryKeyConstraint('username', 'client'))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('end_event', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.drop_column('end_event')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('session_version')
    op.drop_table('login_throttle')
    op.create_table('login_throttle',
                    sa.Column('username', sa.String(length=80), nullable=False),
                    sa.Column('failures', sa.Integer(), nullable=False),
                    sa.Column('first_failure_at', sa.DateTime(), nullable=False),
                    sa.Column('locked_until', sa.DateTime(), nullable=True),
                    sa.PrimaryKeyConstraint('username'))
