"""Many requests at once against one wallet: it is never overdrawn, refunds never exceed the bill."""
from decimal import Decimal

from sqlmodel import Session

from backend.sessions.models import SessionStatus, UsageSession
from tests.attacks.conftest import at_once, new_key, refusals, tally

ZERO = Decimal("0.00")


def run_every_session_to_its_limit(scene) -> None:
    for order in scene.meter.acknowledge_starts():
        scene.meter.deliver(*scene.meter.run_to_limit(order))


def test_simultaneous_starts_spend_the_wallet_at_most_once(scene_factory, figures):
    scene = scene_factory(outlets=8)
    vendor = scene.vendor("2.00")
    auth = scene.api.token(vendor)
    answers = at_once([lambda t=t: scene.api.post("/sessions", auth, {"outlet_token": t}) for t in scene.tokens])
    codes = sorted(a.status_code for a in answers)
    assert 500 not in codes and set(codes) <= {201, 409}, [a.text for a in answers]
    assert set(refusals(answers)) <= {"InsufficientBalance"}
    run_every_session_to_its_limit(scene)
    assert scene.balance(vendor) >= ZERO
    assert {s.status for s in scene.sessions_of(vendor)} == {SessionStatus.completed}
    figures(f"{tally(answers)}; balance ¥{scene.balance(vendor)} after every session ran to its limit")


def test_a_start_and_a_withdrawal_at_once_cannot_both_spend_the_same_money(scene_factory, figures):
    scene = scene_factory(outlets=4)
    vendor = scene.vendor("10.00")
    auth = scene.api.token(vendor)
    calls = [lambda t=t: scene.api.post("/sessions", auth, {"outlet_token": t}) for t in scene.tokens]
    calls += [lambda: scene.api.post("/wallet/withdrawals", auth, {"amount": "10.00"}) for _ in range(4)]
    answers = at_once(calls)
    assert {a.status_code for a in answers} <= {201, 409}, [a.text for a in answers]
    assert set(refusals(answers)) <= {"InsufficientBalance", "NotThatMuchToWithdraw"}
    run_every_session_to_its_limit(scene)
    assert scene.balance(vendor) >= ZERO
    figures(f"{tally(answers)}; balance ¥{scene.balance(vendor)} after every session ran to its limit")


def test_simultaneous_withdrawals_take_out_at_most_the_balance(scene_factory, figures):
    scene = scene_factory(outlets=1)
    vendor = scene.vendor("10.00")
    auth = scene.api.token(vendor)
    answers = at_once([lambda: scene.api.post("/wallet/withdrawals", auth, {"amount": "10.00"})
                       for _ in range(10)])
    assert sorted(a.status_code for a in answers) == [201] + [409] * 9, [a.text for a in answers]
    refused = [a.json() for a in answers if a.status_code == 409]
    assert all(r["error"] == "NotThatMuchToWithdraw" for r in refused)
    assert scene.balance(vendor) == ZERO
    figures(f"{tally(answers)}; balance ¥{scene.balance(vendor)}")


def test_a_repeated_withdrawal_with_one_idempotency_key_happens_once(scene_factory, figures):
    scene = scene_factory(outlets=1)
    vendor = scene.vendor("10.00")
    auth = scene.api.token(vendor) | {"Idempotency-Key": new_key()}
    answers = at_once([lambda: scene.api.post("/wallet/withdrawals", auth, {"amount": "3.00"}) for _ in range(8)])
    assert {a.status_code for a in answers} == {201}, [a.text for a in answers]
    assert {a.json()["balance"] for a in answers} == {"7.00"}
    assert scene.balance(vendor) == Decimal("7.00")
    reused = scene.api.post("/wallet/withdrawals", auth, {"amount": "4.00"})
    assert reused.status_code == 409 and reused.json()["error"] == "IdempotencyKeyReused", reused.text
    figures(f"{tally(answers)}, each with balance ¥7.00; the key reused for ¥4.00: {tally([reused])}")


