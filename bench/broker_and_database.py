"""What the benchmarks share: a Mosquitto configured as `scanpower broker-config` writes it, a fresh
migrated database, a fleet of approved points, and helpers to publish a backlog and watch it drain."""
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import create_engine, func, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, select

from backend.core.db import make_engine
from backend.core.migrate import upgrade
from backend.meters.models import Reading
from backend.points.models import Meter
from backend.points.service import outlets_of_point
from backend.sessions import meter_events
from backend.sessions import service as sessions
from backend.users.models import Role, User
from billing.payments.providers import DemoProvider
from billing.payments.service import top_up
from device_gateway.embedded_broker import free_port
from device_gateway.protocol import OutletReading, Telemetry, Topics, encode, timestamp
from tests import factories


@contextmanager
def mosquitto():
    """A Mosquitto on a free port with the production settings that matter here; yields its URL."""
    folder = Path(tempfile.mkdtemp(prefix="bench-mosquitto-"))
    port = free_port()
    (folder / "mosquitto.conf").write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 10000000\n"
        "max_inflight_messages 1000\nset_tcp_nodelay true\nuser root\n")
    process = subprocess.Popen(["mosquitto", "-c", str(folder / "mosquitto.conf")], stdout=subprocess.DEVNULL,
                               stderr=subprocess.STDOUT)
    try:
        _wait(lambda: _listening(port), 10, "mosquitto to listen")
        yield f"mqtt://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def _listening(port: int) -> bool:
    import socket
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


@contextmanager
def fresh_database(url: str):
    """A new, migrated database: a throwaway PostgreSQL database beside `url`'s, or a temporary SQLite file."""
    if not url:
        path = Path(tempfile.mkdtemp(prefix="bench-db-")) / "bench.db"
        upgrade(f"sqlite:///{path}")
        yield f"sqlite:///{path}"
        return
    base = make_url(url)
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    target = base.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(target)
        yield target
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass(frozen=True)
class FleetRow:
    serial: str
    meter_id: int
    sessions: dict[int, int]  # channel → running session id (empty when idle)


def make_fleet(url: str, meters: int, outlets: int, running: bool) -> list[FleetRow]:
    """Approved, online points; with `running`, a session started on every outlet (its ack stored)."""
    engine = make_engine(url)
    rows = []
    with Session(engine, expire_on_commit=False) as db:
        applicant = factories.user(db, Role.applicant)
        started = datetime.now(UTC) - timedelta(hours=1)
        for _ in range(meters):
            point, meter = factories.active_point(db, applicant, outlets=outlets, price=Decimal("0.60"),
                                                  outlet_rated_current_a=Decimal("32"))
            running_ids = {}
            for outlet in outlets_of_point(db, point.id) if running else []:
                session = sessions.start_session(db, _vendor(db), outlet.qr_token, Decimal("0.01"), 3600)
                meter_events.command_acknowledged(db, meter, session.start_cmd_id, "close", True, None, 1_000,
                                                  started, "bench", 0)
                running_ids[outlet.channel] = session.id
            rows.append(FleetRow(meter.serial, meter.id, running_ids))
            db.commit()
    engine.dispose()
    return rows


def _vendor(db: Session) -> User:
    """A vendor with ¥50 (one per session: a session reserves its vendor's whole free balance); no password."""
    vendor = User(phone=f"1{uuid.uuid4().int % 10**10:010d}", role=Role.vendor, password_hash="-")
    db.add(vendor)
    db.flush()
    top_up(db, vendor.id, Decimal("50.00"), DemoProvider())
    return vendor


def telemetry(row: FleetRow, outlets: int, seq: int, at: datetime) -> bytes:
    """One message: every outlet's registers; relays closed with their session when the fleet is running."""
    readings = [OutletReading(ch=ch, energy_wh=1_000 + seq, power_w=3_600.0 if row.sessions else 0.0, voltage_v=221.0,
                              current_a=16.0 if row.sessions else 0.0, relay="closed" if row.sessions else "open",
                              session_id=row.sessions.get(ch)) for ch in range(1, outlets + 1)]
    return encode(Telemetry(boot_id="bench", seq=seq, ts=timestamp(at), outlets=readings))


