"""Provisioning is never lost: a broker away at approval gets the account from the scheduled job; many approvals
at once, with several provisioners and the job racing, all reach the broker once; a closed point's meter keeps
its account until its sessions have stopped."""
import threading
import time
from decimal import Decimal

from prometheus_client import REGISTRY
from sqlmodel import Session

from backend.health import FleetGauges
from backend.broker_accounts.configured import device_policy, live_accounts
from backend.broker_accounts.models import BrokerAccount
from backend.broker_accounts.provisioner import Provisioner
from backend.broker_accounts.service import pending_count
from backend.core.db import unit_of_work
from backend.dtu import service as dtu
from backend.dtu.models import ChannelLink, DtuCommission
from backend.meters.orders import RecordingSink
from backend.points import service as points
from backend.users.models import Role
from scanpower.scheduler import build_scheduler
from tests import factories
from tests.backend.broker_accounts.dynsec_broker import connects
from tests.backend.broker_accounts.test_dynsec_provisioning import approve, submitted_point
from tests.mqtt_tools import wait_for


def _counted(outcome: str) -> float:
    return REGISTRY.get_sample_value("scanpower_broker_account_changes_total", {"outcome": outcome}) or 0


def test_an_approval_while_the_broker_is_down_is_provisioned_by_the_job_once_it_is_back(engine, live_settings,
                                                                                        dynsec):
    provisioner = Provisioner(engine, live_accounts(live_settings), device_policy(live_settings)).start()
    unreachable_before = _counted("unreachable")
    dynsec.stop()
    try:
        meter = approve(engine, submitted_point(engine))
        wait_for(lambda: _attempts(engine, meter.serial) >= 1, timeout=10, what="a failed immediate attempt")
    finally:
        provisioner.stop()
    with Session(engine) as db:
        row = db.get(BrokerAccount, meter.serial)
        assert row.applied_version < row.version and "broker unavailable" in row.last_error
    assert _counted("unreachable") > unreachable_before
    assert _gauges(engine) == {"pending": 1, "failing": 1}
    dynsec.start()  # the same dynamic-security.json: nothing was added while it was away
    assert not connects(dynsec.port, meter.serial, meter.mqtt_password)
    scheduler = build_scheduler(live_settings, engine, RecordingSink())
    scheduler.prepare()
    outcome = scheduler.run(scheduler.jobs["reconcile_broker_accounts"])
    assert outcome.ok and outcome.touched == 1
    assert connects(dynsec.port, meter.serial, meter.mqtt_password)
    with Session(engine) as db:
        assert pending_count(db) == 0 and db.get(BrokerAccount, meter.serial).attempts == 0
    assert _gauges(engine) == {"pending": 0, "failing": 0}


def test_many_approvals_at_once_with_provisioners_and_the_job_racing_all_reach_the_broker(engine, live_settings,
                                                                                          dynsec, figures):
    count = 24
    point_ids = [submitted_point(engine) for _ in range(count)]
    # Two API processes' provisioners and a scheduler job, all taking rows at the same time.
    provisioners = [Provisioner(engine, live_accounts(live_settings), device_policy(live_settings)).start()
                    for _ in range(2)]
    scheduler = build_scheduler(live_settings, engine, RecordingSink())
    scheduler.prepare()
    barrier = threading.Barrier(count)
    meters, errors = {}, []

    def approve_at_once(point_id: int) -> None:
        try:
            barrier.wait(10)
            meters[point_id] = approve(engine, point_id)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    started = time.monotonic()
    threads = [threading.Thread(target=approve_at_once, args=(p,)) for p in point_ids]
    for thread in threads:
        thread.start()
    job = threading.Thread(target=lambda: [scheduler.run(scheduler.jobs["reconcile_broker_accounts"])
                                           for _ in range(3)])
    job.start()
    for thread in threads + [job]:
        thread.join(60)
    try:
        assert errors == []
        wait_for(lambda: _all_settled(engine), timeout=20, what="every account applied")
        took = time.monotonic() - started
    finally:
        for provisioner in provisioners:
            provisioner.stop()
    refused = [m.serial for m in meters.values() if not connects(dynsec.port, m.serial, m.mqtt_password)]
    assert refused == []
    figures(f"{count} approvals at once, 2 provisioners and the job racing: all {count} accounts on the broker "
            f"{took:.2f} s after the first approval; every meter's login accepted")


def test_a_closed_points_meter_keeps_its_account_until_its_session_has_stopped(engine, live_settings, dynsec):
    """The stop order and the meter's stop record travel over its account."""
    from backend.sessions import service as sessions
    from backend.sessions.models import SessionStatus, UsageSession

    broker, policy = live_accounts(live_settings), device_policy(live_settings)
    with unit_of_work(engine, RecordingSink()) as db:
        point, meter = factories.active_point(db)
        vendor = factories.user(db, Role.vendor, balance=Decimal("20"))
        outlet = points.outlets_of_point(db, point.id)[0]
    provisioner = Provisioner(engine, broker, policy)
    provisioner.run_once()
    assert connects(dynsec.port, meter.serial, meter.mqtt_password)
    with unit_of_work(engine, RecordingSink()) as db:
        session = sessions.start_session(db, vendor, outlet.qr_token, Decimal("1.00"), 30)
    with unit_of_work(engine, RecordingSink()) as db:
        points.close_point(db, point.id)
        db.get(UsageSession, session.id).status = SessionStatus.stopping
    provisioner.run_once()
    assert connects(dynsec.port, meter.serial, meter.mqtt_password), "dropped while its stop is under way"
    with unit_of_work(engine, RecordingSink()) as db:
        db.get(UsageSession, session.id).status = SessionStatus.completed
    provisioner.run_once()
    broker.close()
    assert not connects(dynsec.port, meter.serial, meter.mqtt_password)


def test_a_commissioned_dtu_gets_its_account_and_the_dtu_it_replaces_loses_its(engine, live_settings, dynsec):
    broker, policy = live_accounts(live_settings), device_policy(live_settings)
    provisioner = Provisioner(engine, broker, policy)
    with unit_of_work(engine, RecordingSink()) as db:
        point, _ = factories.active_point(db, outlets=1)
        body = DtuCommission(dtu_id="DTU-A", channels=[ChannelLink(channel=1, address="000000000001")])
        first = dtu.commission(db, point.id, body, None).mqtt_password
    provisioner.run_once()
    assert connects(dynsec.port, "DTU-A", first)
    with unit_of_work(engine, RecordingSink()) as db:
        body = DtuCommission(dtu_id="DTU-B", channels=[ChannelLink(channel=1, address="000000000001")])
        second = dtu.commission(db, point.id, body, None).mqtt_password
    provisioner.run_once()
    broker.close()
    assert connects(dynsec.port, "DTU-B", second)
    assert not connects(dynsec.port, "DTU-A", first)


def _gauges(engine) -> dict[str, float]:
    family = next(f for f in FleetGauges(engine).collect() if f.name == "scanpower_broker_accounts")
    return {sample.labels["state"]: sample.value for sample in family.samples}


def _attempts(engine, username: str) -> int:
    with Session(engine) as db:
        row = db.get(BrokerAccount, username)
        return row.attempts if row else 0


def _all_settled(engine) -> bool:
    with Session(engine) as db:
        return pending_count(db) == 0

