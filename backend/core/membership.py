"""`column IN (values)` that PostgreSQL parses once for any number of values.

SQLAlchemy renders an IN list as one placeholder per value, so every batch size is a new statement
for the driver to parse and the server to plan. On PostgreSQL the values go as one array instead
(`column = ANY(%s)`), and the statement's text stays the same; SQLite keeps the IN list.
"""
from collections.abc import Iterable

from sqlalchemy import any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session


def one_of(db: Session, column, values: Iterable) -> ColumnElement[bool]:
    """`column` equals one of `values`."""
    values = list(values)
    if db.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)
