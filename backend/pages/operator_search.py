"""The operator's search page, and the audit log of what operators did."""
import json

from fastapi import Request
from sqlmodel import select

from backend.audit import service as audit
from backend.deps import Operator
from backend.pages.errors import PageDb, page_router
from backend.pages.rendering import render
from backend.search import search
from backend.users.models import User

router = page_router()


@router.get("/operator/search")
def search_page(request: Request, db: PageDb, operator: Operator, q: str = ""):
    """People by phone or name, points by name, address or number, meters by serial, a session by number."""
    return render(request, "search.html", user=operator, q=q[:80], found=search(db, q))


@router.get("/operator/audit")
def audit_log(request: Request, db: PageDb, operator: Operator):
    """Every operator action, newest first: who, what, on what, when, and what changed."""
    entries = audit.entries(db)
    names = {u.id: u.name or u.phone for u in db.exec(_users_of(entries))}
    shown = [(e, audit.changes(e)) for e in entries]
    return render(request, "audit.html", user=operator, entries=shown, names=names, as_json=_as_json)


def _users_of(entries):
    return select(User).where(User.id.in_({e.actor_id for e in entries}))


def _as_json(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
