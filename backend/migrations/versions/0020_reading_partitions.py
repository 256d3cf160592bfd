"""readings partitioned by month of device time on PostgreSQL (a BRIN index on time, the identity includes the
time); per-outlet daily totals and the days they are due for

On PostgreSQL the existing table is copied into the partitioned one (ids and the id sequence kept); SQLite keeps
its plain table, with the same unique key and indexes.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 19:20:00
"""
from datetime import datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

BIG_KEY = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
LOCAL = "Asia/Shanghai"
MONTHS_AHEAD = 3
OLDEST_MONTHS = 36  # months of old readings that get a partition of their own; older ones go to DEFAULT

COLUMNS = ("id, meter_id, boot_id, seq, channel, device_time, received_at, energy_wh, power_w, voltage_v, "
           "current_a, relay_closed, session_id")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _partition_readings()
    else:
        with op.batch_alter_table('reading', schema=None) as batch_op:
            batch_op.drop_constraint('uq_reading_identity', type_='unique')
            batch_op.create_unique_constraint('uq_reading_identity',
                                              ['meter_id', 'boot_id', 'seq', 'channel', 'device_time'])
            batch_op.drop_index('ix_reading_meter_id')
            batch_op.create_index('ix_reading_device_time', ['device_time'], unique=False)
    _daily_totals()


def _partition_readings() -> None:
    op.execute("ALTER TABLE reading RENAME TO reading_unpartitioned")
    for old in ("reading_pkey", "uq_reading_identity"):
        op.execute(f"ALTER TABLE reading_unpartitioned RENAME CONSTRAINT {old} TO {old}_old")
    for old in ("ix_reading_meter_id", "ix_reading_outlet_time", "ix_reading_session_id"):
        op.execute(f"ALTER INDEX {old} RENAME TO {old}_old")
    op.execute("""
        CREATE TABLE reading (
            id bigint NOT NULL DEFAULT nextval('reading_id_seq'),
            meter_id integer NOT NULL REFERENCES meter (id),
            boot_id varchar(64) NOT NULL,
            seq bigint NOT NULL,
            channel integer NOT NULL,
            device_time timestamptz NOT NULL,
            received_at timestamptz NOT NULL,
            energy_wh bigint NOT NULL,
            power_w double precision NOT NULL,
            voltage_v double precision NOT NULL,
            current_a double precision NOT NULL,
            relay_closed boolean NOT NULL,
            session_id bigint REFERENCES usage_session (id),
            CONSTRAINT reading_pkey PRIMARY KEY (id, device_time),
            CONSTRAINT uq_reading_identity UNIQUE (meter_id, boot_id, seq, channel, device_time)
        ) PARTITION BY RANGE (device_time)""")
    op.execute("CREATE INDEX ix_reading_outlet_time ON reading (meter_id, channel, device_time)")
    op.execute("CREATE INDEX ix_reading_session_id ON reading (session_id)")
    op.execute("CREATE INDEX ix_reading_device_time ON reading USING brin (device_time)")
    op.execute("CREATE TABLE reading_default PARTITION OF reading DEFAULT")
    for start, end, name in _months_needed():
        op.execute(f"CREATE TABLE {name} PARTITION OF reading FOR VALUES FROM ('{start}') TO ('{end}')")
    op.execute(f"INSERT INTO reading ({COLUMNS}) SELECT {COLUMNS} FROM reading_unpartitioned")
    # The sequence belonged to the old table's column: hand it over before that table goes, value unchanged.
    op.execute("ALTER SEQUENCE reading_id_seq OWNED BY reading.id")
    op.execute("DROP TABLE reading_unpartitioned")


