"""stop reasons reported by meters: overload, power loss, unplugged, no load

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 00:10:00
"""
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

NEW_REASONS = ("overload", "power_loss", "unplugged", "no_load")


def upgrade() -> None:
    # SQLite stores enums as plain text; PostgreSQL has a type to extend.
    if op.get_bind().dialect.name == "postgresql":
        for reason in NEW_REASONS:
            op.execute(f"ALTER TYPE stopreason ADD VALUE IF NOT EXISTS '{reason}'")


def downgrade() -> None:
    pass  # PostgreSQL cannot drop enum values; the extra ones are harmless
