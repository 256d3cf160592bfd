"""Mosquitto dynamic-security commands for an account, and how to read the answers (no I/O here).

An account is a client (username = serial or DTU id) with one role of its own, whose ACLs are exactly the
rules broker-config's ACL file gives that username: `read` → subscribePattern and publishClientReceive,
`write` → publishClientSend. Creating comes first; what already exists is then changed in a second round.
"""
from dataclasses import dataclass

from backend.broker_accounts.desired import Account, Rule
from backend.broker_accounts.interface import Change

ACL_TYPES = {"read": ("subscribePattern", "publishClientReceive"), "write": ("publishClientSend",)}
ALREADY_EXISTS = ("already exists",)
NOT_FOUND = ("not found",)


def role_name(username: str) -> str:
    return f"scanpower-device-{username}"


def acls(rules: tuple[Rule, ...]) -> list[dict]:
    return [{"acltype": acltype, "topic": rule.topic, "priority": 0, "allow": True}
            for rule in rules for acltype in ACL_TYPES[rule.access]]


@dataclass(frozen=True)
class Command:
    username: str  # whose change this command is part of
    body: dict
    tolerated: tuple[str, ...] = ()  # errors that mean "already so"
    then: tuple[dict, ...] = ()  # commands to send instead when it failed with a tolerated error


def first_round(change: Change) -> list[Command]:
    if change.account is None:
        return [Command(change.username, {"command": "deleteClient", "username": change.username}, NOT_FOUND),
                Command(change.username, {"command": "deleteRole", "rolename": role_name(change.username)},
                        NOT_FOUND)]
    account, role = change.account, role_name(change.username)
    return [Command(account.username, {"command": "createRole", "rolename": role, "acls": acls(account.rules)},
                    ALREADY_EXISTS, (_modify_role(account),)),
            Command(account.username, {"command": "createClient", "username": account.username,
                                       "password": account.password, "roles": [{"rolename": role}]},
                    ALREADY_EXISTS, _modify_client(account))]


def _modify_role(account: Account) -> dict:
    return {"command": "modifyRole", "rolename": role_name(account.username), "acls": acls(account.rules)}


def _modify_client(account: Account) -> tuple[dict, ...]:
    # A new password disconnects whoever is logged in with the old one. The platform never disables a client
    # (it deletes it), so one an operator disabled by hand stays so.
    return ({"command": "setClientPassword", "username": account.username, "password": account.password},
            {"command": "modifyClient", "username": account.username,
             "roles": [{"rolename": role_name(account.username)}]})


def is_one_of(error: str | None, kinds: tuple[str, ...]) -> bool:
    return error is not None and any(kind in error.lower() for kind in kinds)
