"""How a vendor can pay on the pages: for a session (the wallet, a hold, or paid ahead) and for a top-up.

A provider joins the lists by what it declares it can do and by where the page is open, never by its
type: a hold the payer confirms in the provider's app (微信支付分, 支付宝资金预授权) is offered inside that
app only; elsewhere the same provider is offered paid ahead, and the unused part goes back to it by itself.
"""
from dataclasses import dataclass

from backend.pages.client_app import ALIPAY, WECHAT
from backend.pages.i18n import N_
from billing.payments.interface import PaymentProvider
from billing.payments.providers import PROVIDER_OF, Providers

WALLET = "wallet"
HOLD = "hold"  # reserved, not charged; only the bill is charged at the end
PREPAY = "prepay"  # paid ahead; the part not used goes back to the same payment by itself
TOP_UP = "top_up"
APP_OF = {"wechat": WECHAT, "alipay": ALIPAY}  # where a provider's own holds are confirmed
HOLD_WORDS = {
    "stripe": (N_("Card hold"), N_("The amount is held on your card, not charged. At the end only the energy used is "
                                   "charged and the rest is released.")),
    "wechat": (N_("WeChat Pay Score (use first, pay after)"),
               N_("WeChat Pay Score reserves the amount; it is not a charge. At the end WeChat Pay collects only the "
                  "energy used.")),
    "alipay": (N_("Alipay pre-authorisation"), N_("The amount is frozen in Alipay, not charged. At the end only the "
                                                  "energy used is paid and the rest is unfrozen.")),
}
PREPAY_WORDS = {
    "wechat": (N_("WeChat Pay"), N_("Paid ahead in WeChat Pay. When the session ends, the part not used goes back to "
                                    "WeChat Pay by itself.")),
    "alipay": (N_("Alipay"), N_("Paid ahead in Alipay. When the session ends, the part not used goes back to Alipay "
                                "by itself.")),
}
TOP_UP_WORDS = {
    "stripe": (N_("Card"), N_("Charged to your card at once.")),
    "wechat": (N_("WeChat Pay"), N_("You confirm the payment in WeChat Pay.")),
    "alipay": (N_("Alipay"), N_("You confirm the payment in Alipay.")),
}


@dataclass(frozen=True)
class PaymentChoice:
    code: str  # what the form sends: "wallet", or the provider's PayWith value
    way: str  # wallet, hold, prepay, top_up
    label: str  # a message id, translated where shown
    explanation: str  # a message id

    @property
    def needs_amount(self) -> bool:
        return self.way in (HOLD, PREPAY)

    @property
    def amount_label(self) -> str:
        return N_("Amount to hold, ¥") if self.way == HOLD else N_("Amount to pay ahead, ¥")


def session_choices(providers: Providers, app: str | None) -> list[PaymentChoice]:
    """The wallet always; then each configured provider as it can pay for a session in this browser."""
    choices = [PaymentChoice(WALLET, WALLET, N_("From my balance"),
                             N_("The session may use your free balance; you pay only what the meter measures."))]
    for pay_with, name in PROVIDER_OF.items():
        provider = providers.by_name.get(name)
        way = _session_way(provider, app) if provider is not None else None
        if way is not None:
            label, explanation = (HOLD_WORDS if way == HOLD else PREPAY_WORDS)[name]
            choices.append(PaymentChoice(pay_with.value, way, label, explanation))
    return choices


def top_up_choices(providers: Providers, app: str | None) -> list[PaymentChoice]:
    """Each configured provider a top-up can be paid through in this browser; none: the default (the demo)."""
    return [PaymentChoice(pay_with.value, TOP_UP, *TOP_UP_WORDS[name]) for pay_with, name in PROVIDER_OF.items()
            if name in providers.by_name and _pays_here(providers.by_name[name], app)]


def top_up_offer(providers: Providers, app: str | None) -> list[PaymentChoice] | None:
    """The top-up choices here; [] where the default provider needs none (the demo); None where nothing configured
    can take a top-up in this browser (WeChat Pay alone, inside WeChat)."""
    choices = top_up_choices(providers, app)
    return choices if choices or providers.default.capabilities.instant else None


def chosen(choices: list[PaymentChoice], code: str | None) -> PaymentChoice | None:
    """The choice the form sent; one the page did not offer is None."""
    return next((c for c in choices if c.code == code), None)


def _session_way(provider: PaymentProvider, app: str | None) -> str | None:
    capabilities = provider.capabilities
    if capabilities.instant:
        return HOLD if capabilities.hold else None  # a card holds at once; one that cannot hold has no session way
    if capabilities.hold and APP_OF.get(provider.name) == app:
        return HOLD
    return PREPAY if _pays_here(provider, app) else None


def _pays_here(provider: PaymentProvider, app: str | None) -> bool:
    """WeChat's H5 payment does not open inside WeChat's own browser, where a payment needs the payer's openid
    (JSAPI) — which the pages do not ask WeChat for yet."""
    return not (provider.name == "wechat" and app == WECHAT)
