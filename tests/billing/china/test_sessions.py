"""Sessions paid in WeChat Pay or Alipay: held (支付分, 资金预授权) where the merchant has it, else paid ahead;
the session starts on the provider's word, and what it did not use is never kept."""
from decimal import Decimal

from sqlmodel import Session, select

from backend.sessions.models import SessionStatus, UsageSession
from backend.sessions.settlement import capture_settled_holds, refund_unused_prepayments
from billing.ledger import service as ledger
from billing.payments.models import Hold, HoldStatus, Payment, Refund, RefundStatus
from billing.wallet.service import wallet_balance


def balance(shop, vendor) -> Decimal:
    with Session(shop.engine) as db:
        return wallet_balance(db, vendor.id)


def clearing(shop, provider: str) -> Decimal:
    with Session(shop.engine) as db:
        found = ledger.find_account(db, f"clearing:{provider}")
        return ledger.balance(db, found) if found else Decimal("0.00")


def order_of(shop, auth, number: str) -> dict:
    return shop.get(f"/payments/orders/{number}", auth).json()


def test_a_wechat_pay_score_hold_captures_the_bill_and_charges_nothing_more(holding_shop):
    shop = holding_shop
    [token] = shop.point()
    vendor, auth = shop.vendor()
    asked = shop.post("/sessions", auth, {"outlet_token": token, "provider": "wechat", "hold_amount": "50.00"})
    assert asked.status_code == 202, asked.text
    order = asked.json()
    assert order["purpose"] == "hold" and order["pay_params"]["package"]
    assert shop.wechat.scores[order["order_no"]].risk == 5000
    assert shop.started_orders() == []  # nothing switches on before the payer confirms

    assert shop.to_wechat(shop.wechat.confirm_payscore(order["order_no"])).status_code == 200
    [started] = shop.started_orders()
    assert started.energy_limit_wh == 50_000  # ¥50 at ¥1/kWh
    session = shop.use(order_of(shop, auth, order["order_no"])["session_id"], used_wh=12_340)
    assert session.amount == Decimal("12.34")

    [hold] = shop.run(lambda db: capture_settled_holds(db, shop.providers))
    assert (hold.status, hold.captured_amount) == (HoldStatus.captured, Decimal("12.34"))
    assert shop.wechat.scores[order["order_no"]].total == 1234  # completed with the actual amount only
    assert shop.to_wechat(shop.wechat.collect_payscore(order["order_no"])).status_code == 200
    with Session(shop.engine) as db:
        assert db.exec(select(Hold)).one().transaction_id == shop.wechat.scores[order["order_no"]].transaction_id
    assert clearing(shop, "wechat") == Decimal("-12.34") and balance(shop, vendor) == 0


def test_an_alipay_freeze_pays_the_bill_and_unfreezes_the_rest(holding_shop):
    shop = holding_shop
    [token] = shop.point()
    _, auth = shop.vendor()
    order = shop.post("/sessions", auth, {"outlet_token": token, "provider": "alipay", "hold_amount": "50.00"}).json()
    shop.alipay.open_freeze(order["pay_params"]["order_str"])
    assert shop.to_alipay(shop.alipay.confirm_freeze(order["order_no"])).text == "success"
    session = shop.use(order_of(shop, auth, order["order_no"])["session_id"], used_wh=12_340)

    shop.run(lambda db: capture_settled_holds(db, shop.providers))

    paid = shop.alipay.trades[f"{order['order_no']}p"]
    assert (paid.total, paid.status) == (Decimal("12.34"), "TRADE_SUCCESS")
    assert shop.alipay.unfrozen == [(order["order_no"], Decimal("37.66"))]
    assert shop.alipay.freezes[order["order_no"]].rest == 0
    assert session.amount == Decimal("12.34") and clearing(shop, "alipay") == Decimal("-12.34")


def test_a_hold_for_a_session_that_never_used_power_is_released_whole(holding_shop):
    shop = holding_shop
    [token] = shop.point()
    _, auth = shop.vendor()
    order = shop.post("/sessions", auth, {"outlet_token": token, "provider": "wechat", "hold_amount": "20.00"}).json()
    shop.to_wechat(shop.wechat.confirm_payscore(order["order_no"]))
    shop.use(order_of(shop, auth, order["order_no"])["session_id"], used_wh=0)

    [hold] = shop.run(lambda db: capture_settled_holds(db, shop.providers))

    assert hold.status is HoldStatus.released
    assert shop.wechat.scores[order["order_no"]].state == "REVOKED"


