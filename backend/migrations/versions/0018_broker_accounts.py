"""meter and DTU accounts provisioned live on the broker: what the platform has told it, per account

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 19:30:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('broker_account',
    sa.Column('username', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('applied_version', sa.Integer(), nullable=False),
    sa.Column('applied_present', sa.Boolean(), nullable=False),
    sa.Column('applied_fingerprint', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('changed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('applied_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('username')
    )
    op.create_index('ix_broker_account_pending', 'broker_account', ['changed_at'], unique=False,
                    postgresql_where=sa.text('version > applied_version'),
                    sqlite_where=sa.text('version > applied_version'))
    # Every meter and DTU that exists is pending: a broker switched to live accounts learns of them all.
    op.execute("INSERT INTO broker_account (username, kind, version, applied_version, applied_present, attempts, "
               "changed_at) SELECT serial, 'meter', 1, 0, false, 0, CURRENT_TIMESTAMP FROM meter")
    op.execute("INSERT INTO broker_account (username, kind, version, applied_version, applied_present, attempts, "
               "changed_at) SELECT dtu_id, 'dtu', 1, 0, false, 0, CURRENT_TIMESTAMP FROM dtu_link")


def downgrade() -> None:
    op.drop_index('ix_broker_account_pending', table_name='broker_account')
    op.drop_table('broker_account')
