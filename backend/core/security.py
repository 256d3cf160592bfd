"""Password hashes (argon2) and access tokens (JWT, HS256, each with its own id so it can be revoked)."""
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from backend.core.clock import utcnow

_hasher = PasswordHasher()
ALGORITHM = "HS256"


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    token_id: str
    expires_at: datetime


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _stand_in_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def verify_nobody(password: str) -> bool:
    """Spend the time a real verification takes, for a phone number that has no account; always False."""
    verify_password(password, _stand_in_hash())
    return False


def create_access_token(user_id: int, secret: str, minutes: int) -> str:
    claims = {"sub": str(user_id), "jti": secrets.token_urlsafe(16), "exp": utcnow() + timedelta(minutes=minutes)}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def read_access_token(token: str, secret: str) -> AccessClaims | None:
    """The token's claims, or None when it is invalid, expired or has no id (issued before revocation existed)."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "jti", "exp"]})
        return AccessClaims(int(claims["sub"]), str(claims["jti"]), datetime.fromtimestamp(claims["exp"], UTC))
    except (jwt.PyJWTError, ValueError, TypeError, OverflowError):
        return None
