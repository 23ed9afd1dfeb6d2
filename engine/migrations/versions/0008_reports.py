"""report rollups (report_steps, report_cases), partial index of open tasks per step

Revision ID: 0008_reports
Revises: 0007_worktime
Create Date: 2026-11-28 08:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008_reports'
down_revision = '0007_worktime'
branch_labels = None
depends_on = None

READY_ONLY = {"sqlite_where": sa.text("state = 'ready'"), "postgresql_where": sa.text("state = 'ready'")}


def upgrade() -> None:
    # Filled from the task table by engine.reports.rebuild (run by `alur init` when empty).
    op.create_table(
        'report_steps',
        sa.Column('definition_id', sa.Integer(), nullable=False),
        sa.Column('spec_id', sa.String(length=200), nullable=False),
        sa.Column('completed_by', sa.String(length=80), nullable=False),
        sa.Column('month', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('bucket', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('lane', sa.String(length=200), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.Column('within', sa.Integer(), nullable=False),
        sa.Column('returned', sa.Integer(), nullable=False),
        sa.Column('max_seconds', sa.Integer(), nullable=False),
        sa.Column('sum_seconds', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['definition_id'], ['process_definitions.id']),
        sa.PrimaryKeyConstraint('definition_id', 'spec_id', 'completed_by', 'month', 'bucket'),
        sqlite_with_rowid=False,
    )
    op.create_table(
        'report_cases',
        sa.Column('definition_id', sa.Integer(), nullable=False),
        sa.Column('month', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('week', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('bucket', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.Column('returned', sa.Integer(), nullable=False),
        sa.Column('max_seconds', sa.Integer(), nullable=False),
        sa.Column('sum_seconds', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['definition_id'], ['process_definitions.id']),
        sa.PrimaryKeyConstraint('definition_id', 'month', 'week', 'bucket'),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index('ix_tasks_ready_step', ['spec_id', 'lane', 'due_at', 'instance_id', 'state'],
                              **READY_ONLY)


def downgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_ready_step', **READY_ONLY)
    op.drop_table('report_cases')
    op.drop_table('report_steps')
