"""How a vendor can pay for a session on the scan page: the wallet, and each configured provider that can hold
money at once (a card). A provider joins the list by what it declares it can do, never by its type."""
from dataclasses import dataclass

from backend.pages.i18n import N_
from billing.payments.providers import PROVIDER_OF, Providers

WALLET = "wallet"
# How each way of paying reads; WeChat Pay and Alipay holds are confirmed in their apps, which the scan page's
# form does not do yet, so they are listed only once they can hold inside the request (capabilities.instant).
LABELS = {
    "card": (N_("Card hold"), N_("The amount is held on your card, not charged. At the end only the energy used is "
                                 "charged and the rest is released.")),
    "wechat": (N_("WeChat Pay hold"), N_("The amount is held in WeChat Pay, not charged. At the end only the energy "
                                         "used is charged and the rest is released.")),
    "alipay": (N_("Alipay hold"), N_("The amount is frozen in Alipay, not charged. At the end only the energy used "
                                     "is charged and the rest is released.")),
}


@dataclass(frozen=True)
class PaymentChoice:
    code: str  # "wallet", or the provider's PayWith value
    label: str  # a message id, translated where shown
    explanation: str  # a message id
    needs_amount: bool  # the vendor says how much to hold


def payment_choices(providers: Providers) -> list[PaymentChoice]:
    """The wallet always; then every configured provider that can place a hold within the request."""
    choices = [PaymentChoice(WALLET, N_("From my balance"),
                             N_("The session may use your free balance; you pay only what the meter measures."),
                             False)]
    for pay_with, name in PROVIDER_OF.items():
        provider = providers.by_name.get(name)
        if provider is not None and provider.capabilities.hold and provider.capabilities.instant:
            label, explanation = LABELS.get(pay_with.value, LABELS["card"])
            choices.append(PaymentChoice(pay_with.value, label, explanation, True))
    return choices
