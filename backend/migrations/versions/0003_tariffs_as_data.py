"""tariffs as data with versions; priced bill lines; register identity of session start and stop

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 23:30:00
"""
import json

import sqlalchemy as sa
import sqlmodel
from alembic import op

import backend.core.types

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tariff', schema=None) as batch_op:
        batch_op.add_column(sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True))
        batch_op.add_column(sa.Column('definition', sa.Text(), nullable=True))
    _tariffs_to_documents()
    with op.batch_alter_table('tariff', schema=None) as batch_op:
        batch_op.alter_column('code', nullable=False)
        batch_op.alter_column('definition', nullable=False)
        batch_op.create_index(batch_op.f('ix_tariff_code'), ['code'], unique=True)
        batch_op.drop_column('price_per_kwh')

    with op.batch_alter_table('usage_session', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tariff_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('start_boot_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('start_seq', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('stop_boot_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('stop_seq', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('latest_amount', backend.core.types.MoneyFen(), nullable=True))
        batch_op.add_column(sa.Column('needs_review', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('review_note', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True))
    op.execute("UPDATE usage_session SET tariff_id = (SELECT tariff_id FROM metering_point "
               "WHERE metering_point.id = usage_session.point_id)")
    with op.batch_alter_table('usage_session', schema=None) as batch_op:
        batch_op.alter_column('tariff_id', nullable=False)
        batch_op.create_foreign_key('fk_usage_session_tariff', 'tariff', ['tariff_id'], ['id'])

    op.create_table(
        'bill_line',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('session_id', sa.Integer(), nullable=False),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('period', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('version', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column('energy_wh', sa.Integer(), nullable=True),
        sa.Column('unit_price', backend.core.types.ExactDecimal(length=40), nullable=False),
        sa.Column('amount', backend.core.types.MoneyFen(), nullable=False),
        sa.Column('starts_at', sa.DateTime(), nullable=True),
        sa.Column('ends_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['session_id'], ['usage_session.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('bill_line', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bill_line_session_id'), ['session_id'], unique=False)


def _tariffs_to_documents() -> None:
    """Each flat-priced tariff becomes a one-version document with the same price."""
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT id, name, category, price_per_kwh FROM tariff")).fetchall()
    for tariff_id, name, category, price in rows:
        code = f"tariff-{tariff_id}"
        document = {"name": code, "title": name, "category": category,
                    "versions": [{"label": "initial", "effective_from": "2020-01-01", "price_per_kwh": str(price)}]}
        connection.execute(sa.text("UPDATE tariff SET code = :code, definition = :definition WHERE id = :id"),
                           {"code": code, "definition": json.dumps(document), "id": tariff_id})


def downgrade() -> None:
    with op.batch_alter_table('bill_line', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bill_line_session_id'))
    op.drop_table('bill_line')
    with op.batch_alter_table('usage_session', schema=None) as batch_op:
        batch_op.drop_constraint('fk_usage_session_tariff', type_='foreignkey')
        for column in ('review_note', 'needs_review', 'latest_amount', 'stop_seq', 'stop_boot_id', 'start_seq',
                       'start_boot_id', 'tariff_id'):
            batch_op.drop_column(column)
    with op.batch_alter_table('tariff', schema=None) as batch_op:
        batch_op.add_column(sa.Column('price_per_kwh', backend.core.types.ExactDecimal(length=40), nullable=True))
        batch_op.drop_index(batch_op.f('ix_tariff_code'))
        batch_op.drop_column('definition')
        batch_op.drop_column('code')
