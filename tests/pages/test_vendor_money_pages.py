"""The vendor's money on the pages: ways to pay, a hold worded as a hold, withdrawal, history, receipts."""
from decimal import Decimal

from backend.pages.client_app import ALIPAY, WECHAT, app_of
from backend.pages.i18n import use_locale
from backend.pages.money_words import hold_words, payment_words
from backend.pages.payment_choices import HOLD, PREPAY, WALLET, session_choices, top_up_choices, top_up_offer
from backend.payments.trail import SessionMoney
from billing.payments.interface import Capabilities
from billing.payments.models import Hold, HoldStatus
from billing.payments.providers import DemoProvider, Providers
from billing.wallet.service import wallet_balance


class CardProvider(DemoProvider):
    """A provider that says it can hold money at once, as Stripe's card holds can."""

    name = "stripe"
    capabilities = Capabilities(instant=True, hold=True, refund=True, statement=False)


class AppHoldProvider(DemoProvider):
    """A provider whose holds are confirmed in its app (WeChat Pay's 支付分)."""

    name = "wechat"
    capabilities = Capabilities(instant=False, hold=True, refund=True, statement=True)


class AppProvider(DemoProvider):
    """A provider paid in its app that cannot hold (Alipay without 资金预授权)."""

    name = "alipay"
    capabilities = Capabilities(instant=False, hold=False, refund=True, statement=True)


def ways(providers: Providers, app: str | None) -> list[tuple[str, str]]:
    return [(c.code, c.way) for c in session_choices(providers, app)]


def test_the_wallet_is_always_a_way_to_pay_and_each_provider_joins_as_it_can_pay_here():
    assert ways(Providers(DemoProvider()), None) == [(WALLET, WALLET)]
    assert ways(Providers(DemoProvider(), CardProvider()), None) == [(WALLET, WALLET), ("card", HOLD)]
    everything = Providers(CardProvider(), AppHoldProvider(), AppProvider())
    # In a phone's browser a 支付分 hold cannot be confirmed: WeChat Pay is paid ahead there (H5).
    assert ways(everything, None) == [(WALLET, WALLET), ("card", HOLD), ("wechat", PREPAY), ("alipay", PREPAY)]
    # Inside WeChat, 支付分 holds; inside Alipay, WeChat's H5 payment still opens, Alipay without 预授权 pays ahead.
    assert ways(everything, WECHAT) == [(WALLET, WALLET), ("card", HOLD), ("wechat", HOLD), ("alipay", PREPAY)]
    assert ways(everything, ALIPAY) == [(WALLET, WALLET), ("card", HOLD), ("wechat", PREPAY), ("alipay", PREPAY)]


def test_inside_wechat_a_payment_needs_the_payers_openid_so_wechat_pay_ahead_is_not_offered_there():
    paid_ahead = Providers(AppProvider(), type("WeChat", (AppProvider,), {"name": "wechat"})())
    assert ways(paid_ahead, WECHAT) == [(WALLET, WALLET), ("alipay", PREPAY)]
    assert [c.code for c in top_up_choices(paid_ahead, WECHAT)] == ["alipay"]
    assert [c.code for c in top_up_choices(paid_ahead, None)] == ["wechat", "alipay"]
    assert top_up_offer(Providers(DemoProvider()), None) == []  # the demo: the page offers no choice
    wechat_only = Providers(type("WeChat", (AppProvider,), {"name": "wechat"})())
    assert top_up_offer(wechat_only, WECHAT) is None  # nothing takes a top-up inside WeChat: the form says so


def test_the_app_a_page_is_open_in_is_read_from_its_user_agent():
    assert app_of("Mozilla/5.0 (iPhone) AppleWebKit Mobile/15E148 MicroMessenger/8.0.47 NetType/4G") == WECHAT
    assert app_of("Mozilla/5.0 (Linux; Android 13) AlipayDefined(nt:4G) AliApp(AP/10.5.36) AlipayClient/10.5") == ALIPAY
    assert app_of("Mozilla/5.0 (Linux; Android 13) Chrome/120 Mobile Safari/537.36") is None
    assert app_of(None) is None


def test_a_hold_reads_as_a_hold_until_it_is_captured():
    with use_locale("en"):
        _hold_words()
    with use_locale("zh_CN"):
        assert "只是冻结，并未扣款" in hold_words(Hold(user_id=1, external_id="pi", amount=Decimal("9")))
        waiting = Hold(user_id=1, provider="wechat", external_id="o", amount=Decimal("20"), status=HoldStatus.pending)
        assert hold_words(waiting).startswith("微信支付分")


