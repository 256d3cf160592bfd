"""The broker of compose.yaml, for real: Mosquitto with deploy/mosquitto's configuration and dynamic security.

The plugin's path and the data folder are this machine's; everything else is the file compose mounts.
"""
import os
import queue
import shutil
import subprocess
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from backend.broker_accounts.desired import Account
from backend.broker_accounts.dynsec import DynsecAccounts
from backend.broker_accounts.interface import Change
from device_gateway.broker_config import AccessPolicy
from device_gateway.broker_url import BrokerAddress
from device_gateway.embedded_broker import free_port
from tests.faults.fault_harness import MOSQUITTO, wait_until, _listening

REPO = Path(__file__).resolve().parents[2]
SETUP = REPO / "deploy" / "mosquitto"
LOCAL_PLUGIN = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"
PASSWORDS = {"MQTT_ADMIN_PASSWORD": "admin-" + uuid.uuid4().hex, "MQTT_GATEWAY_PASSWORD": "gw-" + uuid.uuid4().hex,
             "MQTT_API_PASSWORD": "api-" + uuid.uuid4().hex}


@pytest.fixture
def broker(tmp_path):
    if not (Path(LOCAL_PLUGIN).exists() and shutil.which("mosquitto_ctrl")):
        pytest.fail("needs Mosquitto's dynamic-security plugin and mosquitto_ctrl (.ci/deploy-deps installs them)")
    port = free_port()
    conf = (SETUP / "mosquitto.conf").read_text()
    conf = (conf.replace("listener 1883", f"listener {port} 127.0.0.1")
            .replace("/usr/lib/mosquitto_dynamic_security.so", LOCAL_PLUGIN)
            .replace("/mosquitto/data/", f"{tmp_path}/")) + "user root\n"
    (tmp_path / "mosquitto.conf").write_text(conf)
    env = {**os.environ, **PASSWORDS, "DYNSEC_FILE": str(tmp_path / "dynamic-security.json"),
           "MOSQUITTO_CONF": str(tmp_path / "mosquitto.conf"), "MQTT_HOST": "127.0.0.1", "MQTT_PORT": str(port),
           "PATH": f"{Path(MOSQUITTO).parent}:{os.environ.get('PATH', '')}"}
    log = (tmp_path / "broker.log").open("w")
    process = subprocess.Popen(["sh", str(SETUP / "start-broker.sh")], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: _listening(port) or process.poll() is not None, 20, "mosquitto to listen")
        assert process.poll() is None, (tmp_path / "broker.log").read_text()
        yield port, env
    finally:
        process.terminate()
        process.wait(10)
        log.close()


class Client:
    def __init__(self, port: int, username: str | None = None, password: str | None = None):
        self.messages: queue.Queue = queue.Queue()
        self.connected: queue.Queue = queue.Queue()
        self.granted: queue.Queue = queue.Queue()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:8]}")
        if username:
            self.client.username_pw_set(username, password)
        self.client.on_connect = lambda c, u, f, rc, p: self.connected.put(rc)
        self.client.on_message = lambda c, u, m: self.messages.put((m.topic, m.payload))
        self.client.on_subscribe = lambda c, u, mid, codes, p: self.granted.put([code.is_failure for code in codes])
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def accepted(self) -> bool:
        return not self.connected.get(timeout=10).is_failure

    def subscribe(self, topic: str) -> bool:
        self.client.subscribe(topic, qos=1)
        return not any(self.granted.get(timeout=10))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_platform_accounts_can_do_their_work_and_nothing_else(broker):
    port, env = broker
    made = subprocess.run(["sh", str(SETUP / "platform-accounts.sh")], env=env, capture_output=True, text=True,
                          timeout=120)
    assert "platform accounts ready under scanpower/v1" in made.stdout, made.stdout + made.stderr
    again = subprocess.run(["sh", str(SETUP / "platform-accounts.sh")], env=env, capture_output=True, text=True,
                           timeout=120)
    assert again.returncode == 0  # idempotent
    # A meter, as the platform provisions it (BROKER_ACCOUNTS=dynsec, the compose stack's setting).
    admin = DynsecAccounts(BrokerAddress("127.0.0.1", port, "admin", env["MQTT_ADMIN_PASSWORD"]))
    try:
        meter_account = Account("SP1", "meter-password", AccessPolicy("scanpower/v1").rules_for("SP1"))
        assert admin.apply([Change("SP1", meter_account)]) == {"SP1": None}
    finally:
        admin.close()

    clients = [Client(port, "scanpower-gateway", env["MQTT_GATEWAY_PASSWORD"]),
               Client(port, "scanpower-api", env["MQTT_API_PASSWORD"]), Client(port, "SP1", "meter-password"),
               Client(port), Client(port, "scanpower-gateway", "wrong")]
    gateway, api, meter, anonymous, wrong = clients
    try:
        assert gateway.accepted() and api.accepted() and meter.accepted()
        assert not anonymous.accepted() and not wrong.accepted()
        assert gateway.subscribe("$share/gateways/scanpower/v1/m/+/telemetry")
        assert not api.subscribe("scanpower/v1/m/+/telemetry")  # the API only sends commands
        assert meter.subscribe("scanpower/v1/m/SP1/cmd")
        meter.client.publish("scanpower/v1/m/SP1/telemetry", b'{"v": 1}', qos=1).wait_for_publish(10)
        assert gateway.messages.get(timeout=10) == ("scanpower/v1/m/SP1/telemetry", b'{"v": 1}')
        api.client.publish("scanpower/v1/m/SP1/cmd", b'{"v": 1, "cmd": "open"}', qos=1).wait_for_publish(10)
        assert meter.messages.get(timeout=10)[0] == "scanpower/v1/m/SP1/cmd"
    finally:
        for client in clients:
            client.close()
