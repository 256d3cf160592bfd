"""A DTU writes only its own `up` and reads only its own `down`; the DL/T 645 bridge reads every `up` and writes every
`down` — on a real Mosquitto and on the embedded broker, with users from the database and one AccessPolicy."""
import secrets
from decimal import Decimal

import pytest

from backend.dtu.models import DtuCommission
from backend.dtu.service import commission, dtus_for_broker
from backend.users.models import Role
from device_gateway.broker_config import (AccessPolicy, PlatformRole, PlatformUser, broker_credentials,
                                          meters_for_broker, write_broker_config)
from device_gateway.embedded_broker import EmbeddedBroker, free_port
from tests import factories
from tests.device_gateway.security.test_broker_acl import TOPICS, Account, Probe, start_mosquitto


@pytest.fixture(params=["mosquitto", "embedded"])
def dtus(request, db, tmp_path):
    """Two commissioned DTUs, the bridge's platform account and a meter, on a fresh broker of each kind."""
    applicant, operator = factories.user(db, Role.applicant), factories.user(db, Role.operator)
    accounts = {}
    for name in ("DTU-A", "DTU-B"):
        point, _ = factories.active_point(db, applicant, outlets=1, capacity_kw=Decimal("10"))
        commission(db, point.id, DtuCommission(dtu_id=name, channels=[{"channel": 1, "address": "000000000001"}]),
                   operator)
    db.commit()
    bridge = PlatformUser("scanpower-dlt645", secrets.token_urlsafe(16), PlatformRole.dlt645)
    users = [*meters_for_broker(db), *dtus_for_broker(db)]
    port = free_port()
    if request.param == "mosquitto":
        files = write_broker_config(users, [bridge], TOPICS.prefix, tmp_path, port=port, bind_address="127.0.0.1")
        process = start_mosquitto(tmp_path, files.conf, port)
        request.addfinalizer(lambda: (process.terminate(), process.wait(10)))
    else:
        broker = EmbeddedBroker("127.0.0.1", port, credentials=broker_credentials(users, [bridge]),
                                policy=AccessPolicy.for_platform(TOPICS.prefix, [bridge]))
        broker.start()
        request.addfinalizer(broker.stop)
    accounts = {name: Account(name, password) for name, password in dtus_for_broker(db)}
    accounts["bridge"] = Account(bridge.username, bridge.password)
    accounts["meter"] = Account(*meters_for_broker(db)[0])
    probes: list[Probe] = []

    def connect(name: str) -> Probe:
        probes.append(Probe(port, accounts[name], f"{accounts[name].username}-{len(probes)}"))
        assert probes[-1].accepted
        return probes[-1]

    yield connect
    for probe in probes:
        probe.close()


def test_the_bridge_reads_each_dtus_bytes_and_writes_to_each(dtus):
    bridge = dtus("bridge")
    bridge.subscribe(TOPICS.dtu_uplink_filter())
    a, b = dtus("DTU-A"), dtus("DTU-B")
    a.subscribe(TOPICS.dtu("DTU-A", "down"))
    b.subscribe(TOPICS.dtu("DTU-B", "down"))
    a.publish(TOPICS.dtu("DTU-A", "up"), b"\x68a")
    b.publish(TOPICS.dtu("DTU-B", "up"), b"\x68b")
    assert bridge.collect({(TOPICS.dtu("DTU-A", "up"), b"\x68a"), (TOPICS.dtu("DTU-B", "up"), b"\x68b")}) == {
        (TOPICS.dtu("DTU-A", "up"), b"\x68a"), (TOPICS.dtu("DTU-B", "up"), b"\x68b")}
    bridge.publish(TOPICS.dtu("DTU-A", "down"), b"to-a")
    bridge.publish(TOPICS.dtu("DTU-B", "down"), b"to-b")
    assert a.collect({(TOPICS.dtu("DTU-A", "down"), b"to-a")}) == {(TOPICS.dtu("DTU-A", "down"), b"to-a")}
    assert b.collect({(TOPICS.dtu("DTU-B", "down"), b"to-b")}) == {(TOPICS.dtu("DTU-B", "down"), b"to-b")}


def test_a_dtu_cannot_write_as_another_nor_read_anothers_commands(dtus):
    bridge = dtus("bridge")
    bridge.subscribe(TOPICS.dtu_uplink_filter())
    a, b = dtus("DTU-A"), dtus("DTU-B")
    b.subscribe(TOPICS.dtu("DTU-B", "down"))
    a.subscribe(TOPICS.dtu("DTU-A", "down"), TOPICS.dtu("DTU-B", "down"), TOPICS.dtu("+", "down"))
    a.publish(TOPICS.dtu("DTU-B", "up"), b"forged")
    a.publish(TOPICS.dtu("DTU-A", "down"), b"to-itself")
    a.publish(TOPICS.dtu("DTU-A", "up"), b"genuine")
    assert bridge.collect({(TOPICS.dtu("DTU-A", "up"), b"genuine")}) == {(TOPICS.dtu("DTU-A", "up"), b"genuine")}
    bridge.publish(TOPICS.dtu("DTU-B", "down"), b"for-b")
    bridge.publish(TOPICS.dtu("DTU-A", "down"), b"for-a")
    assert b.collect({(TOPICS.dtu("DTU-B", "down"), b"for-b")}) == {(TOPICS.dtu("DTU-B", "down"), b"for-b")}
    assert a.collect({(TOPICS.dtu("DTU-A", "down"), b"for-a")}) == {(TOPICS.dtu("DTU-A", "down"), b"for-a")}


def test_a_meter_cannot_reach_a_dtu_and_the_bridge_cannot_act_as_a_dtu(dtus):
    watcher = dtus("bridge")
    watcher.subscribe(TOPICS.dtu_uplink_filter())
    a = dtus("DTU-A")
    a.subscribe(TOPICS.dtu("DTU-A", "down"))
    dtus("meter").publish(TOPICS.dtu("DTU-A", "down"), b"from-a-meter")
    dtus("meter").publish(TOPICS.dtu("DTU-A", "up"), b"forged-by-a-meter")
    watcher.publish(TOPICS.dtu("DTU-A", "up"), b"forged-by-the-bridge")
    watcher.publish(TOPICS.dtu("DTU-A", "down"), b"marker")
    assert a.collect({(TOPICS.dtu("DTU-A", "down"), b"marker")}) == {(TOPICS.dtu("DTU-A", "down"), b"marker")}
    a.publish(TOPICS.dtu("DTU-A", "up"), b"genuine")
    assert watcher.collect({(TOPICS.dtu("DTU-A", "up"), b"genuine")}) == {(TOPICS.dtu("DTU-A", "up"), b"genuine")}
