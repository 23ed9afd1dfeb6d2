"""compact storage: task ids in 16 bytes, SQLite times as integers, audit events without copies of rows,
the workflow state of a request in its own table (instance_states; an ended request keeps none)

Revision ID: 0012_storage
Revises: 0014_instance_counts
Create Date: 2026-11-28 11:15:00

Nothing is dropped that is not also kept elsewhere: an audit payload loses only keys whose
values the row it points to holds (the task row for complete/return/paraf, the document
version for document_added, the instance's end_event for end), and only where they agree.
"""
from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa
from alembic import op

revision = '0012_storage'
down_revision = '0014_instance_counts'
branch_labels = None
depends_on = None

# (table, column) of every SpiffWorkflow task id
TASK_IDS = (('tasks', 'id'), ('tasks', 'returned_by_task'), ('audit_events', 'task_id'),
            ('document_versions', 'task_id'), ('timers', 'task_id'))

# SQLAlchemy's SQLite text 'YYYY-MM-DD HH:MM:SS[.ffffff]' -> microseconds since 1970 (engine.db.Timestamp)
TEXT_TO_MICROS = ("CAST(strftime('%s', {c}) AS INTEGER) * 1000000 "
                  "+ CAST(substr({c} || '.000000', 21, 6) AS INTEGER)")
MICROS_TO_TEXT = "strftime('%Y-%m-%d %H:%M:%S', {c} / 1000000, 'unixepoch') || printf('.%06d', {c} % 1000000)"


def _uuid_blob(value: object) -> object:
    try:
        return UUID(str(value)).bytes if isinstance(value, str) else value
    except ValueError:
        return value  # not a SpiffWorkflow id: left as it was


def _uuid_text(value: object) -> object:
    return str(UUID(bytes=value)) if isinstance(value, bytes) and len(value) == 16 else value


def _datetime_columns(bind: sa.engine.Connection) -> list[tuple[str, str]]:
    inspector = sa.inspect(bind)
    return [(table, col['name']) for table in inspector.get_table_names() if table != 'alembic_version'
            for col in inspector.get_columns(table) if isinstance(col['type'], sa.DateTime)]


# Audit payload keys that repeat a row the event points to, removed only where they agree with it.
SQLITE_TRIMS = (
    """UPDATE audit_events SET payload = json_remove(payload, '$.step', '$.step_no', '$.keputusan', '$.catatan')
       WHERE kind IN ('complete', 'return') AND EXISTS (SELECT 1 FROM tasks t WHERE t.id = audit_events.task_id
         AND t.name IS json_extract(payload, '$.step') AND t.step_no IS json_extract(payload, '$.step_no')
         AND t.keputusan IS json_extract(payload, '$.keputusan')
         AND t.catatan IS json_extract(payload, '$.catatan'))""",
    """UPDATE audit_events SET payload = json_remove(payload, '$.step', '$.step_no')
       WHERE kind = 'paraf' AND EXISTS (SELECT 1 FROM tasks t WHERE t.id = audit_events.task_id
         AND t.name IS json_extract(payload, '$.step') AND t.step_no IS json_extract(payload, '$.step_no'))""",
    """UPDATE audit_events SET payload = json_object('version_id', (
         SELECT v.id FROM document_versions v JOIN documents d ON d.id = v.document_id
         WHERE d.instance_id = audit_events.instance_id AND d.doc_type = json_extract(payload, '$.doc_type')
           AND v.version = json_extract(payload, '$.version')))
       WHERE kind = 'document_added' AND json_extract(payload, '$.version_id') IS NULL AND EXISTS (
         SELECT 1 FROM document_versions v JOIN documents d ON d.id = v.document_id
         WHERE d.instance_id = audit_events.instance_id AND d.doc_type = json_extract(payload, '$.doc_type')
           AND v.version = json_extract(payload, '$.version') AND v.sha256 IS json_extract(payload, '$.sha256')
           AND v.size IS json_extract(payload, '$.size') AND v.filename IS json_extract(payload, '$.filename')
           AND v.note IS json_extract(payload, '$.note') AND v.task_id IS audit_events.task_id)""",
    """UPDATE audit_events SET payload = json_remove(payload, '$.end_event')
       WHERE kind = 'end' AND EXISTS (SELECT 1 FROM instances i WHERE i.id = audit_events.instance_id
         AND json(i.end_event) = json_extract(payload, '$.end_event'))""",
)
PG_TRIMS = (
    """UPDATE audit_events a SET payload = (a.payload::jsonb - '{step,step_no,keputusan,catatan}'::text[])::json
       FROM tasks t WHERE a.kind IN ('complete', 'return') AND t.id = a.task_id
         AND t.name IS NOT DISTINCT FROM a.payload->>'step'
         AND t.step_no IS NOT DISTINCT FROM (a.payload->>'step_no')::int
         AND t.keputusan IS NOT DISTINCT FROM a.payload->>'keputusan'
         AND t.catatan IS NOT DISTINCT FROM a.payload->>'catatan'""",
    """UPDATE audit_events a SET payload = (a.payload::jsonb - '{step,step_no}'::text[])::json
       FROM tasks t WHERE a.kind = 'paraf' AND t.id = a.task_id
         AND t.name IS NOT DISTINCT FROM a.payload->>'step'
         AND t.step_no IS NOT DISTINCT FROM (a.payload->>'step_no')::int""",
    """UPDATE audit_events a SET payload = json_build_object('version_id', v.id)
       FROM document_versions v JOIN documents d ON d.id = v.document_id
       WHERE a.kind = 'document_added' AND a.payload->>'version_id' IS NULL
         AND d.instance_id = a.instance_id AND d.doc_type = a.payload->>'doc_type'
         AND v.version = (a.payload->>'version')::int AND v.sha256 IS NOT DISTINCT FROM a.payload->>'sha256'
         AND v.size IS NOT DISTINCT FROM (a.payload->>'size')::int
         AND v.filename IS NOT DISTINCT FROM a.payload->>'filename'
         AND v.note IS NOT DISTINCT FROM a.payload->>'note' AND v.task_id IS NOT DISTINCT FROM a.task_id""",
    """UPDATE audit_events a SET payload = (a.payload::jsonb - 'end_event')::json
       FROM instances i WHERE a.kind = 'end' AND i.id = a.instance_id
         AND i.end_event::jsonb = (a.payload->'end_event')::jsonb""",
)


