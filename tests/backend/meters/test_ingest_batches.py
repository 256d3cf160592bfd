"""Telemetry stored by the batch means the same as message by message: same rows, same sessions, same alarms."""
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event
from sqlmodel import Session, func, select

from backend.core.clock import utcnow
from backend.meters.ingest import LaneMemory, TelemetryIn, record_telemetry, store_telemetry
from backend.meters.models import Reading
from backend.meters.service import OutletSample
from backend.points import service as points
from backend.sessions import meter_events
from backend.sessions import service as sessions
from backend.sessions.models import SessionStatus, UsageSession
from backend.users.models import Role
from tests import factories

T0 = utcnow() - timedelta(hours=2)


def sample(ch, wh, session_id=None, closed=True, volts=228.0):
    return OutletSample(ch, wh, 1500.0 if closed else 0.0, volts, 6.5 if closed else 0.0, closed, session_id)


@pytest.fixture
def site(db):
    """Two meters, one of them with a session running on outlet 1."""
    made = []
    for _ in range(2):
        point, meter = factories.active_point(db, outlets=2, price=Decimal("1.00"))
        made.append((meter, points.outlets_of_point(db, point.id)))
    vendor = factories.user(db, Role.vendor, Decimal("50.00"))
    (meter, outlets), _ = made
    session = sessions.start_session(db, vendor, outlets[0].qr_token, Decimal("1.00"), 30)
    meter_events.command_acknowledged(db, meter, session.start_cmd_id, "close", True, None, 1_000, T0, "b", 0)
    db.commit()
    return made, session


def traffic(site, sid):
    """Interleaved telemetry of both meters, with a repeat, a reset of meter A's register and a voltage dip."""
    (a, _), (b, _) = site
    messages = []
    for n in range(1, 11):
        at = T0 + timedelta(minutes=n)
        boot, register = ("b", 1_000 + 20 * n) if n < 6 else ("b2", 20 * (n - 6))
        messages.append(TelemetryIn(a.serial, boot, n, at, (sample(1, register, sid), sample(2, 500, closed=False))))
        messages.append(TelemetryIn(b.serial, "x", n, at, (sample(1, 7_000 + n, closed=False, volts=150.0),)))
    messages.insert(5, messages[2])  # a repeat
    return messages


def snapshot(db, session_id):
    session = db.get(UsageSession, session_id, populate_existing=True)
    readings = db.exec(select(func.count()).select_from(Reading)).one()
    from backend.alarms.models import Alarm
    alarms = sorted((a.kind, a.channel) for a in db.exec(select(Alarm)))
    return (readings, session.live_energy_wh, session.latest_amount, session.needs_review, session.latest_seq,
            alarms)


def test_one_batch_means_what_the_same_messages_mean_one_by_one(engine, site):
    made, session = site
    messages = traffic(made, session.id)
    with Session(engine) as db:
        result = store_telemetry(db, messages)
        db.commit()
        batched = snapshot(db, session.id)
        db.rollback()
    assert result.new_readings == 30 and result.unknown == []
    # The same messages again, one per transaction, on a twin database state: undo and replay.
    with Session(engine) as db:
        db.exec(Reading.__table__.delete())
        from backend.alarms.models import Alarm, AlarmWatch
        db.exec(AlarmWatch.__table__.delete())
        db.exec(Alarm.__table__.delete())
        live = db.get(UsageSession, session.id)
        live.latest_boot_id = live.latest_seq = live.live_energy_wh = live.live_billed_to_wh = None
        live.needs_review, live.review_note = False, None
        db.commit()
    for message in messages:
        with Session(engine) as db:
            meter = next(m for m, _ in made if m.serial == message.serial)
            record_telemetry(db, db.merge(meter), message.boot_id, message.seq, message.at, list(message.samples))
            db.commit()
    with Session(engine) as db:
        assert snapshot(db, session.id) == batched
    assert batched[1] == 100 + 80 and batched[3] is True  # 100 Wh before the reset, 80 after; flagged


def test_unknown_meters_are_handed_back_and_the_rest_is_stored(engine, site):
    made, _ = site
    (a, _), _ = made
    stray = TelemetryIn("SP99999999", "z", 1, T0, (sample(1, 5),))
    with Session(engine) as db:
        result = store_telemetry(db, [stray, TelemetryIn(a.serial, "b", 50, T0, (sample(2, 600, closed=False),))])
        db.commit()
    assert result.unknown == [stray] and result.new_readings == 1


