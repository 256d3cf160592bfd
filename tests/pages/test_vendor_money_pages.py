"""The vendor's money on the pages: ways to pay, a card hold worded as a hold, withdrawal, history, receipts."""
from decimal import Decimal

from backend.pages.i18n import use_locale
from backend.pages.payment_choices import WALLET, payment_choices
from billing.payments.interface import Capabilities
from backend.pages.session_words import payment_words
from billing.payments.models import Hold, HoldStatus
from billing.payments.providers import DemoProvider, Providers
from billing.wallet.service import wallet_balance


class CardProvider(DemoProvider):
    """A provider that says it can hold money at once, as Stripe's card holds can."""

    name = "stripe"
    capabilities = Capabilities(instant=True, hold=True, refund=True, statement=False)


class AppHoldProvider(DemoProvider):
    """A provider whose holds are confirmed in its app (WeChat Pay's 支付分): not offered on the scan page's form."""

    name = "wechat"
    capabilities = Capabilities(instant=False, hold=True, refund=True, statement=True)


def test_the_wallet_is_always_a_way_to_pay_and_a_hold_where_a_provider_can_place_one_at_once():
    assert [c.code for c in payment_choices(Providers(DemoProvider()))] == [WALLET]
    assert [c.code for c in payment_choices(Providers(DemoProvider(), CardProvider()))] == [WALLET, "card"]
    assert [c.code for c in payment_choices(Providers(AppHoldProvider()))] == [WALLET]


def test_a_card_hold_reads_as_a_hold_until_it_is_captured():
    with use_locale("en"):
        _card_hold_words()
    with use_locale("zh_CN"):
        assert "只是冻结，并未扣款" in payment_words(Hold(user_id=1, external_id="pi", amount=Decimal("9")))


def _card_hold_words():
    hold = Hold(user_id=1, external_id="pi_1", amount=Decimal("50.00"))
    assert "not charged" in payment_words(hold) and "Card hold of ¥50.00" in payment_words(hold)
    captured = Hold(user_id=1, external_id="pi_1", amount=Decimal("50.00"), status=HoldStatus.captured,
                    captured_amount=Decimal("3.20"))
    assert payment_words(captured) == "Card hold of ¥50.00: ¥3.20 charged, ¥46.80 released."
    waiting = Hold(user_id=1, provider="wechat", external_id="o_1", amount=Decimal("20.00"), status=HoldStatus.pending)
    assert payment_words(waiting) == "WeChat Pay hold of ¥20.00: waiting for you to confirm it in the app."
    assert payment_words(None) == "Paid from your balance."


def test_asking_for_a_card_hold_where_none_can_be_placed_says_to_pay_from_the_balance(vendor, world, db):
    page = vendor.post(f"/s/{world.tokens[0]}/start", data={"pay_with": "card", "hold_amount": "30"})
    assert page.status_code == 409
    assert "This way of paying is not available here. Pay from your balance instead." in page.text
    bad = vendor.post(f"/s/{world.tokens[0]}/start", data={"pay_with": "card", "hold_amount": "0.001"})
    assert bad.status_code == 422 and "Card hold: At most 2 decimal places." in bad.text
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
