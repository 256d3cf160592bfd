"""Which app's own browser a page is open in: WeChat's, Alipay's, or neither (a phone's or a computer's browser).

A hold confirmed in the app (微信支付分, 支付宝资金预授权) and the apps' JS bridges exist only inside them.
"""
WECHAT = "wechat"
ALIPAY = "alipay"


def app_of(user_agent: str | None) -> str | None:
    """"wechat" inside WeChat (MicroMessenger), "alipay" inside Alipay (AlipayClient), else None."""
    agent = user_agent or ""
    if "MicroMessenger" in agent:
        return WECHAT
    if "AlipayClient" in agent:
        return ALIPAY
    return None
