"""Row primitives that hold under concurrency: insert once, and lock a row until the transaction ends."""
from sqlalchemy import ColumnElement, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, SQLModel


def insert_once(db: Session, row: SQLModel, *unique_on: str, where: ColumnElement | None = None) -> bool:
    """Insert `row` unless a row with the same `unique_on` values exists; True when inserted.

    ON CONFLICT DO NOTHING waits for a concurrent insert of the same key to commit or roll
    back, so two transactions can never both believe they wrote the row. `where` names the
    predicate of a partial unique index.
    """
    table = type(row).__table__
    values = {name: value for name, value in row.model_dump().items() if value is not None}
    insert = pg_insert if _dialect(db) == "postgresql" else sqlite_insert
    statement = (insert(table).values(**values)
                 .on_conflict_do_nothing(index_elements=list(unique_on), index_where=where)
                 .returning(*(table.c[name] for name in unique_on)))
    db.flush()
    # RETURNING gives a row only when this insert wrote one (rowcount is -1 on some drivers).
    return db.execute(statement).first() is not None


def lock_row(db: Session, model: type[SQLModel], row_id: int) -> None:
    """Hold the row with this id until the transaction ends; whoever locks it next waits.

    PostgreSQL locks the row (SELECT … FOR UPDATE). SQLite has no row locks: a write to the
    row takes the database's write lock, which serialises every writer, this one included.
    """
    table = model.__table__
    if _dialect(db) == "postgresql":
        db.execute(select(table.c.id).where(table.c.id == row_id).with_for_update())
    else:
        db.execute(update(table).where(table.c.id == row_id).values(id=table.c.id))


def _dialect(db: Session) -> str:
    return db.get_bind().dialect.name
