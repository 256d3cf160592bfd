"""the quarantine counts rejected messages per source and kind instead of keeping a row per message

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 20:00:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

SAMPLE = 512


def upgrade() -> None:
    op.create_table(
        'quarantine_entry',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column('kind', sa.String(length=24), nullable=False),
        sa.Column('count', sa.BigInteger(), nullable=False),
        sa.Column('first_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('last_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('first_topic', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column('first_reason', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column('first_payload', sqlmodel.sql.sqltypes.AutoString(length=SAMPLE), nullable=False),
        sa.Column('last_topic', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column('last_reason', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column('last_payload', sqlmodel.sql.sqltypes.AutoString(length=SAMPLE), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('source', 'kind', name='uq_quarantine_source_kind'),
    )
    with op.batch_alter_table('quarantine_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quarantine_entry_last_at'), ['last_at'], unique=False)
    # The old rows, one per message, become one count per topic; which sample survives does not matter.
    op.execute(f"""
        INSERT INTO quarantine_entry (source, kind, count, first_at, last_at, first_topic, first_reason,
                                      first_payload, last_topic, last_reason, last_payload)
        SELECT topic, 'unsorted', COUNT(*), MIN(received_at), MAX(received_at), topic, MIN(reason),
               SUBSTR(MIN(payload), 1, {SAMPLE}), topic, MAX(reason), SUBSTR(MAX(payload), 1, {SAMPLE})
        FROM rejected_message GROUP BY topic
    """)
    op.drop_table('rejected_message')


def downgrade() -> None:
    op.create_table(
        'rejected_message',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('topic', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column('payload', sqlmodel.sql.sqltypes.AutoString(length=4096), nullable=False),
        sa.Column('received_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.execute("""
        INSERT INTO rejected_message (topic, reason, payload, received_at)
        SELECT last_topic, last_reason, last_payload, last_at FROM quarantine_entry
    """)
    with op.batch_alter_table('quarantine_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quarantine_entry_last_at'))
    op.drop_table('quarantine_entry')