def _months_needed() -> list[tuple[str, str, str]]:
    """(start, end, table) of each local month holding old readings (36 months back at most) and the next few."""
    now = datetime.now().astimezone()
    rows = op.get_bind().execute(sa.text(
        f"SELECT DISTINCT date_trunc('month', device_time AT TIME ZONE '{LOCAL}') FROM reading_unpartitioned "
        f"WHERE device_time >= now() - interval '{OLDEST_MONTHS} months' "
        f"AND device_time < now() + interval '{MONTHS_AHEAD + 1} months'")).scalars()
    this = now.year * 12 + now.month - 1
    indexes = {month.year * 12 + month.month - 1 for month in rows} | {this + n for n in range(MONTHS_AHEAD + 1)}
    return [_month(index) for index in sorted(indexes)]


def _month(index: int) -> tuple[str, str, str]:
    year, month = divmod(index, 12)
    next_year, next_month = divmod(index + 1, 12)
    return (f"{year:04d}-{month + 1:02d}-01 00:00:00+08", f"{next_year:04d}-{next_month + 1:02d}-01 00:00:00+08",
            f"reading_p{year:04d}_{month + 1:02d}")


def _daily_totals() -> None:
    op.create_table('reading_day',
    sa.Column('id', BIG_KEY, nullable=False),
    sa.Column('meter_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('readings', sa.Integer(), nullable=False),
    sa.Column('first_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('first_wh', BIG_KEY, nullable=False),
    sa.Column('first_boot', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('last_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('last_wh', BIG_KEY, nullable=False),
    sa.Column('last_boot', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('energy_wh', BIG_KEY, nullable=False),
    sa.Column('clean', sa.Boolean(), nullable=False),
    sa.Column('hours', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['meter_id'], ['meter.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('meter_id', 'channel', 'day', name='uq_reading_day')
    )
    op.create_index('ix_reading_day_day', 'reading_day', ['day'], unique=False)
    op.create_table('reading_day_due',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('done', sa.Boolean(), nullable=False),
    sa.Column('changed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('day')
    )


def downgrade() -> None:
    op.drop_table('reading_day_due')
    op.drop_table('reading_day')
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE reading RENAME TO reading_partitioned")
        op.execute("ALTER TABLE reading_partitioned RENAME CONSTRAINT reading_pkey TO reading_pkey_p")
        op.execute("ALTER TABLE reading_partitioned RENAME CONSTRAINT uq_reading_identity TO uq_reading_identity_p")
        op.execute("CREATE TABLE reading (LIKE reading_partitioned INCLUDING DEFAULTS)")
        op.execute(f"INSERT INTO reading ({COLUMNS}) SELECT {COLUMNS} FROM reading_partitioned")
        op.execute("ALTER SEQUENCE reading_id_seq OWNED BY reading.id")
        op.execute("DROP TABLE reading_partitioned")
        op.execute("ALTER TABLE reading ADD CONSTRAINT reading_pkey PRIMARY KEY (id)")
        op.execute("ALTER TABLE reading ADD CONSTRAINT reading_meter_id_fkey FOREIGN KEY (meter_id) REFERENCES meter (id)")
        op.execute("ALTER TABLE reading ADD CONSTRAINT reading_session_id_fkey FOREIGN KEY (session_id) "
                   "REFERENCES usage_session (id)")
        op.execute("ALTER TABLE reading ADD CONSTRAINT uq_reading_identity UNIQUE (meter_id, boot_id, seq, channel)")
        op.execute("CREATE INDEX ix_reading_meter_id ON reading (meter_id)")
        op.execute("CREATE INDEX ix_reading_outlet_time ON reading (meter_id, channel, device_time)")
        op.execute("CREATE INDEX ix_reading_session_id ON reading (session_id)")
        return
    with op.batch_alter_table('reading', schema=None) as batch_op:
        batch_op.drop_index('ix_reading_device_time')
        batch_op.create_index('ix_reading_meter_id', ['meter_id'], unique=False)
        batch_op.drop_constraint('uq_reading_identity', type_='unique')
        batch_op.create_unique_constraint('uq_reading_identity', ['meter_id', 'boot_id', 'seq', 'channel'])
