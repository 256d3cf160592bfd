"""DL/T 645 meters behind DTUs: the bus of a point's meter, each outlet's address, the bridge's memory; registers
that count 10 Wh

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 10:00:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'dtu_link',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('meter_id', sa.Integer(), nullable=False),
        sa.Column('dtu_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('mqtt_password', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['meter_id'], ['meter.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('dtu_id'),
        sa.UniqueConstraint('meter_id'),
    )
    op.create_table(
        'dlt645_channel',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('meter_id', sa.Integer(), nullable=False),
        sa.Column('channel', sa.Integer(), nullable=False),
        sa.Column('address', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column('password', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column('operator_code', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.ForeignKeyConstraint(['meter_id'], ['meter.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('meter_id', 'address'),
        sa.UniqueConstraint('meter_id', 'channel'),
    )
    with op.batch_alter_table('dlt645_channel', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dlt645_channel_meter_id'), ['meter_id'], unique=False)
    op.create_table(
        'dlt645_memory',
        sa.Column('meter_id', sa.Integer(), nullable=False),
        sa.Column('state', sa.Text(), nullable=False),
        sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['meter_id'], ['meter.id']),
        sa.PrimaryKeyConstraint('meter_id'),
    )
    with op.batch_alter_table('outlet', schema=None) as batch_op:
        batch_op.add_column(sa.Column('register_step_wh', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('register_rollover_wh', sa.Integer(), nullable=False,
                                      server_default='100000000'))


def downgrade() -> None:
    with op.batch_alter_table('outlet', schema=None) as batch_op:
        batch_op.drop_column('register_rollover_wh')
        batch_op.drop_column('register_step_wh')
    op.drop_table('dlt645_memory')
    with op.batch_alter_table('dlt645_channel', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dlt645_channel_meter_id'))
    op.drop_table('dlt645_channel')
    op.drop_table('dtu_link')