def test_a_relay_seen_open_mid_batch_ends_the_session(engine, site):
    made, session = site
    (a, _), _ = made
    messages = [TelemetryIn(a.serial, "b", 1, T0 + timedelta(minutes=10), (sample(1, 1_200, session.id),)),
                TelemetryIn(a.serial, "b", 2, T0 + timedelta(minutes=20), (sample(1, 1_300, None, closed=False),)),
                TelemetryIn(a.serial, "b", 3, T0 + timedelta(minutes=30), (sample(1, 1_300, None, closed=False),))]
    with Session(engine) as db:
        store_telemetry(db, messages)
        db.commit()
        done = db.get(UsageSession, session.id)
        assert (done.status, done.energy_wh, done.stop_register_wh) == (SessionStatus.completed, 300, 1_300)


def _store_one(engine, lane, message) -> UsageSession:
    with Session(engine, expire_on_commit=False) as db:
        store_telemetry(db, [message], lane)
        db.commit()
        return db.exec(select(UsageSession)).first()


def reading(meter, seq, wh, sid, boot="b"):
    return TelemetryIn(meter.serial, boot, seq, T0 + timedelta(minutes=seq), (sample(1, wh, sid),))


def test_a_lane_goes_on_counting_in_memory_between_writes(engine, site):
    made, session = site
    (a, _), _ = made
    lane = LaneMemory(every_s=3600)
    assert _store_one(engine, lane, reading(a, 1, 1_010, session.id)).live_energy_wh == 10  # the first is written
    for seq, wh in [(2, 1_030), (3, 1_060)]:
        row = _store_one(engine, lane, reading(a, seq, wh, session.id))
        assert row.live_energy_wh == 10  # written at most once an hour here
    assert lane.counted(row).energy_wh == 60 and lane.counted(row).last.seq == 3
    lane.every_s = 0
    row = _store_one(engine, lane, reading(a, 4, 1_100, session.id))
    assert (row.live_energy_wh, row.latest_seq, row.latest_register_wh) == (100, 4, 1_100)


def test_a_lane_starts_again_from_the_row_when_someone_else_wrote_it(engine, site):
    made, session = site
    (a, _), _ = made
    lane = LaneMemory(every_s=3600)
    _store_one(engine, lane, reading(a, 1, 1_010, session.id))
    row = _store_one(engine, lane, reading(a, 2, 1_030, session.id))
    assert lane.counted(row).energy_wh == 30
    with Session(engine) as db:  # another gateway counted seq 3 and wrote it
        other = db.get(UsageSession, session.id)
        other.latest_seq, other.latest_register_wh, other.live_energy_wh, other.live_billed_to_wh = 3, 1_050, 50, 1_050
        db.commit()
    with Session(engine) as db:
        assert lane.counted(db.get(UsageSession, session.id)) is None
    lane.every_s = 0
    row = _store_one(engine, lane, reading(a, 4, 1_070, session.id))
    assert row.live_energy_wh == 70  # from the row's 50, not from memory's 30


def test_a_batch_rolled_back_leaves_the_lanes_memory_as_it_was(engine, site):
    made, session = site
    (a, _), _ = made
    lane = LaneMemory(every_s=3600)
    row = _store_one(engine, lane, reading(a, 1, 1_010, session.id))
    counted = lane.counted(row)
    with Session(engine) as db:
        store_telemetry(db, [reading(a, 2, 1_030, session.id)], lane)
        db.rollback()
    assert lane.counted(row) is counted and counted.energy_wh == 10


def test_a_lane_reads_what_its_meters_points_can_carry_once(engine, site):
    made, session = site
    (a, _), (b, _) = made
    statements = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    lane = LaneMemory()
    for seq in (1, 2):
        statements.clear()
        _store_one(engine, lane, TelemetryIn(b.serial, "x", seq, T0 + timedelta(minutes=seq),
                                             (sample(1, 7_000 + seq, closed=False, volts=150.0),)))
        reads = [s for s in statements if "FROM metering_point" in s or "FROM outlet" in s]
        assert len(reads) == (2 if seq == 1 else 0), reads
    assert set(lane.supplies) == {b.id}
    with Session(engine) as db:  # the dip is still seen: the supply kept is the one the alarms use
        from backend.alarms.models import AlarmWatch
        assert db.exec(select(AlarmWatch).where(AlarmWatch.meter_id == b.id)).first() is not None
