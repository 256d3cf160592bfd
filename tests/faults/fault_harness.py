"""Real processes for fault tests — Mosquitto and `python -m scanpower.cli gateway` — and the ground-truth checks."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from sqlmodel import Session, select

from backend.core.db import unit_of_work
from backend.meters.models import Reading
from backend.points.models import Meter, Outlet
from backend.points.service import outlets_of_point
from backend.sessions import service as sessions
from backend.sessions.models import SessionStatus, UsageSession
from backend.users.models import Role, User
from device_gateway.protocol import Message, Telemetry
from tests import factories

REPO = Path(__file__).resolve().parents[2]
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
STOP_TIMEOUT_S = 10
MIN_START_BALANCE = Decimal("0.01")
# 125 A outlets (28.75 kW), so loads of many Wh per second are plausible to the settlement's register rules.
OUTLET_RATED_CURRENT_A = Decimal("125")


def wait_until(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
    return value


def _end(process: subprocess.Popen | None, sig: int = signal.SIGTERM) -> None:
    """End a process we started, by its pid; SIGKILL if it does not stop in time."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(STOP_TIMEOUT_S)


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


class MosquittoProcess:
    """A Mosquitto of our own on a fixed port, with on-disk persistence, that can be restarted."""

    def __init__(self, folder: Path, port: int):
        self.folder = folder
        self.port = port
        self.log = folder / "mosquitto.log"
        self._process: subprocess.Popen | None = None
        self._config = folder / "mosquitto.conf"
        self._config.write_text(
            f"listener {port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {folder}/\n"
            "autosave_interval 1\n"
            # As `scanpower broker-config` writes it: the default (1000) silently drops what waits for the gateway.
            "max_queued_messages 1000000\n"
            "max_inflight_messages 1000\n"
            f"log_dest file {self.log}\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
            "user root\n"  # only used when started as root: keeps the temp folder writable
        )

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._process = subprocess.Popen([MOSQUITTO, "-c", str(self._config)], stdout=subprocess.DEVNULL,
                                         stderr=subprocess.STDOUT)
        wait_until(lambda: _listening(self.port) or self._process.poll() is not None, 10, "mosquitto to listen")
        if self._process.poll() is not None:
            raise RuntimeError(f"mosquitto exited with {self._process.returncode}: {self.tail()}")

    def stop(self) -> None:
        """SIGTERM: Mosquitto writes its persistence file and exits."""
        _end(self._process)

    def restart(self, down_for: float = 0.0) -> None:
        self.stop()
        time.sleep(down_for)
        self.start()

    def tail(self) -> str:
        return self.log.read_text()[-2000:] if self.log.exists() else ""


