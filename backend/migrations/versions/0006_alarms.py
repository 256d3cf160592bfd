"""power-quality alarms and the watches that open and close them

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 09:00:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import backend.core.types

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

OPEN_OUTLET = sa.text("closed_at IS NULL AND channel IS NOT NULL")
OPEN_POINT = sa.text("closed_at IS NULL AND channel IS NULL")


def upgrade() -> None:
    op.create_table(
        'alarm',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('point_id', sa.Integer(), nullable=False),
        sa.Column('meter_id', sa.Integer(), nullable=False),
        sa.Column('channel', sa.Integer(), nullable=True),
        sa.Column('kind', sa.String(length=24), nullable=False),
        sa.Column('opened_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('closed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('worst_value', backend.core.types.ExactDecimal(length=40), nullable=True),
        sa.Column('limit_value', backend.core.types.ExactDecimal(length=40), nullable=False),
        sa.Column('message', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.ForeignKeyConstraint(['point_id'], ['metering_point.id']),
        sa.ForeignKeyConstraint(['meter_id'], ['meter.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('alarm', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alarm_point_id'), ['point_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_alarm_meter_id'), ['meter_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_alarm_opened_at'), ['opened_at'], unique=False)
        batch_op.create_index('uq_open_alarm_per_outlet', ['meter_id', 'channel', 'kind'], unique=True,
                              postgresql_where=OPEN_OUTLET, sqlite_where=OPEN_OUTLET)
        batch_op.create_index('uq_open_alarm_per_point', ['meter_id', 'kind'], unique=True,
                              postgresql_where=OPEN_POINT, sqlite_where=OPEN_POINT)

    op.create_table(
        'alarm_watch',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('meter_id', sa.Integer(), nullable=False),
        sa.Column('channel', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=24), nullable=False),
        sa.Column('alarm_id', sa.Integer(), nullable=True),
        sa.Column('run', sa.Integer(), nullable=False),
        sa.Column('run_started_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('worst', backend.core.types.ExactDecimal(length=40), nullable=True),
        sa.Column('last_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['meter_id'], ['meter.id']),
        sa.ForeignKeyConstraint(['alarm_id'], ['alarm.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('meter_id', 'channel', 'kind', name='uq_alarm_watch'),
    )


def downgrade() -> None:
    op.drop_table('alarm_watch')
    with op.batch_alter_table('alarm', schema=None) as batch_op:
        batch_op.drop_index('uq_open_alarm_per_point', postgresql_where=OPEN_POINT, sqlite_where=OPEN_POINT)
        batch_op.drop_index('uq_open_alarm_per_outlet', postgresql_where=OPEN_OUTLET, sqlite_where=OPEN_OUTLET)
        batch_op.drop_index(batch_op.f('ix_alarm_opened_at'))
        batch_op.drop_index(batch_op.f('ix_alarm_meter_id'))
        batch_op.drop_index(batch_op.f('ix_alarm_point_id'))
    op.drop_table('alarm')
