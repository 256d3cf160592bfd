"""How a page hands a payment over to WeChat Pay or Alipay, read from what the provider answered (`pay_params`).

Pure. A payment paid in the phone's browser is a redirect to the provider's cashier (WeChat's `h5_url`, which
sends the phone back to `redirect_url`; Alipay's WAP `pay_url`, whose return_url was given with the order).
One confirmed inside the provider's app is a call of its JS bridge: WeChat's `getBrandWCPayRequest` (JSAPI)
and `openBusinessView` (支付分), Alipay's `tradePay` (资金预授权).
"""
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

JSAPI_FIELDS = ("appId", "timeStamp", "nonceStr", "package", "signType", "paySign")
SCORE_FIELDS = ("mch_id", "package", "timestamp", "nonce_str", "sign_type", "sign")


@dataclass(frozen=True)
class Handover:
    redirect: str | None = None  # the provider's cashier page, for the browser to open
    bridge: str | None = None  # wechat_pay, wechat_score or alipay_trade: the app's JS bridge to call
    call: dict[str, str] = field(default_factory=dict)  # what the bridge takes

    @property
    def possible(self) -> bool:
        return self.redirect is not None or self.bridge is not None


def handover(pay_params: dict[str, str], back: str) -> Handover:
    """The hand-over for these pay_params; `back` is the absolute address of our waiting page."""
    if "paySign" in pay_params:
        return Handover(bridge="wechat_pay", call={k: pay_params[k] for k in JSAPI_FIELDS})
    if pay_params.get("business_type") == "wxpayScoreUse":
        query = urlencode({k: pay_params[k] for k in SCORE_FIELDS})
        return Handover(bridge="wechat_score", call={"businessType": "wxpayScoreUse", "queryString": query})
    if "order_str" in pay_params:
        return Handover(bridge="alipay_trade", call={"orderStr": pay_params["order_str"]})
    if "h5_url" in pay_params:
        url = pay_params["h5_url"]
        return Handover(redirect=f"{url}{'&' if '?' in url else '?'}redirect_url={quote(back, safe='')}")
    if "pay_url" in pay_params:
        return Handover(redirect=pay_params["pay_url"])
    return Handover()
