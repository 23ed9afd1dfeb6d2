"""calendar changes: one counted row, the office calendar's stamp for every server's cache

Revision ID: 0015_calendar_changes
Revises: 0012_storage
Create Date: 2026-11-28 15:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015_calendar_changes'
down_revision = '0012_storage'
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        'calendar_changes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('changes', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.bulk_insert(table, [{'id': 1, 'changes': 0}])


def downgrade() -> None:
    op.drop_table('calendar_changes')
