"""A storm of starts, stops, meter messages, top-ups, withdrawals and refunds at once, round after round.

Whatever the interleaving: no request answers 500, no wallet goes below zero, no session is
refunded more than it cost or settled twice, and the ledger sums to zero.
"""
import random
import time
from collections import Counter

import httpx

from sqlmodel import Session, select

from backend.sessions.models import BillLine, SessionStatus, UsageSession
from backend.sessions.refunds import refunded
from backend.sessions.settlement import billed_so_far
from billing.ledger.models import JournalEntry
from tests.attacks.conftest import at_once, refusals

ROUNDS = 6
CALLS_PER_ROUND = 24


def test_no_interleaving_overspends_refunds_twice_or_unbalances_the_books(scene_factory, figures):
    scene = scene_factory(outlets=6, price="1.00", service_fee={"per_session": "0.30", "per_kwh": "0.10"})
    vendors = [scene.vendor(balance) for balance in ("3.00", "8.00", "20.00")]
    auths = {v.id: scene.api.token(v) for v in vendors}
    operator = scene.api.token(scene.operator)
    rng = random.Random(20261129)
    answers: list = []
    began = time.monotonic()
    for _ in range(ROUNDS):
        calls = [_random_call(rng, scene, vendors, auths, operator) for _ in range(CALLS_PER_ROUND)]
        answers += at_once(calls)
    _finish_everything(scene)
    took = time.monotonic() - began

    problems = [a for a in answers if isinstance(a, Exception) or (isinstance(a, httpx.Response)
                                                                   and a.status_code >= 500)]
    assert problems == []
    kinds = Counter(a.status_code if isinstance(a, httpx.Response) else "meter" for a in answers)
    figures(f"storm: {len(answers)} calls in {took:.0f} s: "
          + ", ".join(f"{n} × {kind}" for kind, n in sorted(kinds.items(), key=str))
          + f"; 409s: {dict(refusals(answers))}")
    assert kinds[201] > 10  # the storm did things
    for vendor in vendors:
        assert scene.balance(vendor) >= 0
    with Session(scene.engine) as db:
        settled = list(db.exec(select(UsageSession).where(UsageSession.status == SessionStatus.completed)))
        assert settled, "no session ran to its end"
        for session in settled:
            assert refunded(db, session) <= billed_so_far(db, session)
            energy_lines = db.exec(select(BillLine).where(BillLine.session_id == session.id,
                                                          BillLine.kind == "energy")).all()
            assert sum(line.energy_wh for line in energy_lines) == session.energy_wh  # one set of lines
        settlements = Counter(db.exec(select(JournalEntry.session_id).where(JournalEntry.kind == "settlement")))
        assert max(settlements.values()) == 1
        assert not list(db.exec(select(UsageSession).where(UsageSession.status.in_(["starting", "active",
                                                                                      "stopping"]))))
    assert scene.ledger_total() == 0


def _random_call(rng, scene, vendors, auths, operator):
    vendor = rng.choice(vendors)
    auth = auths[vendor.id]
    kind = rng.choice(["start", "start", "stop", "meter", "meter", "withdraw", "top_up", "refund"])
    if kind == "start":
        token = rng.choice(scene.tokens)
        return lambda: scene.api.post("/sessions", auth, {"outlet_token": token})
    if kind == "withdraw":
        amount = f"{rng.randint(1, 600) / 100:.2f}"
        return lambda: scene.api.post("/wallet/withdrawals", auth, {"amount": amount})
    if kind == "top_up":
        amount = f"{rng.randint(1, 500) / 100:.2f}"
        return lambda: scene.api.post("/wallet/top-ups", auth, {"amount": amount})
    sessions = _sessions(scene)
    if kind == "stop" and (mine := [s for s in sessions if s.vendor_id == vendor.id and s.status.is_open]):
        session = rng.choice(mine)
        return lambda: scene.api.post(f"/sessions/{session.id}/stop", auth)
    if kind == "refund" and (done := [s for s in sessions if s.status == SessionStatus.completed]):
        session, amount = rng.choice(done), f"{rng.randint(1, 150) / 100:.2f}"
        return lambda: scene.api.post(f"/sessions/{session.id}/refunds", operator,
                                      {"amount": amount, "reason": "storm refund"})
    return _meter_step(rng, scene, sessions)


def _meter_step(rng, scene, sessions):
    """One meter message: a start ack, a stop ack, or the meter's own cut-off at a random share of the limit."""
    starting = [s for s in sessions if s.status == SessionStatus.starting]
    running = [s for s in sessions if s.status in (SessionStatus.active, SessionStatus.stopping)]
    if starting and (not running or rng.random() < 0.5):
        return scene.meter.acknowledge_starts
    if not running:
        return lambda: None
    session = rng.choice(running)
    used = rng.randint(0, session.energy_limit_wh)
    if session.status == SessionStatus.stopping:
        return lambda: scene.meter.deliver(*scene.meter.stop_ack(session, scene.serial, used))
    order = next(o for o in scene.meter.orders("close") if o.session_id == session.id)
    return lambda: scene.meter.deliver(*scene.meter.run_to_limit(order))


def _finish_everything(scene) -> None:
    scene.meter.acknowledge_starts()
    for session in _sessions(scene):
        if session.status in (SessionStatus.active, SessionStatus.stopping):
            order = next(o for o in scene.meter.orders("close") if o.session_id == session.id)
            scene.meter.deliver(*scene.meter.run_to_limit(order))


def _sessions(scene) -> list[UsageSession]:
    with Session(scene.engine) as db:
        return list(db.exec(select(UsageSession).order_by(UsageSession.id)))

