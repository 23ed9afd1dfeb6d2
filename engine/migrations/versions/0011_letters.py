"""speakers and their calendar, document templates, why a document version exists

Revision ID: 0011_letters
Revises: 0009_claims
Create Date: 2026-11-28 08:40:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011_letters'
down_revision = '0009_claims'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'speakers',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('nip', sa.String(length=30), nullable=True),
        sa.Column('jabatan', sa.String(length=200), nullable=False),
        sa.Column('unit', sa.String(length=200), nullable=False),
        sa.Column('topics', sa.Text(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('nip'),
    )
    op.create_table(
        'speaker_engagements',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('speaker_id', sa.Integer(), nullable=False),
        sa.Column('instance_id', sa.Integer(), nullable=True),
        sa.Column('source', sa.String(length=20), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('title', sa.String(length=500), nullable=False),
        sa.Column('place', sa.String(length=300), nullable=False),
        sa.Column('starts_at', sa.DateTime(), nullable=False),
        sa.Column('ends_at', sa.DateTime(), nullable=False),
        sa.Column('created_by', sa.String(length=80), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['instance_id'], ['instances.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['speaker_id'], ['speakers.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_engagements_speaker_start', 'speaker_engagements', ['speaker_id', 'starts_at'])
    op.create_index(op.f('ix_speaker_engagements_instance_id'), 'speaker_engagements', ['instance_id'])
    op.create_table(
        'document_templates',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('process_key', sa.String(length=200), nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('filename', sa.String(length=255), nullable=False),
        sa.Column('note', sa.String(length=500), nullable=False),
        sa.Column('uploaded_by', sa.String(length=80), nullable=False),
        sa.Column('uploaded_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('process_key', 'name', 'version'),
    )
    with op.batch_alter_table('document_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('note', sa.String(length=500), nullable=True))
    op.create_table(
        'letter_verifications',
        sa.Column('code', sa.String(length=16), nullable=False),
        sa.Column('instance_id', sa.Integer(), nullable=False),
        sa.Column('signer_name', sa.String(length=200), nullable=False),
        sa.Column('signer_jabatan', sa.String(length=200), nullable=False),
        sa.Column('signer_nip', sa.String(length=30), nullable=False),
        sa.Column('signed_by', sa.String(length=80), nullable=False),
        sa.Column('signed_at', sa.DateTime(), nullable=False),
        sa.Column('number', sa.String(length=100), nullable=True),
        sa.Column('letter_date', sa.String(length=10), nullable=True),
        sa.Column('version_id', sa.Integer(), nullable=True),
        sa.Column('sha256', sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(['instance_id'], ['instances.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('code'),
    )
    op.create_index(op.f('ix_letter_verifications_instance_id'), 'letter_verifications', ['instance_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_letter_verifications_instance_id'), table_name='letter_verifications')
    op.drop_table('letter_verifications')
    with op.batch_alter_table('document_versions', schema=None) as batch_op:
        batch_op.drop_column('note')
    op.drop_table('document_templates')
    op.drop_index(op.f('ix_speaker_engagements_instance_id'), table_name='speaker_engagements')
    op.drop_index('ix_engagements_speaker_start', table_name='speaker_engagements')
    op.drop_table('speaker_engagements')
    op.drop_table('speakers')
