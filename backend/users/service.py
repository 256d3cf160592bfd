from sqlmodel import Session, select

from backend.core.errors import Conflict, NotAuthenticated
from backend.core.security import hash_password, verify_password
from backend.users.models import Role, User, UserCreate


class PhoneAlreadyRegistered(Conflict):
    pass


class WrongCredentials(NotAuthenticated):
    pass


def sign_up(db: Session, body: UserCreate) -> User:
    return create_user(db, body.phone, body.password, body.role, body.name)


def create_user(db: Session, phone: str, password: str, role: Role, name: str = "") -> User:
    if db.exec(select(User).where(User.phone == phone)).first():
        raise PhoneAlreadyRegistered(f"phone {phone} is already registered")
    user = User(phone=phone, name=name, role=role, password_hash=hash_password(password))
    db.add(user)
    db.flush()
    return user


def authenticate(db: Session, phone: str, password: str) -> User:
    user = db.exec(select(User).where(User.phone == phone)).first()
    if user is None or not verify_password(password, user.password_hash):
        raise WrongCredentials("wrong phone number or password")
    return user
