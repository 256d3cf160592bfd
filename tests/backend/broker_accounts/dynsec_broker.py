"""A real Mosquitto with the dynamic-security plugin on a free port, and a probe that logs in as a device."""
import os
import pwd
import queue
import secrets
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from backend.broker_accounts.dynsec_file import initial_config
from device_gateway.broker_config import AccessPolicy, PlatformRole, PlatformUser
from device_gateway.embedded_broker import free_port

PLUGIN = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"


@dataclass
class DynsecBroker:
    port: int
    admin_password: str
    gateway: PlatformUser
    folder: Path
    process: subprocess.Popen | None = None

    @property
    def admin_url(self) -> str:
        return f"mqtt://admin:{self.admin_password}@127.0.0.1:{self.port}"

    def start(self) -> "DynsecBroker":
        conf = self.folder / "mosquitto.conf"
        lines = ["per_listener_settings false", f"listener {self.port} 127.0.0.1", "allow_anonymous false",
                 f"plugin {PLUGIN}", f"plugin_opt_config_file {self.folder / 'dynamic-security.json'}",
                 "max_packet_size 20480", "set_tcp_nodelay true", "log_dest stdout", "log_type all"]
        if os.geteuid() == 0:  # Mosquitto as root would switch to a user who cannot read pytest's tmp dir
            lines.append(f"user {pwd.getpwuid(os.geteuid()).pw_name}")
        conf.write_text("\n".join(lines) + "\n")
        log = (self.folder / "mosquitto.log").open("a")
        self.process = subprocess.Popen([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(conf)],
                                        stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while not _listening(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                pytest.fail(f"mosquitto did not start:\n{(self.folder / 'mosquitto.log').read_text()}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def new_dynsec_broker(folder: Path, prefix: str) -> DynsecBroker:
    """A broker whose dynamic-security.json has only the admin and the gateway (the platform's accounts)."""
    assert Path(PLUGIN).exists(), f"the dynamic-security plugin is missing: {PLUGIN} (Debian's mosquitto has it)"
    gateway = PlatformUser("scanpower-gateway", secrets.token_urlsafe(16), PlatformRole.gateway)
    broker = DynsecBroker(free_port(), secrets.token_urlsafe(16), gateway, folder)
    (folder / "dynamic-security.json").write_text(
        initial_config("admin", broker.admin_password, [gateway], AccessPolicy.for_platform(prefix, [gateway])))
    return broker


class Device:
    """A paho client logging in as a meter or a DTU: its CONNACK, whether it was dropped, what it received."""

    def __init__(self, port: int, username: str, password: str, client_id: str | None = None):
        self.connack: queue.Queue = queue.Queue()
        self.dropped = threading.Event()
        self.received: queue.Queue = queue.Queue()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or username,
                                  protocol=mqtt.MQTTv5)
        self.client.username_pw_set(username, password)
        self.client.on_connect = lambda c, u, f, rc, p: self.connack.put(rc)
        self.client.on_disconnect = lambda c, u, f, rc, p: self.dropped.set()
        self.client.on_message = lambda c, u, m: self.received.put((m.topic, m.payload))
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def accepted(self, timeout: float = 5) -> bool:
        return not self.connack.get(timeout=timeout).is_failure

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def connects(port: int, username: str, password: str, timeout: float = 5) -> bool:
    device = Device(port, username, password, client_id=f"{username}-{secrets.token_hex(3)}")
    try:
        return device.accepted(timeout)
    finally:
        device.close()
