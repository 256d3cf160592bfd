"""The ASGI middleware that applies the CSRF checks of backend.pages.csrf before any route runs."""
import logging
from urllib.parse import parse_qs

from fastapi.security.utils import get_authorization_scheme_param
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.deps import COOKIE_NAME
from backend.pages.cookies import set_cookie
from backend.pages.csrf import COOKIE_AGE, CSRF_COOKIE, CSRF_FIELD, CSRF_HEADER, CsrfToken, foreign_origin, origin_of
from backend.pages.errors import error_page
from backend.pages.i18n import gettext

log = logging.getLogger(__name__)
# The methods a form or a script changes things with; any other method finds no route (405).
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# A form this large is still read to its token, so that a far too long field is shown back next to the form
# (backend/pages/form_body.py) instead of refused as forged.
MAX_FORM_BYTES = 16 << 20
COOKIELESS_API = ("/auth/token", "/auth/signup")  # they authenticate by password, never by the cookie


class CsrfGuard:
    """ASGI middleware: refuse (403) cookie-authorised unsafe requests that fail either check."""

    def __init__(self, app: ASGIApp, api_prefix: str, public_base_url: str, router: Router):
        self.app = app
        self.router = router
        self.api_prefix = api_prefix
        self.public_base_url = public_base_url
        self.public_origin = origin_of(public_base_url)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        token = CsrfToken(request.cookies.get(CSRF_COOKIE))
        scope.setdefault("state", {})["csrf"] = token
        send = self._setting_cookie(request, token, send)
        if self._guarded(request) and self._routed(scope):
            problem, receive = await self._problem(request, token, receive)
            if problem:
                await self._refusal(request, problem)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _routed(self, scope: Scope) -> bool:
        """Whether a route takes this method at this address; the others get their 404 or 405 unguarded."""
        return any(route.matches(scope)[0] is Match.FULL for route in self.router.routes)

    def _guarded(self, request: Request) -> bool:
        if request.method not in UNSAFE_METHODS:
            return False
        path = request.url.path
        if not path.startswith(self.api_prefix + "/"):
            return True
        scheme, credentials = get_authorization_scheme_param(request.headers.get("authorization"))
        bearer = scheme.lower() == "bearer" and bool(credentials)
        cookieless = path.removeprefix(self.api_prefix) in COOKIELESS_API
        return COOKIE_NAME in request.cookies and not bearer and not cookieless

    async def _problem(self, request: Request, token: CsrfToken, receive: Receive) -> tuple[str | None, Receive]:
        own = {request.url.scheme + "://" + request.headers.get("host", ""), self.public_origin}
        problem = foreign_origin(request.headers, own)
        if problem:
            return problem, receive
        submitted = request.headers.get(CSRF_HEADER)
        if submitted is None and _is_form(request):
            submitted, receive = await _form_field(receive, CSRF_FIELD)
        if submitted is None:
            return "the form carries no CSRF token", receive
        if not token.matches(submitted):
            return "the form's CSRF token does not match this browser's", receive
        return None, receive

    def _refusal(self, request: Request, problem: str) -> Response:
        log.info("%s %s -> 403 CSRF: %s", request.method, request.url.path, problem)
        request.app.state.http_metrics.rejected.labels("CsrfCheckFailed").inc()
        if request.url.path.startswith(self.api_prefix + "/"):
            return JSONResponse({"error": "CsrfCheckFailed", "detail": problem}, status_code=403)
        return error_page(request, 403, gettext("This form could not be accepted: it did not come from this page "
                                                "as it was shown. Go back, reload the page and send it again."),
                          title=gettext("Form refused"))

    def _setting_cookie(self, request: Request, token: CsrfToken, send: Send) -> Send:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start" and token.issued:
                carrier = Response()
                set_cookie(carrier, request, self.public_base_url, CSRF_COOKIE, token.value, COOKIE_AGE)
                MutableHeaders(scope=message).append("set-cookie", carrier.headers["set-cookie"])
            await send(message)
        return sending


def _is_form(request: Request) -> bool:
    return request.headers.get("content-type", "").split(";")[0].strip() == "application/x-www-form-urlencoded"


async def _form_field(receive: Receive, name: str) -> tuple[str | None, Receive]:
    """The named field of an urlencoded body, and a `receive` that replays the body to the app."""
    messages: list[Message] = []
    body = b""
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        body += message.get("body", b"")
        if len(body) > MAX_FORM_BYTES or not message.get("more_body", False):
            break

    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return (_field(body, name) if len(body) <= MAX_FORM_BYTES else None), replay


def _field(body: bytes, name: str) -> str | None:
    try:
        values = parse_qs(body.decode("latin-1"), max_num_fields=1000).get(name)
    except ValueError:  # more fields than any of our forms has
        return None
    return values[0] if values else None
