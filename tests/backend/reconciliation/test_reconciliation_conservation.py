"""Every Wh of a point is in a session or unattributed, to the Wh, and differences are flagged as gaps."""
from datetime import timedelta

from backend.meters.models import Reading
from backend.meters.register_rules import StepKind
from backend.reconciliation.service import reconcile
from backend.sessions.models import SessionStatus
from tests.backend.reconciliation.scene import local, run_quarters


def busy_day(scene, day: int) -> None:
    """Three outlets, five sessions, lights left on between sessions on outlets 1 and 3."""
    feed, (a, b, c) = scene.feed, scene.vendors
    feed.report(local(2026, 11, day, 6))
    run_quarters(feed, local(2026, 11, day, 6), local(2026, 11, day, 8), {1: 40, 3: 15})  # idle: lights
    feed.start(a, 1, local(2026, 11, day, 8))
    feed.start(b, 2, local(2026, 11, day, 8))
    run_quarters(feed, local(2026, 11, day, 8), local(2026, 11, day, 10), {1: 450, 2: 600, 3: 15})
    feed.stop(1, local(2026, 11, day, 10))
    run_quarters(feed, local(2026, 11, day, 10), local(2026, 11, day, 11), {1: 25, 2: 600, 3: 15})
    feed.stop(2, local(2026, 11, day, 11))
    feed.start(c, 3, local(2026, 11, day, 11))
    feed.start(a, 1, local(2026, 11, day, 11))
    run_quarters(feed, local(2026, 11, day, 11), local(2026, 11, day, 14), {1: 333, 2: 7, 3: 512})
    feed.stop(3, local(2026, 11, day, 14))
    feed.stop(1, local(2026, 11, day, 14))
    feed.start(b, 2, local(2026, 11, day, 18))  # no readings between 14:00 and 18:00: the step spans it
    run_quarters(feed, local(2026, 11, day, 18), local(2026, 11, day, 21, 30), {1: 60, 2: 901, 3: 15})
    feed.stop(2, local(2026, 11, day, 21, 30))
    run_quarters(feed, local(2026, 11, day, 21, 30), local(2026, 11, day, 23), {1: 60, 3: 15})


def test_register_delta_is_session_energy_plus_unattributed_to_the_wh(db, scene):
    for day in (3, 4, 17):
        busy_day(scene, day)
    result = reconcile(db, scene.point.id, local(2026, 11, 1), local(2026, 12, 1))
    truth = scene.feed.truth
    assert result.balanced and result.gaps == [] and result.gap_wh == 0
    assert result.unattributed_wh == truth["unattributed"] > 0
    assert result.session_energy_wh == truth["session"] == sum(s.settled_wh for s in result.sessions)
    assert result.register_delta_wh == result.session_energy_wh + result.unattributed_wh
    assert len(result.sessions) == 15 and all(s.measured_wh == s.settled_wh for s in result.sessions)
    assert result.anomalies == []


def test_each_outlet_balances_on_its_own(db, scene):
    busy_day(scene, 3)
    result = reconcile(db, scene.point.id, local(2026, 11, 3), local(2026, 11, 4))
    by_channel = {o.channel: (o.register_delta_wh, o.settled_wh, o.unattributed_wh) for o in result.outlets}
    # outlet 1: lights 8×40 + 4×25 + 14×60 + 6×60 idle; sessions 8×450 + 12×333
    assert by_channel[1] == (320 + 100 + 3600 + 3996 + 840 + 360, 3600 + 3996, 320 + 100 + 840 + 360)
    # outlet 2: the 7 Wh a quarter between its sessions is unattributed
    assert by_channel[2] == (4800 + 2400 + 84 + 12614, 4800 + 2400 + 12614, 84)
    assert by_channel[3][1] == 12 * 512 and by_channel[3][2] == 15 * (8 + 8 + 4 + 14 + 6)


def test_money_collected_is_what_the_sessions_were_settled_for(db, scene):
    busy_day(scene, 3)
    result = reconcile(db, scene.point.id, local(2026, 11, 1), local(2026, 12, 1))
    assert result.collected == sum(s.amount for s in result.sessions) > 0


