"""Column types that keep money and prices exact on every database."""
from decimal import Decimal

from sqlalchemy import BigInteger, Numeric, String
from sqlalchemy.types import TypeDecorator

FEN = Decimal("0.01")


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
            return dialect.type_descriptor(Numeric(20, 8))
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
