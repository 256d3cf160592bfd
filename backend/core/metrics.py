"""The Prometheus families the services record, and how a process exposes its metrics.

Families of the domain (money settled, command round trips, scheduled jobs) live in the process-wide
default registry; parts that can run several times in one process (an app, a gateway) keep their own
registry so that their figures stay apart. With PROMETHEUS_MULTIPROC_DIR set (several API workers),
prometheus_client writes every value to files there and a scrape sums them over the processes.
"""
import os

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)

money_settled = Counter("scanpower_money_settled_yuan", "Money billed for sessions at settlement, in yuan "
                        "(later adjustments apart)", ["paid_by"])
money_adjusted = Counter("scanpower_money_adjusted_yuan", "Re-pricing after late meter data, in yuan, by direction",
                         ["direction"])
sessions_settled = Counter("scanpower_sessions_settled", "Sessions settled (a re-settlement counts again)",
                           ["paid_by"])
command_round_trip = Histogram("scanpower_command_round_trip_seconds", "From a relay command's first sending to "
                               "the meter's ack, by command", ["command"], buckets=SECONDS)
job_runs = Counter("scanpower_job_runs", "Scheduled job runs in this process, by job and outcome",
                   ["job", "outcome"])
job_touched = Counter("scanpower_job_touched", "Rows a scheduled job acted on (expired, stopped, billed…)", ["job"])
broker_account_changes = Counter("scanpower_broker_account_changes", "Meter and DTU accounts changed on the "
                                 "broker, by outcome (applied, failed, unreachable)", ["outcome"])
job_seconds = Histogram("scanpower_job_seconds", "How long a scheduled job run took", ["job"], buckets=SECONDS)


def multiprocess_dir() -> str:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


def exposition(registries: list[CollectorRegistry], live: list[Collector] = ()) -> bytes:
    """The text a scrape gets: every registry's families, or in multiprocess mode the files of all processes.

    `live` collectors read the database at each scrape; they are not values in files, so they are added as is.
    """
    if multiprocess_dir():
        merged = CollectorRegistry()
        MultiProcessCollector(merged, multiprocess_dir())
        registries = [merged]
    else:
        registries = [REGISTRY, *registries]
    text = b"".join(generate_latest(r) for r in registries)
    if live:
        fresh = CollectorRegistry()
        for collector in live:
            fresh.register(collector)
        text += generate_latest(fresh)
    return text
