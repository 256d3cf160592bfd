"""Column types that keep money and prices exact on every database, and the values those columns can hold.

The pydantic types here are how every boundary (API bodies, page forms, query parameters) refuses a
value the database would reject or silently change: text with NUL, decimals it would round, ids
past the column's range.
"""
from decimal import Decimal
from typing import Annotated

from pydantic import Field, StringConstraints
from sqlalchemy import BigInteger, Integer, Numeric, String
from sqlalchemy.types import TypeDecorator

FEN = Decimal("0.01")
MAX_INTEGER = 2**31 - 1  # an INTEGER column: ids of tables that stay small (users, points, tariffs…)
MAX_BIGINT = 2**63 - 1  # a BIGINT column: ids of tables that grow with traffic, registers, sequences
EXACT_PLACES = 8  # ExactDecimal is NUMERIC(20, 8) on PostgreSQL…
EXACT_INTEGER_DIGITS = 12  # …so 12 digits before the point

# BIGINT, but INTEGER on SQLite: its INTEGER is 64-bit already and only an INTEGER key auto-increments.
BigInt = BigInteger().with_variant(Integer(), "sqlite")

# PostgreSQL text cannot hold NUL; a NUL anywhere is refused at the boundary, never by the database.
NO_NUL = r"^[^\x00]*$"
Text = Annotated[str, StringConstraints(pattern=NO_NUL)]


def exact_decimal(*, le: Decimal | int, gt: Decimal | int | None = None, ge: Decimal | int | None = None,
                  places: int = EXACT_PLACES):
    """A non-negative Decimal in range with at most `places` decimals: one that ExactDecimal stores exactly."""
    lowest = next((bound for bound in (gt, ge) if bound is not None), None)
    if places > EXACT_PLACES or le >= 10**EXACT_INTEGER_DIGITS or lowest is None or lowest < 0:
        raise ValueError(f"NUMERIC(20, {EXACT_PLACES}) does not hold {places} places from {gt or ge} to {le}")
    digits = len(str(int(le)))
    as_text = rf"^[0-9]{{1,{digits}}}(\.[0-9]{{1,{places}}})?$" if places else rf"^[0-9]{{1,{digits}}}$"

    def describe(schema: dict) -> None:
        # Requests may send the number as JSON text ("16.5"); say what that text looks like.
        for branch in schema.get("anyOf", []):
            if branch.get("type") == "string":
                branch["pattern"] = as_text

    return Annotated[Decimal, Field(gt=gt, ge=ge, le=le, decimal_places=places, allow_inf_nan=False,
                                    json_schema_extra=describe)]


class MoneyFen(TypeDecorator):
    """A yuan amount as a Python Decimal, stored as integer fen so SUM() stays exact."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        amount = Decimal(value)
        if amount != amount.quantize(FEN):
            raise ValueError(f"money must be whole fen, got {amount}")
        return int(amount * 100)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return (Decimal(int(value)) / 100).quantize(FEN)


class ExactDecimal(TypeDecorator):
    """A Decimal stored as NUMERIC where the database has it and as text on SQLite."""

    impl = String(40)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(EXACT_INTEGER_DIGITS + EXACT_PLACES, EXACT_PLACES))
        return dialect.type_descriptor(String(40))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if dialect.name == "postgresql":
            return Decimal(value)
        return str(Decimal(value))

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        number = Decimal(str(value))
        if dialect.name != "postgresql":
            return number
        # NUMERIC(20, 8) pads with zeros; give back the value as it was written.
        return number.quantize(Decimal(1)) if number == number.to_integral() else number.normalize()
