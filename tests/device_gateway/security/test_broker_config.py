"""The access rules as plain functions, and the Mosquitto files generated from them."""
import base64
import shutil
import stat
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st

from device_gateway.broker_config import (
    AccessPolicy, PlatformRole, PlatformUser, acl_file, broker_credentials, filter_covers, meters_for_broker,
    mosquitto_password_hash, topic_matches, write_broker_config,
)
from device_gateway.protocol import Topics
from tests import factories

PREFIX = "scanpower/v1"
GATEWAY = PlatformUser("scanpower-gateway", "gateway-secret", PlatformRole.gateway)
API = PlatformUser("scanpower-api", "api-secret", PlatformRole.publisher)
POLICY = AccessPolicy.for_platform(PREFIX, [GATEWAY, API])
UPLINK = ("telemetry", "ack", "event", "status")


def topic(serial: str, kind: str) -> str:
    return f"{PREFIX}/m/{serial}/{kind}"


def test_password_hash_is_the_one_mosquitto_passwd_writes(tmp_path):
    mosquitto_passwd = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    subprocess.run([mosquitto_passwd, "-c", "-b", str(tmp_path / "passwd"), "SP00000001", "s3cret pass"], check=True)
    username, theirs = (tmp_path / "passwd").read_text().strip().split(":", 1)
    salt = base64.b64decode(theirs.split("$")[3])
    assert (username, mosquitto_password_hash("s3cret pass", salt)) == ("SP00000001", theirs)


def test_every_password_hash_has_its_own_salt():
    first, second = mosquitto_password_hash("same"), mosquitto_password_hash("same")
    assert first.startswith("$7$101$") and first != second


def test_a_meter_may_publish_only_its_own_uplink():
    for kind in UPLINK:
        assert POLICY.may_publish("SP00000001", topic("SP00000001", kind))
        assert not POLICY.may_publish("SP00000001", topic("SP00000002", kind))
    assert not POLICY.may_publish("SP00000001", topic("SP00000001", "cmd"))
    assert not POLICY.may_publish("SP00000001", topic("+", "telemetry"))


def test_a_meter_may_read_only_its_own_commands():
    assert POLICY.may_subscribe("SP00000001", topic("SP00000001", "cmd"))
    assert POLICY.may_receive("SP00000001", topic("SP00000001", "cmd"))
    assert not POLICY.may_receive("SP00000001", topic("SP00000002", "cmd"))
    assert not POLICY.may_subscribe("SP00000001", topic("+", "cmd"))
    assert not POLICY.may_subscribe("SP00000001", f"{PREFIX}/#")
    assert not POLICY.may_receive("SP00000001", topic("SP00000002", "status"))


def test_the_gateway_reads_every_uplink_also_through_a_shared_subscription_and_sends_commands():
    for kind in UPLINK:
        assert POLICY.may_subscribe(GATEWAY.username, topic("+", kind))
        assert POLICY.may_subscribe(GATEWAY.username, f"$share/gateways/{topic('+', kind)}")
        assert POLICY.may_receive(GATEWAY.username, topic("SP00000002", kind))
    assert POLICY.may_publish(GATEWAY.username, topic("SP00000002", "cmd"))
    assert not POLICY.may_receive(GATEWAY.username, topic("SP00000002", "cmd"))
    assert not POLICY.may_publish(GATEWAY.username, topic("SP00000002", "telemetry"))
    assert not POLICY.may_subscribe(GATEWAY.username, f"{PREFIX}/#")


def test_only_a_gateway_may_send_and_read_its_catch_up_marker():
    marker = Topics(PREFIX).gateway_marker("gw-1")
    assert POLICY.may_publish(GATEWAY.username, marker) and POLICY.may_subscribe(GATEWAY.username, marker)
    for other in ("SP00000001", API.username):
        assert not POLICY.may_publish(other, marker) and not POLICY.may_subscribe(other, marker)