def settled_session(scene, balance: str, used_wh: int) -> tuple[object, UsageSession]:
    vendor = scene.vendor(balance)
    auth = scene.api.token(vendor)
    started = scene.api.post("/sessions", auth, {"outlet_token": scene.tokens[0]})
    assert started.status_code == 201, started.text
    scene.meter.acknowledge_starts()
    assert scene.api.post(f"/sessions/{started.json()['id']}/stop", auth).status_code == 200
    with Session(scene.engine) as db:
        session = db.get(UsageSession, started.json()["id"])
    scene.meter.deliver(*scene.meter.stop_ack(session, scene.serial, used_wh))
    with Session(scene.engine) as db:
        return vendor, db.get(UsageSession, session.id)


def test_simultaneous_refunds_of_a_session_never_exceed_what_it_cost(scene_factory, figures):
    scene = scene_factory(outlets=1, price="1.00")
    vendor, session = settled_session(scene, "5.00", used_wh=2_000)
    assert session.amount == Decimal("2.00")
    operator = scene.api.token(scene.operator)
    answers = at_once([lambda: scene.api.post(f"/sessions/{session.id}/refunds", operator,
                                              {"amount": "0.70", "reason": "socket sparked"}) for _ in range(10)])
    assert sorted(a.status_code for a in answers) == [201] * 2 + [409] * 8, [a.text for a in answers]
    assert refusals(answers) == {"RefundNotPossible": 8}
    receipt = scene.api.get(f"/sessions/{session.id}/receipt", operator).json()
    assert Decimal(receipt["refunded"]) == Decimal("1.40")
    assert scene.balance(vendor) == Decimal("5.00") - Decimal("2.00") + Decimal("1.40")
    figures(f"{tally(answers)}; ¥{receipt['refunded']} refunded of ¥2.00")


def test_a_refund_of_everything_left_happens_once_however_often_it_is_sent(scene_factory, figures):
    scene = scene_factory(outlets=1, price="1.00")
    vendor, session = settled_session(scene, "5.00", used_wh=2_000)
    operator = scene.api.token(scene.operator)
    answers = at_once([lambda: scene.api.post(f"/sessions/{session.id}/refunds", operator,
                                              {"reason": "meter fault"}) for _ in range(10)])
    assert sorted(a.status_code for a in answers) == [201] + [409] * 9, [a.text for a in answers]
    assert refusals(answers) == {"RefundNotPossible": 9}
    assert scene.balance(vendor) == Decimal("5.00")
    figures(f"{tally(answers)}; the wallet is back to ¥{scene.balance(vendor)}")


REFUND = {"amount": "0.50", "reason": "socket sparked"}


def test_a_refund_repeated_with_one_idempotency_key_is_made_once(scene_factory, figures):
    scene = scene_factory(outlets=1, price="1.00")
    vendor, session = settled_session(scene, "5.00", used_wh=2_000)
    operator = scene.api.token(scene.operator) | {"Idempotency-Key": new_key()}
    answers = [scene.api.post(f"/sessions/{session.id}/refunds", operator, REFUND) for _ in range(3)]
    assert [a.status_code for a in answers] == [201] * 3, [a.text for a in answers]
    assert {a.json()["refunded"] for a in answers} == {"0.50"}  # the first answer, replayed
    assert scene.balance(vendor) == Decimal("3.50")
    other_body = scene.api.post(f"/sessions/{session.id}/refunds", operator, REFUND | {"amount": "0.60"})
    assert other_body.status_code == 409 and other_body.json()["error"] == "IdempotencyKeyReused", other_body.text
    other_reason = scene.api.post(f"/sessions/{session.id}/refunds", operator, REFUND | {"reason": "meter fault"})
    assert other_reason.status_code == 409 and other_reason.json()["error"] == "IdempotencyKeyReused"
    fresh = scene.api.post(f"/sessions/{session.id}/refunds", operator | {"Idempotency-Key": new_key()}, REFUND)
    assert fresh.status_code == 201 and fresh.json()["refunded"] == "1.00"
    assert scene.balance(vendor) == Decimal("4.00")
    figures(f"same key 3 times: {tally(answers)}, ¥0.50 refunded once; with another amount or reason: "
            f"{tally([other_body, other_reason])}")


