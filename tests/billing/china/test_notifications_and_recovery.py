"""Notifications replayed, forged, out of order or never arriving; refunds partly failing; withdrawals to several
original payments; the daily statement against the books."""
import json
import time
from datetime import timedelta
from decimal import Decimal

from sqlmodel import Session, select

from backend.core.clock import local_today, utcnow
from backend.payments.service import recover_pending
from backend.payments.statements import reconcile_day
from billing.payments.models import (Payment, PaymentDifference, PaymentNotification, PaymentStatus, Refund,
                                     RefundStatus)
from billing.wallet.service import wallet_balance
from tests.billing.fakes.wechat import Delivery, FakeWeChatPay, bill_row


def balance(shop, vendor) -> Decimal:
    with Session(shop.engine) as db:
        return wallet_balance(db, vendor.id)


def topped_up(shop, auth, provider: str, amount: str) -> str:
    order = shop.post("/wallet/top-ups", auth, {"amount": amount, "provider": provider}).json()
    if provider == "wechat":
        assert shop.to_wechat(shop.wechat.pay(order["order_no"])).status_code == 200
    else:
        shop.alipay.open_pay_url(order["pay_params"]["pay_url"])
        assert shop.to_alipay(shop.alipay.pay(order["order_no"])).text == "success"
    return order["order_no"]


def test_forged_notifications_are_refused_logged_and_change_nothing(shop, caplog):
    vendor, auth = shop.vendor()
    order = shop.post("/wallet/top-ups", auth, {"amount": "30.00", "provider": "wechat"}).json()
    genuine = shop.wechat.pay(order["order_no"])
    impostor = FakeWeChatPay()  # another platform key, another APIv3 key
    impostor.trades = shop.wechat.trades
    try:
        forged = impostor.pay(order["order_no"])
    finally:
        impostor.stop()
    tampered = Delivery(genuine.headers, genuine.body.replace(b'"TRANSACTION.SUCCESS"', b'"TRANSACTION.SUCCESS" '))
    stale_resource = json.loads(genuine.body)["resource"]
    stale = shop.wechat.notification("TRANSACTION.SUCCESS", "transaction", {}, at=int(time.time()) - 3600)
    stale = Delivery(stale.headers, json.dumps(json.loads(stale.body) | {"resource": stale_resource}).encode())

    answers = [shop.to_wechat(d) for d in (forged, tampered, stale, Delivery({}, genuine.body))]

    assert [a.status_code for a in answers] == [400] * 4
    assert {a.json()["error"] for a in answers} == {"BadSignature"}
    alipay_body = shop.alipay.notification({"notify_type": "trade_status_sync", "out_trade_no": order["order_no"],
                                            "trade_status": "TRADE_SUCCESS", "total_amount": "30.00"})
    assert shop.to_alipay(alipay_body.replace(b"30.00", b"3000.00")).status_code == 400
    other_app = shop.alipay.notification({"notify_type": "trade_status_sync"}, app_id="2021000999999999")
    assert shop.to_alipay(other_app).status_code == 400
    assert balance(shop, vendor) == 0
    assert 'reason="BadSignature"} 6' in shop.client.get("/metrics").text
    with Session(shop.engine) as db:
        assert db.exec(select(PaymentNotification)).all() == []


def test_a_notification_after_the_query_fallback_completed_the_order_credits_nothing_more(shop):
    vendor, auth = shop.vendor()
    order = shop.post("/wallet/top-ups", auth, {"amount": "12.00", "provider": "wechat"}).json()
    delivery = shop.wechat.pay(order["order_no"])  # paid; the notification is held up on the way

    shop.run(lambda db: recover_pending(db, shop.providers, shop.settings, utcnow() + timedelta(minutes=2)))
    assert balance(shop, vendor) == Decimal("12.00")
    assert shop.to_wechat(delivery).status_code == 200

    assert balance(shop, vendor) == Decimal("12.00")


def test_an_order_whose_notification_never_comes_is_completed_by_asking_and_an_unpaid_one_is_closed(shop):
    vendor, auth = shop.vendor()
    paid = shop.post("/wallet/top-ups", auth, {"amount": "10.00", "provider": "alipay"}).json()
    shop.alipay.open_pay_url(paid["pay_params"]["pay_url"])
    shop.alipay.pay(paid["order_no"])  # the notification is lost
    abandoned = shop.post("/wallet/top-ups", auth, {"amount": "99.00", "provider": "wechat"}).json()

    soon = shop.run(lambda db: recover_pending(db, shop.providers, shop.settings, utcnow() + timedelta(minutes=2)))
    later = shop.run(lambda db: recover_pending(db, shop.providers, shop.settings, utcnow() + timedelta(minutes=40)))

    assert soon == [paid["order_no"]] and later == [abandoned["order_no"]]
    assert balance(shop, vendor) == Decimal("10.00")
    assert shop.wechat.trades[abandoned["order_no"]].state == "CLOSED"  # it can no longer be paid
    with Session(shop.engine) as db:
        statuses = {p.external_id: p.status for p in db.exec(select(Payment))}
    assert statuses == {paid["order_no"]: PaymentStatus.succeeded, abandoned["order_no"]: PaymentStatus.closed}


