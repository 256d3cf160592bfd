"""The attributes every cookie of ours shares: HttpOnly, SameSite=Lax, path /, and Secure when the site is https."""
from starlette.requests import Request
from starlette.responses import Response


def site_is_https(request: Request, public_base_url: str) -> bool:
    """True when the site is public over https, or this request came over https (through a trusted proxy too)."""
    return public_base_url.startswith("https://") or request.url.scheme == "https"


def set_cookie(response: Response, request: Request, public_base_url: str, name: str, value: str,
               max_age: int | None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="lax",
                        secure=site_is_https(request, public_base_url))
