"""Who may do what on the broker, and the Mosquitto files that say so.

`AccessPolicy` is the one statement of the rules: the Mosquitto ACL file is rendered from its
rules, and the embedded broker's plugins (`broker_auth`) ask its `may_*` methods.
"""
import base64
import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Literal

from sqlmodel import Session, select

from backend.points.models import Meter
from device_gateway.protocol import MAX_PAYLOAD_BYTES, UPLINK_KINDS, Topics

USERNAME_PLACEHOLDER = "%u"  # Mosquitto's `pattern` substitution; meters log in with their serial
MOSQUITTO_ITERATIONS = 101  # what mosquitto_passwd 2.0 writes
MOSQUITTO_SALT_BYTES = 12
_FORBIDDEN_IN_USERNAME = set("+#/:") | {" ", "\t", "\n", "\r"}
# The largest payload of protocol v1, with room for the topic and the packet header.
MAX_PACKET_BYTES = MAX_PAYLOAD_BYTES + 4096


class PlatformRole(StrEnum):
    gateway = "gateway"  # reads every meter's uplink (also through $share/...), sends commands and its markers
    publisher = "publisher"  # a standalone API process: sends commands only
    dlt645 = "dlt645"  # the DL/T 645 bridge: reads every DTU's bytes, writes to every DTU (it logs in as meters too)


@dataclass(frozen=True)
class PlatformUser:
    username: str
    password: str = field(repr=False)
    role: PlatformRole


@dataclass(frozen=True)
class Rule:
    """Mosquitto's `read` (subscribe and receive) or `write` (publish) on a topic filter."""

    access: Literal["read", "write"]
    topic: str


@dataclass(frozen=True)
class AccessPolicy:
    """Every user may act as the meter, or the DTU, named by its username; platform users have their role's rights
    too."""

    prefix: str = "scanpower/v1"
    platform: Mapping[str, PlatformRole] = field(default_factory=dict)

    @classmethod
    def for_platform(cls, prefix: str, users: Iterable[PlatformUser]) -> "AccessPolicy":
        return cls(prefix, {user.username: user.role for user in users})

    def meter_patterns(self) -> tuple[Rule, ...]:
        """Rules for every user, with `%u` standing for its username (Mosquitto `pattern` lines)."""
        topics = Topics(self.prefix)
        uplink = tuple(Rule("write", topics.meter(USERNAME_PLACEHOLDER, kind)) for kind in UPLINK_KINDS)
        dtu = (Rule("write", topics.dtu(USERNAME_PLACEHOLDER, "up")),
               Rule("read", topics.dtu(USERNAME_PLACEHOLDER, "down")))
        return uplink + (Rule("read", topics.command(USERNAME_PLACEHOLDER)),) + dtu

    def role_rules(self, role: PlatformRole) -> tuple[Rule, ...]:
        topics = Topics(self.prefix)
        send_commands = Rule("write", topics.command("+"))
        if role is PlatformRole.dlt645:
            return (Rule("read", topics.dtu_uplink_filter()), Rule("write", topics.dtu("+", "down")))
        if role is PlatformRole.gateway:
            # Each gateway sends itself a marker to learn when the broker's backlog is drained (catch_up.py).
            marker = topics.gateway_marker("+")
            return (tuple(Rule("read", f) for f in topics.uplink_filters())
                    + (send_commands, Rule("read", marker), Rule("write", marker)))
        return (send_commands,)

    def rules_for(self, username: str | None) -> tuple[Rule, ...]:
        # Mosquitto denies everything to a username with a wildcard in it (a `pattern` could match others).
        if not username or "+" in username or "#" in username:
            return ()
        own = tuple(Rule(r.access, r.topic.replace(USERNAME_PLACEHOLDER, username)) for r in self.meter_patterns())
        role = self.platform.get(username)
        return own + (self.role_rules(role) if role else ())

    def may_publish(self, username: str | None, topic: str) -> bool:
        return is_topic_name(topic) and any(
            topic_matches(r.topic, topic) for r in self.rules_for(username) if r.access == "write")

    def may_receive(self, username: str | None, topic: str) -> bool:
        return any(topic_matches(r.topic, topic) for r in self.rules_for(username) if r.access == "read")

    def may_subscribe(self, username: str | None, topic_filter: str) -> bool:
        """True when every topic the filter can match may be received (so retained messages cannot leak)."""
        topic_filter = unshared(topic_filter)
        return any(filter_covers(r.topic, topic_filter) for r in self.rules_for(username) if r.access == "read")


def is_topic_name(topic: str) -> bool:
    return bool(topic) and "+" not in topic and "#" not in topic


