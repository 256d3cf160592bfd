"""A whole session paid with Alipay through the pages: paid ahead on Alipay's WAP cashier in a phone's browser,
frozen with 资金预授权 inside Alipay; what is not used goes back to Alipay, or is unfrozen, by itself."""
from decimal import Decimal

from tests.pages.paying.conftest import IN_ALIPAY, visible


def test_a_session_paid_ahead_on_alipays_cashier_runs_and_its_unused_part_goes_back_by_itself(stall):
    answer = stall.start("alipay", "15.00")

    assert answer.status_code == 303 and answer.headers["location"].startswith(stall.alipay.gateway)
    trade = stall.alipay.open_pay_url(answer.headers["location"])  # Alipay checks our signature on the URL
    assert trade.total == Decimal("15.00")
    stall.to_alipay(stall.alipay.pay(trade.out_trade_no))
    # Alipay's cashier sends the phone back to our return_url with the order's number.
    back = stall.get(f"/pay/return?out_trade_no={trade.out_trade_no}&trade_no=2026", follow_redirects=False)
    live = stall.follow(back)
    session_id = int(str(live.url).rsplit("/", 1)[1])
    stall.use(session_id, used_wh=2_000)

    stall.settle_money()

    assert [r.amount for r in stall.alipay.refunds.values()] == [Decimal("13.00")]
    receipt = visible(stall.get(f"/sessions/{session_id}/receipt").text)
    assert "Paid ahead with Alipay: ¥15.00." in receipt and "Unused part back to Alipay ¥13.00 arrived" in receipt
    history = visible(stall.get("/me").text)
    assert "Paid ahead for a session Alipay" in history and "back to Alipay arrived" in history


def test_paid_but_the_outlet_was_taken_meanwhile_all_of_it_goes_back_by_itself(stall):
    trade = stall.alipay.open_pay_url(stall.start("alipay", "15.00").headers["location"])
    assert stall.start("card", "10.00").status_code == 303  # a card session takes the outlet meanwhile

    stall.to_alipay(stall.alipay.pay(trade.out_trade_no))
    page = stall.get(f"/pay/{trade.out_trade_no}")

    assert "Paid, but the session could not start" in page.text
    assert "All of the ¥15.00 goes back to Alipay by itself." in page.text
    stall.settle_money()
    assert [r.amount for r in stall.alipay.refunds.values()] == [Decimal("15.00")]


def test_inside_alipay_a_pre_authorisation_is_frozen_through_the_bridge_and_only_the_bill_is_paid(holding_stall):
    stall = holding_stall
    stall.agent = IN_ALIPAY
    assert "支付宝资金预授权 只冻结，不扣款" in visible(stall.get(f"/s/{stall.tokens[0]}").text)

    page = stall.start("alipay", "30.00")

    assert page.status_code == 200 and 'data-bridge="alipay_trade"' in page.text  # my.tradePay({orderStr})
    order_str = page.text.split('"orderStr": "', 1)[1].split('"', 1)[0].encode().decode("unicode_escape")
    freeze = stall.alipay.open_freeze(order_str)  # Alipay checks our signature on the freeze
    assert freeze.amount == Decimal("30.00")
    waiting = visible(stall.get(f"/pay/{freeze.out_order_no}").text)
    assert "请在支付宝中确认 ¥30.00 的支付宝资金预授权。这只是冻结，不是扣款。" in waiting
    stall.to_alipay(stall.alipay.confirm_freeze(freeze.out_order_no))
    live = stall.follow(stall.get(f"/pay/{freeze.out_order_no}", follow_redirects=False))
    session_id = int(str(live.url).rsplit("/", 1)[1])
    stall.use(session_id, used_wh=12_340)

    stall.settle_money()

    assert stall.alipay.trades[f"{freeze.out_order_no}p"].total == Decimal("12.34")
    assert stall.alipay.unfrozen == [(freeze.out_order_no, Decimal("17.66"))]
    receipt = visible(stall.get(f"/sessions/{session_id}/receipt").text)
    assert "支付宝资金预授权 ¥30.00：扣款 ¥12.34，解冻 ¥17.66。" in receipt
    assert "用电扣费（从冻结额度中扣款） 支付宝" in visible(stall.get("/me").text)


def test_outside_alipay_a_pre_authorisation_cannot_be_confirmed_so_alipay_is_paid_ahead_instead(holding_stall):
    stall = holding_stall
    scan = visible(stall.get(f"/s/{stall.tokens[0]}").text)
    assert "先用支付宝预付，用电结束后未用完的部分自动原路退回支付宝。" in scan and "支付宝资金预授权" not in scan

    answer = stall.start("alipay", "10.00")

    assert answer.status_code == 303 and answer.headers["location"].startswith(stall.alipay.gateway)
    assert stall.alipay.freezes == {}
