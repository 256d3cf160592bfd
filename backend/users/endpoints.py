from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from backend.core.api_errors import SIGNED_IN, ApiRoute, refusals
from backend.deps import COOKIE_NAME, AttemptDep, CurrentUser, SessionDep, SettingsDep, TokenDep
from backend.users import service, tokens
from backend.users.models import User, UserCreate, UserPublic
from backend.users.service import SignInLimits

router = APIRouter(tags=["users"], route_class=ApiRoute)


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"


@router.post("/auth/signup", response_model=UserPublic, status_code=201,
             responses=refusals(service.PhoneAlreadyRegistered, service.TooManySignUps))
def sign_up(body: UserCreate, db: SessionDep, settings: SettingsDep, attempt: AttemptDep) -> User:
    """Create a vendor or applicant account (phone number and password); sign-ups per client are limited."""
    return service.sign_up(db, body, attempt, SignInLimits.of(settings))


@router.post("/auth/token", response_model=Token, responses=refusals(service.WrongCredentials,
                                                                     service.TooManySignIns))
def log_in(form: Annotated[OAuth2PasswordRequestForm, Depends()], db: SessionDep, settings: SettingsDep,
           attempt: AttemptDep) -> Token:
    """OAuth2 password flow (username = phone number); repeated failures answer 429 with Retry-After."""
    user = service.authenticate(db, form.username, form.password, attempt, SignInLimits.of(settings))
    return Token(access_token=tokens.issue(user, settings.jwt_secret(), settings.access_token_minutes))


@router.post("/auth/logout", status_code=204, responses=refusals(*SIGNED_IN))
def log_out(user: CurrentUser, token: TokenDep, db: SessionDep, settings: SettingsDep) -> Response:
    """Revoke the presented token (bearer or page cookie): it is refused from now on."""
    tokens.revoke(db, token, settings.jwt_secret())
    response = Response(status_code=204)
    response.delete_cookie(COOKIE_NAME)
    return response


@router.get("/users/me", response_model=UserPublic, responses=refusals(*SIGNED_IN))
def read_me(user: CurrentUser) -> User:
    """The signed-in user."""
    return user
