"""How fast the platform stores telemetry, against a baseline measured in the same run.

Baseline: the same readings written as plain INSERTs in one transaction per message.
Platform: `record_telemetry` (idempotent insert, presence, live session figures) per message.
Run: .venv/bin/python bench/telemetry_ingest.py [--messages 2000] [--database-url URL]
"""
import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import insert
from sqlmodel import Session

from backend.core.db import make_engine
from backend.core.migrate import upgrade
from backend.meters.models import Reading
from backend.meters.service import OutletSample
from backend.meters.ingest import record_telemetry
from backend.users.models import Role
from tests import factories

OUTLETS = 8


def samples(seq: int) -> list[OutletSample]:
    return [OutletSample(ch, 1000 * ch + seq, 500.0, 221.0, 2.3, False, None) for ch in range(1, OUTLETS + 1)]


def baseline(engine, meter_id: int, messages: int, boot: str) -> float:
    started = time.perf_counter()
    for seq in range(messages):
        with Session(engine) as db:
            rows = [dict(meter_id=meter_id, boot_id=boot, seq=seq, channel=s.channel, device_time=datetime.now(UTC),
                         energy_wh=s.energy_wh, power_w=s.power_w, voltage_v=s.voltage_v, current_a=s.current_a,
                         relay_closed=False) for s in samples(seq)]
            db.exec(insert(Reading), params=rows)
            db.commit()
    return time.perf_counter() - started


def platform(engine, meter, messages: int, boot: str) -> float:
    start = datetime.now(UTC) - timedelta(hours=1)
    started = time.perf_counter()
    for seq in range(messages):
        with Session(engine, expire_on_commit=False) as db:
            record_telemetry(db, db.merge(meter), boot, seq, start + timedelta(seconds=seq), samples(seq))
            db.commit()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    upgrade(url)
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as db:
        _, meter = factories.active_point(db, factories.user(db, Role.applicant), outlets=OUTLETS,
                                          price=Decimal("0.6"))
        db.commit()
    rounds = [(baseline(engine, meter.id, args.messages, f"base{n}"),
               platform(engine, meter, args.messages, f"ours{n}"))
              for n in range(3)]
    base = statistics.median(r[0] for r in rounds)
    ours = statistics.median(r[1] for r in rounds)
    print(f"{args.messages} messages × {OUTLETS} outlets on {engine.dialect.name}")
    print(f"baseline (plain INSERTs): {args.messages / base:8.0f} messages/s")
    print(f"record_telemetry:         {args.messages / ours:8.0f} messages/s  ({ours / base:.2f}× the baseline's time)")


if __name__ == "__main__":
    main()