def test_the_api_may_only_send_commands():
    assert POLICY.may_publish(API.username, topic("SP00000002", "cmd"))
    assert not POLICY.may_receive(API.username, topic("SP00000002", "telemetry"))
    assert not POLICY.may_publish(API.username, topic("SP00000002", "telemetry"))


def test_anonymous_and_wildcard_usernames_have_no_rights():
    for username in (None, "", "+", "#", "SP+"):
        assert POLICY.rules_for(username) == ()
        assert not POLICY.may_publish(username, topic("+", "telemetry").replace("+", username or "x"))


def test_the_acl_file_states_the_policy_as_patterns_and_platform_users():
    text = acl_file(POLICY)
    assert f"pattern write {PREFIX}/m/%u/telemetry" in text
    assert f"pattern read {PREFIX}/m/%u/cmd" in text
    gateway_section = text.split(f"user {GATEWAY.username}\n", 1)[1].split("\n\n")[0].splitlines()
    assert gateway_section == [f"topic read {PREFIX}/m/+/{kind}" for kind in UPLINK] + [
        f"topic write {PREFIX}/m/+/cmd", f"topic read {PREFIX}/gateway/+/marker",
        f"topic write {PREFIX}/gateway/+/marker"]
    api_section = text.split(f"user {API.username}\n", 1)[1].split("\n\n")[0].splitlines()
    assert api_section == [f"topic write {PREFIX}/m/+/cmd"]


@pytest.mark.parametrize("meters, users", [
    ([("SP1", "a"), ("SP1", "b")], []),
    ([("scanpower-gateway", "a")], [GATEWAY]),
    ([("SP/1", "a")], []),
    ([("SP#", "a")], []),
    ([("SP:1", "a")], []),
    ([("SP1", "")], []),
    ([("SP1", "two\nlines")], []),
])
def test_credentials_that_the_broker_could_confuse_are_refused(meters, users):
    with pytest.raises(ValueError):
        broker_credentials(meters, users)


def test_write_broker_config_writes_a_conf_naming_its_password_file_and_acl(tmp_path):
    files = write_broker_config([("SP00000001", "pw-1")], [GATEWAY, API], PREFIX, tmp_path / "broker", port=18830)
    conf = files.conf.read_text().splitlines()
    assert "listener 18830" in conf and "allow_anonymous false" in conf
    assert "max_packet_size 20480" in conf  # protocol v1's 16 KiB payload and room for the rest
    assert f"password_file {files.password_file}" in conf and f"acl_file {files.acl_file}" in conf
    users = [line.split(":", 1)[0] for line in files.password_file.read_text().splitlines()]
    assert users == ["SP00000001", GATEWAY.username, API.username]
    assert stat.S_IMODE(files.password_file.stat().st_mode) == 0o600
    assert files.acl_file.read_text() == acl_file(POLICY)


def test_the_conf_can_name_where_the_files_are_installed(tmp_path):
    files = write_broker_config([("SP00000001", "pw-1")], [GATEWAY], PREFIX, tmp_path, installed_at=tmp_path / "etc")
    assert f"acl_file {tmp_path / 'etc' / 'acl'}" in files.conf.read_text().splitlines()


def test_meters_for_broker_lists_every_meter_with_its_password(db):
    _, first = factories.active_point(db)
    _, second = factories.active_point(db)
    assert meters_for_broker(db) == sorted([(first.serial, first.mqtt_password), (second.serial, second.mqtt_password)])


levels = st.lists(st.sampled_from(["a", "b", "+", "#"]), min_size=1, max_size=4).map("/".join)
names = st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=4).map("/".join)


@given(allowed=levels, asked=levels, topic_name=names)
def test_a_covered_filter_only_matches_topics_the_covering_filter_matches(allowed, asked, topic_name):
    if filter_covers(allowed, asked) and topic_matches(asked, topic_name):
        assert topic_matches(allowed, topic_name)
