"""Access tokens: issued at sign-in, refused from sign-out on (a revoked token's id is kept until it expires)."""
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from backend.core.security import create_access_token, read_access_token
from backend.users.models import RevokedToken, User


def issue(user: User, secret: str, minutes: int) -> str:
    return create_access_token(user.id, secret, minutes)


def user_of_token(db: Session, token: str, secret: str) -> User | None:
    """The token's user, or None when the token is invalid, expired or revoked."""
    claims = read_access_token(token, secret)
    if claims is None or db.get(RevokedToken, claims.token_id) is not None:
        return None
    return db.get(User, claims.user_id)


def revoke(db: Session, token: str, secret: str) -> bool:
    """Refuse the token from now on; False when it was not a valid token to begin with."""
    claims = read_access_token(token, secret)
    if claims is None:
        return False
    insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    # Signing out twice at once is harmless: the second insert does nothing.
    db.execute(insert(RevokedToken).values(token_id=claims.token_id, expires_at=claims.expires_at)
               .on_conflict_do_nothing())
    return True


def forget_expired_revocations(db: Session, now: datetime) -> int:
    """Drop revocations of tokens that have expired anyway; the number dropped."""
    return db.execute(delete(RevokedToken).where(RevokedToken.expires_at <= now)).rowcount
