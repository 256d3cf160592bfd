"""Money in plain words: who took it (card, WeChat Pay, Alipay), where it went back (退回…), and in what state.

A hold reads as a hold — reserved, not charged — until it is settled; money sent back names the payment it
went back to and whether it has arrived.
"""
from dataclasses import dataclass
from decimal import Decimal

from backend.pages.display import yuan
from backend.pages.i18n import N_, gettext
from backend.payments.trail import REFUNDED, UNUSED_BACK, WITHDRAWN, SessionMoney, TrailItem
from billing.payments.models import Hold, HoldStatus

PROVIDER_TEXT = {"stripe": N_("your card"), "wechat": N_("WeChat Pay"), "alipay": N_("Alipay"),
                 "demo": N_("the demo payment service")}
BACK_TO_TEXT = {"stripe": N_("back to your card"), "wechat": N_("back to WeChat Pay"), "alipay": N_("back to Alipay"),
                "demo": N_("back the way it came"), "wallet": N_("into your balance")}
REFUND_STATE_TEXT = {"pending": N_("on its way"), "succeeded": N_("arrived"), "failed": N_("failed"),
                     "due": N_("goes back by itself")}
HOLD_TEXT = {"stripe": N_("Card hold"), "wechat": N_("WeChat Pay Score hold"), "alipay": N_("Alipay pre-authorisation")}
PURPOSE_TEXT = {UNUSED_BACK: N_("Unused part"), REFUNDED: N_("Refund"), WITHDRAWN: N_("Withdrawal")}
TRAIL_TEXT = {
    "top_up": N_("Top-up"), "paid_ahead": N_("Paid ahead for a session"), "settlement": N_("Power used"),
    "adjustment": N_("Correction of a bill"), "session_refund": N_("Refund into your balance"),
    "hold_wallet_charge": N_("Power used (too little to charge through the hold)"), WITHDRAWN: N_("Withdrawal"),
    UNUSED_BACK: N_("Unused part of a session paid ahead"), REFUNDED: N_("Refund"),
    "refund_failed": N_("A refund failed: the money is back in your balance"),
    "hold_capture": N_("Power used, charged through the hold"),
    "arrears_collected": N_("Money owed, paid off"),
}
REFUND_BADGE = {"pending": "wait", "succeeded": "ok", "failed": "bad", "due": "wait"}


@dataclass(frozen=True)
class MoneyBack:
    """One part of a session's money sent back: what, how much, where to, and whether it has arrived."""

    what: str
    amount: Decimal
    where: str
    state: str  # due, pending, succeeded, failed
    state_text: str

    @property
    def badge(self) -> str:
        return REFUND_BADGE.get(self.state, "off")


def provider_name(provider: str | None) -> str:
    return gettext(PROVIDER_TEXT[provider]) if provider in PROVIDER_TEXT else (provider or "")


def back_to(provider: str | None) -> str:
    return gettext(BACK_TO_TEXT.get(provider or "", BACK_TO_TEXT["demo"]))


def refund_state(state: str | None) -> str:
    return gettext(REFUND_STATE_TEXT[state]) if state in REFUND_STATE_TEXT else ""


def payment_words(money: SessionMoney) -> str:
    """How the session is paid, naming the provider; a hold reads as a hold, not as a charge."""
    if money.hold is not None:
        return hold_words(money.hold)
    if money.prepayment is not None:
        paid = money.prepayment
        said = gettext("Paid ahead with %(provider)s: %(amount)s.", provider=provider_name(paid.provider),
                       amount=yuan(paid.amount))
        if money.unused_due:
            said = _then(said, gettext("The %(unused)s not used goes back to %(provider)s by itself.",
                                       unused=yuan(money.unused_due), provider=provider_name(paid.provider)))
        elif paid.settled_at is None:
            said = _then(said, gettext("What the session does not use goes back to %(provider)s by itself when it "
                                       "ends.", provider=provider_name(paid.provider)))
        return said
    return gettext("Paid from your balance.")


def _then(first: str, second: str) -> str:
    """Two sentences in a row: a space after an English one, none after a Chinese one."""
    return f"{first}{'' if first.endswith('。') else ' '}{second}"


def hold_words(hold: Hold) -> str:
    values = {"hold": gettext(HOLD_TEXT.get(hold.provider, HOLD_TEXT["stripe"])), "amount": yuan(hold.amount)}
    if hold.status == HoldStatus.pending:
        return gettext("%(hold)s of %(amount)s: waiting for you to confirm it in the app.", **values)
    if hold.status == HoldStatus.authorized:
        return gettext("%(hold)s of %(amount)s: reserved, not charged. When the session ends only the energy used "
                       "is charged and the rest is released.", **values)
    if hold.status == HoldStatus.captured:
        return gettext("%(hold)s of %(amount)s: %(charged)s charged, %(released)s released.", **values,
                       charged=yuan(hold.captured_amount), released=yuan(hold.amount - hold.captured_amount))
    if hold.status == HoldStatus.charged_to_wallet:
        return gettext("%(hold)s of %(amount)s released; %(charged)s was taken from your balance instead "
                       "(too little to charge through the hold).", **values, charged=yuan(hold.wallet_amount))
    return gettext("%(hold)s of %(amount)s released: nothing was charged through it.", **values)


def money_back(money: SessionMoney) -> list[MoneyBack]:
    """Every part of the session's money sent back, or about to go back by itself, oldest first."""
    found = [MoneyBack(gettext(PURPOSE_TEXT[purpose]), refund.amount, back_to(refund.provider), refund.status.value,
                       refund_state(refund.status.value)) for refund, purpose in money.refunds]
    if money.unused_due:
        found.append(MoneyBack(gettext(PURPOSE_TEXT[UNUSED_BACK]), money.unused_due, back_to(money.provider), "due",
                               refund_state("due")))
    if money.to_wallet:
        found.append(MoneyBack(gettext(PURPOSE_TEXT[REFUNDED]), money.to_wallet, back_to("wallet"), "succeeded",
                               refund_state("succeeded")))
    return found


def trail_label(item: TrailItem) -> str:
    return gettext(TRAIL_TEXT[item.kind]) if item.kind in TRAIL_TEXT else item.kind


def trail_where(item: TrailItem) -> str:
    """Where the money came from or went: "WeChat Pay", "back to Alipay"."""
    if item.kind in (WITHDRAWN, UNUSED_BACK, REFUNDED):
        return back_to(item.provider)
    if item.kind in ("top_up", "paid_ahead", "hold_capture") and item.provider not in (None, "demo"):
        return provider_name(item.provider)
    return ""


def trail_badge(item: TrailItem) -> str:
    return REFUND_BADGE.get(item.state or "", "") if item.kind in (WITHDRAWN, UNUSED_BACK, REFUNDED) else ""
