"""The meter-flooding alarm: opened once, its worst rate kept, closed when the meter calms down."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from backend.alarms import flooding
from backend.alarms import service as alarms
from backend.alarms.rules import AlarmKind
from backend.meters.service import OutletSample
from backend.meters.ingest import record_telemetry
from tests import factories

T0 = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)
LIMIT = Decimal("20")


def test_a_flood_opens_one_alarm_on_the_point_and_calm_closes_it(db):
    point, meter = factories.active_point(db)
    first = flooding.flooding(db, meter, T0, LIMIT, 900)
    again = flooding.flooding(db, meter, T0 + timedelta(seconds=5), LIMIT, 4000)
    assert first.id == again.id and (again.kind, again.point_id, again.channel) == (AlarmKind.meter_flooding,
                                                                                 point.id, None)
    assert (again.worst_value, again.limit_value, again.opened_at) == (Decimal(4000), LIMIT, T0)
    assert "20 messages/s" in again.message
    assert flooding.flooding_meter_ids(alarms.open_alarms(db)) == {meter.id}

    closed = flooding.calmed(db, meter, T0 + timedelta(minutes=1), 100)
    assert closed.closed_at == T0 + timedelta(minutes=1) and closed.worst_value == Decimal(4000)
    assert alarms.open_alarms(db) == []
    assert flooding.flooding(db, meter, T0 + timedelta(minutes=5), LIMIT, 50).id != first.id  # a new flood


def test_power_quality_telemetry_leaves_a_flooding_alarm_alone(db):
    _, meter = factories.active_point(db)
    alarm = flooding.flooding(db, meter, T0, LIMIT, 900)
    for second in range(5):
        sample = OutletSample(channel=1, energy_wh=1000, power_w=0.0, voltage_v=220.0, current_a=0.0,
                              relay_closed=False, session_id=None)
        record_telemetry(db, meter, "boot-1", second, T0 + timedelta(seconds=second), [sample])
        alarms.evaluate_telemetry(db, meter, T0 + timedelta(seconds=second), [sample])
    assert alarm.closed_at is None


def test_a_starting_gateway_closes_floods_it_knows_nothing_about(db):
    _, meter = factories.active_point(db)
    flooding.flooding(db, meter, T0, LIMIT, 900)
    assert flooding.close_every_flooding_alarm(db, T0 + timedelta(hours=1)) == 1
    assert flooding.open_flooding_alarm(db, meter.id) is None
