"""What the waiting page says about a payment or hold confirmed in WeChat Pay or Alipay, and where it goes next."""
from dataclasses import dataclass

from backend.pages.display import yuan
from backend.pages.i18n import gettext
from backend.pages.money_words import HOLD_TEXT, provider_name
from billing.payments.models import Hold, HoldStatus, Payment, PaymentPurpose, PaymentStatus


@dataclass(frozen=True)
class WaitState:
    final: bool  # nothing more will happen to it here
    kind: str  # wait, ok, error: the notice's colour
    text: str
    go: str | None = None  # where the vendor goes once it is done (their session, or back to the page they came from)


def wait_state(row: Payment | Hold, back: str) -> WaitState:
    """`back` is where a finished top-up returns to."""
    return _hold_state(row) if isinstance(row, Hold) else _payment_state(row, back)


def _payment_state(payment: Payment, back: str) -> WaitState:
    values = {"provider": provider_name(payment.provider), "amount": yuan(payment.amount)}
    if payment.status is PaymentStatus.pending:
        return WaitState(False, "wait", gettext("Waiting for %(provider)s to confirm your payment of %(amount)s. "
                                                "Once you have paid, this page moves on by itself.", **values))
    if payment.status is not PaymentStatus.succeeded:
        return WaitState(True, "error", gettext("Not paid: the order was closed and nothing was charged. You can "
                                                "start again.", **values))
    if payment.purpose is PaymentPurpose.top_up:
        return WaitState(True, "ok", gettext("Added %(amount)s to your balance.", **values), back)
    if payment.session_id is not None:
        return WaitState(True, "ok", gettext("Paid %(amount)s. Switching on…", **values),
                         f"/sessions/{payment.session_id}")
    return WaitState(True, "error", gettext("Paid, but the session could not start: the outlet was taken or went "
                                            "offline meanwhile. All of the %(amount)s goes back to %(provider)s by "
                                            "itself.", **values))


def _hold_state(hold: Hold) -> WaitState:
    values = {"hold": gettext(HOLD_TEXT.get(hold.provider, HOLD_TEXT["stripe"])), "amount": yuan(hold.amount),
              "provider": provider_name(hold.provider)}
    if hold.status is HoldStatus.pending:
        return WaitState(False, "wait", gettext("Waiting for you to confirm the %(hold)s of %(amount)s in "
                                                "%(provider)s. It is a hold, not a charge.", **values))
    if hold.session_id is not None:
        return WaitState(True, "ok", gettext("%(hold)s confirmed. Switching on…", **values),
                         f"/sessions/{hold.session_id}")
    if hold.status is HoldStatus.failed:
        return WaitState(True, "error", gettext("Not confirmed: the hold was closed and nothing was charged. You can "
                                                "start again.", **values))
    return WaitState(True, "error", gettext("Confirmed, but the session could not start: the outlet was taken or "
                                            "went offline meanwhile. The hold is released by itself; nothing is "
                                            "charged.", **values))
