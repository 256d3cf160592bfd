"""payment providers: WeChat Pay and Alipay beside Stripe — pending orders, holds of any provider, refund states,
notifications stored once, daily statements and their differences

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 10:00:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import backend.core.types

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

PURPOSE = sa.Enum('top_up', 'session', name='paymentpurpose')
REFUND_STATUS = sa.Enum('pending', 'succeeded', 'failed', name='refundstatus')
HOLD_INDEXES = ('created_at', 'session_id', 'status', 'user_id')


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:  # SQLite keeps enums as text; PostgreSQL has types to extend
        op.execute("ALTER TYPE paymentstatus ADD VALUE IF NOT EXISTS 'pending'")
        op.execute("ALTER TYPE paymentstatus ADD VALUE IF NOT EXISTS 'closed'")
        op.execute("ALTER TYPE holdstatus ADD VALUE IF NOT EXISTS 'pending'")
        op.execute("ALTER TYPE holdstatus ADD VALUE IF NOT EXISTS 'failed'")
    PURPOSE.create(op.get_bind(), checkfirst=True)
    REFUND_STATUS.create(op.get_bind(), checkfirst=True)

    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('transaction_id', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True))
        batch_op.add_column(sa.Column('purpose', PURPOSE, nullable=False, server_default='top_up'))
        batch_op.add_column(sa.Column('outlet_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('session_id', backend.core.types.BigInt, nullable=True))
        batch_op.add_column(sa.Column('paid_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('checked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('settled_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('failure_reason', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True))
        batch_op.create_foreign_key('fk_payment_outlet_id_outlet', 'outlet', ['outlet_id'], ['id'])
        batch_op.create_foreign_key('fk_payment_session_id_usage_session', 'usage_session', ['session_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_payment_session_id'), ['session_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payment_status'), ['status'], unique=False)
    op.execute("UPDATE payment SET paid_at = created_at WHERE status = 'succeeded'")

    with op.batch_alter_table('card_hold', schema=None) as batch_op:
        for column in HOLD_INDEXES:
            batch_op.drop_index(f'ix_card_hold_{column}')
    op.rename_table('card_hold', 'payment_hold')
    with op.batch_alter_table('payment_hold', schema=None) as batch_op:
        batch_op.alter_column('payment_intent_id', new_column_name='external_id',
                              existing_type=sa.String(length=120), existing_nullable=False)
        batch_op.add_column(sa.Column('provider', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False,
                                      server_default='stripe'))
        batch_op.add_column(sa.Column('transaction_id', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True))
        batch_op.add_column(sa.Column('outlet_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('checked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('failure_reason', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True))
        batch_op.create_foreign_key('fk_payment_hold_outlet_id_outlet', 'outlet', ['outlet_id'], ['id'])
    with op.batch_alter_table('payment_hold', schema=None) as batch_op:
        for column in HOLD_INDEXES:
            batch_op.create_index(f'ix_payment_hold_{column}', [column], unique=False)

    with op.batch_alter_table('refund', schema=None) as batch_op:
        batch_op.drop_index('ix_refund_payment_intent_id')
        batch_op.alter_column('payment_intent_id', new_column_name='payment_external_id',
                              existing_type=sa.String(length=120), existing_nullable=False)
        batch_op.add_column(sa.Column('provider', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False,
                                      server_default='stripe'))
        batch_op.add_column(sa.Column('status', REFUND_STATUS, nullable=False, server_default='succeeded'))
        batch_op.add_column(sa.Column('transaction_id', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True))
        batch_op.add_column(sa.Column('finished_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    with op.batch_alter_table('refund', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_refund_payment_external_id'), ['payment_external_id'], unique=False)
    op.execute("UPDATE refund SET finished_at = created_at")

    op.create_table('payment_notification',
    sa.Column('id', backend.core.types.BigInt, nullable=False),
    sa.Column('provider', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('notification_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('type', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('external_id', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('received_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('processed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('provider', 'notification_id', name='uq_payment_notification')
    )
    with op.batch_alter_table('payment_notification', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_notification_external_id'), ['external_id'], unique=False)

    op.create_table('statement_check',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('lines', sa.Integer(), nullable=False),
    sa.Column('matched', sa.Integer(), nullable=False),
    sa.Column('differences', sa.Integer(), nullable=False),
    sa.Column('checked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('provider', 'day', name='uq_statement_check')
    )

    op.create_table('payment_difference',
    sa.Column('id', backend.core.types.BigInt, nullable=False),
    sa.Column('provider', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('reference', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('provider_amount', backend.core.types.MoneyFen(), nullable=True),
    sa.Column('book_amount', backend.core.types.MoneyFen(), nullable=True),
    sa.Column('detail', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('found_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('provider', 'day', 'kind', 'reference', name='uq_payment_difference')
    )
    with op.batch_alter_table('payment_difference', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_difference_day'), ['day'], unique=False)


def downgrade() -> None:
    op.drop_table('payment_difference')
    op.drop_table('statement_check')
    op.drop_table('payment_notification')
    with op.batch_alter_table('refund', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_refund_payment_external_id'))
        for column in ('finished_at', 'transaction_id', 'status', 'provider'):
            batch_op.drop_column(column)
        batch_op.alter_column('payment_external_id', new_column_name='payment_intent_id')
    with op.batch_alter_table('refund', schema=None) as batch_op:  # SQLite: the renamed column exists only now
        batch_op.create_index('ix_refund_payment_intent_id', ['payment_intent_id'], unique=False)
    with op.batch_alter_table('payment_hold', schema=None) as batch_op:
        for column in HOLD_INDEXES:
            batch_op.drop_index(f'ix_payment_hold_{column}')
        batch_op.drop_constraint('fk_payment_hold_outlet_id_outlet', type_='foreignkey')
        for column in ('failure_reason', 'checked_at', 'outlet_id', 'transaction_id', 'provider'):
            batch_op.drop_column(column)
        batch_op.alter_column('external_id', new_column_name='payment_intent_id')
    op.rename_table('payment_hold', 'card_hold')
    with op.batch_alter_table('card_hold', schema=None) as batch_op:
        for column in HOLD_INDEXES:
            batch_op.create_index(f'ix_card_hold_{column}', [column], unique=False)
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_status'))
        batch_op.drop_index(batch_op.f('ix_payment_session_id'))
        batch_op.drop_constraint('fk_payment_session_id_usage_session', type_='foreignkey')
        batch_op.drop_constraint('fk_payment_outlet_id_outlet', type_='foreignkey')
        for column in ('failure_reason', 'settled_at', 'checked_at', 'paid_at', 'session_id', 'outlet_id', 'purpose',
                       'transaction_id'):
            batch_op.drop_column(column)
    REFUND_STATUS.drop(op.get_bind(), checkfirst=True)
    PURPOSE.drop(op.get_bind(), checkfirst=True)
