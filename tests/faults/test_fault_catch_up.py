"""What the broker kept while the gateway was away arrives all at once; no meter's rate limit may drop it."""
import time

from device_gateway.rate_limit import RateLimit
from tests.faults.fault_harness import published_readings, wait_all_stored, wait_until

# Low enough that the backlog of one meter is far over its burst, high enough for its live rate of 4/s.
LIMIT = RateLimit(per_second=8, burst=10)
INTERVAL_S = 0.25


def test_a_backlog_kept_by_the_broker_while_the_gateway_was_away_is_stored_whole(engine, site, make_fleet,
                                                                                   start_gateway):
    first = start_gateway("gw-away", rate_limit=LIMIT)
    fleet = make_fleet(active_interval=INTERVAL_S, idle_interval=INTERVAL_S, tick=INTERVAL_S / 5)
    fleet.add_meter(site.meter.serial, 2)
    fleet.start()
    assert fleet.wait_connected(10)
    wait_until(lambda: not first.catching_up(), 10, "the first gateway to be live")
    time.sleep(1.0)

    first.stop()
    time.sleep(6.0)  # ~24 messages wait at the broker: more than twice the burst
    second = start_gateway("gw-away", rate_limit=LIMIT)
    wait_until(lambda: not second.catching_up(), 20, "the backlog to be drained")
    time.sleep(1.0)
    fleet.stop()

    wait_all_stored(engine, site.meter.id, published_readings(fleet.published(site.meter.serial)))
    assert second.metrics.totals().get("dropped", 0) == 0
    assert second.metrics.totals()["received"] > 2 * LIMIT.burst
