"""Settlement and statements over a month of readings: from per-outlet daily totals, against raw rows in the same run.

A month of 15-minute readings for `--points` points × 2 outlets (1,000 points: 5.8 M readings), written
set-based with SQL, with a two-hour session each evening on outlet 1 of one point in `--session-every` (5).
Then, on the same database:
  - the roll-up of the month's days into daily totals (the cost of keeping them);
  - the daily reconciliation of one day for every point, from totals and from raw rows;
  - the monthly statement of every point from totals and from raw rows (with `--baseline-points`, only that many
    from raw rows, the time scaled to all points and said so).
It checks its own results: the figures from totals equal those from raw rows for every point compared, and the
register delta of all statements equals the sum over the raw rows.

Run: PYTHONPATH=. .venv/bin/python bench/settlement.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres
"""
import argparse
import os
import platform
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import insert, text
from sqlmodel import Session, select

from bench.broker_and_database import fresh_database
from backend.core.clock import LOCAL_TZ
from backend.core.db import make_engine
from backend.meters.daily_totals import roll_up_days_due
from backend.meters.partitions import Month, ensure_partitions
from backend.points.models import Meter, MeteringPoint, Outlet, PointStatus, Purpose
from backend.reconciliation.daily import reconcile_day
from backend.reconciliation.service import month_period, statement
from backend.tariffs.service import ensure_default_tariffs
from backend.users.models import Role
from tests import factories

QUARTERS = 96
OUTLETS = 2


@dataclass(frozen=True)
class Timing:
    what: str
    raw_s: float | None
    totals_s: float
    note: str = ""


def make_points(db: Session, count: int, month: Month) -> None:
    """`count` points in service all month on the Jiangsu time-of-use tariff, two 16 A outlets each."""
    applicant = factories.user(db, Role.applicant)
    tariff = ensure_default_tariffs(db)[1]
    points = db.execute(insert(MeteringPoint).returning(MeteringPoint.id), [
        dict(name=f"bench {n}", address="bench", latitude=31.3, longitude=120.6, purpose=Purpose.night_market,
             capacity_kw=Decimal("30"), valid_from=month.first_day - timedelta(days=1),
             valid_until=month.plus(1).first_day + timedelta(days=30), applicant_id=applicant.id,
             tariff_id=tariff.id, outlet_count=OUTLETS, outlet_rated_current_a=Decimal("16"),
             status=PointStatus.active, status_note="", created_at=datetime.now(UTC)) for n in range(count)]
    ).scalars().all()
    meters = db.execute(insert(Meter).returning(Meter.id, Meter.point_id), [
        dict(point_id=point_id, serial=f"BS{n:06d}", mqtt_username=f"BS{n:06d}", mqtt_password="bench", online=True)
        for n, point_id in enumerate(points, start=1)]).all()
    db.execute(insert(Outlet), [
        dict(meter_id=meter_id, point_id=point_id, channel=ch, rated_current_a=Decimal("16"), qr_token=uuid.uuid4().hex)
        for meter_id, point_id in meters for ch in range(1, OUTLETS + 1)])