def _hold_words():
    hold = Hold(user_id=1, external_id="pi_1", amount=Decimal("50.00"))
    assert "not charged" in hold_words(hold) and "Card hold of ¥50.00" in hold_words(hold)
    captured = Hold(user_id=1, external_id="pi_1", amount=Decimal("50.00"), status=HoldStatus.captured,
                    captured_amount=Decimal("3.20"))
    assert hold_words(captured) == "Card hold of ¥50.00: ¥3.20 charged, ¥46.80 released."
    waiting = Hold(user_id=1, provider="wechat", external_id="o_1", amount=Decimal("20.00"), status=HoldStatus.pending)
    assert hold_words(waiting) == "WeChat Pay Score hold of ¥20.00: waiting for you to confirm it in the app."
    wallet = SessionMoney(None, None, None, [], Decimal("0.00"), Decimal("0.00"))
    assert payment_words(wallet) == "Paid from your balance."


def test_asking_for_a_way_to_pay_the_page_does_not_offer_is_refused_plainly(vendor, world, db):
    page = vendor.post(f"/s/{world.tokens[0]}/start", data={"pay_with": "card", "amount_card": "30"})
    assert page.status_code == 409
    assert "This way of paying is not available here. Choose one of the ways to pay this page offers." in page.text
    assert world.sink.sent == []


def test_withdrawing_the_free_balance_empties_it_once_per_form(vendor, world, db):
    form = vendor.get("/wallet/withdraw")
    assert "Withdraw ¥50.00" in form.text
    key = form.text.split('name="request_key" value="')[1].split('"')[0]
    first = vendor.post("/wallet/withdraw", data={"request_key": key}, follow_redirects=True)
    assert "¥50.00 is on its way back the way it came." in first.text
    again = vendor.post("/wallet/withdraw", data={"request_key": key}, follow_redirects=True)
    assert again.status_code == 200 and "¥50.00 is on its way back" in again.text  # the same answer, no new money
    assert wallet_balance(db, world.vendor_id) == Decimal("0.00")
    assert "Nothing is free to withdraw right now." in vendor.get("/wallet/withdraw").text
    assert "Withdrawal" in vendor.get("/me").text


def test_a_running_session_keeps_its_money_from_being_withdrawn(vendor, world, session_on):
    session_on.start(world.vendor_id)
    page = vendor.get("/wallet/withdraw").text
    assert "stays for your running sessions until they end" in page


def test_the_history_lists_money_in_and_out_with_the_balance_after(vendor, world, session_on):
    done = session_on.start(world.vendor_id)
    session_on.finish(done, register_wh=121_000)  # 1 kWh at ¥0.67
    page = vendor.get("/me").text
    assert "Power used" in page and "-¥0.67" in page and "balance ¥49.33" in page
    assert f'href="/sessions/{done}/receipt"' in page


def test_the_receipt_puts_the_money_first_and_folds_the_registers_away(vendor, world, session_on):
    done = session_on.start(world.vendor_id)
    session_on.finish(done, register_wh=121_000)
    page = vendor.get(f"/sessions/{done}/receipt").text
    assert page.index("You paid") < page.index("How the meter measured it") < page.index("Start register")
    assert '<details class="register-detail">' in page and "Call 95598" in page


def test_the_live_figures_are_worded_for_polling_and_events(vendor, world, session_on):
    running = session_on.start(world.vendor_id)
    session_on.read(running, 120_250, 1500.0)
    figures = vendor.get(f"/sessions/{running}/figures").json()
    assert figures["status_text"] == "Power on" and figures["energy"] == "0.250 kWh"
    assert figures["amount_label"] == "Cost so far" and figures["final"] is False
    session_on.finish(running, register_wh=120_500)
    done = vendor.get(f"/sessions/{running}/figures").json()
    assert done["amount_label"] == "Cost" and done["receipt"] == f"/sessions/{running}/receipt"


def test_the_event_stream_sends_the_figures_and_ends_when_the_session_did(vendor, world, session_on):
    running = session_on.start(world.vendor_id)
    session_on.finish(running, register_wh=120_400)
    with vendor.stream("GET", f"/sessions/{running}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        body = "".join(stream.iter_text())
    assert body.startswith("retry: ") and '"status":"completed"' in body and '"final":true' in body


def test_another_vendor_cannot_watch_the_stream(other_vendor, world, session_on):
    running = session_on.start(world.vendor_id)
    assert other_vendor.get(f"/sessions/{running}/events").status_code == 404
    assert other_vendor.get(f"/sessions/{running}/figures").status_code == 404
