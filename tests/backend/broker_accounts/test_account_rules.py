"""The pure rules: who keeps an account, which dynamic-security commands make it, how they are split."""
import json

from backend.broker_accounts.desired import Account, Keep, keeps_account
from backend.broker_accounts.dynsec import MAX_COMMANDS_PER_MESSAGE, MAX_MESSAGE_BYTES, _chunks
from backend.broker_accounts.dynsec_commands import first_round, role_name
from backend.broker_accounts.interface import Change
from backend.points.models import PointStatus
from device_gateway.broker_config import AccessPolicy

POLICY = AccessPolicy("scanpower/v1")


def test_only_live_points_keep_their_meters_account_and_closed_ones_until_their_sessions_stop():
    assert keeps_account(PointStatus.approved, False) is Keep.yes
    assert keeps_account(PointStatus.active, True) is Keep.yes
    for status in (PointStatus.closed, PointStatus.expired):
        assert keeps_account(status, True) is Keep.for_now
        assert keeps_account(status, False) is Keep.no
    assert keeps_account(PointStatus.submitted, False) is Keep.no


def test_an_accounts_role_allows_exactly_the_acl_files_rules_for_its_username():
    account = Account("SP00000007", "pw", POLICY.rules_for("SP00000007"))
    create_role, create_client = first_round(Change(account.username, account))
    acls = {(a["acltype"], a["topic"]) for a in create_role.body["acls"]}
    assert ("publishClientSend", "scanpower/v1/m/SP00000007/telemetry") in acls
    assert ("subscribePattern", "scanpower/v1/m/SP00000007/cmd") in acls
    assert ("publishClientReceive", "scanpower/v1/m/SP00000007/cmd") in acls
    assert not any("+" in topic or "#" in topic for _, topic in acls)
    expected = {r.topic for r in POLICY.rules_for("SP00000007")}
    assert {topic for _, topic in acls} == expected
    assert create_client.body["roles"] == [{"rolename": role_name("SP00000007")}]
    assert [b["command"] for b in create_client.then] == ["setClientPassword", "modifyClient"]


def test_removing_deletes_the_client_and_its_role_and_tolerates_their_absence():
    delete_client, delete_role = first_round(Change("SP00000007", None))
    assert delete_client.body == {"command": "deleteClient", "username": "SP00000007"}
    assert delete_role.body["command"] == "deleteRole" and delete_client.tolerated == ("not found",)


def test_a_new_password_or_rule_changes_the_fingerprint():
    rules = POLICY.rules_for("SP1")
    assert Account("SP1", "a", rules).fingerprint == Account("SP1", "a", rules).fingerprint
    assert Account("SP1", "a", rules).fingerprint != Account("SP1", "b", rules).fingerprint
    assert Account("SP1", "a", rules).fingerprint != Account("SP1", "a", rules[:-1]).fingerprint
    assert "a" not in repr(Account("SP1", "a", ()))[len("Account(username='SP1'"):]


def test_commands_are_split_into_messages_under_the_brokers_packet_limit():
    commands = [c.body for i in range(300)
                for c in first_round(Change(f"SP{i:08d}", Account(f"SP{i:08d}", "p" * 32,
                                                                   POLICY.rules_for(f"SP{i:08d}"))))]
    chunks = _chunks(commands)
    assert sum(len(c) for c in chunks) == len(commands) and len(chunks) > 1
    assert all(len(json.dumps({"commands": c})) < MAX_MESSAGE_BYTES + 100 for c in chunks)
    assert all(len(c) <= MAX_COMMANDS_PER_MESSAGE for c in chunks)
    assert [c for chunk in chunks for c in chunk] == commands


def test_with_files_nothing_is_live_and_no_broker_route_answers(settings, engine):
    from fastapi.testclient import TestClient

    from backend.app import create_app
    from backend.broker_accounts.configured import live_accounts
    from backend.meters.orders import RecordingSink
    from scanpower.scheduler import build_jobs

    assert settings.broker_accounts == "files" and live_accounts(settings) is None
    assert "reconcile_broker_accounts" not in {job.name for job in build_jobs(settings)}
    app = create_app(settings, engine, RecordingSink(), lambda: True)
    assert not hasattr(app.state, "provisioner")
    with TestClient(app) as client:
        assert client.post("/api/v1/broker-auth/authenticate", json={"username": "SP1"}).status_code == 404
