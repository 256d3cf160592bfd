"""64-bit keys for the tables that grow with traffic, and for registers, sequences and energies

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 19:30:00

An INTEGER key stops at 2,147,483,647 rows: telemetry alone reaches that in a few years. Meter
registers and sequence numbers are 64-bit in the protocol, so their columns are too. SQLite's
INTEGER is already 64-bit: nothing changes there.
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

# table -> its columns that become BIGINT
WIDENED = {
    'usage_session': ('id', 'energy_limit_wh', 'start_register_wh', 'latest_register_wh', 'stop_register_wh',
                      'energy_wh'),
    'bill_line': ('id', 'session_id', 'energy_wh'),
    'reading': ('id', 'seq', 'energy_wh', 'session_id'),
    'journal_entry': ('id', 'session_id'),
    'posting': ('id', 'entry_id'),
    'payment': ('id',),
    'card_hold': ('id', 'session_id'),
    'refund': ('id',),
    'alarm': ('id',),
    'alarm_watch': ('alarm_id',),
}


def upgrade() -> None:
    _change(sa.Integer(), sa.BigInteger(), 'bigint')


def downgrade() -> None:
    _change(sa.BigInteger(), sa.Integer(), 'integer')


def _change(old: sa.types.TypeEngine, new: sa.types.TypeEngine, sequence_type: str) -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    for table, columns in WIDENED.items():
        for column in columns:
            op.alter_column(table, column, type_=new, existing_type=old)
        if 'id' in columns:
            # A SERIAL's sequence has the column's type of the day it was made; it must widen too.
            op.execute(f"DO $$ BEGIN EXECUTE format('ALTER SEQUENCE %s AS {sequence_type}', "
                       f"pg_get_serial_sequence('{table}', 'id')); END $$")