def upgrade() -> None:
    # every stored state moves, those of ended requests too (from now on an ended request keeps none)
    op.create_table(
        'instance_states',
        sa.Column('instance_id', sa.Integer(), nullable=False),
        sa.Column('state', sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(['instance_id'], ['instances.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('instance_id'),
    )
    op.execute("INSERT INTO instance_states (instance_id, state) SELECT id, state FROM instances")
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.drop_column('state')
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        raw = bind.connection.driver_connection
        raw.create_function('uuid_blob', 1, _uuid_blob, deterministic=True)
        for table, column in TASK_IDS:
            op.execute(f"UPDATE {table} SET {column} = uuid_blob({column}) WHERE typeof({column}) = 'text'")
        for table, column in _datetime_columns(bind):
            op.execute(f"UPDATE {table} SET {column} = {TEXT_TO_MICROS.format(c=column)} "
                       f"WHERE typeof({column}) = 'text'")
        for statement in SQLITE_TRIMS:
            op.execute(statement)
    else:
        # the trims first: they compare task ids of the same type (text) in both tables
        for statement in PG_TRIMS:
            op.execute(statement)
        for table, column in TASK_IDS:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE uuid USING {column}::uuid")


def downgrade() -> None:
    """Back to text ids and text times; the trimmed audit keys stay where they are kept (their rows).

    A request that ended after the upgrade has no state to give back: an empty one (no code loads it).
    """
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('state', sa.LargeBinary(), nullable=False, server_default=sa.text("''")))
    op.execute("UPDATE instances SET state = (SELECT s.state FROM instance_states s "
               "WHERE s.instance_id = instances.id) WHERE id IN (SELECT instance_id FROM instance_states)")
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.alter_column('state', server_default=None)
    op.drop_table('instance_states')
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        raw = bind.connection.driver_connection
        raw.create_function('uuid_text', 1, _uuid_text, deterministic=True)
        for table, column in TASK_IDS:
            op.execute(f"UPDATE {table} SET {column} = uuid_text({column}) WHERE typeof({column}) = 'blob'")
        for table, column in _datetime_columns(bind):
            op.execute(f"UPDATE {table} SET {column} = {MICROS_TO_TEXT.format(c=column)} "
                       f"WHERE typeof({column}) = 'integer'")
    else:
        for table, column in TASK_IDS:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE varchar(36) USING {column}::text")
