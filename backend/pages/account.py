"""Signing in and out: the JWT rides in an HttpOnly, SameSite=Lax cookie that the API reads too."""
from fastapi import Request
from starlette.responses import RedirectResponse, Response

from backend.core.config import Settings
from backend.core.errors import ScanPowerError
from backend.core.security import create_access_token
from backend.deps import COOKIE_NAME, MaybeUser, SettingsDep
from backend.pages.errors import PageDb, discard_work, page_router
from backend.pages.forms import FormData, parse
from backend.pages.navigation import role_home, safe_next
from backend.pages.rendering import render
from backend.users import service as users
from backend.users.models import Role, User, UserCreate

router = page_router()
SIGNUP_FIELDS = ("phone", "name", "password", "role")


def sign_in(response: Response, user: User, settings: Settings) -> Response:
    token = create_access_token(user.id, settings.jwt_secret(), settings.access_token_minutes)
    response.set_cookie(COOKIE_NAME, token, max_age=settings.access_token_minutes * 60, httponly=True,
                        samesite="lax", secure=settings.public_base_url.startswith("https://"))
    return response


def _landing(user: User, next_path: str | None) -> RedirectResponse:
    return RedirectResponse(safe_next(next_path) or role_home(user), status_code=303)


@router.get("/login")
def login_form(request: Request, user: MaybeUser, next: str = ""):
    """The sign-in form."""
    return render(request, "login.html", user=user, next=safe_next(next) or "", phone="")


@router.post("/login")
def log_in(request: Request, form: FormData, db: PageDb, settings: SettingsDep):
    """Check phone and password, set the cookie, go on to `next` or the role's home."""
    next_path = safe_next(form.get("next")) or ""
    try:
        user = users.authenticate(db, form.get("phone", "").strip(), form.get("password", ""))
    except ScanPowerError as exc:
        return render(request, "login.html", status_code=exc.status_code, next=next_path,
                      phone=form.get("phone", ""), error=exc.detail)
    return sign_in(_landing(user, next_path), user, settings)


@router.get("/signup")
def signup_form(request: Request, user: MaybeUser, next: str = "", role: str = Role.vendor.value):
    """The sign-up form, for vendors and applicants."""
    return render(request, "signup.html", user=user, next=safe_next(next) or "", values={"role": role},
                  errors={})


@router.post("/signup")
def sign_up(request: Request, form: FormData, db: PageDb, settings: SettingsDep):
    """Create the account, sign it in, go on to `next` or the role's home."""
    next_path = safe_next(form.get("next")) or ""
    body, errors = parse(UserCreate, form, SIGNUP_FIELDS)
    if body is not None:
        try:
            user = users.sign_up(db, body)
        except ScanPowerError as exc:
            discard_work(db)
            errors = {"phone": exc.detail}
        else:
            return sign_in(_landing(user, next_path), user, settings)
    values = {f: form.get(f, "") for f in SIGNUP_FIELDS if f != "password"}
    return render(request, "signup.html", status_code=422, next=next_path, values=values, errors=errors)


@router.post("/logout")
def log_out():
    """Forget the cookie."""
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE_NAME)
    return response
