"""Process-wide counters, shown at /metrics in Prometheus text format."""
import threading
from collections import Counter


class Counters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()

    def count(self, name: str, label: str = "") -> None:
        with self._lock:
            self._counts[(name, label)] += 1

    def snapshot(self) -> dict[tuple[str, str], int]:
        with self._lock:
            return dict(self._counts)


def prometheus_text(groups: dict[str, dict[tuple[str, str], int]]) -> str:
    """Render counters as `scanpower_<group>_<name>_total{reason="..."} N` lines."""
    lines = []
    for group, counts in groups.items():
        for (name, label), value in sorted(counts.items()):
            labels = f'{{reason="{label}"}}' if label else ""
            lines.append(f"scanpower_{group}_{name}_total{labels} {value}")
    return "\n".join(lines) + "\n"
