"""water coefficients of irrigation wells (以电折水)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 23:50:00
"""
import sqlalchemy as sa
from alembic import op

import backend.core.types

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'water_coefficient',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('point_id', sa.Integer(), nullable=False),
        sa.Column('m3_per_kwh', backend.core.types.ExactDecimal(length=40), nullable=False),
        sa.Column('effective_from', sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(['point_id'], ['metering_point.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('water_coefficient', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_water_coefficient_point_id'), ['point_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('water_coefficient', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_water_coefficient_point_id'))
    op.drop_table('water_coefficient')