def test_a_session_belongs_to_the_month_it_ended_in_and_months_add_up(db, scene):
    feed, vendor = scene.feed, scene.vendors[0]
    feed.report(local(2026, 10, 31, 22))
    run_quarters(feed, local(2026, 10, 31, 22), local(2026, 10, 31, 23), {1: 20, 2: 30})
    straddles_november = feed.start(vendor, 1, local(2026, 10, 31, 23))
    run_quarters(feed, local(2026, 10, 31, 23), local(2026, 11, 1, 1), {1: 500, 2: 30})
    feed.stop(1, local(2026, 11, 1, 1))
    run_quarters(feed, local(2026, 11, 30, 22), local(2026, 11, 30, 23, 30), {1: 10, 2: 30})
    straddles_december = feed.start(vendor, 1, local(2026, 11, 30, 23, 30))
    run_quarters(feed, local(2026, 11, 30, 23, 30), local(2026, 12, 1, 0, 30), {1: 400, 2: 30})
    feed.stop(1, local(2026, 12, 1, 0, 30))
    run_quarters(feed, local(2026, 12, 1, 0, 30), local(2026, 12, 1, 2), {1: 10, 2: 30})

    months = [reconcile(db, scene.point.id, local(2026, m, 1), local(2026 + m // 12, m % 12 + 1, 1))
              for m in (10, 11, 12)]
    october, november, december = months
    assert [s.session_id for s in november.sessions] == [straddles_november.id]
    assert [s.session_id for s in december.sessions] == [straddles_december.id]
    # outlet 2's quarter ending at midnight belongs to November: a step counts where its closing reading falls
    assert october.sessions == [] and october.unattributed_wh == 4 * 20 + 7 * 30
    assert november.session_energy_wh == 8 * 500
    whole = reconcile(db, scene.point.id, local(2026, 10, 1), local(2027, 1, 1))
    assert all(m.balanced for m in (*months, whole))
    for total in ("register_delta_wh", "session_energy_wh", "unattributed_wh"):
        assert sum(getattr(m, total) for m in months) == getattr(whole, total)
    assert whole.unattributed_wh == scene.feed.truth["unattributed"]
    assert whole.session_energy_wh == scene.feed.truth["session"]


def test_an_open_session_is_a_gap_until_it_ends(db, scene):
    feed = scene.feed
    feed.report(local(2026, 11, 5, 9))
    running = feed.start(scene.vendors[0], 2, local(2026, 11, 5, 9))
    run_quarters(feed, local(2026, 11, 5, 9), local(2026, 11, 5, 10), {2: 250})
    result = reconcile(db, scene.point.id, local(2026, 11, 1), local(2026, 12, 1))
    assert not result.balanced and result.gap_wh == 1000
    [gap] = result.gaps
    assert gap.session_id == running.id and gap.status == SessionStatus.active and gap.settled_wh is None
    assert "still active: 1000 Wh measured so far" in gap.reason
    assert result.register_delta_wh == result.session_energy_wh + result.unattributed_wh + result.gap_wh


def test_a_session_whose_readings_disagree_with_its_settlement_is_a_gap(db, scene):
    feed = scene.feed
    feed.report(local(2026, 11, 6, 8))
    session = feed.start(scene.vendors[0], 1, local(2026, 11, 6, 8))
    run_quarters(feed, local(2026, 11, 6, 8), local(2026, 11, 6, 10), {1: 400})
    feed.stop(1, local(2026, 11, 6, 10))
    # A garbage reading uploaded late, inside the session: the register rules cannot vouch for the steps around it.
    db.add(Reading(meter_id=scene.meter.id, boot_id="boot-1", seq=9_999, channel=1,
                   device_time=local(2026, 11, 6, 8, 40), energy_wh=5_000_000, power_w=0, voltage_v=230,
                   current_a=0, relay_closed=True))
    db.flush()
    result = reconcile(db, scene.point.id, local(2026, 11, 1), local(2026, 12, 1))
    [gap] = result.gaps
    assert gap.session_id == session.id and gap.settled_wh == 3200 and gap.measured_wh == 2800
    assert gap.gap_wh == -400 and result.gap_wh == -400 and not result.balanced
    assert "settled for 3200 Wh but its readings add up to 2800 Wh" in gap.reason
    assert "nothing billed for this step" in gap.reason
    kinds = {a.kind for _, a in result.anomalies}
    assert kinds == {StepKind.IMPOSSIBLE_JUMP, StepKind.WENT_BACKWARDS}
    assert result.register_delta_wh == result.session_energy_wh + result.unattributed_wh + result.gap_wh


def test_a_meter_reset_while_idle_is_flagged_and_bills_no_nonsense(db, scene):
    feed = scene.feed
    feed.report(local(2026, 11, 7, 8))
    run_quarters(feed, local(2026, 11, 7, 8), local(2026, 11, 7, 9), {3: 100})
    feed.reboot("boot-2", 3, register_wh=0)
    feed.report(local(2026, 11, 7, 9, 5))
    run_quarters(feed, local(2026, 11, 7, 9, 5), local(2026, 11, 7, 10, 5), {3: 100})
    result = reconcile(db, scene.point.id, local(2026, 11, 1), local(2026, 12, 1))
    # The reset step bills nothing (not minus 10 kWh, not 99 999 kWh); the energy either side of it counts.
    assert result.unattributed_wh == 800 and result.register_delta_wh == 800
    assert [(channel, a.kind) for channel, a in result.anomalies] == [
        (1, StepKind.REBOOTED), (2, StepKind.REBOOTED), (3, StepKind.METER_RESET)]
    assert result.balanced


def test_a_period_with_no_readings_is_empty_and_balanced(db, scene):
    result = reconcile(db, scene.point.id, local(2026, 11, 1), local(2026, 11, 1) + timedelta(days=1))
    assert (result.register_delta_wh, result.unattributed_wh, result.session_energy_wh) == (0, 0, 0)
    assert result.balanced and len(result.outlets) == 3
