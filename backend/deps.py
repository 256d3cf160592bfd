"""Request-scoped dependencies: the DB session (commit, then send orders), the current user, the sign-in attempt."""
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import OAuth2PasswordBearer
from sqlmodel import Session

from backend.core.config import Settings
from backend.core.db import unit_of_work
from backend.core.errors import Forbidden, NotAuthenticated
from backend.core.types import MAX_BIGINT, MAX_INTEGER
from backend.users.models import Role, User
from backend.users.service import Attempt
from backend.users.throttle import client_key
from backend.users.tokens import user_of_token

COOKIE_NAME = "sp_session"
# An id past its column's range cannot exist and must not reach the database.
Id = Annotated[int, Path(ge=1, le=MAX_INTEGER)]  # points, tariffs, users…
BigId = Annotated[int, Path(ge=1, le=MAX_BIGINT)]  # sessions and the other tables that grow with traffic
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_db(request: Request) -> Iterator[Session]:
    with unit_of_work(request.app.state.engine, request.app.state.order_sink) as db:
        yield db


def sign_in_attempt(request: Request) -> Attempt:
    """Who is signing in (their address, through trusted proxies only) and when, for throttling."""
    return Attempt(client_key(request.client.host if request.client else None), request.app.state.clock())


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_db, scope="function")]
AttemptDep = Annotated[Attempt, Depends(sign_in_attempt)]


def presented_token(request: Request, bearer: Annotated[str | None, Depends(oauth2_scheme)]) -> str | None:
    """The bearer token, else the page cookie's."""
    return bearer or request.cookies.get(COOKIE_NAME)


TokenDep = Annotated[str | None, Depends(presented_token)]


def optional_user(request: Request, db: SessionDep, token: TokenDep) -> User | None:
    """The user of the bearer token, else of the page cookie, else None (also for a revoked token)."""
    if not token:
        return None
    return user_of_token(db, token, request.app.state.settings.jwt_secret())


def current_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise NotAuthenticated("sign in first")
    return user


MaybeUser = Annotated[User | None, Depends(optional_user)]
CurrentUser = Annotated[User, Depends(current_user)]


def require(role: Role):
    def check(user: CurrentUser) -> User:
        if user.role != role:
            raise Forbidden(f"this needs the {role.value} role")
        return user
    return check


Operator = Annotated[User, Depends(require(Role.operator))]
Applicant = Annotated[User, Depends(require(Role.applicant))]
Vendor = Annotated[User, Depends(require(Role.vendor))]
