"""PostgreSQL goes away under a streaming meter: the gateway stops acknowledging, retries, and catches up.

Always on PostgreSQL (this machine and CI run one on 127.0.0.1:5432): a dedicated database is
made unreachable with ALLOW_CONNECTIONS false and its backends terminated, which is what a
failover or a restart looks like to the gateway. SQLite has no honest equivalent.
"""
import os
import time
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from backend.core.db import make_engine
from backend.core.migrate import upgrade
from backend.sessions.models import SessionStatus
from device_gateway.rate_limit import RateLimit
from firmware_sim.loads import constant
from tests.faults.fault_harness import (
    make_site,
    published_readings,
    start_session,
    stop_session,
    wait_all_stored,
    wait_status,
    wait_until,
)

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


class DedicatedDatabase:
    def __init__(self):
        configured = os.environ.get("DATABASE_URL", "")
        server = make_url(configured if configured.startswith("postgresql") else DEFAULT_POSTGRES)
        self.name = f"sp_outage_{uuid.uuid4().hex[:10]}"
        self.url = server.set(database=self.name).render_as_string(hide_password=False)
        self._admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
        self._execute(f'CREATE DATABASE "{self.name}"')

    def go_away(self) -> None:
        self._execute(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false')
        self._execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{self.name}'")

    def come_back(self) -> None:
        self._execute(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true')

    def drop(self) -> None:
        self.come_back()
        self._execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self._admin.dispose()

    def _execute(self, sql: str) -> None:
        with self._admin.connect() as connection:
            connection.execute(text(sql))


@pytest.fixture
def database():
    dedicated = DedicatedDatabase()
    try:
        upgrade(dedicated.url)
        yield dedicated
    finally:
        dedicated.drop()


@pytest.fixture
def outage_engine(database):
    engine = make_engine(database.url)
    yield engine
    engine.dispose()


def handled(gateway) -> int:
    totals = gateway.metrics.totals()
    return sum(value for name, value in totals.items() if name.startswith("handled_"))


def outage(database, gateway) -> None:
    """Take the database away until the gateway has retried; check it applied nothing meanwhile."""
    database.go_away()
    retries = gateway.metrics.totals().get("db_retries", 0)
    wait_until(lambda: gateway.metrics.totals().get("db_retries", 0) >= retries + 2, 10, "the gateway to retry")
    before = handled(gateway)
    time.sleep(0.5)
    assert handled(gateway) == before, "the gateway applied messages while the database was away"


def streaming_session(outage_engine, commands, make_fleet):
    site = make_site(outage_engine)
    fleet = make_fleet()
    meter = fleet.add_meter(site.meter.serial, 2, loads={1: constant(25_000), 2: constant(3_600)})
    fleet.start()
    assert fleet.wait_connected(10)
    session_id = start_session(outage_engine, commands, site.vendor, site.outlets[0].qr_token)
    wait_status(outage_engine, session_id, SessionStatus.active)
    return site, fleet, meter, session_id


def settle_and_compare(outage_engine, commands, site, fleet, meter, session_id) -> None:
    stop_session(outage_engine, commands, site.vendor, session_id)
    done = wait_status(outage_engine, session_id, SessionStatus.completed)
    fleet.stop()
    wait_all_stored(outage_engine, site.meter.id, published_readings(fleet.published(site.meter.serial)))
    assert done.energy_wh == meter.metered_wh(session_id) == done.stop_register_wh - done.start_register_wh > 0


def test_the_gateway_retries_through_a_database_outage_and_catches_up(database, outage_engine, commands,
                                                                      make_fleet, start_gateway):
    gateway = start_gateway(database=outage_engine)
    site, fleet, meter, session_id = streaming_session(outage_engine, commands, make_fleet)
    time.sleep(0.5)

    outage(database, gateway)
    time.sleep(1.0)  # the meter streams on; the broker holds what the gateway has not acknowledged
    database.come_back()

    settle_and_compare(outage_engine, commands, site, fleet, meter, session_id)


def test_messages_held_through_an_outage_survive_a_gateway_restart(database, outage_engine, commands, make_fleet,
                                                                   start_gateway):
    first = start_gateway("gw-outage", database=outage_engine)
    site, fleet, meter, session_id = streaming_session(outage_engine, commands, make_fleet)
    time.sleep(0.5)

    outage(database, first)
    first.stop()  # whatever it received but could not store, it never acknowledged
    time.sleep(0.5)
    database.come_back()
    start_gateway("gw-outage", database=outage_engine)

    settle_and_compare(outage_engine, commands, site, fleet, meter, session_id)


def test_a_broker_restart_during_a_database_outage_loses_nothing(database, outage_engine, mosquitto, commands,
                                                                 make_fleet, start_gateway):
    gateway = start_gateway(database=outage_engine)
    site, fleet, meter, session_id = streaming_session(outage_engine, commands, make_fleet)
    time.sleep(0.5)

    outage(database, gateway)
    mosquitto.restart(down_for=0.5)  # what the gateway holds unacknowledged comes again on the new connection
    assert gateway.wait_connected(15), "the gateway did not reconnect"
    assert fleet.wait_connected(15), "the meter did not reconnect"
    database.come_back()

    settle_and_compare(outage_engine, commands, site, fleet, meter, session_id)
    # Messages of the first connection were stored but acknowledged only through their redelivery.
    assert gateway.metrics.totals().get("acks_skipped", 0) > 0


def test_what_waited_through_an_outage_is_not_taken_for_a_flood(database, outage_engine, make_fleet, start_gateway):
    limit = RateLimit(per_second=12, burst=10)  # the meter's 8 messages/s are within it, its backlog is not
    gateway = start_gateway(database=outage_engine, rate_limit=limit)
    site = make_site(outage_engine)
    fleet = make_fleet(active_interval=0.125, idle_interval=0.125, tick=0.025)
    fleet.add_meter(site.meter.serial, 2)
    fleet.start()
    assert fleet.wait_connected(10)
    time.sleep(1.0)

    outage(database, gateway)
    time.sleep(5.0)  # ~40 messages: the broker's in-flight window (20) reaches the gateway, the rest wait
    database.come_back()
    wait_until(lambda: not gateway.catching_up(), 20, "the gateway to drain what waited")
    fleet.stop()

    wait_all_stored(outage_engine, site.meter.id, published_readings(fleet.published(site.meter.serial)))
    assert gateway.metrics.totals().get("dropped", 0) == 0
