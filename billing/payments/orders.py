"""Our order numbers at the providers: one per attempt, the same for a repeat of one request."""
import hashlib
import uuid

from backend.core.clock import local_today

TOP_UP = "spt"
SESSION = "sps"  # a session paid ahead
HOLD = "sph"  # a hold for a session (支付分 order, Alipay freeze, card hold)


def out_trade_no(kind: str, idempotency_key: str | None = None) -> str:
    """27 characters, within WeChat's 32 and Alipay's 64: kind, the day (for people reading a statement), 16 hex.

    The same idempotency key gives the same number, so a repeated request is one order at the provider.
    """
    unique = hashlib.sha256(idempotency_key.encode()).hexdigest() if idempotency_key else uuid.uuid4().hex
    return f"{kind}{local_today():%Y%m%d}{unique[:16]}"


def refund_no(external_id: str, sequence: int, amount_fen: int) -> str:
    """Our out_refund_no: the n-th refund of a payment for an amount, so a retry is the same refund."""
    return f"{external_id}r{sequence}a{amount_fen}"
