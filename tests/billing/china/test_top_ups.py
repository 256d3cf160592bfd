"""Top-ups through WeChat Pay and Alipay: an order per attempt, the wallet credited once on the notification."""
import base64
from decimal import Decimal

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from sqlmodel import Session, select

from billing.payments.models import Payment, PaymentNotification, PaymentStatus
from billing.wallet.service import wallet_balance
from tests.billing.fakes.wechat import APPID


def balance(shop, vendor) -> Decimal:
    with Session(shop.engine) as db:
        return wallet_balance(db, vendor.id)


def test_a_wechat_jsapi_top_up_returns_signed_pay_parameters_and_credits_once_on_the_notification(shop):
    vendor, auth = shop.vendor()
    asked = shop.post("/wallet/top-ups", auth, {"amount": "30.00", "provider": "wechat", "openid": "oUpF8uMuAJO_M2"})
    assert asked.status_code == 202, asked.text
    order = asked.json()
    params = order["pay_params"]
    assert (order["provider"], order["purpose"], order["status"]) == ("wechat", "top_up", "pending")
    assert params["appId"] == APPID and params["package"].startswith("prepay_id=wx")
    # What the phone hands to WeixinJSBridge is signed with the merchant key, as WeChat checks it.
    message = "\n".join([params["appId"], params["timeStamp"], params["nonceStr"], params["package"]]) + "\n"
    shop.wechat.merchant.public.verify(base64.b64decode(params["paySign"]), message.encode(), padding.PKCS1v15(),
                                       hashes.SHA256())
    assert shop.wechat.trades[order["order_no"]].total == 3000
    assert balance(shop, vendor) == 0

    delivery = shop.wechat.pay(order["order_no"])
    assert shop.to_wechat(delivery).status_code == 200
    assert shop.to_wechat(delivery).status_code == 200  # WeChat delivers again: nothing more happens

    assert balance(shop, vendor) == Decimal("30.00")
    followed = shop.get(f"/payments/orders/{order['order_no']}", auth).json()
    assert followed["status"] == "succeeded"
    with Session(shop.engine) as db:
        assert len(db.exec(select(PaymentNotification)).all()) == 1
        assert db.exec(select(Payment)).one().transaction_id == shop.wechat.trades[order["order_no"]].transaction_id


def test_a_wechat_h5_top_up_outside_wechat_gets_an_h5_url(shop):
    _, auth = shop.vendor()
    asked = shop.post("/wallet/top-ups", auth, {"amount": "5.00", "provider": "wechat"})
    assert asked.status_code == 202
    assert asked.json()["pay_params"]["h5_url"].startswith("https://wx.tenpay.com/")


def test_an_alipay_top_up_is_a_signed_pay_url_and_credits_once_on_the_notification(shop):
    vendor, auth = shop.vendor()
    asked = shop.post("/wallet/top-ups", auth, {"amount": "20.00", "provider": "alipay"})
    assert asked.status_code == 202, asked.text
    order = asked.json()
    shop.alipay.open_pay_url(order["pay_params"]["pay_url"])  # Alipay checks our signature on the URL
    assert order["pay_params"]["page_pay_url"].startswith(shop.alipay.gateway)

    body = shop.alipay.pay(order["order_no"])
    first, again = shop.to_alipay(body), shop.to_alipay(body)

    assert (first.status_code, first.text, again.text) == (200, "success", "success")
    assert balance(shop, vendor) == Decimal("20.00")


def test_one_idempotency_key_is_one_order_however_often_the_phone_asks(shop):
    _, auth = shop.vendor()
    key = {"Idempotency-Key": "topup-weak-network-1"}
    answers = [shop.post("/wallet/top-ups", auth, {"amount": "8.00", "provider": "wechat"}, **key) for _ in range(3)]
    assert {a.json()["order_no"] for a in answers} == {answers[0].json()["order_no"]}
    assert len(shop.wechat.trades) == 1


def test_a_notification_for_another_amount_credits_nothing(shop):
    vendor, auth = shop.vendor()
    order = shop.post("/wallet/top-ups", auth, {"amount": "30.00", "provider": "wechat"}).json()

    assert shop.to_wechat(shop.wechat.pay(order["order_no"], amount=300000)).status_code == 200

    assert balance(shop, vendor) == 0
    with Session(shop.engine) as db:
        assert db.exec(select(Payment)).one().status is PaymentStatus.pending


def test_a_provider_not_configured_is_refused_plainly(shop):
    _, auth = shop.vendor()
    answer = shop.post("/wallet/top-ups", auth, {"amount": "8.00", "provider": "card"})
    assert answer.status_code == 409 and answer.json()["error"] == "PaymentMethodUnavailable"
    assert "wechat or alipay" in answer.json()["detail"]
