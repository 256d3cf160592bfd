"""Attacks over real HTTP: many deliveries, queries and withdrawals at once never credit twice, never refund more
than was paid."""
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from sqlmodel import Session

from backend.core.clock import utcnow
from backend.payments.service import recover_pending
from billing.payments.refunds import refunded_total
from billing.wallet.service import wallet_balance
from tests.attacks.conftest import at_once, refusals, tally
from tests.live_server import serve


@pytest.fixture
def live(shop):
    with serve(shop.client.app) as base_url:
        yield base_url


def test_a_notification_delivered_many_times_at_once_beside_the_query_fallback_credits_once(shop, live, figures):
    vendor, auth = shop.vendor()
    order = shop.post("/wallet/top-ups", auth, {"amount": "30.00", "provider": "wechat"}).json()
    delivery = shop.wechat.pay(order["order_no"])
    alipay = shop.post("/wallet/top-ups", auth, {"amount": "20.00", "provider": "alipay"}).json()
    shop.alipay.open_pay_url(alipay["pay_params"]["pay_url"])
    alipay_body = shop.alipay.pay(alipay["order_no"])
    later = utcnow() + timedelta(minutes=2)

    def wechat():
        return httpx.post(f"{live}/api/v1/webhooks/wechat", content=delivery.body, headers=delivery.headers,
                          timeout=60).status_code

    def ali():
        return httpx.post(f"{live}/api/v1/webhooks/alipay", content=alipay_body, timeout=60,
                          headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code

    def ask():
        shop.run(lambda db: recover_pending(db, shop.providers, shop.settings, later))
        return 200

    answers = at_once([wechat] * 8 + [ali] * 8 + [ask] * 2)

    assert all(a in (200, 503) for a in answers), [repr(a) for a in answers]  # 503: a lock wait too long; redelivered
    for _ in range(2):  # WeChat and Alipay deliver again until they get a 2xx
        wechat(), ali()
    with Session(shop.engine) as db:
        assert wallet_balance(db, vendor.id) == Decimal("50.00")
    figures(f"8 WeChat + 8 Alipay deliveries + 2 queries at once: {tally(answers)}; ¥50.00 credited once")


def test_many_withdrawals_at_once_across_providers_never_send_back_more_than_was_paid(shop, live, figures):
    vendor, auth = shop.vendor()
    orders = []
    for provider, amount in (("wechat", "30.00"), ("alipay", "20.00"), ("wechat", "10.00")):
        order = shop.post("/wallet/top-ups", auth, {"amount": amount, "provider": provider}).json()
        if provider == "wechat":
            shop.to_wechat(shop.wechat.pay(order["order_no"]))
        else:
            shop.alipay.open_pay_url(order["pay_params"]["pay_url"])
            shop.to_alipay(shop.alipay.pay(order["order_no"]))
        orders.append(order["order_no"])
    shop.wechat.refunds_succeed_at_once = True

    answers = at_once([lambda: httpx.post(f"{live}/api/v1/wallet/withdrawals", headers=auth, json={"amount": "25.00"},
                                          timeout=60) for _ in range(6)])

    codes = sorted(a.status_code for a in answers)
    assert codes == [201, 201] + [409] * 4, [a.text for a in answers]
    assert refusals(answers) == {"NotThatMuchToWithdraw": 4}
    sent_wechat = sum(r.amount for r in shop.wechat.refunds.values())
    sent_alipay = sum(r.amount for r in shop.alipay.refunds.values())
    assert sent_wechat + int(sent_alipay * 100) == 5000
    with Session(shop.engine) as db:
        assert wallet_balance(db, vendor.id) == Decimal("10.00")
        for number, paid in zip(orders, (Decimal("30.00"), Decimal("20.00"), Decimal("10.00")), strict=True):
            assert refunded_total(db, number) <= paid
    for trade in shop.wechat.trades.values():
        assert trade.refunded <= trade.total
    for trade in shop.alipay.trades.values():
        assert trade.refunded <= trade.total
    figures(f"6 withdrawals of ¥25.00 at once: {tally(answers)}; ¥{Decimal(sent_wechat) / 100 + sent_alipay} "
            f"refunded across both providers")
