"""A session held on a card (localstripe) through the pages, and the wallet topped up and withdrawn through WeChat
Pay and Alipay: each step names where the money went."""
from decimal import Decimal

from sqlmodel import Session

from backend.sessions.service import hold_of
from billing.payments.models import HoldStatus
from billing.wallet.service import wallet_balance
from tests.pages.paying.conftest import order_of_redirect, visible


def test_a_card_hold_session_runs_and_only_the_bill_is_captured(stall):
    assert "Card hold" in stall.get(f"/s/{stall.tokens[0]}").text

    live = stall.follow(stall.start("card", "20.00"))

    assert "Card hold of ¥20.00: reserved, not charged." in visible(live.text)
    session_id = int(str(live.url).rsplit("/", 1)[1])
    stall.use(session_id, used_wh=6_000)
    stall.settle_money()
    with Session(stall.engine) as db:
        hold = hold_of(db, session_id)
        assert (hold.status, hold.captured_amount) == (HoldStatus.captured, Decimal("6.00"))
    receipt = visible(stall.get(f"/sessions/{session_id}/receipt").text)
    assert "You paid ¥6.00" in receipt and "Card hold of ¥20.00: ¥6.00 charged, ¥14.00 released." in receipt
    history = visible(stall.get("/me").text)
    assert "Power used, charged through the hold your card" in history and "not from your balance" in history


def test_a_top_up_through_wechat_pay_returns_to_the_outlet_with_the_balance_credited(stall):
    back = f"/s/{stall.tokens[1]}"
    scan = visible(stall.get(back).text)
    assert "Top up with" in scan and "You confirm the payment in WeChat Pay." in scan

    order_no = order_of_redirect(stall.top_up("wechat", "20", back).headers["location"])
    stall.to_wechat(stall.wechat.pay(order_no))
    returned = stall.get(f"/pay/{order_no}", follow_redirects=False)

    assert returned.status_code == 303 and returned.headers["location"] == back
    assert "Added ¥20.00 to your balance." in stall.get(back).text
    assert "Top-up WeChat Pay" in visible(stall.get("/me").text)


def test_a_top_up_through_alipay_is_credited_by_the_waiting_page_when_the_notification_is_lost(stall):
    answer = stall.top_up("alipay", "50")
    trade = stall.alipay.open_pay_url(answer.headers["location"])
    stall.alipay.pay(trade.out_trade_no)  # its notification is lost

    state = stall.get(f"/pay/{trade.out_trade_no}/status").json()

    assert state["final"] and state["text"] == "Added ¥50.00 to your balance."
    with Session(stall.engine) as db:
        assert wallet_balance(db, stall.vendor_id) == Decimal("50.00")


def test_a_withdrawal_names_the_payment_it_goes_back_to(stall):
    order_no = order_of_redirect(stall.top_up("wechat", "20").headers["location"])
    stall.to_wechat(stall.wechat.pay(order_no))
    form = stall.get("/wallet/withdraw").text
    key = form.split('name="request_key" value="')[1].split('"')[0]

    stall.post("/wallet/withdraw", {"request_key": key})

    history = visible(stall.get("/me").text)
    assert "Withdrawal back to WeChat Pay on its way" in history and "-¥20.00" in history
    [refund] = stall.wechat.refunds.values()
    stall.to_wechat(stall.wechat.finish_refund(refund.out_refund_no, succeeded=False))
    history = visible(stall.get("/me").text)
    assert "Withdrawal back to WeChat Pay failed" in history
    assert "A refund failed: the money is back in your balance" in history and "balance ¥20.00" in history


def test_a_top_up_through_a_way_the_page_does_not_offer_is_refused(stall):
    page = stall.post("/wallet/top-up", {"pay_with": "bitcoin", "preset": "10", "next": "/me"})
    assert page.status_code == 409 and "Choose one of the ways to pay this page offers." in page.text
