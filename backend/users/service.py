import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from backend.core.config import Settings
from backend.core.errors import Conflict, NotAuthenticated, TooManyRequests
from backend.core.security import hash_password, verify_nobody, verify_password
from backend.users import throttle, tokens
from backend.users.models import PHONE_PATTERN, Role, User, UserCreate
from backend.users.throttle import Limit

PHONE = "phone"
CLIENT = "client"
SIGN_UP = "sign-up"
WRONG_CREDENTIALS = "wrong phone number or password"
TAKEN = "this phone number is already registered; sign in instead"  # never repeats the number


class PhoneAlreadyRegistered(Conflict):
    pass


class WrongCredentials(NotAuthenticated):
    pass


class TooManySignIns(TooManyRequests):
    pass


class TooManySignUps(TooManyRequests):
    pass


@dataclass(frozen=True)
class Attempt:
    """Where a sign-in or sign-up comes from (see throttle.client_key) and when."""

    client: str
    now: datetime


@dataclass(frozen=True)
class SignInLimits:
    per_phone: Limit
    per_client: Limit
    sign_ups_per_client: Limit

    @classmethod
    def of(cls, settings: Settings) -> "SignInLimits":
        window, lockout = (timedelta(minutes=settings.sign_in_window_minutes),
                           timedelta(minutes=settings.sign_in_lockout_minutes))
        sign_up_window = timedelta(minutes=settings.sign_up_window_minutes)
        return cls(Limit(settings.sign_in_failures_per_phone, window, lockout),
                   Limit(settings.sign_in_failures_per_client, window, lockout),
                   Limit(settings.sign_ups_per_client, sign_up_window, sign_up_window))

    def longest_window(self) -> timedelta:
        return max(self.per_phone.window, self.per_client.window, self.sign_ups_per_client.window)


def sign_up(db: Session, body: UserCreate, attempt: Attempt, limits: SignInLimits) -> User:
    """Create an account; each client may try only so many sign-ups per window, whatever their outcome."""
    _admit(db, SIGN_UP, attempt.client, limits.sign_ups_per_client, attempt.now,
           TooManySignUps, "too many sign-ups from your network")
    return create_user(db, body.phone, body.password, body.role, body.name)


def create_user(db: Session, phone: str, password: str, role: Role, name: str = "") -> User:
    # Hashed before the look-up, so a taken number is answered no sooner than a free one.
    password_hash = hash_password(password)
    if db.exec(select(User).where(User.phone == phone)).first():
        raise PhoneAlreadyRegistered(TAKEN)
    user = User(phone=phone, name=name, role=role, password_hash=password_hash)
    db.add(user)
    try:
        db.flush()
    except IntegrityError:
        # The same number signed up by a concurrent request; the caller's rollback undoes the rest.
        raise PhoneAlreadyRegistered(TAKEN) from None
    return user


def authenticate(db: Session, phone: str, password: str, attempt: Attempt, limits: SignInLimits) -> User:
    """The user of this phone and password, within the per-client and per-phone limits.

    Unknown numbers cost the same time and count the same way as known ones, and are refused in the
    same words, so neither the answer nor its timing says whether a number has an account.
    """
    engine = db.get_bind()
    phone_key = throttle.subject_key(phone)
    _admit(db, CLIENT, attempt.client, limits.per_client, attempt.now,
           TooManySignIns, "too many failed sign-ins from your network")
    try:
        _admit(db, PHONE, phone_key, limits.per_phone, attempt.now,
               TooManySignIns, "too many failed sign-ins for this phone number")
    except TooManySignIns:
        throttle.give_back(engine, CLIENT, attempt.client, limits.per_client)  # nothing was tried
        raise
    user = _user_with_phone(db, phone)
    if not (verify_password(password, user.password_hash) if user else verify_nobody(password)):
        raise WrongCredentials(WRONG_CREDENTIALS)
    throttle.forget(engine, PHONE, phone_key)
    throttle.give_back(engine, CLIENT, attempt.client, limits.per_client)
    return user


def forget_stale_sign_in_records(db: Session, now: datetime, limits: SignInLimits) -> int:
    """Drop attempt counters that no longer count and revocations of expired tokens; how many rows went."""
    return throttle.forget_stale(db, now, limits.longest_window()) + tokens.forget_expired_revocations(db, now)


def _user_with_phone(db: Session, phone: str) -> User | None:
    if not re.fullmatch(PHONE_PATTERN, phone):
        return None  # cannot be anyone's number (and NUL bytes or megabytes never reach the database)
    return db.exec(select(User).where(User.phone == phone)).first()


def _admit(db: Session, scope: str, subject: str, limit: Limit, now: datetime,
           refusal: type[TooManyRequests], reason: str) -> None:
    """Count the attempt; refuse it, saying when to try again, when the subject is over its limit."""
    verdict = throttle.count_attempt(db.get_bind(), scope, subject, limit, now)
    if not verdict.allowed:
        seconds = verdict.retry_after(now)
        raise refusal(f"{reason}; try again in {_in_words(seconds)}", seconds)


def _in_words(seconds: int) -> str:
    minutes = math.ceil(seconds / 60)
    return "1 minute" if minutes == 1 else f"{minutes} minutes"
