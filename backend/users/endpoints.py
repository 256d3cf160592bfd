from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from backend.core.api_errors import SIGNED_IN, ApiRoute, refusals
from backend.core.security import create_access_token
from backend.deps import CurrentUser, SessionDep, SettingsDep
from backend.users import service
from backend.users.models import User, UserCreate, UserPublic

router = APIRouter(tags=["users"], route_class=ApiRoute)


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"


@router.post("/auth/signup", response_model=UserPublic, status_code=201,
             responses=refusals(service.PhoneAlreadyRegistered))
def sign_up(body: UserCreate, db: SessionDep) -> User:
    """Create a vendor or applicant account (phone number and password)."""
    return service.sign_up(db, body)


@router.post("/auth/token", response_model=Token, responses=refusals(service.WrongCredentials))
def log_in(form: Annotated[OAuth2PasswordRequestForm, Depends()], db: SessionDep, settings: SettingsDep) -> Token:
    """OAuth2 password flow: the username is the phone number."""
    user = service.authenticate(db, form.username, form.password)
    return Token(access_token=create_access_token(user.id, settings.jwt_secret(), settings.access_token_minutes))


@router.get("/users/me", response_model=UserPublic, responses=refusals(*SIGNED_IN))
def read_me(user: CurrentUser) -> User:
    """The signed-in user."""
    return user
