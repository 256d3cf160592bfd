"""each scheduled job's schedule on its lease row, for the operator's jobs page

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 19:40:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Filled in by the scheduler when it starts (backend/jobs/lease.py, ensure).
    with op.batch_alter_table('job_lease', schema=None) as batch_op:
        batch_op.add_column(sa.Column('schedule', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False,
                                      server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('job_lease', schema=None) as batch_op:
        batch_op.drop_column('schedule')
