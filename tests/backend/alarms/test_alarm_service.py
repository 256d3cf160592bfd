"""Alarms opened and closed by telemetry stored the way the gateway stores it, on a real database."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from backend.alarms import service as alarms
from backend.alarms.models import Alarm, AlarmWatch
from backend.alarms.rules import AlarmKind
from backend.meters.service import OutletSample
from backend.meters.ingest import record_telemetry
from backend.points.models import Meter
from tests import factories

T0 = datetime(2026, 5, 10, 2, 0, tzinfo=UTC)
_seq = iter(range(10**6))


def report(db: Session, meter: Meter, second: float, *outlets: tuple[float, float]) -> list[Alarm]:
    """One telemetry message (volts, amps per outlet) at T0 + second, stored then evaluated as the gateway will."""
    at = T0 + timedelta(seconds=second)
    samples = [OutletSample(channel=ch, energy_wh=1000, power_w=round(v * a, 1), voltage_v=v, current_a=a,
                            relay_closed=a > 0, session_id=None) for ch, (v, a) in enumerate(outlets, start=1)]
    record_telemetry(db, meter, "boot-1", next(_seq), at, samples)
    return alarms.evaluate_telemetry(db, meter, at, samples)


def all_alarms(db: Session) -> list[Alarm]:
    return list(db.exec(select(Alarm).order_by(Alarm.id)))


def watches(db: Session) -> list[AlarmWatch]:
    return list(db.exec(select(AlarmWatch)))


@pytest.fixture
def scene(db):
    return factories.active_point(db, outlets=2, capacity_kw=Decimal("10"))


def test_healthy_telemetry_stores_no_alarm_and_no_state(db, scene):
    _, meter = scene
    for second in range(10):
        report(db, meter, second, (221.3, 6.7), (219.8, 0))
    assert all_alarms(db) == [] and watches(db) == []


def test_16_a_outlet_at_18_a_sustained_opens_one_overload_then_closes(db, scene):
    point, meter = scene
    for second in range(5):
        report(db, meter, second, (220, 18), (220, 0))
    report(db, meter, 5, (220, 18.4), (220, 0))
    for second in range(6, 9):
        report(db, meter, second, (220, 10), (220, 0))
    (alarm,) = all_alarms(db)
    assert (alarm.point_id, alarm.meter_id, alarm.channel, alarm.kind) == (point.id, meter.id, 1,
                                                                           AlarmKind.outlet_overload)
    assert alarm.opened_at == T0 and alarm.closed_at == T0 + timedelta(seconds=6)
    assert (alarm.worst_value, alarm.limit_value) == (Decimal("18.4"), Decimal("16"))
    assert "16 A" in alarm.message
    assert watches(db) == []


def test_one_noisy_sample_opens_nothing(db, scene):
    _, meter = scene
    for second, volts in enumerate([220, 250, 220, 251, 252, 220, 220, 220]):
        report(db, meter, second, (volts, 1), (220, 0))
    assert all_alarms(db) == [] and watches(db) == []


def test_10_kw_point_drawing_11_kw_opens_a_point_level_alarm(db):
    _, meter = factories.active_point(db, outlets=2, capacity_kw=Decimal("10"),
                                      outlet_rated_current_a=Decimal("32"))
    for second in range(3):
        report(db, meter, second, (220, 25), (220, 25))  # 5.5 kW each
    (alarm,) = alarms.open_alarms(db)
    assert (alarm.kind, alarm.channel) == (AlarmKind.point_over_capacity, None)
    assert (alarm.worst_value, alarm.limit_value) == (Decimal("11"), Decimal("10"))


def test_over_voltage_is_raised_per_outlet(db, scene):
    _, meter = scene
    for second in range(3):
        report(db, meter, second, (240, 1), (240, 0))
    assert {(a.kind, a.channel) for a in alarms.open_alarms(db)} == {(AlarmKind.over_voltage, 1),
                                                                     (AlarmKind.over_voltage, 2)}


def test_counting_survives_a_restart_between_messages(engine):
    with Session(engine, expire_on_commit=False) as db:
        _, meter = factories.active_point(db, outlets=1)
        db.commit()
    for second in range(3):
        with Session(engine, expire_on_commit=False) as db:  # a new worker process each time
            report(db, db.get(Meter, meter.id), second, (190, 1))
            db.commit()
    with Session(engine) as db:
        (alarm,) = alarms.open_alarms(db)
        assert (alarm.kind, alarm.opened_at, alarm.worst_value) == (AlarmKind.under_voltage, T0, Decimal("190"))


def test_a_repeated_or_late_message_is_not_counted_twice(db, scene):
    _, meter = scene
    for _ in range(3):
        report(db, meter, 0, (250, 1), (220, 0))
    report(db, meter, -5, (250, 1), (220, 0))
    assert all_alarms(db) == []
    (watch,) = watches(db)
    assert watch.run == 1


def test_zero_volts_everywhere_is_one_outage_for_the_point(db, scene):
    _, meter = scene
    for second in range(4):
        report(db, meter, second, (0, 0), (0.4, 0))
    for second in range(4, 7):
        report(db, meter, second, (220, 0), (220, 0))
    (alarm,) = all_alarms(db)
    assert (alarm.kind, alarm.channel, alarm.opened_at, alarm.closed_at) == (
        AlarmKind.supply_lost, None, T0, T0 + timedelta(seconds=4))


def test_meter_reported_loss_opens_at_once_and_telemetry_agrees(db, scene):
    point, meter = scene
    opened = alarms.supply_lost(db, meter, T0)
    assert opened.kind == AlarmKind.supply_lost and opened.closed_at is None
    assert alarms.supply_lost(db, meter, T0 + timedelta(seconds=1)).id == opened.id  # one outage, not two
    report(db, meter, 2, (0, 0), (0, 0))
    report(db, meter, 3600, (220, 0), (220, 0))
    report(db, meter, 3601, (220, 0), (220, 0))
    assert alarms.open_alarms(db) == [opened]
    report(db, meter, 3602, (220, 0), (220, 0))
    assert opened.closed_at == T0 + timedelta(hours=1)
    assert alarms.alarms_of_point(db, point.id) == [opened]


def test_supply_restored_closes_the_outage(db, scene):
    _, meter = scene
    opened = alarms.supply_lost(db, meter, T0)
    closed = alarms.supply_restored(db, meter, T0 + timedelta(minutes=30))
    assert closed.id == opened.id and closed.closed_at == T0 + timedelta(minutes=30)
    assert alarms.supply_restored(db, meter, T0 + timedelta(hours=1)) is None
    assert watches(db) == []


def test_a_repeated_loss_report_after_restoration_opens_no_new_outage(db, scene):
    _, meter = scene
    first = alarms.supply_lost(db, meter, T0)
    alarms.supply_restored(db, meter, T0 + timedelta(minutes=10))
    assert alarms.supply_lost(db, meter, T0).id == first.id  # QoS 1 redelivery of the same event
    assert alarms.open_alarms(db) == []
    second = alarms.supply_lost(db, meter, T0 + timedelta(hours=1))
    assert second.id != first.id and alarms.open_alarms(db) == [second]


def test_database_refuses_a_second_open_alarm_of_one_kind(db, scene):
    point, meter = scene
    alarms.supply_lost(db, meter, T0)
    db.add(Alarm(point_id=point.id, meter_id=meter.id, channel=None, kind=AlarmKind.supply_lost, opened_at=T0,
                 limit_value=Decimal("22"), message="duplicate"))
    with pytest.raises(IntegrityError):
        db.flush()


def outage(db, meter, start: datetime, end: datetime | None):
    alarms.supply_lost(db, meter, start)
    if end is not None:
        alarms.supply_restored(db, meter, end)


def test_outage_hours_are_clipped_to_the_period(db, scene):
    point, meter = scene
    day = datetime(2026, 5, 1, tzinfo=UTC)
    outage(db, meter, day - timedelta(hours=3), day + timedelta(hours=2))  # 2 h inside
    outage(db, meter, day + timedelta(hours=10), day + timedelta(hours=10, minutes=45))  # 0.75 h
    outage(db, meter, day + timedelta(days=1, hours=1), day + timedelta(days=1, hours=5))  # after the period
    outage(db, meter, day + timedelta(hours=23), None)  # still open: until the end of the period
    assert alarms.outage_hours(db, point.id, day, day + timedelta(days=1), now=day + timedelta(days=2)) == 3.75


def test_reliability_averages_outage_hours_over_points_in_service(db):
    (first, meter), (second, _) = factories.active_point(db), factories.active_point(db)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    outage(db, meter, start + timedelta(hours=1), start + timedelta(hours=4))
    figure = alarms.reliability(db, start, start + timedelta(days=1), now=start + timedelta(days=1))
    mine = {p.point_id: p for p in figure.per_point}
    assert mine[first.id].outage_hours == 3 and mine[first.id].outages == 1
    assert mine[second.id].outage_hours == 0
    assert (figure.points, figure.total_outage_hours, figure.average_outage_hours) == (2, 3, 1.5)
    assert figure.availability == pytest.approx(1 - 1.5 / 24)
    assert figure.per_point[0].point_id == first.id  # the worst point first


def test_a_period_must_be_forward_and_carry_an_offset(db):
    with pytest.raises(alarms.InvalidPeriod):
        alarms.reliability(db, T0, T0)
    with pytest.raises(alarms.InvalidPeriod):
        alarms.reliability(db, T0.replace(tzinfo=None), T0.replace(tzinfo=None) + timedelta(days=1))
