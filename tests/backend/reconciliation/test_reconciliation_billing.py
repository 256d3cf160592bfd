"""Unattributed energy is priced by the point's tariff and billed to the applicant once."""
from decimal import Decimal

import pytest
from sqlmodel import select

from backend.reconciliation.service import (
    OverlapsBilledPeriod,
    PeriodNotOver,
    bill_key,
    bill_unattributed,
    billed_periods,
    reconcile,
)
from billing.ledger import service as ledger
from billing.ledger.models import JournalEntry
from tests.backend.reconciliation.scene import local, make_scene, run_quarters

AFTER_NOVEMBER = local(2026, 12, 2)


@pytest.fixture
def tou_scene(db):
    """Jiangsu commercial time-of-use; lights on outlet 1 at peak and at valley time, a session in between."""
    scene = make_scene(db, price=None)
    feed = scene.feed
    feed.report(local(2026, 11, 3, 20))
    run_quarters(feed, local(2026, 11, 3, 20), local(2026, 11, 3, 22), {1: 100})  # peak: 800 Wh
    feed.start(scene.vendors[0], 1, local(2026, 11, 3, 22))
    run_quarters(feed, local(2026, 11, 3, 22), local(2026, 11, 4, 1), {1: 700})  # the vendor's
    feed.stop(1, local(2026, 11, 4, 1))
    feed.report(local(2026, 11, 4, 2))
    run_quarters(feed, local(2026, 11, 4, 2), local(2026, 11, 4, 4), {1: 100})  # valley: 800 Wh
    return scene


def test_unattributed_energy_is_priced_per_period_of_the_points_tariff(db, tou_scene):
    result = reconcile(db, tou_scene.point.id, local(2026, 11, 1), local(2026, 12, 1))
    assert result.unattributed_wh == 1600 and result.balanced
    # peak 0.67 × 1.6 = 1.072 → 800 Wh ¥0.8576 → ¥0.86; valley 0.67 × 0.35 = 0.2345 → ¥0.1876 → ¥0.19
    assert [(line.period, line.energy_wh, line.amount) for line in result.unattributed_lines] == [
        ("peak", 800, Decimal("0.86")), ("valley", 800, Decimal("0.19"))]
    assert result.unattributed_amount == Decimal("1.05")


def test_billing_moves_the_amount_from_the_applicant_to_revenue_once(db, tou_scene):
    point = tou_scene.point
    first = bill_unattributed(db, point.id, local(2026, 11, 1), local(2026, 12, 1), now=AFTER_NOVEMBER)
    again = bill_unattributed(db, point.id, local(2026, 11, 1), local(2026, 12, 1), now=AFTER_NOVEMBER)
    assert first.new and not again.new and first.entry_id == again.entry_id
    assert first.amount == again.amount == Decimal("1.05")
    assert first.idempotency_key == f"unattributed:{point.id}:20261031T160000Z:20261130T160000Z"
    assert first.idempotency_key == bill_key(point.id, local(2026, 11, 1), local(2026, 12, 1))
    entries = db.exec(select(JournalEntry).where(JournalEntry.kind == "unattributed")).all()
    assert len(entries) == 1
    applicant = ledger.find_account(db, f"applicant:{tou_scene.applicant.id}")
    assert applicant.kind == "applicant_account" and applicant.user_id == tou_scene.applicant.id
    assert ledger.balance(db, applicant) == Decimal("-1.05")
    assert ledger.ledger_total(db) == 0


def test_a_period_overlapping_one_already_billed_is_refused(db, tou_scene):
    point = tou_scene.point
    bill_unattributed(db, point.id, local(2026, 11, 1), local(2026, 12, 1), now=AFTER_NOVEMBER)
    with pytest.raises(OverlapsBilledPeriod, match="billed already"):
        bill_unattributed(db, point.id, local(2026, 11, 15), local(2026, 11, 16), now=AFTER_NOVEMBER)
    october = bill_unattributed(db, point.id, local(2026, 10, 1), local(2026, 11, 1), now=AFTER_NOVEMBER)
    assert october.new and october.amount == Decimal("0.00")
    assert billed_periods(db, point.id) == [(local(2026, 10, 1), local(2026, 11, 1)),
                                            (local(2026, 11, 1), local(2026, 12, 1))]
    assert ledger.ledger_total(db) == 0


def test_a_period_that_is_not_over_is_not_billed(db, tou_scene):
    with pytest.raises(PeriodNotOver):
        bill_unattributed(db, tou_scene.point.id, local(2026, 11, 1), local(2026, 12, 1), now=local(2026, 11, 20))
    assert db.exec(select(JournalEntry).where(JournalEntry.kind == "unattributed")).first() is None