def test_a_session_paid_ahead_gets_its_unused_part_back_at_once(shop):
    [token] = shop.point()
    vendor, auth = shop.vendor("3.00")
    order = shop.post("/sessions", auth, {"outlet_token": token, "provider": "wechat", "hold_amount": "20.00"}).json()
    assert order["purpose"] == "session"
    shop.to_wechat(shop.wechat.pay(order["order_no"]))
    with Session(shop.engine) as db:
        from backend.sessions.service import spendable_balance
        assert spendable_balance(db, vendor.id) == Decimal("3.00")  # the prepayment is the session's, not the wallet's
    shop.use(order_of(shop, auth, order["order_no"])["session_id"], used_wh=4_500)

    [settled] = shop.run(lambda db: refund_unused_prepayments(db, shop.providers))

    [sent] = shop.wechat.refunds.values()
    assert (sent.out_trade_no, sent.amount) == (order["order_no"], 1550)
    assert balance(shop, vendor) == Decimal("3.00")  # the wallet neither paid nor kept anything
    assert clearing(shop, "wechat") == Decimal("-4.50")  # what WeChat keeps for us: the bill
    assert shop.run(lambda db: refund_unused_prepayments(db, shop.providers)) == []  # once


def test_paid_but_never_started_goes_back_whole_by_itself(shop):
    [token] = shop.point()
    vendor, auth = shop.vendor()
    order = shop.post("/sessions", auth, {"outlet_token": token, "provider": "alipay", "hold_amount": "15.00"}).json()
    shop.alipay.open_pay_url(order["pay_params"]["pay_url"])
    rival, rival_auth = shop.vendor("10.00")  # takes the outlet while the first one is paying
    assert shop.post("/sessions", rival_auth, {"outlet_token": token}).status_code == 201

    assert shop.to_alipay(shop.alipay.pay(order["order_no"])).text == "success"

    followed = order_of(shop, auth, order["order_no"])
    assert followed["session_id"] is None and "could not start" in followed["reason"]
    assert balance(shop, vendor) == Decimal("15.00")  # credited, and on its way back:
    shop.run(lambda db: refund_unused_prepayments(db, shop.providers))
    assert [r.amount for r in shop.alipay.refunds.values()] == [Decimal("15.00")]
    assert balance(shop, vendor) == 0 and clearing(shop, "alipay") == 0
    assert order_of(shop, auth, order["order_no"])["refunds"][0]["status"] == "succeeded"


def test_a_confirmed_hold_whose_session_cannot_start_is_released(holding_shop):
    shop = holding_shop
    [token] = shop.point()
    _, auth = shop.vendor()
    order = shop.post("/sessions", auth, {"outlet_token": token, "provider": "alipay", "hold_amount": "30.00"}).json()
    shop.alipay.open_freeze(order["pay_params"]["order_str"])
    _, rival_auth = shop.vendor("10.00")
    shop.post("/sessions", rival_auth, {"outlet_token": token})

    shop.to_alipay(shop.alipay.confirm_freeze(order["order_no"]))
    [hold] = shop.run(lambda db: capture_settled_holds(db, shop.providers))

    assert hold.status is HoldStatus.released and hold.session_id is None
    assert shop.alipay.unfrozen == [(order["order_no"], Decimal("30.00"))]


def test_a_payment_for_an_outlet_that_cannot_start_now_is_never_asked_for(shop):
    [token] = shop.point()
    _, rival_auth = shop.vendor("10.00")
    shop.post("/sessions", rival_auth, {"outlet_token": token})
    _, auth = shop.vendor()

    refused = shop.post("/sessions", auth, {"outlet_token": token, "provider": "wechat", "hold_amount": "15.00"})

    assert refused.status_code == 409 and refused.json()["error"] == "OutletBusy"
    assert shop.wechat.trades == {}


def test_a_session_paid_ahead_can_be_refunded_by_an_operator_to_the_original_payment(shop):
    from backend.users.models import Role
    from tests import factories
    [token] = shop.point()
    _, auth = shop.vendor()
    order = shop.post("/sessions", auth, {"outlet_token": token, "provider": "wechat", "hold_amount": "10.00"}).json()
    shop.to_wechat(shop.wechat.pay(order["order_no"]))
    session_id = order_of(shop, auth, order["order_no"])["session_id"]
    shop.use(session_id, used_wh=4_000)
    shop.run(lambda db: refund_unused_prepayments(db, shop.providers))
    with Session(shop.engine, expire_on_commit=False) as db:
        operator = factories.user(db, Role.operator)
        db.commit()

    answer = shop.post(f"/sessions/{session_id}/refunds", shop.token(operator), {"amount": "1.50", "reason": "fault"})

    assert answer.status_code == 201, answer.text
    assert sorted(r.amount for r in shop.wechat.refunds.values()) == [150, 600]
    with Session(shop.engine) as db:
        assert {r.status for r in db.exec(select(Refund))} == {RefundStatus.pending}
        assert db.get(UsageSession, session_id).status is SessionStatus.completed
        assert db.exec(select(Payment)).one().settled_at is not None