def unshared(topic_filter: str) -> str:
    """`$share/<group>/<filter>` → `<filter>`: a shared subscription receives the same topics."""
    if topic_filter.startswith("$share/"):
        parts = topic_filter.split("/", 2)
        return parts[2] if len(parts) == 3 else ""
    return topic_filter


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT matching of a topic name against a filter with `+` and `#`."""
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    wanted, levels = topic_filter.split("/"), topic.split("/")
    for index, level in enumerate(wanted):
        if level == "#":
            return True
        if index >= len(levels) or level not in ("+", levels[index]):
            return False
    return len(wanted) == len(levels)


def filter_covers(allowed: str, topic_filter: str) -> bool:
    """True when every topic `topic_filter` matches is also matched by `allowed`."""
    wanted, asked = allowed.split("/"), topic_filter.split("/")
    for index, level in enumerate(wanted):
        if level == "#":
            return True
        if index >= len(asked) or asked[index] == "#" or (level != "+" and level != asked[index]):
            return False
    return len(wanted) == len(asked)


# --- Mosquitto files -------------------------------------------------------------------------

@dataclass(frozen=True)
class BrokerFiles:
    conf: Path
    password_file: Path
    acl_file: Path


def mosquitto_password_hash(password: str, salt: bytes | None = None) -> str:
    """The `$7$` (PBKDF2-SHA512) form that mosquitto_passwd 2.x writes."""
    salt = os.urandom(MOSQUITTO_SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, MOSQUITTO_ITERATIONS)
    return f"$7${MOSQUITTO_ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def password_file(credentials: Mapping[str, str]) -> str:
    return "".join(f"{user}:{mosquitto_password_hash(password)}\n" for user, password in credentials.items())


def acl_file(policy: AccessPolicy) -> str:
    lines = ["# Generated by `scanpower broker-config` from the database; regenerate rather than edit.",
             "# Every user may act as the meter named by its username (meters log in with their serial),",
             "# and as the DTU named by it (DTUs log in with their id).",
             *(f"pattern {r.access} {r.topic}" for r in policy.meter_patterns())]
    for username, role in sorted(policy.platform.items()):
        lines += ["", f"# platform {role.value}", f"user {username}",
                  *(f"topic {r.access} {r.topic}" for r in policy.role_rules(role))]
    return "\n".join(lines) + "\n"


def mosquitto_conf(password_path: Path, acl_path: Path, port: int = 1883, bind_address: str = "") -> str:
    listener = f"listener {port} {bind_address}".rstrip()
    return (f"# Generated by `scanpower broker-config`.\n"
            f"{listener}\n"
            f"allow_anonymous false\n"
            f"password_file {password_path}\n"
            f"acl_file {acl_path}\n"
            f"# The gateway's persistent session must survive broker restarts and hold readings while it is away:\n"
            f"# the default queue of 1000 messages would silently drop them (see docs/reliability.md).\n"
            f"persistence true\n"
            f"persistence_location {password_path.parent}/\n"
            f"autosave_interval 10\n"
            f"max_queued_messages 1000000\n"
            f"# The gateway acknowledges a batch after it commits: 20 messages in flight (the default) would make\n"
            f"# every batch 20 messages long. The meters' own in-flight commands are few.\n"
            f"max_inflight_messages 1000\n"
            f"# Without it Nagle's algorithm holds small packets back: a relay command or an ack waits ~40 ms.\n"
            f"set_tcp_nodelay true\n"
            f"persistent_client_expiration 14d\n"
            f"# A packet no v1 message needs is refused at the door: the client is disconnected (docs/security.md).\n"
            f"max_packet_size {MAX_PACKET_BYTES}\n")


def broker_credentials(meters: Iterable[tuple[str, str]], platform_users: Iterable[PlatformUser]) -> dict[str, str]:
    """Username → password for every meter and platform user; refuses names the ACL cannot tell apart."""
    credentials: dict[str, str] = {}
    for username, password in [*meters, *((u.username, u.password) for u in platform_users)]:
        if not username or _FORBIDDEN_IN_USERNAME & set(username):
            raise ValueError(f"MQTT username {username!r} must be non-empty without + # / : or spaces")
        if not password or "\n" in password:
            raise ValueError(f"MQTT user {username!r} needs a one-line, non-empty password")
        if username in credentials:
            raise ValueError(f"MQTT username {username!r} is used twice (a platform user may not be named as a meter)")
        credentials[username] = password
    return credentials


def write_broker_config(db_meters: Iterable[tuple[str, str]], platform_users: Iterable[PlatformUser], prefix: str,
                        folder: Path, *, port: int = 1883, bind_address: str = "",
                        installed_at: Path | None = None) -> BrokerFiles:
    """Write mosquitto.conf, passwd and acl into `folder`; the conf names them under `installed_at` (default folder)."""
    platform_users = list(platform_users)
    credentials = broker_credentials(db_meters, platform_users)
    folder.mkdir(parents=True, exist_ok=True)
    files = BrokerFiles(folder / "mosquitto.conf", folder / "passwd", folder / "acl")
    home = (installed_at or folder).absolute()
    _replace(files.password_file, password_file(credentials), mode=0o600)
    _replace(files.acl_file, acl_file(AccessPolicy.for_platform(prefix, platform_users)))
    _replace(files.conf, mosquitto_conf(home / files.password_file.name, home / files.acl_file.name, port,
                                        bind_address))
    return files


def _replace(path: Path, text: str, mode: int = 0o644) -> None:
    """Write beside, then rename: a broker reloading meanwhile reads the old file or the new one, never half."""
    draft = path.with_name(f".{path.name}.new")
    draft.unlink(missing_ok=True)
    with os.fdopen(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), "w") as out:
        out.write(text)
    os.replace(draft, path)


def meters_for_broker(db: Session) -> list[tuple[str, str]]:
    """(serial, MQTT password) of every meter, the serial being its MQTT username."""
    return [(serial, password) for serial, password in
            db.exec(select(Meter.serial, Meter.mqtt_password).order_by(Meter.serial))]
