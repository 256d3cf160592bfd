"""A DL/T 645 outlet's register counts 10 Wh: its steps bill exactly, and a meter that let more through than the
limit puts the session under review with a bill capped at what the money bought."""
from datetime import timedelta
from decimal import Decimal

from backend.core.clock import utcnow
from backend.meters.ingest import record_telemetry
from backend.meters.orders import pending_orders
from backend.meters.register_rules import DLT645_REGISTER, Reading, StepKind, billable_energy, classify_step
from backend.meters.service import OutletSample
from backend.points import service as points
from backend.sessions import meter_events
from backend.sessions import service as sessions
from backend.users.models import Role
from billing.ledger.service import ledger_total
from tests import factories

T0 = utcnow()


def test_a_10_wh_step_in_two_seconds_is_normal_for_a_dlt645_register_and_impossible_for_whole_wh():
    before, after = Reading("b", 1, T0, 1_000), Reading("b", 2, T0 + timedelta(seconds=2), 1_010)
    assert classify_step(before, after, Decimal("3680"), **DLT645_REGISTER.options()).kind is StepKind.NORMAL
    assert classify_step(before, after, Decimal("3680")).kind is StepKind.IMPOSSIBLE_JUMP


def test_a_short_dlt645_session_bills_its_whole_register_delta():
    readings = [Reading("b", i, T0 + timedelta(seconds=2 * i), 1_000 + 10 * (i // 3)) for i in range(12)]
    verdict = billable_energy(readings, Decimal("3680"), **DLT645_REGISTER.options())
    assert (verdict.billable_wh, verdict.anomalies) == (30, ())


def test_more_than_the_limit_is_flagged_and_the_bill_stays_within_the_money(db):
    point, meter = factories.active_point(db, outlets=1, outlet_rated_current_a=Decimal("16"))
    outlet = points.outlets_of_point(db, point.id)[0]
    outlet.register_step_wh, outlet.register_rollover_wh = DLT645_REGISTER.step_wh, DLT645_REGISTER.rollover_wh
    vendor = factories.user(db, Role.vendor, Decimal("2.00"))
    session = sessions.start_session(db, vendor, outlet.qr_token, Decimal("1.00"), 30)
    pending_orders(db)
    start = utcnow() - timedelta(hours=2)
    meter_events.command_acknowledged(db, meter, session.start_cmd_id, "close", True, None, 50_000, start, "b", 1)
    beyond = 50_000 + session.energy_limit_wh + 500
    record_telemetry(db, meter, "b", 2, start + timedelta(hours=1), [
        OutletSample(1, beyond - 10, 3000.0, 220.0, 13.6, True, session.id)])
    meter_events.ended_by_meter(db, meter, 1, session.id, "limit_reached", beyond,
                                start + timedelta(hours=1, seconds=2), "b", 3)
    assert session.energy_wh == beyond - 50_000
    assert session.needs_review and "more than the session's limit" in session.review_note
    assert session.amount <= session.max_amount
    assert ledger_total(db) == 0


def test_a_session_within_its_limit_is_not_flagged(db):
    point, meter = factories.active_point(db, outlets=1)
    outlet = points.outlets_of_point(db, point.id)[0]
    vendor = factories.user(db, Role.vendor, Decimal("2.00"))
    session = sessions.start_session(db, vendor, outlet.qr_token, Decimal("1.00"), 30)
    pending_orders(db)
    start = utcnow() - timedelta(hours=2)
    meter_events.command_acknowledged(db, meter, session.start_cmd_id, "close", True, None, 1_000, start, "b", 1)
    meter_events.ended_by_meter(db, meter, 1, session.id, "limit_reached", 1_000 + session.energy_limit_wh,
                                start + timedelta(hours=1), "b", 2)
    assert not session.needs_review, session.review_note
