"""Keep the meter-flooding alarms in step with the gateway's FloodWatch, a small write at most once a tick."""
import logging
from datetime import timedelta
from decimal import Decimal

from sqlalchemy.engine import Engine

from backend.alarms import flooding
from backend.core.clock import utcnow
from backend.core.db import unit_of_work
from backend.meters.orders import OrderSink
from backend.meters.service import UnknownMeter, meter_by_serial
from device_gateway.flood_watch import Episode, FloodWatch

log = logging.getLogger(__name__)


class FloodAlarms:
    """What has been written for each flooding meter; episodes that ended wait here until their alarm is closed."""

    def __init__(self, engine: Engine, sink: OrderSink, limit_per_s: float):
        self._engine = engine
        self._sink = sink
        self._limit = Decimal(str(limit_per_s))
        self._written: dict[str, int] = {}  # key → the peak rate its alarm shows
        self._ended: list[Episode] = []

    def update(self, floods: FloodWatch, now: float) -> None:
        """Open, raise or close alarms; a failed write is tried again on the next call."""
        self._ended += floods.calmed(now)
        for episode in self._ended:
            self._written.pop(episode.key, None)
        changed = [e for e in floods.ongoing() if self._written.get(e.key) != e.peak_per_s]
        if not changed and not self._ended:
            return
        with unit_of_work(self._engine, self._sink) as db:
            # Ended first: a meter that calmed and flooded again gets its old alarm closed and a new one.
            for episode in self._ended:
                if (meter := _meter(db, episode.key)) is not None:
                    flooding.calmed(db, meter, _wall(episode.last_drop_at, now), episode.peak_per_s)
            for episode in changed:
                if (meter := _meter(db, episode.key)) is not None:
                    flooding.flooding(db, meter, _wall(episode.started_at, now), self._limit, episode.peak_per_s)
        for episode in self._ended:
            log.warning("meter %s is within its limit again: %d of its %d messages dropped, at most %d/s",
                        episode.key, episode.dropped, episode.received, episode.peak_per_s)
        self._written |= {e.key: e.peak_per_s for e in changed}
        self._ended = []

    def close_stale(self) -> None:
        """At start: no flood is known yet, so none is open."""
        with unit_of_work(self._engine, self._sink) as db:
            if closed := flooding.close_every_flooding_alarm(db, utcnow()):
                log.info("closed %d meter-flooding alarms left open by an earlier run", closed)


def _meter(db, serial: str):
    try:
        return meter_by_serial(db, serial)
    except UnknownMeter:
        return None  # no meter to alarm on; the quarantine counts its messages under the topic's serial


def _wall(moment: float, now: float):
    """A time.monotonic() moment as a UTC datetime."""
    return utcnow() - timedelta(seconds=max(0.0, now - moment))
