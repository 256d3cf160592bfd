"""The audit log of operator actions, written by the services that carry them out, in the same transaction."""
import json
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlmodel import Session, col, select

from backend.audit.models import AuditEntry
from backend.users.models import Role, User


def snapshot(thing: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    """The named fields of a row, as JSON-ready values."""
    return {name: _plain(getattr(thing, name)) for name in fields}


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (Decimal, date, datetime)):
        return str(value)
    return value


def record(db: Session, actor: User | None, action: str, target_type: str, target_id: int,
           before: Mapping[str, Any] | None = None, after: Mapping[str, Any] | None = None, note: str = "") -> None:
    """Log what an operator did; actions of other roles, and of the platform itself (actor None), are not logged."""
    if actor is None or actor.role != Role.operator:
        return
    db.add(AuditEntry(actor_id=actor.id, action=action, target_type=target_type, target_id=target_id,
                      before=_json(before), after=_json(after), note=note[:255]))
    db.flush()


def _json(values: Mapping[str, Any] | None) -> str | None:
    return None if values is None else json.dumps(values, ensure_ascii=False, sort_keys=True, default=str)


def entries(db: Session, limit: int = 200, actor_id: int | None = None, target_type: str | None = None,
            target_id: int | None = None) -> list[AuditEntry]:
    """The newest entries first, optionally of one operator or one thing."""
    query = select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(limit)
    if actor_id is not None:
        query = query.where(AuditEntry.actor_id == actor_id)
    if target_type is not None:
        query = query.where(AuditEntry.target_type == target_type)
    if target_id is not None:
        query = query.where(AuditEntry.target_id == target_id)
    return list(db.exec(query))


def changes(entry: AuditEntry) -> list[tuple[str, Any, Any]]:
    """(field, before, after) of every field that differs between the entry's two snapshots."""
    before, after = json.loads(entry.before or "{}"), json.loads(entry.after or "{}")
    return [(name, before.get(name), after.get(name)) for name in sorted(before.keys() | after.keys())
            if before.get(name) != after.get(name)]
