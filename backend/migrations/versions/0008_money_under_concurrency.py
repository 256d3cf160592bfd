"""money under concurrency: the most a session can cost, idempotent money requests, who stopped a session

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 19:30:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

from backend.core.types import MoneyFen

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

NEW_REASONS = ("applicant", "point_closed", "point_expired")


def upgrade() -> None:
    with op.batch_alter_table('usage_session', schema=None) as batch_op:
        batch_op.add_column(sa.Column('max_amount', MoneyFen(), nullable=True))
    op.create_table(
        'idempotent_request',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column('operation', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column('fingerprint', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('response', sa.Text(), nullable=True),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['user.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('user_id', 'key', name='uq_idempotent_request_user_key'),
    )
    # SQLite stores enums as plain text; PostgreSQL has a type to extend.
    if op.get_bind().dialect.name == "postgresql":
        for reason in NEW_REASONS:
            op.execute(f"ALTER TYPE stopreason ADD VALUE IF NOT EXISTS '{reason}'")


def downgrade() -> None:
    op.drop_table('idempotent_request')
    with op.batch_alter_table('usage_session', schema=None) as batch_op:
        batch_op.drop_column('max_amount')
