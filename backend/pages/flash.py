"""One-shot notices carried across a redirect in a short-lived cookie."""
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote, unquote

from starlette.requests import Request
from starlette.responses import Response

FLASH_COOKIE = "sp_flash"
Kind = Literal["ok", "error"]


@dataclass(frozen=True)
class Flash:
    kind: Kind
    text: str


def flash(response: Response, text: str, kind: Kind = "ok") -> Response:
    response.set_cookie(FLASH_COOKIE, quote(f"{kind}:{text}"), max_age=60, httponly=True, samesite="lax")
    return response


def peek_flash(request: Request) -> Flash | None:
    raw = unquote(request.cookies.get(FLASH_COOKIE, ""))
    kind, _, text = raw.partition(":")
    return Flash("error" if kind == "error" else "ok", text) if text else None


def clear_flash(request: Request, response: Response) -> None:
    if FLASH_COOKIE in request.cookies:
        response.delete_cookie(FLASH_COOKIE)