# Each outlet repeats one day's profile: a little all day, more in the evening (at most 200 Wh a quarter, well
# within a 16 A outlet's 1,104 Wh). prefix_wh is the register's rise from midnight to quarter k.
_PROFILE = """
CREATE TABLE bench_profile AS
SELECT meter_id, channel, k, sum(inc) OVER (PARTITION BY meter_id, channel ORDER BY k) - inc AS prefix_wh,
       sum(inc) OVER (PARTITION BY meter_id, channel) AS day_wh
FROM (SELECT o.meter_id, o.channel, k,
             CASE WHEN k BETWEEN 72 AND 91 THEN 60 + (o.meter_id * 7 + o.channel * 13 + k) % 140
                  ELSE (o.meter_id + o.channel + k) % 12 END AS inc
      FROM outlet o, generate_series(0, 95) AS k) AS steps
"""
# Day d's readings: quarters k = 0…95 from local midnight; the register goes on from the day before.
_READINGS = """
INSERT INTO reading (meter_id, boot_id, seq, channel, device_time, received_at, energy_wh, power_w, voltage_v,
                     current_a, relay_closed)
SELECT p.meter_id, 'bench', (:d * 96 + p.k) * 2 + p.channel, p.channel, :midnight + p.k * interval '15 minutes',
       :midnight + p.k * interval '15 minutes', 10000 + :d * p.day_wh + p.prefix_wh, 0, 230, 0, false
FROM bench_profile p
"""
# Outlet 1 of one point in `every` each evening: a session from 19:00 to 21:00, settled for the registers' delta.
_SESSIONS = """
INSERT INTO usage_session (outlet_id, point_id, meter_id, vendor_id, channel, status, price_per_kwh,
                           energy_limit_wh, start_cmd_id, stop_cmd_id, requested_at, started_at, ended_at,
                           start_register_wh, stop_register_wh, energy_wh, amount, tariff_id, start_boot_id,
                           stop_boot_id, needs_review, provisional)
SELECT o.id, o.point_id, o.meter_id, :vendor, 1, 'completed', 0.65, 100000, gen_random_uuid()::text,
       gen_random_uuid()::text, :midnight + interval '19 hours', :midnight + interval '19 hours',
       :midnight + interval '21 hours', 10000 + :d * a.day_wh + a.prefix_wh, 10000 + :d * b.day_wh + b.prefix_wh,
       b.prefix_wh - a.prefix_wh, (b.prefix_wh - a.prefix_wh) * 65 / 1000, mp.tariff_id, 'bench', 'bench', false, false
FROM outlet o JOIN metering_point mp ON mp.id = o.point_id
JOIN bench_profile a ON a.meter_id = o.meter_id AND a.channel = 1 AND a.k = 76
JOIN bench_profile b ON b.meter_id = o.meter_id AND b.channel = 1 AND b.k = 84
WHERE o.channel = 1 AND :every > 0 AND (o.meter_id + :d) % greatest(:every, 1) = 0
"""


def generate_month(engine, points: int, month: Month, days: int, every: int) -> int:
    with Session(engine) as db:
        make_points(db, points, month)
        vendor = factories.user(db, Role.vendor)
        ensure_partitions(db, month.start, ahead=1)
        db.execute(text(_PROFILE))
        db.commit()
        vendor_id = vendor.id
    started = time.perf_counter()
    for d in range(days):
        midnight = month.start + timedelta(days=d)
        with Session(engine) as db:
            db.execute(text(_READINGS), {"d": d, "midnight": midnight})
            db.execute(text(_SESSIONS), {"d": d, "midnight": midnight, "vendor": vendor_id, "every": every})
            db.commit()
        print(f"  readings of {midnight:%Y-%m-%d} written ({time.perf_counter() - started:.0f} s)", flush=True)
    with engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
        return connection.execute(text("SELECT count(*) FROM reading")).scalar_one()


def use_totals(db: Session, first: date, last: date, on: bool) -> None:
    """Let reconciliation use the days' totals, or make it read them raw (the baseline): the same switch a late
    reading flips."""
    db.execute(text("UPDATE reading_day_due SET done = :on WHERE day BETWEEN :first AND :last"),
               {"on": on, "first": first, "last": last})
    db.commit()


def daily_figures(rows) -> dict:
    return {r.point_id: (r.register_delta_wh, r.session_energy_wh, r.unattributed_wh, r.gap_wh, r.balanced)
            for r in rows}


def statement_figures(found) -> tuple:
    r = found.reconciliation
    return (r.register_delta_wh, r.session_energy_wh, r.unattributed_wh, r.gap_wh, r.collected,
            [(line.period, line.energy_wh, line.amount) for line in r.unattributed_lines])


def timed(work):
    started = time.perf_counter()
    result = work()
    return result, time.perf_counter() - started


class NeedsPostgres(RuntimeError):
    pass


