"""Where people land: each role's home, and only local `next` targets."""
from urllib.parse import quote, urlsplit

from backend.users.models import Role, User

ROLE_HOMES = {Role.vendor: "/me", Role.applicant: "/applicant", Role.operator: "/operator"}


def role_home(user: User | None) -> str:
    return "/" if user is None else ROLE_HOMES[user.role]


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this site; anything that could leave the site is None."""
    # "//host" and "/\host" are read by browsers as other sites; control characters split headers.
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(ch) < 32 for ch in target):
        return None
    parts = urlsplit(target)
    return None if parts.scheme or parts.netloc else target


def login_url(next_path: str | None) -> str:
    return f"/login?next={quote(next_path, safe='/')}" if next_path else "/login"
