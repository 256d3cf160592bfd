"""Late meter data re-prices settled sessions while the vendor withdraws and starts: the wallet is never overdrawn.

A session whose stop the meter did not confirm is settled provisionally from its last reading (here
¥0.00), which frees its money; the meter's stop record then comes late and re-prices it. The vendor
meanwhile takes the freed money out, or spends it on new sessions, from many requests at once. What
the wallet cannot cover is owed (arrears) and flagged, never a negative balance.
"""
import random
import time
from datetime import timedelta
from decimal import Decimal

from sqlmodel import Session, select

from backend.core.clock import utcnow
from backend.core.db import unit_of_work
from backend.sessions.billed import billed_so_far
from backend.sessions.models import BillLine, SessionStatus, UsageSession
from backend.sessions.settlement import settle_unconfirmed_stops
from billing.wallet.arrears import owed
from tests.attacks.conftest import at_once, refusals, tally

ZERO = Decimal("0.00")
LATE = 3  # sessions settled provisionally at ¥0.00, each re-priced at once to ¥4.00: ¥12.00 against ¥10.00
USED_WH = 4_000


def provisionally_settled(scene, auth) -> UsageSession:
    """Start with everything, stop, and let the platform give up waiting for the meter: settled at ¥0.00."""
    started = scene.api.post("/sessions", auth, {"outlet_token": scene.tokens[len(scene.sessions_of_all())]})
    assert started.status_code == 201, started.text
    scene.meter.acknowledge_starts()
    assert scene.api.post(f"/sessions/{started.json()['id']}/stop", auth).status_code == 200
    with unit_of_work(scene.engine, scene.meter.sink) as db:
        settle_unconfirmed_stops(db, utcnow() + timedelta(minutes=31), timedelta(minutes=30))
    with Session(scene.engine) as db:
        session = db.get(UsageSession, started.json()["id"])
    assert session.provisional and session.amount == ZERO
    return session


def test_late_re_pricing_racing_withdrawals_and_starts_never_overdraws_the_wallet(scene_factory, figures):
    scene = scene_factory(outlets=LATE + 4, price="1.00")
    vendor = scene.vendor("10.00")
    auth = scene.api.token(vendor)
    late = [provisionally_settled(scene, auth) for _ in range(LATE)]
    assert scene.balance(vendor) == Decimal("10.00")  # all of it free again, with ¥12.00 of re-pricing on its way
    stop_records = [scene.meter.stop_ack(s, scene.serial, USED_WH) for s in late]
    # Two gateways deliver each record, some a little later, so that some re-pricings come after the requests.
    delays = random.Random(20261201).choices([0, 0.02, 0.05, 0.1], k=len(stop_records) * 2)
    calls = [lambda m=m, d=d: time.sleep(d) or scene.meter.deliver(*m) for m, d in zip(stop_records * 2, delays)]
    calls += [lambda: scene.api.post("/wallet/withdrawals", auth, {}) for _ in range(4)]
    calls += [lambda t=t: scene.api.post("/sessions", auth, {"outlet_token": t}) for t in scene.tokens[LATE:]]
    answers = at_once(calls)

    http = answers[len(stop_records) * 2:]
    assert answers[:len(stop_records) * 2] == [None] * len(stop_records) * 2  # every delivery handled
    assert {a.status_code for a in http} <= {201, 409}, [a.text for a in http]
    assert set(refusals(http)) <= {"NotThatMuchToWithdraw", "InsufficientBalance"}
    withdrawn = sum((Decimal(a.json()["sent"]) for a in http[:4] if a.status_code == 201), ZERO)
    scene.meter.acknowledge_starts()
    for order in scene.meter.orders("close"):
        if order.session_id not in {s.id for s in late}:
            scene.meter.deliver(*scene.meter.run_to_limit(order))

    with Session(scene.engine) as db:
        wallet, debt = scene.balance(vendor), owed(db, vendor.id)
        sessions = list(db.exec(select(UsageSession).where(UsageSession.vendor_id == vendor.id)))
        billed = sum((billed_so_far(db, s) for s in sessions if s.status == SessionStatus.completed), ZERO)
        for session in late:
            adjustments = db.exec(select(BillLine).where(BillLine.session_id == session.id,
                                                         BillLine.kind == "adjustment")).all()
            assert [line.amount for line in adjustments] == [Decimal("4.00")]  # re-priced once
        flagged = [s for s in sessions if "owed (arrears)" in (s.review_note or "")]
    figures(f"{LATE} re-pricings of ¥4.00 (each delivered twice) racing 4 withdrawals and 4 starts: {tally(http)}; "
            f"withdrawn ¥{withdrawn}, wallet ¥{wallet}, owed ¥{debt}, {len(flagged)} sessions flagged")
    assert wallet >= ZERO and debt >= ZERO
    assert Decimal("10.00") == wallet + withdrawn + billed - debt  # every fen accounted for
    assert debt == 0 or flagged
    assert {s.status for s in sessions} == {SessionStatus.completed}
