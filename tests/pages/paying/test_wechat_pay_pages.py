"""A whole session paid with WeChat Pay through the pages: paid ahead in a phone's browser (H5), held with
微信支付分 inside WeChat; the unused part goes back to WeChat Pay by itself, and the receipt and history say so."""
from decimal import Decimal

from sqlmodel import Session, select

from billing.payments.models import Payment, Refund
from tests.pages.paying.conftest import IN_WECHAT, form_key, order_of_redirect, visible
from tests.pages.test_translations import english_words

NAMES = ("Night market", "Market square", "Flat 1.0000")  # what the tests typed: point, address, tariff


def test_a_session_paid_ahead_with_wechat_pay_runs_and_its_unused_part_goes_back_by_itself(stall):
    scan = visible(stall.get(f"/s/{stall.tokens[0]}").text)
    assert "WeChat Pay Paid ahead in WeChat Pay. When the session ends, the part not used goes back to WeChat Pay " \
           "by itself." in scan

    answer = stall.start("wechat", "20.00")

    assert answer.status_code == 303  # straight on to WeChat's cashier (H5), which sends the phone back to us
    order_no = order_of_redirect(answer.headers["location"])
    assert stall.sink.sent == []  # nothing switches on before WeChat says it was paid
    waiting = stall.get(f"/pay/{order_no}")
    assert waiting.status_code == 200 and "Waiting for WeChat Pay to confirm your payment of ¥20.00" in waiting.text

    stall.to_wechat(stall.wechat.pay(order_no))  # the vendor pays; WeChat notifies us
    live = stall.follow(stall.get(f"/pay/{order_no}", follow_redirects=False))
    assert "Paid ahead with WeChat Pay: ¥20.00." in visible(live.text)
    session_id = int(str(live.url).rsplit("/", 1)[1])
    assert stall.use(session_id, used_wh=4_500).amount == Decimal("4.50")

    receipt = visible(stall.get(f"/sessions/{session_id}/receipt").text)
    assert "You paid ¥4.50" in receipt
    assert "Paid ahead with WeChat Pay: ¥20.00. The ¥15.50 not used goes back to WeChat Pay by itself." in receipt
    assert "Unused part back to WeChat Pay ¥15.50 goes back by itself" in receipt

    stall.settle_money()  # the scheduler's job sends it back to the original payment
    [refund] = stall.wechat.refunds.values()
    assert (refund.out_trade_no, refund.amount) == (order_no, 1550)
    receipt = visible(stall.get(f"/sessions/{session_id}/receipt").text)
    assert "Unused part back to WeChat Pay ¥15.50 on its way" in receipt
    stall.to_wechat(stall.wechat.finish_refund(refund.out_refund_no))

    assert "Unused part back to WeChat Pay ¥15.50 arrived" in visible(stall.get(f"/sessions/{session_id}/receipt").text)
    history = visible(stall.get("/me").text)
    for line in ("Paid ahead for a session WeChat Pay", "+¥20.00", "Power used", "-¥4.50",
                 "Unused part of a session paid ahead back to WeChat Pay arrived", "-¥15.50", "balance ¥0.00"):
        assert line in history, line


def test_the_waiting_page_asks_wechat_itself_when_the_notification_is_late(stall):
    order_no = order_of_redirect(stall.start("wechat", "10.00").headers["location"])
    stall.wechat.pay(order_no)  # paid, but the notification never arrives

    state = stall.get(f"/pay/{order_no}/status").json()

    assert state["final"] is True and state["go"] == f"/pay/{order_no}"
    assert state["text"] == "Paid ¥10.00. Switching on…"
    assert "/sessions/" in stall.follow(stall.get(state["go"], follow_redirects=False)).url.path
    assert [o.action for o in stall.sink.sent] == ["close"]
    with Session(stall.engine) as db:
        assert db.exec(select(Payment)).one().session_id is not None


def test_an_order_closed_unpaid_says_nothing_was_charged(stall):
    order_no = order_of_redirect(stall.start("wechat", "10.00").headers["location"])
    stall.wechat.close_trade(order_no)

    page = stall.get(f"/pay/{order_no}")

    assert "Not paid: the order was closed and nothing was charged." in page.text
    assert f'href="/s/{stall.tokens[0]}"' in page.text  # back to the outlet
    assert stall.sink.sent == []


def test_an_amount_the_page_cannot_take_is_explained_next_to_the_way_of_paying(stall):
    page = stall.start("wechat", "0.001")
    assert page.status_code == 422 and "WeChat Pay: At most 2 decimal places" in page.text
    assert stall.wechat.trades == {}


def test_the_same_start_form_sent_twice_is_one_order_at_wechat(stall):
    page = stall.get(f"/s/{stall.tokens[0]}").text
    form = {"pay_with": "wechat", "amount_wechat": "10.00", "request_key": form_key(page, "start-form")}
    first = stall.post(f"/s/{stall.tokens[0]}/start", form)
    again = stall.post(f"/s/{stall.tokens[0]}/start", form)  # a double tap on a weak network
    assert first.headers["location"] == again.headers["location"]
    assert len(stall.wechat.trades) == 1


def test_inside_wechat_a_pay_score_hold_is_offered_as_a_hold_and_confirmed_through_the_bridge(holding_stall):
    stall = holding_stall
    stall.agent = IN_WECHAT
    scan = visible(stall.get(f"/s/{stall.tokens[0]}").text)
    assert "微信支付分（先用后付） 只冻结，不扣款" in scan and "微信支付分只是预留额度，不是扣款" in scan

    page = stall.start("wechat", "20.00")

    assert page.status_code == 200 and not english_words(page.text, NAMES)  # our page calls openBusinessView
    assert 'data-bridge="wechat_score"' in page.text and "businessType" in page.text
    [order_no] = stall.wechat.scores
    assert "package=DJIOSQPYWDxsa" + order_no in page.text.replace("%3D", "=")
    assert stall.wechat.scores[order_no].risk == 2000
    stall.to_wechat(stall.wechat.confirm_payscore(order_no))  # the vendor confirms in WeChat
    live = stall.follow(stall.get(f"/pay/{order_no}", follow_redirects=False))
    assert "微信支付分 ¥20.00：只是冻结，并未扣款" in visible(live.text)
    session_id = int(str(live.url).rsplit("/", 1)[1])
    stall.use(session_id, used_wh=12_340)

    stall.settle_money()

    assert stall.wechat.scores[order_no].total == 1234  # WeChat collects the bill only
    stall.to_wechat(stall.wechat.collect_payscore(order_no))
    receipt = stall.get(f"/sessions/{session_id}/receipt").text
    assert "微信支付分 ¥20.00：扣款 ¥12.34，解冻 ¥7.66。" in visible(receipt) and not english_words(receipt, NAMES)
    assert not english_words(stall.get("/me").text, NAMES)
    history = visible(stall.get("/me").text)
    assert "用电扣费（从冻结额度中扣款） 微信支付" in history and "-¥12.34" in history and "未从余额扣款" in history
    with Session(stall.engine) as db:
        assert db.exec(select(Refund)).all() == []  # nothing to send back: only the bill was ever taken
