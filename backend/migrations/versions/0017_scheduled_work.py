"""scheduled work run once across instances: job leases and scheduler heartbeats; daily reconciliation per
point, monthly statements, notices to applicants

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 16:44:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import backend.core.types


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

BIG_KEY = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    # A session the scheduler stops after SESSION_MAX_HOURS; SQLite stores enums as plain text.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TYPE stopreason ADD VALUE IF NOT EXISTS 'max_duration'")
    op.create_table('job_lease',
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('due_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('holder', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.Column('until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('last_slot', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('last_started_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('last_finished_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('last_holder', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.Column('last_outcome', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('last_touched', sa.Integer(), nullable=False),
    sa.Column('runs', sa.Integer(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('scheduler_instance',
    sa.Column('holder', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('started_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('seen_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('holder')
    )
    with op.batch_alter_table('scheduler_instance', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scheduler_instance_seen_at'), ['seen_at'], unique=False)

    op.create_table('daily_reconciliation',
    sa.Column('id', BIG_KEY, nullable=False),
    sa.Column('point_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('register_delta_wh', BIG_KEY, nullable=False),
    sa.Column('session_energy_wh', BIG_KEY, nullable=False),
    sa.Column('unattributed_wh', BIG_KEY, nullable=False),
    sa.Column('gap_wh', BIG_KEY, nullable=False),
    sa.Column('open_sessions', sa.Integer(), nullable=False),
    sa.Column('mismatched_sessions', sa.Integer(), nullable=False),
    sa.Column('anomalies', sa.Integer(), nullable=False),
    sa.Column('balanced', sa.Boolean(), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('checked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['point_id'], ['metering_point.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('point_id', 'day', name='uq_daily_reconciliation')
    )
    with op.batch_alter_table('daily_reconciliation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_daily_reconciliation_day'), ['day'], unique=False)
        batch_op.create_index(batch_op.f('ix_daily_reconciliation_point_id'), ['point_id'], unique=False)

    op.create_table('monthly_statement',
    sa.Column('id', BIG_KEY, nullable=False),
    sa.Column('point_id', sa.Integer(), nullable=False),
    sa.Column('month', sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
    sa.Column('register_delta_wh', BIG_KEY, nullable=False),
    sa.Column('session_energy_wh', BIG_KEY, nullable=False),
    sa.Column('unattributed_wh', BIG_KEY, nullable=False),
    sa.Column('gap_wh', BIG_KEY, nullable=False),
    sa.Column('collected', backend.core.types.MoneyFen(), nullable=False),
    sa.Column('unattributed_amount', backend.core.types.MoneyFen(), nullable=True),
    sa.Column('bill_entry_id', BIG_KEY, nullable=True),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('closed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['point_id'], ['metering_point.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('point_id', 'month', name='uq_monthly_statement')
    )
    with op.batch_alter_table('monthly_statement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_monthly_statement_month'), ['month'], unique=False)
        batch_op.create_index(batch_op.f('ix_monthly_statement_point_id'), ['point_id'], unique=False)

    op.create_table('point_notice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('point_id', sa.Integer(), nullable=False),
    sa.Column('applicant_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['applicant_id'], ['user.id'], ),
    sa.ForeignKeyConstraint(['point_id'], ['metering_point.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('point_id', 'kind', 'valid_until', name='uq_point_notice')
    )
    with op.batch_alter_table('point_notice', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_point_notice_applicant_id'), ['applicant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_point_notice_point_id'), ['point_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('point_notice', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_point_notice_point_id'))
        batch_op.drop_index(batch_op.f('ix_point_notice_applicant_id'))

    op.drop_table('point_notice')
    with op.batch_alter_table('monthly_statement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_monthly_statement_point_id'))
        batch_op.drop_index(batch_op.f('ix_monthly_statement_month'))

    op.drop_table('monthly_statement')
    with op.batch_alter_table('daily_reconciliation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_daily_reconciliation_point_id'))
        batch_op.drop_index(batch_op.f('ix_daily_reconciliation_day'))

    op.drop_table('daily_reconciliation')
    with op.batch_alter_table('scheduler_instance', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scheduler_instance_seen_at'))

    op.drop_table('scheduler_instance')
    op.drop_table('job_lease')
    # PostgreSQL cannot drop the enum value 'max_duration'; it is harmless
