"""One meter floods its own topics with its own credentials; another meter's readings and session carry on.

The flood comes from its own process (tests/faults/flooder.py), 10,000 messages as fast as paho can
publish them; the gateway runs in this process so its counters can be read. The figures this test
prints (pytest -s) are the ones docs/security.md keeps under "One meter cannot starve the others".
"""
import json
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

import pytest
from sqlmodel import Session, col, func, select

from backend.alarms.models import Alarm
from backend.alarms.rules import AlarmKind
from backend.meters.models import SAMPLE_CHARS, QuarantineEntry, Reading, RejectionKind
from backend.sessions.models import SessionStatus
from firmware_sim.loads import constant
from tests.faults.fault_harness import (
    REPO,
    make_site,
    published_readings,
    start_session,
    stop_session,
    stored_readings,
    wait_all_stored,
    wait_status,
    wait_until,
)

FLOOD = 10_000
READING_DELAY_LIMIT_S = 5.0  # the "stored within seconds"; measured: under 2 s
START_LIMIT_S = 5.0
CALM_S = 3.0  # how soon the flooding alarm closes once the flood is over (production: 60 s)


class Flood:
    """tests/faults/flooder.py in its own process."""

    def __init__(self, broker_url: str, serial: str, prefix: str, kind: str):
        command = [sys.executable, "-m", "tests.faults.flooder", broker_url, serial, prefix, "--count", str(FLOOD),
                   "--kind", kind]
        self._process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True)

    def finish(self) -> dict:
        out, _ = self._process.communicate(timeout=60)
        assert self._process.returncode == 0, f"the flooder failed: {out}"
        return json.loads(out)

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait(10)


class ReceiveRate:
    """Samples the gateway's `received` counter, to tell how fast it got through the flood."""

    def __init__(self, gateway):
        self._gateway = gateway
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.samples.append((time.monotonic(), self._gateway.metrics.totals().get("received", 0)))

    def per_second(self) -> int:
        """Messages per second from the first message of the flood to the last."""
        self._stop.set()
        self._thread.join()
        begun = next(t for t, n in self.samples if n > self.samples[0][1])
        last = self.samples[-1][1]
        ended = next(t for t, n in self.samples if n == last)
        return round((last - self.samples[0][1]) / max(ended - begun, 0.02))


def flooder_account(engine, serial: str, meter_id: int) -> dict[str, int]:
    """Where each flood message went: quarantined by kind, or stored as a reading."""
    with Session(engine) as db:
        rows = db.exec(select(QuarantineEntry).where(QuarantineEntry.source == serial)).all()
        stored = db.exec(select(func.count()).select_from(Reading).where(Reading.meter_id == meter_id)).one()
    return {r.kind: r.count for r in rows} | {"stored": stored}


def flooding_alarms(engine, meter_id: int) -> list[Alarm]:
    with Session(engine) as db:
        query = select(Alarm).where(Alarm.meter_id == meter_id, Alarm.kind == AlarmKind.meter_flooding)
        return list(db.exec(query.order_by(col(Alarm.id))))


def reading_delays(engine, meter_id: int, since: datetime, until: datetime) -> list[float]:
    """Seconds from each reading's meter time to its storing, for readings the meter took in [since, until]."""
    with Session(engine) as db:
        rows = db.exec(select(Reading).where(Reading.meter_id == meter_id)).all()
    inside = [r for r in rows if since <= r.device_time.replace(tzinfo=UTC) <= until]
    return sorted((r.received_at - r.device_time).total_seconds() for r in inside)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("kind", ["junk", "valid"])
def test_a_meter_flooding_its_own_topics_does_not_starve_another(kind, engine, site, mosquitto, topics, commands,
                                                                  make_fleet, start_gateway):
    gateway = start_gateway(flood_calm_seconds=CALM_S)
    bad = make_site(engine)
    fleet = make_fleet(active_interval=0.25, idle_interval=0.25)
    meter = fleet.add_meter(site.meter.serial, 2, loads={1: constant(3_600)})
    fleet.start()
    assert fleet.wait_connected(10)
    wait_until(lambda: stored_readings(engine, site.meter.id), 10, "the good meter's first reading")

    since, began = datetime.now(UTC), time.monotonic()
    rate = ReceiveRate(gateway)
    flood = Flood(mosquitto.url, bad.meter.serial, topics.prefix, kind)
    try:
        wait_until(lambda: gateway.metrics.totals().get("dropped", 0) + gateway.metrics.totals().get("rejected", 0)
                   > 500, 30, "the flood to reach the gateway")
        asked = time.monotonic()
        session_id = start_session(engine, commands, site.vendor, site.outlets[0].qr_token)
        wait_status(engine, session_id, SessionStatus.active, timeout=START_LIMIT_S)
        started_in = time.monotonic() - asked
        published = flood.finish()
    finally:
        flood.stop()
    wait_until(lambda: sum(flooder_account(engine, bad.meter.serial, bad.meter.id).values()) >= FLOOD, 60,
               "every flood message to be stored or quarantined")
    drained_in, until = time.monotonic() - began, datetime.now(UTC)
    per_second = rate.per_second()
    time.sleep(1.0)
    stop_session(engine, commands, site.vendor, session_id)
    done = wait_status(engine, session_id, SessionStatus.completed)
    fleet.stop()

    # The good meter: every reading stored, each within seconds of being taken, its session billed to the Wh.
    wait_all_stored(engine, site.meter.id, published_readings(fleet.published(site.meter.serial)))
    delays = reading_delays(engine, site.meter.id, since, until)
    assert delays and delays[-1] < READING_DELAY_LIMIT_S, f"readings waited up to {delays[-1]:.2f} s"
    assert done.energy_wh == meter.metered_wh(session_id) == done.stop_register_wh - done.start_register_wh > 0

    # The flood: every message accounted for once, most dropped unread, in a quarantine of a few rows.
    account = flooder_account(engine, bad.meter.serial, bad.meter.id)
    assert sum(account.values()) == FLOOD == published["sent"]
    assert account[RejectionKind.rate_limited] > FLOOD / 2
    assert set(account) <= {RejectionKind.rate_limited, RejectionKind.bad_message, "stored"}
    with Session(engine) as db:
        rows = db.exec(select(QuarantineEntry)).all()
    assert len(rows) <= 2
    assert all(len(r.first_payload) <= SAMPLE_CHARS and len(r.last_payload) <= SAMPLE_CHARS for r in rows)
    assert gateway.metrics.snapshot()[("dropped", "rate_limited")] == account[RejectionKind.rate_limited]

    # Operators see it: an alarm on the flooding meter, closed once it is quiet again. (A broker that stalls
    # longer than CALM_S, saving its queue to disk, splits the flood in two: then there are two alarms.)
    wait_until(lambda: all(a.closed_at for a in flooding_alarms(engine, bad.meter.id)), CALM_S + 10,
               "the flooding alarm to close")
    alarms = flooding_alarms(engine, bad.meter.id)
    assert 1 <= len(alarms) == gateway.metrics.totals()["floods"]
    assert max(a.worst_value for a in alarms) > alarms[0].limit_value == gateway.rate_limit.per_second
    assert flooding_alarms(engine, site.meter.id) == []

    print(f"\nflood of {FLOOD} {kind} messages: published in {published['seconds']:.2f} s, "
          f"all accounted for after {drained_in:.2f} s, gateway received {per_second} msg/s; "
          f"good meter: readings stored after at most {delays[-1]:.2f} s (median {delays[len(delays) // 2]:.3f} s), "
          f"session started in {started_in:.2f} s; flood: {dict(account)}")
