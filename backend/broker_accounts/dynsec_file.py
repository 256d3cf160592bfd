"""A first dynamic-security.json: the admin account and the platform's, before the broker first starts.

The same document `mosquitto_ctrl dynsec init` writes, with the platform's roles as broker-config's ACL file
gives them; the meters' and DTUs' accounts are added live afterwards (service.reconcile).
"""
import base64
import hashlib
import json
import os

from backend.broker_accounts.dynsec_commands import acls
from device_gateway.broker_config import MOSQUITTO_ITERATIONS, AccessPolicy, PlatformUser

ADMIN_ROLE = "admin"
ADMIN_ACLS = [{"acltype": t, "topic": "$CONTROL/dynamic-security/#", "allow": True}
              for t in ("publishClientSend", "publishClientReceive", "subscribePattern")]
DEFAULT_ACCESS = {"publishClientSend": False, "publishClientReceive": True, "subscribe": False, "unsubscribe": True}


def dynsec_client(username: str, password: str, rolename: str) -> dict:
    """A client entry; the password as the plugin keeps it (PBKDF2-SHA512 over a salt, base64)."""
    salt = os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, MOSQUITTO_ITERATIONS)
    return {"username": username, "password": base64.b64encode(digest).decode(),
            "salt": base64.b64encode(salt).decode(), "iterations": MOSQUITTO_ITERATIONS,
            "roles": [{"rolename": rolename}]}


def platform_role(username: str) -> str:
    return f"scanpower-platform-{username}"


def initial_config(admin_username: str, admin_password: str, platform: list[PlatformUser],
                   policy: AccessPolicy) -> str:
    clients = [dynsec_client(admin_username, admin_password, ADMIN_ROLE)]
    roles = [{"rolename": ADMIN_ROLE, "acls": ADMIN_ACLS}]
    for user in platform:
        clients.append(dynsec_client(user.username, user.password, platform_role(user.username)))
        rules = policy.rules_for(user.username)
        # Mosquitto 2.0 checks a shared subscription against its whole filter, `$share/<group>/` included.
        shared = [{"acltype": "subscribePattern", "topic": f"$share/+/{r.topic}", "priority": 0, "allow": True}
                  for r in rules if r.access == "read"]
        roles.append({"rolename": platform_role(user.username), "acls": acls(rules) + shared})
    return json.dumps({"clients": clients, "roles": roles, "groups": [], "defaultACLAccess": DEFAULT_ACCESS},
                      indent=2)
