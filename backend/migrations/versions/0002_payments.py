"""payments: card holds, refunds, stripe events

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 23:00:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import backend.core.types

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

HOLD_STATUS = sa.Enum('authorized', 'captured', 'charged_to_wallet', 'released', 'canceled', name='holdstatus')


def upgrade() -> None:
    op.create_table('card_hold',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=True),
    sa.Column('payment_intent_id', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('amount', backend.core.types.MoneyFen(), nullable=False),
    sa.Column('captured_amount', backend.core.types.MoneyFen(), nullable=False),
    sa.Column('wallet_amount', backend.core.types.MoneyFen(), nullable=False),
    sa.Column('status', HOLD_STATUS, nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('closed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['session_id'], ['usage_session.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('payment_intent_id')
    )
    with op.batch_alter_table('card_hold', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_card_hold_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_card_hold_session_id'), ['session_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_card_hold_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_card_hold_user_id'), ['user_id'], unique=False)

    op.create_table('refund',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('external_id', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('payment_intent_id', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('amount', backend.core.types.MoneyFen(), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('external_id')
    )
    with op.batch_alter_table('refund', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_refund_payment_intent_id'), ['payment_intent_id'], unique=False)

    op.create_table('stripe_event',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('type', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('object_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('received_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('processed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('stripe_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stripe_event_object_id'), ['object_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('stripe_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stripe_event_object_id'))

    op.drop_table('stripe_event')
    with op.batch_alter_table('refund', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_refund_payment_intent_id'))

    op.drop_table('refund')
    with op.batch_alter_table('card_hold', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_card_hold_user_id'))
        batch_op.drop_index(batch_op.f('ix_card_hold_status'))
        batch_op.drop_index(batch_op.f('ix_card_hold_session_id'))
        batch_op.drop_index(batch_op.f('ix_card_hold_created_at'))

    op.drop_table('card_hold')
    HOLD_STATUS.drop(op.get_bind(), checkfirst=True)
