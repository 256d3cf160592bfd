"""A session's state in plain words for the people who watch it: notices, and how it is paid."""
from dataclasses import dataclass

from backend.pages.display import kwh, yuan
from backend.pages.i18n import N_, gettext
from backend.sessions.models import SessionPublic, SessionStatus
from billing.payments.models import Hold, HoldStatus


@dataclass(frozen=True)
class Notice:
    kind: str  # ok, warn, error: the notice's colour
    text: str


def notices(session: SessionPublic) -> list[Notice]:
    """What a person should know about this session beyond its figures, in the request's language."""
    found = []
    if session.status == SessionStatus.failed:
        found.append(Notice("error", gettext("Power did not come on: the meter did not confirm the start. "
                                             "Nothing was charged. Try again, or use another outlet.")))
    if session.status == SessionStatus.stopping and session.failure_reason:
        found.append(Notice("warn", gettext("The meter has not confirmed switching off yet. The bill waits for its "
                                            "reading; you are not charged for the wait.")))
    if session.provisional:
        found.append(Notice("warn", gettext("Settled for now from the meter's last reading, because the meter has "
                                            "not confirmed the stop. When its record arrives the bill is corrected "
                                            "by itself.")))
    if session.needs_review:
        found.append(Notice("warn", gettext("The meter reported something unusual in this session; an operator "
                                            "will check the bill. You do not need to do anything.")))
    return found


def limit_words(session: SessionPublic) -> str:
    """Why the meter will switch off by itself, and where: the limit is priced at the dearest period ahead."""
    if session.max_amount is None:
        return gettext("Stops by itself at %(energy)s.", energy=kwh(session.energy_limit_wh))
    return gettext("Stops by itself at %(energy)s: what %(money)s buys at the dearest price it may meet, so the "
                   "money set aside always covers the bill.", energy=kwh(session.energy_limit_wh),
                   money=yuan(session.max_amount))


HOLD_NAMES = {"stripe": N_("Card hold"), "wechat": N_("WeChat Pay hold"), "alipay": N_("Alipay hold")}


def payment_words(hold: Hold | None) -> str:
    """How the session is paid; a hold reads as a hold, not as a charge."""
    if hold is None:
        return gettext("Paid from your balance.")
    values = {"hold": gettext(HOLD_NAMES.get(hold.provider, HOLD_NAMES["stripe"])), "amount": yuan(hold.amount)}
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

