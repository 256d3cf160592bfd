"""index readings by outlet and time, for reconciliation; bill line times with their time zone

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 00:40:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('reading', schema=None) as batch_op:
        batch_op.create_index('ix_reading_outlet_time', ['meter_id', 'channel', 'device_time'], unique=False)
    # 0003 created these without a time zone; every other time column keeps its offset.
    with op.batch_alter_table('bill_line', schema=None) as batch_op:
        for column in ('starts_at', 'ends_at'):
            batch_op.alter_column(column, type_=sqlmodel.sql.sqltypes.UTCDateTime(), existing_type=sa.DateTime(),
                                  existing_nullable=True, postgresql_using=f"{column} AT TIME ZONE 'UTC'")


def downgrade() -> None:
    with op.batch_alter_table('bill_line', schema=None) as batch_op:
        for column in ('starts_at', 'ends_at'):
            batch_op.alter_column(column, type_=sa.DateTime(), existing_type=sqlmodel.sql.sqltypes.UTCDateTime(),
                                  existing_nullable=True)
    with op.batch_alter_table('reading', schema=None) as batch_op:
        batch_op.drop_index('ix_reading_outlet_time')
