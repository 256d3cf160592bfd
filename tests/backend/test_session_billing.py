"""Sessions priced per tariff period from the meter's readings, end to end through the services."""
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from backend.core.clock import utcnow
from backend.meters.orders import pending_orders
from backend.meters.service import OutletSample
from backend.meters.ingest import record_telemetry
from backend.points import service as points
from backend.sessions import meter_events, settlement
from backend.sessions import service as sessions
from backend.sessions.receipts import receipt
from backend.tariffs.service import change_tariff, ensure_default_tariffs
from backend.users.models import Role
from billing.ledger.service import ledger_total
from billing.wallet.service import wallet_balance
from tests import factories

SHANGHAI = ZoneInfo("Asia/Shanghai")


def run_session(db, meter, outlet, vendor, start: datetime, stop: datetime, wh_per_quarter: int, register=10_000):
    """Start, a reading at every quarter hour on the clock, stop; registers rise by wh_per_quarter."""
    session = sessions.start_session(db, vendor, outlet.qr_token, Decimal("1.00"), 30)
    pending_orders(db)
    meter_events.command_acknowledged(db, meter, session.start_cmd_id, "close", True, None, register, start, "b1", 1)
    moment, seq = start, 2
    while (moment := _next_quarter(moment)) < stop:
        reading = register + wh_per_quarter * int((moment - start).total_seconds()) // 900
        record_telemetry(db, meter, "b1", seq, moment, [OutletSample(outlet.channel, reading, 4000, 228, 17.5, True,
                                                                      session.id)])
        seq += 1
    sessions.request_stop(db, vendor, session.id, 30)
    stop_cmd = pending_orders(db)[0].cmd_id
    final = register + wh_per_quarter * int((stop - start).total_seconds()) // 900
    meter_events.command_acknowledged(db, meter, stop_cmd, "open", True, None, final, stop, "b1", seq)
    return session