def test_a_refund_notification_before_its_payment_is_known_and_one_that_is_not_ours_change_nothing(shop):
    vendor, auth = shop.vendor()
    order_no = topped_up(shop, auth, "wechat", "10.00")
    unknown = shop.wechat.notification("REFUND.SUCCESS", "refund", {"out_trade_no": order_no,
                                                                    "out_refund_no": "nobody-r1a100",
                                                                    "amount": {"refund": 100}})
    out_of_order = shop.wechat.notification("PAYSCORE.USER_PAID", "payscore", {"out_order_no": "sph-never-made",
                                                                               "state": "DONE"})

    assert [shop.to_wechat(d).status_code for d in (unknown, out_of_order)] == [200, 200]
    assert balance(shop, vendor) == Decimal("10.00")


def test_a_withdrawal_goes_back_to_several_original_payments_across_providers(shop):
    vendor, auth = shop.vendor()
    wechat_order = topped_up(shop, auth, "wechat", "30.00")
    alipay_order = topped_up(shop, auth, "alipay", "20.00")
    shop.wechat.refunds_succeed_at_once = True

    answer = shop.post("/wallet/withdrawals", auth, {"amount": "45.00"})

    assert answer.status_code == 201, answer.text
    assert {(r["provider"], r["amount"], r["status"]) for r in answer.json()["refunds"]} == \
        {("alipay", "20.00", "succeeded"), ("wechat", "25.00", "succeeded")}
    assert [r.amount for r in shop.alipay.refunds.values()] == [Decimal("20.00")]
    assert [(r.out_trade_no, r.amount) for r in shop.wechat.refunds.values()] == [(wechat_order, 2500)]
    assert alipay_order in shop.alipay.trades and balance(shop, vendor) == Decimal("5.00")


def test_a_withdrawal_whose_refunds_partly_fail_keeps_the_failed_part_in_the_wallet(shop):
    vendor, auth = shop.vendor()
    wechat_order = topped_up(shop, auth, "wechat", "30.00")
    alipay_order = topped_up(shop, auth, "alipay", "20.00")
    shop.alipay.refusing_refunds_of.add(alipay_order)  # Alipay refuses at once

    answer = shop.post("/wallet/withdrawals", auth, {}).json()

    assert {(r["provider"], r["status"]) for r in answer["refunds"]} == {("alipay", "failed"), ("wechat", "pending")}
    assert Decimal(answer["sent"]) == Decimal("30.00") and Decimal(answer["balance"]) == Decimal("20.00")
    [wechat_refund] = shop.wechat.refunds.values()
    assert shop.to_wechat(shop.wechat.finish_refund(wechat_refund.out_refund_no, succeeded=False)).status_code == 200
    assert balance(shop, vendor) == Decimal("50.00")  # WeChat's refund failed too: all of it is back
    with Session(shop.engine) as db:
        assert {r.status for r in db.exec(select(Refund))} == {RefundStatus.failed}
    shop.alipay.refusing_refunds_of.clear()
    again = shop.post("/wallet/withdrawals", auth, {}).json()
    assert Decimal(again["sent"]) == Decimal("50.00")
    assert wechat_order in {r.out_trade_no for r in shop.wechat.refunds.values()}


def test_a_pending_refund_whose_notification_never_comes_is_settled_by_asking(shop):
    vendor, auth = shop.vendor()
    topped_up(shop, auth, "wechat", "8.00")
    shop.post("/wallet/withdrawals", auth, {})
    [record] = shop.wechat.refunds.values()
    shop.wechat.finish_refund(record.out_refund_no)  # succeeded at WeChat; the notification is lost

    shop.run(lambda db: recover_pending(db, shop.providers, shop.settings, utcnow() + timedelta(minutes=2)))

    with Session(shop.engine) as db:
        assert db.exec(select(Refund)).one().status is RefundStatus.succeeded
    assert balance(shop, vendor) == 0


def test_every_statement_line_matches_the_books_and_differences_are_listed(shop):
    from backend.users.models import Role
    from tests import factories
    _, auth = shop.vendor()
    topped_up(shop, auth, "wechat", "30.00")
    topped_up(shop, auth, "alipay", "20.00")
    shop.wechat.refunds_succeed_at_once = True
    shop.post("/wallet/withdrawals", auth, {"amount": "35.00"})
    day = f"{local_today():%Y-%m-%d}"
    shop.wechat.bill(day)
    shop.alipay.bill(day)

    checks = shop.run(lambda db: [reconcile_day(db, p, local_today()) for p in shop.providers])

    assert [(c.provider, c.lines, c.matched, c.differences) for c in checks] == [("wechat", 2, 2, 0),
                                                                               ("alipay", 2, 2, 0)]
    unknown_to_us = bill_row(f"{day} 09:00:00", "4200009", "elsewhere", "SUCCESS", 999, "", "", 0, "")
    shop.wechat.bill(day, extra_lines=[unknown_to_us])
    shop.run(lambda db: reconcile_day(db, shop.providers.named("wechat"), local_today()))
    with Session(shop.engine, expire_on_commit=False) as db:
        operator = factories.user(db, Role.operator)
        db.commit()
        [difference] = db.exec(select(PaymentDifference)).all()
    assert (difference.kind, difference.reference, difference.provider_amount) == \
        ("missing_in_books", "elsewhere", Decimal("9.99"))
    listed = shop.get("/payments/statements", shop.token(operator)).json()
    assert [d["reference"] for d in listed["differences"]] == ["elsewhere"]
    assert shop.get("/payments/statements", auth).status_code == 403
