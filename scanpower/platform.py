"""Compose the running platform: broker, gateway, API and pages, scheduler, demo meters."""
import logging
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from backend.app import create_app
from backend.core.config import Settings
from backend.core.db import make_engine, unit_of_work
from backend.core.migrate import upgrade
from backend.jobs.runner import JobRunner
from device_gateway.broker_url import BrokerAddress
from device_gateway.dlt645.bridge import Bridge, bridge_timing
from device_gateway.embedded_broker import EmbeddedBroker, free_port, port_is_free
from device_gateway.gateway import Gateway, gateway_lanes, gateway_rate_limit
from device_gateway.protocol import Topics
from scanpower.demo import DemoMeter, seed_demo
from scanpower.scheduler import build_scheduler
from scanpower.serving import serve_in_thread
from scanpower.simulation import LoadChooser, demo_loads, start_demo_dtus, start_demo_fleet

log = logging.getLogger(__name__)
EMBEDDED_BROKER_PORT = 1883


@dataclass
class Platform:
    """Everything `scanpower run` starts, in one process; `stop()` undoes `start()` in reverse."""

    settings: Settings
    demo: bool = True
    simulate: bool = True
    choose_loads: LoadChooser = demo_loads
    broker_url: str = ""
    web_url: str = ""
    demo_meters: list[DemoMeter] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    engine: Engine | None = None
    gateway: Gateway | None = None
    bridge: Bridge | None = None
    scheduler: JobRunner | None = None
    fleet: object | None = None
    dtus: list = field(default_factory=list)  # the demo's simulated DTUs
    dtu_heartbeat_s: float = 30.0
    _stack: list = field(default_factory=list)

    def start(self) -> "Platform":
        upgrade(self.settings.database_url)
        self.engine = make_engine(self.settings.database_url)
        self._stack.append(self.engine.dispose)
        self._start_broker()
        self._start_gateway()
        self.scheduler = build_scheduler(self.settings, self.engine, self.gateway)
        self.scheduler.start()
        self._stack.append(self.scheduler.stop)
        self._start_web()
        if self.demo:
            with unit_of_work(self.engine, self.gateway) as db:
                self.demo_meters = seed_demo(db)
        if self.simulate and self.demo_meters:
            self.fleet = start_demo_fleet(BrokerAddress.parse(self.broker_url), self.settings.mqtt_topic_prefix,
                                          self.demo_meters, self.choose_loads)
            self._stack.append(self.fleet.stop)
            self.dtus = start_demo_dtus(BrokerAddress.parse(self.broker_url), self.settings.mqtt_topic_prefix,
                                        self.demo_meters, self.choose_loads, self.dtu_heartbeat_s)
            self._stack += [dtu.stop for dtu in self.dtus]
        self._start_bridge()
        return self

    def stop(self) -> None:
        while self._stack:
            undo = self._stack.pop()
            try:
                undo()
            except Exception:
                log.exception("error while stopping")

    def _start_broker(self) -> None:
        if self.settings.mqtt_url:
            self.broker_url = self.settings.mqtt_url
            return
        port = EMBEDDED_BROKER_PORT
        if not port_is_free("127.0.0.1", port):
            port = free_port()
            self.notes.append(f"port {EMBEDDED_BROKER_PORT} is taken (another broker?), "
                              f"so the embedded broker listens on {port} instead")
        broker = EmbeddedBroker("127.0.0.1", port)
        broker.start()
        self._stack.append(broker.stop)
        self.broker_url = broker.url

    def _start_gateway(self) -> None:
        topics = Topics(self.settings.mqtt_topic_prefix)
        self.gateway = Gateway(BrokerAddress.parse(self.broker_url), self.engine, topics,
                               self.settings.gateway_client_id, self.settings.gateway_share_group,
                               gateway_rate_limit(self.settings), self.settings.gateway_flood_calm_seconds,
                               **gateway_lanes(self.settings))
        self.gateway.start()
        self._stack.append(self.gateway.stop)
        if not self.gateway.wait_connected(15):
            raise RuntimeError(f"the gateway could not connect to the MQTT broker at {self.broker_url}")

    def _start_bridge(self) -> None:
        """Always: links are reread every 30 s, so a DTU commissioned later is bridged without a restart."""
        self.bridge = Bridge(BrokerAddress.parse(self.broker_url), self.engine,
                             Topics(self.settings.mqtt_topic_prefix), f"{self.settings.gateway_client_id}-dlt645",
                             bridge_timing(self.settings)).start()
        self._stack.append(self.bridge.stop)
        if not self.bridge.wait_connected(15):
            raise RuntimeError(f"the DL/T 645 bridge could not connect to the MQTT broker at {self.broker_url}")

    def _start_web(self) -> None:
        host, port = self.settings.http_host, self.settings.http_port
        app = create_app(self.settings, self.engine, self.gateway, lambda: self.gateway.connected,
                         registries=[self.gateway.metrics.registry])
        app.state.scheduler_alive = self.scheduler.alive
        # Meters of the demo connect to the broker this process started; a configured address wins.
        app.state.meter_broker_url = app.state.meter_broker_url or BrokerAddress.parse(self.broker_url).url
        self._stack.append(serve_in_thread(app, host, port))
        self.web_url = f"http://{host}:{port}"
