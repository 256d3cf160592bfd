"""every session reaches an end: live tally, provisional settlement, coalesced re-pricing, revival

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 21:00:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('usage_session', schema=None) as batch_op:
        batch_op.add_column(sa.Column('latest_boot_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('latest_seq', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('live_energy_wh', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('live_billed_to_wh', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('provisional', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('reprice_due_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_usage_session_reprice_due_at'), ['reprice_due_at'], unique=False)
    with op.batch_alter_table('outlet', schema=None) as batch_op:
        batch_op.add_column(sa.Column('relay_open_ordered_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    # Sessions running during the upgrade need nothing: their next reading is counted from the start register.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TYPE stopreason ADD VALUE IF NOT EXISTS 'no_start_ack'")


def downgrade() -> None:
    with op.batch_alter_table('outlet', schema=None) as batch_op:
        batch_op.drop_column('relay_open_ordered_at')
    with op.batch_alter_table('usage_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_usage_session_reprice_due_at'))
        for column in ('reprice_due_at', 'provisional', 'live_billed_to_wh', 'live_energy_wh', 'latest_seq',
                       'latest_boot_id'):
            batch_op.drop_column(column)