class GatewayProcess:
    """`python -m scanpower.cli gateway` in its own process, as deployed."""

    command = "gateway"

    def __init__(self, folder: Path, database_url: str, mqtt_url: str, prefix: str, client_id: str,
                 **settings: str):
        self.folder = folder
        self.log = folder / f"{self.command}.log"
        self.env = {**os.environ, "DATABASE_URL": database_url, "MQTT_URL": mqtt_url,
                    "MQTT_TOPIC_PREFIX": prefix, "GATEWAY_CLIENT_ID": client_id, "GATEWAY_SHARE_GROUP": "",
                    "LOG_LEVEL": "INFO", "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
        self.env |= {name.upper(): value for name, value in settings.items()}
        self._process: subprocess.Popen | None = None
        self._connects_before = 0

    def start(self) -> None:
        self._connects_before = self._connects()
        with self.log.open("a") as log:
            self._process = subprocess.Popen([sys.executable, "-m", "scanpower.cli", self.command], env=self.env,
                                             cwd=self.folder, stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL)

    def wait_connected(self, timeout: float = 20, times: int = 1) -> None:
        """Wait for this run's `times`-th successful connection to the broker."""
        def connected() -> bool:
            if self._process.poll() is not None:
                raise AssertionError(f"gateway exited with {self._process.returncode}:\n{self.tail()}")
            return self._connects() - self._connects_before >= times
        wait_until(connected, timeout, f"the gateway to connect ({times}×)\n{self.tail()}")

    def kill(self) -> None:
        """SIGKILL: no clean-up at all, as in a crash or an OOM kill."""
        self._process.kill()
        self._process.wait(STOP_TIMEOUT_S)

    def stop(self) -> None:
        _end(self._process)

    def tail(self) -> str:
        return self.log.read_text()[-3000:] if self.log.exists() else ""

    def _connects(self) -> int:
        return self.log.read_text().count("gateway connected to") if self.log.exists() else 0


class SchedulerProcess(GatewayProcess):
    """`python -m scanpower.cli scheduler`: the scheduled jobs in a process of their own."""

    command = "scheduler"

    def wait_running(self, timeout: float = 20) -> None:
        def running() -> bool:
            if self._process.poll() is not None:
                raise AssertionError(f"scheduler exited with {self._process.returncode}:\n{self.tail()}")
            return "scheduler " in (self.log.read_text() if self.log.exists() else "")
        wait_until(running, timeout, f"the scheduler to start\n{self.tail()}")


@dataclass(frozen=True, order=True)
class StoredReading:
    boot_id: str
    seq: int
    channel: int
    energy_wh: int


def published_readings(messages: list[Message]) -> list[StoredReading]:
    """Each outlet reading the meter gave the network, once per (boot, seq, channel)."""
    readings = {StoredReading(m.boot_id, m.seq, o.ch, o.energy_wh)
                for m in messages if isinstance(m, Telemetry) for o in m.outlets}
    return sorted(readings)


def stored_readings(engine, meter_id: int) -> list[StoredReading]:
    with Session(engine) as db:
        rows = db.exec(select(Reading).where(Reading.meter_id == meter_id)).all()
    return sorted(StoredReading(r.boot_id, r.seq, r.channel, r.energy_wh) for r in rows)


def wait_all_stored(engine, meter_id: int, expected: list[StoredReading], timeout: float = 20) -> None:
    """Wait until the platform holds as many readings as were published, then compare them exactly."""
    wait_until(lambda: len(stored_readings(engine, meter_id)) >= len(expected), timeout,
               f"{len(expected)} readings to be stored")
    stored = stored_readings(engine, meter_id)
    missing, extra = sorted(set(expected) - set(stored)), sorted(set(stored) - set(expected))
    assert not missing and not extra, f"missing {missing[:5]}…, unexpected {extra[:5]}…"
    assert stored == expected, "a reading was stored more than once"


def session_row(engine, session_id: int) -> UsageSession:
    with Session(engine) as db:
        return db.get(UsageSession, session_id)


@dataclass(frozen=True)
class Site:
    """A point whose meter the simulator plays, and a vendor with money."""

    meter: Meter
    outlets: list[Outlet]
    vendor: User


def make_site(engine, balance: Decimal = Decimal("50.00")) -> Site:
    with Session(engine, expire_on_commit=False) as db:
        point, meter = factories.active_point(db, outlets=2, capacity_kw=Decimal("60"),
                                              outlet_rated_current_a=OUTLET_RATED_CURRENT_A)
        vendor = factories.user(db, Role.vendor, balance)
        outlets = outlets_of_point(db, point.id)
        db.commit()
    return Site(meter, outlets, vendor)


def start_session(engine, sink, vendor, outlet_token: str, command_timeout: int = 30) -> int:
    """What the API does when a vendor presses Start: a unit of work, then the close command."""
    with unit_of_work(engine, sink) as db:
        return sessions.start_session(db, vendor, outlet_token, MIN_START_BALANCE, command_timeout).id


def stop_session(engine, sink, vendor, session_id: int, command_timeout: int = 30) -> None:
    with unit_of_work(engine, sink) as db:
        sessions.request_stop(db, vendor, session_id, command_timeout)


def wait_status(engine, session_id: int, status: SessionStatus, timeout: float = 15) -> UsageSession:
    return wait_until(lambda: (s := session_row(engine, session_id)).status == status and s, timeout,
                      f"session {session_id} to be {status.value}")
