"""The gateway's flood episodes become alarms: opened once, raised as the rate climbs, closed when calm."""
from sqlmodel import Session, col, select

from backend.alarms.models import Alarm
from backend.alarms.rules import AlarmKind
from backend.meters.orders import RecordingSink
from device_gateway.flood_alarms import FloodAlarms
from device_gateway.flood_watch import FloodWatch
from tests import factories

CALM = 5.0


def flooding_alarms(engine) -> list[Alarm]:
    with Session(engine) as db:
        query = select(Alarm).where(Alarm.kind == AlarmKind.meter_flooding).order_by(col(Alarm.id))
        return list(db.exec(query))


def test_an_episode_opens_raises_and_closes_one_alarm_and_a_new_flood_opens_another(engine):
    with Session(engine, expire_on_commit=False) as db:
        _, meter = factories.active_point(db)
        db.commit()
    watch, alarms = FloodWatch(CALM), FloodAlarms(engine, RecordingSink(), 20)
    for index in range(30):
        watch.observe(meter.serial, 100.0 + index / 100, admitted=index < 5)
    alarms.update(watch, 100.5)
    [opened] = flooding_alarms(engine)
    assert (opened.worst_value, opened.limit_value, opened.closed_at) == (25, 20, None)  # from the first drop

    for index in range(50):
        watch.observe(meter.serial, 102.0 + index / 100, admitted=False)
    alarms.update(watch, 102.6)
    alarms.update(watch, 102.7)  # the same figures again change nothing
    [raised] = flooding_alarms(engine)
    assert raised.id == opened.id and raised.worst_value == 50

    alarms.update(watch, 102.49 + CALM + 0.1)
    [closed] = flooding_alarms(engine)
    assert closed.closed_at is not None

    watch.observe(meter.serial, 200.0, admitted=False)
    alarms.update(watch, 200.1)
    assert [a.closed_at is None for a in flooding_alarms(engine)] == [False, True]


def test_a_flood_from_a_serial_no_meter_has_raises_no_alarm(engine):
    watch, alarms = FloodWatch(CALM), FloodAlarms(engine, RecordingSink(), 20)
    watch.observe("NOPE0001", 1.0, admitted=False)
    alarms.update(watch, 1.5)
    alarms.update(watch, 10.0)
    assert flooding_alarms(engine) == []
