"""The receipt as a person reads it: the bill's lines in plain words, the totals, and the time-of-day hint."""
from dataclasses import dataclass

from sqlmodel import Session

from backend.pages.display import kwh, yuan
from backend.pages.i18n import gettext
from backend.sessions.models import ReceiptPublic, UsageSession
from backend.sessions.receipts import receipt, saving_hint


@dataclass(frozen=True)
class ReceiptView:
    bill: ReceiptPublic
    hint: str
    several_versions: bool

    def __getattr__(self, name):  # the bill's own fields read through
        return getattr(self.bill, name)


def receipt_view(db: Session, session: UsageSession) -> ReceiptView:
    bill = receipt(db, session)
    return ReceiptView(bill, hint_words(db, session), len({line.version for line in bill.lines
                                                            if line.kind == "energy"}) > 1)


def hint_words(db: Session, session: UsageSession) -> str:
    hint = saving_hint(db, session)
    energy = kwh(int(hint.kwh * 1000))
    if hint.kind == "one_price":
        return gettext("%(energy)s at one price all day: the time of day did not change this bill.", energy=energy)
    if hint.kind == "all_cheapest":
        return gettext("%(energy)s, all in the cheapest hours: nothing to save by moving it.", energy=energy)
    if hint.kind == "too_little":
        return gettext("%(energy)s: too little for the time of day to change the bill by a fen.", energy=energy)
    return gettext("The same %(energy)s in the cheapest (valley) hours would have cost %(valley)s instead of "
                   "%(paid)s.", energy=energy, valley=yuan(hint.valley), paid=yuan(hint.paid))