def publish_backlog(broker: str, topics: Topics, fleet: list[FleetRow], outlets: int, per_meter: int) -> int:
    """Publish `per_meter` messages of every meter (QoS 1) and wait until the broker has them all."""
    client = _client(broker, f"bench-publisher-{uuid.uuid4().hex[:6]}", clean=True, inflight=1000)
    start = datetime.now(UTC) - timedelta(seconds=per_meter + 60)
    infos = []
    for seq in range(1, per_meter + 1):
        at = start + timedelta(seconds=seq)
        for row in fleet:
            infos.append(client.publish(topics.meter(row.serial, "telemetry"), telemetry(row, outlets, seq, at), 1))
    for info in infos:
        info.wait_for_publish(60)
    client.disconnect()
    client.loop_stop()
    return len(infos)


def prime_session(broker: str, client_id: str, filters: list[str]) -> None:
    """Leave a persistent session subscribed to `filters`, so the broker queues what comes next for it."""
    client = _client(broker, client_id, clean=False)
    done = []
    client.on_subscribe = lambda *_: done.append(True)
    client.subscribe([(f, 1) for f in filters])
    _wait(lambda: done, 10, f"{client_id} to subscribe")
    client.disconnect()
    client.loop_stop()


def _client(broker: str, client_id: str, clean: bool, inflight: int = 20) -> mqtt.Client:
    host, port = broker.removeprefix("mqtt://").split(":")
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean)
    client.max_inflight_messages_set(inflight)
    connected = []
    client.on_connect = lambda *_: connected.append(True)
    client.connect(host, int(port))
    client.loop_start()
    _wait(lambda: connected, 10, f"{client_id} to connect")
    return client


def count_readings(engine) -> int:
    with Session(engine) as db:
        return db.exec(select(func.count()).select_from(Reading)).one()


def count_meters_online(engine) -> int:
    with Session(engine) as db:
        return db.exec(select(func.count()).select_from(Meter).where(Meter.online.is_(True))).one()


def _wait(predicate: Callable[[], object], timeout: float, what: str, every: float = 0.02):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(every)
    return value


wait = _wait


def bulk_fleet(url: str, count: int, channels: int, serial_prefix: str) -> None:
    """`count` approved, active points whose meters are named like `scanpower sim` names them (PREFIX00001…).

    Written set-based, so a fleet of thousands is ready in seconds; the simulator plays their meters.
    """
    from sqlalchemy import insert

    from backend.core.clock import local_today
    from backend.points.models import MeteringPoint, Outlet, PointStatus, Purpose
    from backend.tariffs.service import ensure_default_tariffs
    engine = make_engine(url)
    with Session(engine) as db:
        applicant = factories.user(db, Role.applicant)
        tariff = ensure_default_tariffs(db)[1]
        today = local_today()
        points = db.execute(insert(MeteringPoint).returning(MeteringPoint.id), [
            dict(name=f"bench {n}", address="bench", latitude=31.3, longitude=120.6, purpose=Purpose.night_market,
                 capacity_kw=Decimal("30"), valid_from=today - timedelta(days=1),
                 valid_until=today + timedelta(days=90),
                 applicant_id=applicant.id, tariff_id=tariff.id, outlet_count=channels,
                 outlet_rated_current_a=Decimal("16"), status=PointStatus.active, status_note="",
                 created_at=datetime.now(UTC)) for n in range(count)]).scalars().all()
        meters = db.execute(insert(Meter).returning(Meter.id, Meter.point_id), [
            dict(point_id=point_id, serial=f"{serial_prefix}{n:05d}", mqtt_username=f"{serial_prefix}{n:05d}",
                 mqtt_password="bench", online=True) for n, point_id in enumerate(points, start=1)]).all()
        db.execute(insert(Outlet), [
            dict(meter_id=meter_id, point_id=point_id, channel=ch, rated_current_a=Decimal("16"),
                 qr_token=uuid.uuid4().hex) for meter_id, point_id in meters for ch in range(1, channels + 1)])
        db.commit()
    engine.dispose()
