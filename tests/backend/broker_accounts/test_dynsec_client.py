"""The management connection's failures: a wrong admin password and a broker without the plugin are each a clear
BrokerUnavailable within the timeout, never a hang; the next attempt works once the cause is gone."""
import time

import pytest

from backend.broker_accounts.desired import Account
from backend.broker_accounts.dynsec import DynsecAccounts
from backend.broker_accounts.interface import BrokerUnavailable, Change
from device_gateway.broker_config import AccessPolicy
from device_gateway.broker_url import BrokerAddress
from device_gateway.embedded_broker import EmbeddedBroker, free_port

CHANGE = Change("SP00000042", Account("SP00000042", "pw-42", AccessPolicy().rules_for("SP00000042")))


def test_a_wrong_admin_password_is_refused_clearly(dynsec):
    accounts = DynsecAccounts(BrokerAddress("127.0.0.1", dynsec.port, "admin", "not-the-password"), timeout_s=2)
    try:
        with pytest.raises(BrokerUnavailable, match="as admin"):
            accounts.apply([CHANGE])
    finally:
        accounts.close()
    right = DynsecAccounts(BrokerAddress("127.0.0.1", dynsec.port, "admin", dynsec.admin_password), timeout_s=2)
    try:
        assert right.apply([CHANGE]) == {CHANGE.username: None}
        assert right.apply([CHANGE]) == {CHANGE.username: None}  # again: changed, not created twice
        assert right.apply([Change(CHANGE.username, None)]) == {CHANGE.username: None}
        assert right.apply([Change(CHANGE.username, None)]) == {CHANGE.username: None}  # gone already is fine
    finally:
        right.close()


def test_a_broker_without_the_plugin_times_out_instead_of_hanging():
    broker = EmbeddedBroker("127.0.0.1", free_port())  # anonymous, and nothing answers on $CONTROL
    broker.start()
    accounts = DynsecAccounts(BrokerAddress.parse(broker.url), timeout_s=1)
    try:
        started = time.monotonic()
        with pytest.raises(BrokerUnavailable, match="no answer from the dynamic-security plugin"):
            accounts.apply([CHANGE])
        assert time.monotonic() - started < 3
    finally:
        accounts.close()
        broker.stop()


def test_an_unreachable_broker_is_said_at_once():
    accounts = DynsecAccounts(BrokerAddress("127.0.0.1", free_port(), "admin", "x"), timeout_s=1)
    with pytest.raises(BrokerUnavailable, match="cannot reach"):
        accounts.apply([CHANGE])
