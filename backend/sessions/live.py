"""What a running session's vendor sees: energy and cost so far, counted by the billing rules."""
from datetime import datetime
from decimal import Decimal

from sqlalchemy import bindparam, update
from sqlalchemy.orm import attributes
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session, select

from backend.core.clock import as_utc
from backend.meters.models import Reading as MeterReading
from backend.meters.register_rules import LiveTally, advance, outlet_rated_power_w
from backend.meters.register_rules import Reading as RegisterReading
from backend.points.models import Outlet
from backend.sessions.models import SessionStatus, UsageSession
from backend.sessions.pricing import price_so_far
from backend.sessions.settlement import start_reading
from backend.tariffs.service import get_tariff, tariff_engine
from billing.tariffs import Tariff as TariffEngine


def record_live_reading(db: Session, session: UsageSession, register_wh: int, power_w: float, at: datetime,
                        boot_id: str, seq: int) -> None:
    """Live energy and cost by the billing rules, one reading at a time: they never go down, and a
    register that resets or jumps puts the session under review at once, not only at settlement."""
    if not counts_live(session):
        return
    before = live_tally(session)
    outlet = db.get(Outlet, session.outlet_id)
    after = advance(before, RegisterReading(boot_id, seq, at, register_wh),
                    outlet_rated_power_w(outlet.rated_current_a), **outlet.register.options())
    if after is not before:  # else a repeat, or older than what the live view already counted
        set_live(db, session, after, power_w)


def count_readings_so_far(db: Session, session: UsageSession) -> None:
    """A session just became active: count the readings already stored for it.

    Acks and telemetry take separate lanes (and gateways), so a reading the meter sent after its
    ack may have been stored first, while the session was still starting.
    """
    query = (select(MeterReading).where(MeterReading.session_id == session.id,
                                        MeterReading.channel == session.channel)
             .order_by(MeterReading.boot_id, MeterReading.seq))
    stored = list(db.exec(query))
    if not stored:
        return
    tally = live_tally(session)
    outlet = db.get(Outlet, session.outlet_id)
    rated_w = outlet_rated_power_w(outlet.rated_current_a)
    power_w = 0.0
    for reading in sorted(stored, key=lambda r: as_utc(r.device_time)):
        after = advance(tally, RegisterReading(reading.boot_id, reading.seq, as_utc(reading.device_time),
                                               reading.energy_wh), rated_w, **outlet.register.options())
        if after is not tally:
            tally, power_w = after, reading.power_w
    if tally.last is not tally.start:
        set_live(db, session, tally, power_w)


def counts_live(session: UsageSession) -> bool:
    return session.status == SessionStatus.active and session.start_register_wh is not None


def live_tally(session: UsageSession) -> LiveTally:
    """Where the live count stands, as stored on the session."""
    start = start_reading(session)
    if session.latest_boot_id is None:
        return LiveTally.starting_at(start)
    last = RegisterReading(session.latest_boot_id, session.latest_seq, as_utc(session.latest_reading_at),
                           session.latest_register_wh)
    return LiveTally(start, last, session.live_billed_to_wh, session.live_energy_wh or 0)


def set_live(db: Session, session: UsageSession, tally: LiveTally, power_w: float,
             tariff: TariffEngine | None = None) -> None:
    """Store the live count, its cost so far and, the first time one shows, the reason to review it."""
    tariff = tariff or tariff_engine(get_tariff(db, session.tariff_id))
    for name, value in live_figures(session, tally, power_w, tariff).items():
        setattr(session, name, value)


def live_figures(session: UsageSession, tally: LiveTally, power_w: float, tariff: TariffEngine) -> dict:
    """The columns `set_live` sets, by name: the count, the cost so far, whether to review it and why."""
    review = bool(tally.review) and not session.needs_review
    return dict(latest_register_wh=tally.last.register_wh, latest_reading_at=tally.last.time,
                latest_boot_id=tally.last.boot_id, latest_seq=tally.last.seq, latest_power_w=power_w,
                live_energy_wh=tally.energy_wh, live_billed_to_wh=tally.billed_to,
                needs_review=session.needs_review or review,
                review_note=f"seen while running: {tally.review}"[:1000] if review else session.review_note,
                latest_amount=price_so_far(as_utc(session.started_at), 0, tally.last.time, tally.energy_wh, tariff))


_LIVE_UPDATE = (update(UsageSession.__table__).where(UsageSession.__table__.c.id == bindparam("session_id"))
                .values({name: bindparam(name) for name in ("latest_register_wh", "latest_reading_at",
                                                           "latest_boot_id", "latest_seq", "latest_power_w",
                                                           "live_energy_wh", "live_billed_to_wh", "needs_review",
                                                           "review_note", "latest_amount")}))


def write_live_figures(db: Session, figures: dict[int, dict]) -> None:
    """Many sessions' `live_figures` (by session id) in one statement, and into their loaded rows as stored.

    For a telemetry batch: the sessions are locked by it, and the ORM's change tracking of each row
    would cost more than the write.
    """
    if not figures:
        return
    db.execute(_LIVE_UPDATE, [{"session_id": session_id, **values} for session_id, values in figures.items()])
    for session_id, values in figures.items():
        if (session := db.identity_map.get(identity_key(UsageSession, session_id))) is not None:
            for name, value in values.items():
                attributes.set_committed_value(session, name, value)


def live_energy_wh(session: UsageSession) -> int:
    if session.energy_wh is not None:
        return session.energy_wh
    return session.live_energy_wh or 0


def live_amount(session: UsageSession) -> Decimal:
    if session.amount is not None:
        return session.amount
    return session.latest_amount or Decimal("0.00")
