"""Small runs of the benchmarks, as correctness checks (nothing lost, totals equal), never as timing checks."""
import argparse
import os

import pytest

from bench import drain, ingest_cpu, scan_to_power, settlement

DATABASE = os.environ.get("DATABASE_URL", "")


@pytest.mark.timeout(600)
def test_the_drain_benchmark_stores_every_reading_once_with_one_and_two_gateways():
    args = argparse.Namespace(database_url=DATABASE, meters=6, outlets=2, per_meter=5, gateways="1,2",
                              workloads="idle,running")
    figures = drain.run(args)
    assert [(f.workload, f.consumer) for f in figures] == [
        ("idle", "bare subscriber"), ("idle", "1 gateway"), ("idle", "2 gateways"),
        ("running", "bare subscriber"), ("running", "1 gateway"), ("running", "2 gateways")]
    assert all(f.messages == 30 and f.seconds > 0 for f in figures)
    assert "| idle | 1 gateway | 30 |" in drain.table(figures, "test")


@pytest.mark.timeout(600)
def test_the_scan_to_power_benchmark_starts_stops_and_settles_every_session():
    args = argparse.Namespace(database_url=DATABASE, fleet=20, sessions=3, warm_up=1.0)
    lines = scan_to_power.run(args)
    assert len(lines) == 6 and all("p99" in line for line in lines)


@pytest.mark.timeout(600)
def test_the_settlement_benchmark_gets_the_same_figures_from_daily_totals_as_from_raw_rows():
    args = argparse.Namespace(database_url=DATABASE, points=4, baseline_points=0, month="2026-11", session_every=2)
    if not DATABASE.startswith("postgresql"):
        with pytest.raises(settlement.NeedsPostgres):
            settlement.run(args)
        return
    lines = settlement.run(args)  # checks its own figures: equal from totals and raw rows, nothing lost
    assert lines[1].startswith("23,040 readings written")  # 4 points × 2 outlets × 30 days × 96 quarters
    assert [line.split(" | ")[0] for line in lines[4:]] == ["| daily reconciliation, one day, 4 points",
                                                            "| monthly statements, 4 points"]


@pytest.mark.timeout(600)
def test_the_ingest_cpu_benchmark_stores_and_acknowledges_every_message_idle_and_running():
    args = argparse.Namespace(database_url=DATABASE, meters=4, outlets=2, per_meter=6, batch=4,
                              workloads="idle,running")
    lines = ingest_cpu.run(args)  # it asserts every message acknowledged and every reading stored once
    assert [line.split(" | ")[0] for line in lines[2:]] == ["| idle", "| running"]
