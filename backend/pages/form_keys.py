"""One key per rendered money form: a second tap of the same form repeats the first answer, never the payment."""
import re

from backend.users.models import User

REQUEST_KEY = re.compile(r"[0-9a-f]{32}")


def page_key(purpose: str, vendor: User, request_key: str) -> str | None:
    """The idempotency key of a form that was rendered once (None if the form had no valid key)."""
    return f"{purpose}-page:{vendor.id}:{request_key}" if REQUEST_KEY.fullmatch(request_key or "") else None
