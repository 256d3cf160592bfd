"""The operators' commands with live accounts: a re-issue reaches the broker before the command returns, and
broker-sync gives a broker that lost its data every account again."""
import json

import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from backend.core import config
from backend.core.db import unit_of_work
from backend.meters.orders import RecordingSink
from backend.points.models import Meter
from scanpower.cli import app
from tests import factories
from tests.backend.broker_accounts.dynsec_broker import connects


@pytest.fixture
def cli(live_settings, monkeypatch):
    monkeypatch.setattr(config, "get_settings", lambda: live_settings)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_a_reissued_password_works_when_the_command_returns(cli, engine, dynsec):
    with unit_of_work(engine, RecordingSink()) as db:
        _, meter = factories.active_point(db)
    result = cli("meters", "reissue", meter.serial)
    assert result.exit_code == 0 and "the broker has it now" in result.output
    with Session(engine) as db:
        new = db.get(Meter, meter.id).mqtt_password
    assert connects(dynsec.port, meter.serial, new)
    assert not connects(dynsec.port, meter.serial, meter.mqtt_password)


def test_broker_sync_gives_a_broker_that_lost_its_data_every_account_again(cli, engine, dynsec, tmp_path):
    with unit_of_work(engine, RecordingSink()) as db:
        meters = [factories.active_point(db)[1] for _ in range(3)]
    assert cli("meters", "broker-sync").exit_code == 0
    assert all(connects(dynsec.port, m.serial, m.mqtt_password) for m in meters)
    dynsec.stop()
    accounts = tmp_path / "dynamic-security.json"  # as if its volume were lost: the admin alone again
    document = json.loads(accounts.read_text())
    document["clients"] = [c for c in document["clients"] if c["username"] == "admin"]
    document["roles"] = [r for r in document["roles"] if r["rolename"] == "admin"]
    accounts.write_text(json.dumps(document))
    dynsec.start()
    assert not any(connects(dynsec.port, m.serial, m.mqtt_password) for m in meters)
    result = cli("meters", "broker-sync")
    assert result.exit_code == 0 and "3 accounts sent to the broker; 0 still pending" in result.output
    assert all(connects(dynsec.port, m.serial, m.mqtt_password) for m in meters)