def run(args) -> list[str]:
    if not args.database_url.startswith("postgresql"):
        raise NeedsPostgres("daily totals are kept on PostgreSQL only: give --database-url postgresql+psycopg://…")
    month = Month(*map(int, args.month.split("-")))
    days = (month.plus(1).first_day - month.first_day).days
    first, last = month.first_day, month.plus(1).first_day - timedelta(days=1)
    with fresh_database(args.database_url) as url:
        engine = make_engine(url)
        sessions = f"sessions on one point in {args.session_every} a night" if args.session_every else "no sessions"
        print(f"writing a month of readings: {args.points} points × {OUTLETS} outlets × {days} days × 96; {sessions}",
              flush=True)
        readings, generate_s = timed(lambda: generate_month(engine, args.points, month, days, args.session_every))
        print(f"  {readings:,} readings in {generate_s:.0f} s", flush=True)
        with Session(engine) as db:
            rolled, roll_up_s = timed(lambda: roll_up_days_due(db, month.plus(1).start + timedelta(hours=1)))
            db.commit()
            print(f"rolled up {len(rolled)} days in {roll_up_s:.1f} s", flush=True)
            points = list(db.exec(select(MeteringPoint).order_by(MeteringPoint.id)))
            day = first + timedelta(days=min(14, days - 1))

            totals_day, totals_day_s = timed(lambda: daily_figures(reconcile_day(db, day)))
            db.commit()
            use_totals(db, first, last, False)
            raw_day, raw_day_s = timed(lambda: daily_figures(reconcile_day(db, day)))
            db.commit()
            use_totals(db, first, last, True)
            print(f"daily reconciliation of {day}: totals {totals_day_s:.1f} s, raw {raw_day_s:.1f} s", flush=True)

            label = f"{month.year:04d}-{month.month:02d}"
            from_totals, totals_month_s = timed(lambda: {p.id: statement_figures(statement(db, p, label))
                                                         for p in points})
            sample = points[:args.baseline_points or len(points)]
            use_totals(db, first, last, False)
            from_raw, raw_sample_s = timed(lambda: {p.id: statement_figures(statement(db, p, label)) for p in sample})
            use_totals(db, first, last, True)
            raw_month_s = raw_sample_s * len(points) / len(sample)
            print(f"monthly statements: totals {totals_month_s:.1f} s for {len(points)} points, raw "
                  f"{raw_sample_s:.1f} s for {len(sample)}", flush=True)

            raw_delta = db.execute(text(
                "SELECT sum(hi - lo) FROM (SELECT max(energy_wh) AS hi, min(energy_wh) AS lo FROM reading "
                "WHERE device_time >= :s AND device_time < :e GROUP BY meter_id, channel) AS per_outlet"),
                {"s": month_period(label).start, "e": month_period(label).end}).scalar_one()
        engine.dispose()

    check(totals_day, raw_day, from_totals, from_raw, raw_delta, len(points))
    scaled = "" if len(sample) == len(points) else f"measured on {len(sample)} points, scaled to {len(points)}"
    timings = [Timing(f"daily reconciliation, one day, {len(points)} points", raw_day_s, totals_day_s),
               Timing(f"monthly statements, {len(points)} points", raw_month_s, totals_month_s, scaled)]
    return table(timings, readings, generate_s, roll_up_s, len(rolled))


def check(totals_day, raw_day, from_totals, from_raw, raw_delta, points) -> None:
    assert len(totals_day) == len(raw_day) == points, "every point reconciled"
    assert totals_day == raw_day, "the day's figures from totals equal those from raw rows"
    assert all(from_totals[p] == figures for p, figures in from_raw.items()), "statements equal"
    assert all(f[3] == 0 for f in from_totals.values()), "every statement balanced (no gap)"
    assert sum(f[0] for f in from_totals.values()) == raw_delta, "register delta equals the sum over raw rows"
    print("checked: figures from daily totals equal those from raw rows; register delta equals the raw rows' sum")


def table(timings: list[Timing], readings: int, generate_s: float, roll_up_s: float, days: int) -> list[str]:
    lines = [f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
             f"{platform.python_implementation()} {platform.python_version()}",
             f"{readings:,} readings written in {generate_s:.0f} s; {days} days rolled up in {roll_up_s:.1f} s",
             "| work | from raw rows | from daily totals | speed-up | note |", "|---|---|---|---|---|"]
    for t in timings:
        lines.append(f"| {t.what} | {t.raw_s:.1f} s | {t.totals_s:.1f} s | {t.raw_s / t.totals_s:.1f} × | {t.note} |")
    print("\n".join(lines))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="", help="a PostgreSQL server (a database is made and dropped)")
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--session-every", type=int, default=5,
                        help="a session on outlet 1 of one point in this many each evening (0: no sessions)")
    parser.add_argument("--baseline-points", type=int, default=0,
                        help="points whose monthly statement is also computed from raw rows (0: all)")
    last_month = Month.of(datetime.now(LOCAL_TZ)).plus(-1)
    parser.add_argument("--month", default=f"{last_month.year:04d}-{last_month.month:02d}", help="YYYY-MM")
    args = parser.parse_args()
    try:
        run(args)
    except NeedsPostgres as exc:
        parser.error(str(exc))


if __name__ == "__main__":
    main()
