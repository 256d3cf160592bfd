"""What one gateway instance counts: kept in memory for its own tests and logs, and as Prometheus families.

Each instance has its own registry, so two gateways in one test process keep their figures apart.
Each labelled child is looked up once and kept: a lane counts a batch's messages with one call.
"""
import threading
from collections import Counter as Tally

from prometheus_client import CollectorRegistry, Counter, Histogram

LAG_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._lock = threading.Lock()
        self._tally: Tally[tuple[str, str]] = Tally()
        self._children: dict[tuple[str, str], Counter] = {}
        self._lag: dict[str, Histogram] = {}
        self.received = Counter("scanpower_mqtt_messages_received", "MQTT messages the gateway received, by kind",
                                ["kind"], registry=self.registry)
        self.rejected = Counter("scanpower_mqtt_messages_rejected", "MQTT messages refused or dropped, by reason",
                                ["reason"], registry=self.registry)
        self.handled = Counter("scanpower_mqtt_messages_handled", "MQTT messages applied to the database, by kind",
                               ["kind"], registry=self.registry)
        self.events = Counter("scanpower_gateway_events", "What else the gateway did: commands sent, database "
                              "retries, floods seen, acks skipped after a reconnect, batches split",
                              ["event"], registry=self.registry)
        self.ingest_lag = Histogram("scanpower_ingest_lag_seconds", "From a message's arrival at the gateway to "
                                    "the commit that stored it", ["lane"], buckets=LAG_SECONDS,
                                    registry=self.registry)

    def count(self, name: str, label: str = "", n: int = 1) -> None:
        with self._lock:
            self._tally[(name, label)] += n
            child = self._children.get((name, label)) or self._child(name, label)
        child.inc(n)

    def lag(self, lane: str) -> Histogram:
        """The ingest-lag histogram of one lane ("telemetry" or "control")."""
        return self._lag.get(lane) or self._lag.setdefault(lane, self.ingest_lag.labels(lane))

    def _child(self, name: str, label: str) -> Counter:
        if name == "received":
            child = self.received.labels(label or "other")
        elif name in ("rejected", "dropped"):
            child = self.rejected.labels(label)
        elif name.startswith("handled_") and name != "handled_telemetry_batches":
            child = self.handled.labels(name.removeprefix("handled_"))
        else:
            child = self.events.labels(name)
        self._children[(name, label)] = child
        return child

    def snapshot(self) -> dict[tuple[str, str], int]:
        with self._lock:
            return dict(self._tally)

    def totals(self) -> dict[str, int]:
        """Each counter summed over its labels."""
        summed: dict[str, int] = {}
        for (name, _), value in self.snapshot().items():
            summed[name] = summed.get(name, 0) + value
        return summed