def _next_quarter(moment: datetime) -> datetime:
    return moment.replace(minute=moment.minute // 15 * 15, second=0, microsecond=0) + timedelta(minutes=15)


@pytest.fixture
def scene(db):
    point, meter = factories.active_point(db, outlets=1, outlet_rated_current_a=Decimal("32"))
    vendor = factories.user(db, Role.vendor, Decimal("100.00"))
    return point, meter, points.outlets_of_point(db, point.id)[0], vendor


def test_session_spanning_2130_to_2330_in_july_is_peak_then_flat(db, scene):
    _, meter, outlet, vendor = scene
    start = datetime(2026, 7, 15, 21, 30, tzinfo=SHANGHAI)
    session = run_session(db, meter, outlet, vendor, start, start + timedelta(hours=2), 1000)
    lines = [(line.period, line.energy_wh, line.amount) for line in receipt(db, session).lines]
    # 21:30–22:00 at peak (0.67 × 1.6 = 1.072), 22:00–23:30 flat (0.67); each line rounded once.
    assert lines == [("peak", 2000, Decimal("2.14")), ("flat", 6000, Decimal("4.02"))]
    assert session.energy_wh == 8000 == session.stop_register_wh - session.start_register_wh
    assert session.amount == Decimal("6.16")
    assert wallet_balance(db, vendor.id) == Decimal("93.84")
    assert ledger_total(db) == 0


def test_receipt_hint_compares_with_valley_hours(db, scene):
    _, meter, outlet, vendor = scene
    start = datetime(2026, 7, 15, 21, 30, tzinfo=SHANGHAI)
    session = run_session(db, meter, outlet, vendor, start, start + timedelta(hours=2), 1000)
    explained = receipt(db, session)
    # valley = 0.67 × 0.35 = 0.2345/kWh: 2 kWh → 0.47 and 6 kWh → 1.41, rounded per line
    assert "¥1.88 instead of ¥6.16" in explained.hint_en
    assert "¥1.88" in explained.hint_zh


def test_session_across_a_tariff_change_is_split_at_it(db, scene):
    point, meter, outlet, vendor = scene
    tariff = ensure_default_tariffs(db)[0]  # agricultural, flat
    point.tariff_id = tariff.id
    document = factories_document(tariff)
    document["versions"].append({"label": "2027", "effective_from": "2027-01-01", "price_per_kwh": "0.6000"})
    change_tariff(db, tariff.id, document, utcnow())
    start = datetime(2026, 12, 31, 23, 0, tzinfo=SHANGHAI)
    session = run_session(db, meter, outlet, vendor, start, start + timedelta(hours=2), 900)
    lines = [(line.version, line.energy_wh, line.unit_price, line.amount) for line in receipt(db, session).lines]
    assert lines == [("2025-01-01", 3600, Decimal("0.5090"), Decimal("1.83")),
                     ("2027", 3600, Decimal("0.6000"), Decimal("2.16"))]


def factories_document(tariff) -> dict:
    import json
    return json.loads(tariff.definition)


def test_versions_already_in_effect_cannot_be_rewritten(db):
    tariff = ensure_default_tariffs(db)[0]
    document = factories_document(tariff)
    document["versions"][0]["price_per_kwh"] = "0.1000"
    with pytest.raises(Exception, match="already in effect"):
        change_tariff(db, tariff.id, document, utcnow())


def test_service_fee_is_billed_as_its_own_line(db):
    point, meter = factories.active_point(db, outlets=1, price=Decimal("0.5000"),
                                          outlet_rated_current_a=Decimal("32"))
    point_tariff = factories.flat_tariff(db, Decimal("0.5000"), {"per_kwh": "0.1000", "per_session": "0.50"})
    point.tariff_id = point_tariff.id
    vendor = factories.user(db, Role.vendor, Decimal("50.00"))
    start = datetime(2026, 5, 1, 10, 0, tzinfo=SHANGHAI)
    session = run_session(db, meter, points.outlets_of_point(db, point.id)[0], vendor, start,
                          start + timedelta(hours=1), 1000)
    explained = receipt(db, session)
    assert sorted((line.kind, line.period, line.amount) for line in explained.lines) == [
        ("energy", "all_day", Decimal("2.00")), ("service_fee", "per_kwh", Decimal("0.40")),
        ("service_fee", "per_session", Decimal("0.50"))]
    assert explained.total == session.amount == Decimal("2.90")
    assert explained.service_fee_amount == Decimal("0.90")


def test_irrigation_receipt_shows_water_by_the_coefficient_in_effect(db):
    from datetime import date

    from backend.points.water import WaterCoefficientWrite, add_coefficient
    from backend.points.models import Purpose
    point, meter = factories.active_point(db, outlets=1, purpose=Purpose.irrigation,
                                          outlet_rated_current_a=Decimal("32"))
    add_coefficient(db, point, WaterCoefficientWrite(m3_per_kwh=Decimal("2.5"), effective_from=date(2026, 1, 1)))
    add_coefficient(db, point, WaterCoefficientWrite(m3_per_kwh=Decimal("3.1"), effective_from=date(2026, 5, 1)))
    vendor = factories.user(db, Role.vendor, Decimal("50.00"))
    start = datetime(2026, 4, 20, 6, 0, tzinfo=SHANGHAI)
    session = run_session(db, meter, points.outlets_of_point(db, point.id)[0], vendor, start,
                          start + timedelta(hours=1), 1500)
    explained = receipt(db, session)
    assert (explained.m3_per_kwh, explained.water_m3) == (Decimal("2.5"), Decimal("15.00"))  # 6 kWh × 2.5


def test_water_coefficients_belong_to_irrigation_points(db):
    from datetime import date

    from backend.points.water import NotAnIrrigationPoint, WaterCoefficientWrite, add_coefficient
    point, _ = factories.active_point(db)
    with pytest.raises(NotAnIrrigationPoint):
        add_coefficient(db, point, WaterCoefficientWrite(m3_per_kwh=Decimal("2"), effective_from=date(2026, 1, 1)))


def test_a_late_reading_after_settlement_posts_an_adjustment_and_keeps_the_original_lines(db, scene):
    _, meter, outlet, vendor = scene
    start = datetime(2026, 7, 15, 21, 30, tzinfo=SHANGHAI)
    stop = start + timedelta(hours=2)
    session = sessions.start_session(db, vendor, outlet.qr_token, Decimal("1.00"), 30)
    pending_orders(db)
    meter_events.command_acknowledged(db, meter, session.start_cmd_id, "close", True, None, 10_000, start, "b1", 1)
    sessions.request_stop(db, vendor, session.id, 30)
    meter_events.command_acknowledged(db, meter, pending_orders(db)[0].cmd_id, "open", True, None, 18_000, stop,
                                      "b1", 9)
    # Without readings in between, the 8 kWh are spread evenly: 2 kWh peak, 6 kWh flat.
    assert session.amount == Decimal("6.16")
    # The meter's backlog then shows 4 kWh (an 8 kW pump) were used before 22:00, at peak.
    late = OutletSample(outlet.channel, 14_000, 8000, 228, 35, True, session.id)
    assert record_telemetry(db, meter, "b1", 5, start + timedelta(minutes=30), [late]) == 1
    assert record_telemetry(db, meter, "b1", 5, start + timedelta(minutes=30), [late]) == 0  # repeated: nothing
    settlement.reprice_late_sessions(db, utcnow() + timedelta(seconds=10))  # the scheduler, once readings stop
    explained = receipt(db, session)
    kinds = [(line.kind, line.period, line.amount) for line in explained.lines]
    assert kinds == [("energy", "peak", Decimal("2.14")), ("energy", "flat", Decimal("4.02")),
                     ("adjustment", "late_reading", Decimal("0.81"))]  # 4.29 + 2.68 = 6.97 = 6.16 + 0.81
    assert session.amount == Decimal("6.16") and explained.total == Decimal("6.97")
    assert wallet_balance(db, vendor.id) == Decimal("100.00") - Decimal("6.97")
    assert ledger_total(db) == 0


def test_an_operator_refunds_a_wallet_paid_session_in_parts_never_more_than_it_cost(db, scene):
    from backend.sessions.refunds import RefundNotPossible, refund_session
    _, meter, outlet, vendor = scene
    start = datetime(2026, 7, 15, 21, 30, tzinfo=SHANGHAI)
    session = run_session(db, meter, outlet, vendor, start, start + timedelta(hours=2), 1000)
    assert refund_session(db, session, Decimal("1.00"), "meter fault reported by the vendor", None) == Decimal("1.00")
    assert refund_session(db, session, None, "goodwill", None) == Decimal("5.16")
    with pytest.raises(RefundNotPossible, match="¥0.00"):
        refund_session(db, session, Decimal("0.01"), "again", None)
    assert receipt(db, session).refunded == Decimal("6.16")
    assert wallet_balance(db, vendor.id) == Decimal("100.00")
    assert ledger_total(db) == 0


def test_a_wells_monthly_statement_shows_the_water_beside_the_energy(db):
    from datetime import date

    from backend.points.models import Purpose
    from backend.points.water import WaterCoefficientWrite, add_coefficient
    from backend.reconciliation.service import statement
    from backend.reconciliation.statement_csv import statement_csv
    point, meter = factories.active_point(db, outlets=1, purpose=Purpose.irrigation,
                                          outlet_rated_current_a=Decimal("32"))
    add_coefficient(db, point, WaterCoefficientWrite(m3_per_kwh=Decimal("2.5"), effective_from=date(2026, 1, 1)))
    vendor = factories.user(db, Role.vendor, Decimal("50.00"))
    start = datetime(2026, 4, 20, 6, 0, tzinfo=SHANGHAI)
    run_session(db, meter, points.outlets_of_point(db, point.id)[0], vendor, start, start + timedelta(hours=1), 1500)
    found = statement(db, point, "2026-04")
    assert found.session_water_m3 == Decimal("15.00")  # 6 kWh × 2.5 m³/kWh
    assert "15.00" in statement_csv(found, {})
