"""Signing in and out: the JWT rides in an HttpOnly, SameSite=Lax cookie that the API reads too."""
from fastapi import Request
from starlette.responses import RedirectResponse, Response

from backend.core.config import Settings
from backend.core.errors import ScanPowerError, TooManyRequests
from backend.deps import COOKIE_NAME, AttemptDep, MaybeUser, SettingsDep
from backend.pages import csrf
from backend.pages.cookies import set_cookie
from backend.pages.errors import PageDb, discard_work, page_router
from backend.pages.forms import FormData, parse
from backend.pages.navigation import role_home, safe_next
from backend.pages.refusals import refusal_text
from backend.pages.rendering import render
from backend.users import service as users
from backend.users import tokens
from backend.users.models import Role, User, UserCreate
from backend.users.service import SignInLimits

router = page_router()
SIGNUP_FIELDS = ("phone", "name", "password", "role")


def sign_in(request: Request, response: Response, user: User, settings: Settings) -> Response:
    token = tokens.issue(user, settings.jwt_secret(), settings.access_token_minutes)
    set_cookie(response, request, settings.public_base_url, COOKIE_NAME, token, settings.access_token_minutes * 60)
    csrf.rotate(response, request, settings.public_base_url)
    return response


def _landing(user: User, next_path: str | None) -> RedirectResponse:
    return RedirectResponse(safe_next(next_path) or role_home(user), status_code=303)


def _retry_after(response: Response, exc: ScanPowerError | None) -> Response:
    if isinstance(exc, TooManyRequests):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


@router.get("/login")
def login_form(request: Request, user: MaybeUser, next: str = ""):
    """The sign-in form."""
    return render(request, "login.html", user=user, next=safe_next(next) or "", phone="")


@router.post("/login")
def log_in(request: Request, form: FormData, db: PageDb, settings: SettingsDep, attempt: AttemptDep):
    """Check phone and password, set the cookie, go on to `next` or the role's home."""
    next_path = safe_next(form.get("next")) or ""
    try:
        user = users.authenticate(db, form.get("phone", "").strip(), form.get("password", ""), attempt,
                                  SignInLimits.of(settings))
    except ScanPowerError as exc:
        page = render(request, "login.html", status_code=exc.status_code, next=next_path,
                      phone=form.get("phone", ""), error=refusal_text(exc))
        return _retry_after(page, exc)
    return sign_in(request, _landing(user, next_path), user, settings)


@router.get("/signup")
def signup_form(request: Request, user: MaybeUser, next: str = "", role: str = Role.vendor.value):
    """The sign-up form, for vendors and applicants."""
    return render(request, "signup.html", user=user, next=safe_next(next) or "", values={"role": role},
                  errors={})


@router.post("/signup")
def sign_up(request: Request, form: FormData, db: PageDb, settings: SettingsDep, attempt: AttemptDep):
    """Create the account, sign it in, go on to `next` or the role's home."""
    next_path = safe_next(form.get("next")) or ""
    body, errors = parse(UserCreate, form, SIGNUP_FIELDS)
    refusal = None
    if body is not None:
        try:
            user = users.sign_up(db, body, attempt, SignInLimits.of(settings))
        except ScanPowerError as exc:
            discard_work(db)
            errors, refusal = {"phone": refusal_text(exc)}, exc
        else:
            return sign_in(request, _landing(user, next_path), user, settings)
    values = {f: form.get(f, "") for f in SIGNUP_FIELDS if f != "password"}
    status_code = 429 if isinstance(refusal, TooManyRequests) else 422
    page = render(request, "signup.html", status_code=status_code, next=next_path, values=values, errors=errors)
    return _retry_after(page, refusal)


@router.post("/logout")
def log_out(request: Request, db: PageDb, settings: SettingsDep):
    """Revoke the cookie's token (so a copy of it is refused too) and forget the cookies."""
    token = request.cookies.get(COOKIE_NAME)
    if token:
        tokens.revoke(db, token, settings.jwt_secret())
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE_NAME)
    csrf.forget(response)
    return response