def test_one_idempotency_key_sent_many_times_at_once_refunds_once(scene_factory, figures):
    scene = scene_factory(outlets=1, price="1.00")
    vendor, session = settled_session(scene, "5.00", used_wh=2_000)
    operator = scene.api.token(scene.operator) | {"Idempotency-Key": new_key()}
    same = [lambda: scene.api.post(f"/sessions/{session.id}/refunds", operator, REFUND) for _ in range(8)]
    other = [lambda: scene.api.post(f"/sessions/{session.id}/refunds", operator, REFUND | {"amount": "1.50"})
             for _ in range(2)]
    answers = at_once(same + other)
    by_body = [a.status_code for a in answers[:8]], [a.status_code for a in answers[8:]]
    # Whichever body claims the key first is made, once; every other body with that key is refused.
    assert by_body in (([201] * 8, [409] * 2), ([409] * 8, [201] * 2)), [a.text for a in answers]
    assert set(refusals(answers)) == {"IdempotencyKeyReused"}
    refunded = {a.json()["refunded"] for a in answers if a.status_code == 201}
    assert refunded in ({"0.50"}, {"1.50"})
    assert scene.balance(vendor) == Decimal("3.00") + Decimal(refunded.pop())
    figures(f"one key, 8 + 2 requests with two bodies at once: {tally(answers)}; one refund made")


def test_a_session_settles_once_when_its_stop_ack_and_stop_record_race(scene_factory, figures):
    scene = scene_factory(outlets=1, price="1.00")
    vendor = scene.vendor("5.00")
    auth = scene.api.token(vendor)
    started = scene.api.post("/sessions", auth, {"outlet_token": scene.tokens[0]})
    [order] = scene.meter.acknowledge_starts()
    scene.api.post(f"/sessions/{started.json()['id']}/stop", auth)
    with Session(scene.engine) as db:
        session = db.get(UsageSession, order.session_id)
    ack = scene.meter.stop_ack(session, scene.serial, 1_500)
    record = scene.meter.message("event", _ended(scene, order, 1_500), scene.serial)
    results = at_once([lambda m=m: scene.meter.deliver(*m) for m in [ack, record, ack, record]])
    assert results == [None] * 4  # each handled, none raised
    assert scene.balance(vendor) == Decimal("3.50")
    receipt = scene.api.get(f"/sessions/{session.id}/receipt", auth).json()
    assert [line["amount"] for line in receipt["lines"]] == ["1.50"]
    figures(f"{len(results)} deliveries at once; {len(receipt['lines'])} bill line, balance ¥{scene.balance(vendor)}")


def _ended(scene, order, used_wh):
    from backend.core.clock import utcnow
    from device_gateway.protocol import SessionEnded
    return SessionEnded(ch=order.channel, session_id=order.session_id, reason="limit_reached",
                        energy_wh=scene.meter.register_wh + used_wh, boot_id="boot-1", seq=10_000, ts=utcnow())


def test_a_per_session_fee_is_covered_before_power_flows(scene_factory, figures):
    scene = scene_factory(outlets=2, price="1.00", service_fee={"per_session": "5.00"})
    poor = scene.vendor("1.00")
    refused = scene.api.post("/sessions", scene.api.token(poor), {"outlet_token": scene.tokens[0]})
    assert refused.status_code == 409 and refused.json()["error"] == "InsufficientBalance", refused.text
    assert "5.00" in refused.json()["detail"]
    enough = scene.vendor("6.00")
    started = scene.api.post("/sessions", scene.api.token(enough), {"outlet_token": scene.tokens[1]})
    assert started.status_code == 201, started.text
    run_every_session_to_its_limit(scene)
    assert ZERO <= scene.balance(enough) < Decimal("0.05")
    figures(f"¥1.00 wallet: {tally([refused])}; ¥6.00 wallet ran to its limit and left ¥{scene.balance(enough)}")


def test_first_top_ups_of_many_vendors_at_once_on_a_fresh_database_all_succeed(scene_factory, figures):
    scene = scene_factory(outlets=1)
    vendors = [scene.vendor("0") for _ in range(6)]  # no ledger account exists yet, not even the clearing one
    auths = [scene.api.token(v) for v in vendors]
    answers = at_once([lambda a=a: scene.api.post("/wallet/top-ups", a, {"amount": "5.00"}) for a in auths])
    assert [a.status_code for a in answers] == [201] * 6, [a.text for a in answers]
    assert [scene.balance(v) for v in vendors] == [Decimal("5.00")] * 6
    figures(f"6 first top-ups at once: {tally(answers)}")
