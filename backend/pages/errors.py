"""Errors on the pages: undo the request's work, then show a page a person can read."""
from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse, Response

from backend.core.errors import NotAuthenticated, ScanPowerError
from backend.deps import MaybeUser, SessionDep
from backend.meters.orders import pending_orders
from backend.pages.i18n import N_, gettext
from backend.pages.navigation import login_url, safe_next
from backend.pages.refusals import refusal_text
from backend.pages.rendering import render

TITLES = {400: N_("Something is not right"), 401: N_("Please sign in"), 402: N_("Payment declined"),
          403: N_("Not for this account"), 404: N_("Not found"), 409: N_("Cannot do that now"),
          413: N_("Too much to send"), 422: N_("Something is not right"), 429: N_("Please wait a moment"),
          502: N_("A service we depend on is away"), 503: N_("Busy right now")}
OTHER_TITLE = N_("Something went wrong")


def remember_user(request: Request, user: MaybeUser) -> None:
    """Kept for the error page's header; a router dependency, so it is known before role checks fail."""
    request.state.page_user = user


def page_db(request: Request, db: SessionDep) -> Session:
    """The request's DB session, remembered so an error page can roll its work back."""
    request.state.page_db = db
    return db


PageDb = Annotated[Session, Depends(page_db)]


def discard_work(db: Session) -> None:
    """Roll back and drop queued relay orders: the commit after an error page must change nothing."""
    db.rollback()
    pending_orders(db)


def error_page(request: Request, status_code: int, detail: str, title: str | None = None) -> Response:
    """A page explaining a refusal; `detail` and `title` are already in the request's language."""
    return render(request, "error.html", status_code=status_code, code=status_code,
                  user=getattr(request.state, "page_user", None),
                  title=title or gettext(TITLES.get(status_code, OTHER_TITLE)), detail=detail)


HTTP_WORDS = {
    404: N_("There is no page at this address."),
    405: N_("This page cannot be used that way. Open it from a link instead."),
    400: N_("The form could not be read, perhaps because something in it was far too long. "
            "Go back, shorten it and send it again."),
    413: N_("The form was far too large. Go back, shorten what you typed and send it again."),
}


def http_error_page(request: Request, exc: HTTPException) -> Response:
    """Starlette's own refusals of a page address (no such page, a form it cannot read) as a page."""
    words = HTTP_WORDS.get(exc.status_code, N_("Something went wrong. Go back and try again."))
    response = error_page(request, exc.status_code, gettext(words))
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


def page_router() -> APIRouter:
    """A router whose routes render domain errors as pages and know the user for the header."""
    return APIRouter(route_class=PageRoute, dependencies=[Depends(remember_user)])


class PageRoute(APIRoute):
    """A route whose domain errors become HTML pages instead of the API's JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except ScanPowerError as exc:
                return await _domain_error(request, exc)
            except RequestValidationError:
                # Only path and query values are validated here (forms are read by hand): a bad id is a missing page.
                return error_page(request, 404, gettext("There is no such page."))

        return handle


async def _domain_error(request: Request, exc: ScanPowerError) -> Response:
    if isinstance(exc, NotAuthenticated):
        response = RedirectResponse(login_url(_return_path(request)), status_code=303)
    else:
        # Rendered before the rollback, which would expire the user the header shows.
        response = error_page(request, exc.status_code, refusal_text(exc))
    db = getattr(request.state, "page_db", None)
    if db is not None:
        await run_in_threadpool(discard_work, db)
    return response


def _return_path(request: Request) -> str | None:
    """Where to come back after signing in; a form post returns to the page that held the form."""
    if request.method == "GET":
        query = f"?{request.url.query}" if request.url.query else ""
        return safe_next(request.url.path + query)
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc != request.url.netloc:
        return None
    return safe_next(referer.path + (f"?{referer.query}" if referer.query else ""))
