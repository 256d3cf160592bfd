"""Counters the gateway keeps, readable from any thread."""
from backend.core.metrics import Counters


class GatewayMetrics(Counters):
    def totals(self) -> dict[str, int]:
        """Each counter summed over its labels."""
        summed: dict[str, int] = {}
        for (name, _), value in self.snapshot().items():
            summed[name] = summed.get(name, 0) + value
        return summed
