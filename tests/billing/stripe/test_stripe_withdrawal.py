"""余额原路退回: wallet money goes back to the cards it came from."""
from decimal import Decimal

import pytest

from billing.ledger.service import ledger_total
from billing.payments.service import top_up
from billing.payments.withdrawals import CannotWithdraw, withdraw
from billing.wallet.service import wallet_balance


def test_withdrawal_refunds_the_newest_card_top_ups_first(db, vendor, provider, stripe_api):
    first = top_up(db, vendor.id, Decimal("30.00"), provider)
    second = top_up(db, vendor.id, Decimal("20.00"), provider)
    withdraw(db, vendor.id, Decimal("25.00"), provider)
    refunded = {p.external_id: sum(r["amount"] for r in stripe_api.refunds(p.external_id)) for p in (first, second)}
    assert refunded == {second.external_id: 2000, first.external_id: 500}
    assert wallet_balance(db, vendor.id) == Decimal("25.00")
    assert ledger_total(db) == 0


def test_money_that_did_not_come_from_a_card_cannot_go_back_to_one(db, vendor, provider):
    top_up(db, vendor.id, Decimal("10.00"), provider)
    with pytest.raises(CannotWithdraw, match="only ¥10.00"):
        withdraw(db, vendor.id, Decimal("15.00"), provider)
