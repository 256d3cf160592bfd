"""How a vendor can pay for a session: what the payment set-up offers today, as a list a new provider can join."""
from dataclasses import dataclass

from backend.pages.i18n import N_

WALLET = "wallet"
CARD_HOLD = "card_hold"


@dataclass(frozen=True)
class PaymentChoice:
    code: str
    label: str  # a message id, translated where shown
    explanation: str  # a message id
    needs_amount: bool  # the vendor says how much to hold


def payment_choices(provider) -> list[PaymentChoice]:
    """The wallet always; a card hold when the provider can authorise one (Stripe); providers added later append."""
    choices = [PaymentChoice(WALLET, N_("From my balance"),
                             N_("The session may use your free balance; you pay only what the meter measures."),
                             False)]
    if hasattr(provider, "authorize"):
        choices.append(PaymentChoice(
            CARD_HOLD, N_("Card hold"),
            N_("The amount is held on your card, not charged. At the end only the energy used is charged and the "
               "rest is released."), True))
    return choices
