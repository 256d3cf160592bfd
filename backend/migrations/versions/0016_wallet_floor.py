"""the wallet floor: each hold records the smallest amount its provider captures, so a bill below it, charged to
the wallet instead, is reserved there while the hold is open

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 10:00:00
"""
import sqlalchemy as sa
from alembic import op

import backend.core.types

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

STRIPE_MIN_CHARGE_FEN = 400  # Stripe's minimum charge in CNY (billing/payments/stripe_provider.py) at this revision


def upgrade() -> None:
    with op.batch_alter_table('payment_hold', schema=None) as batch_op:
        batch_op.add_column(sa.Column('minimum_capture', backend.core.types.MoneyFen(), nullable=False,
                                      server_default='1'))
    op.execute(f"UPDATE payment_hold SET minimum_capture = {STRIPE_MIN_CHARGE_FEN} WHERE provider = 'stripe'")


def downgrade() -> None:
    with op.batch_alter_table('payment_hold', schema=None) as batch_op:
        batch_op.drop_column('minimum_capture')
