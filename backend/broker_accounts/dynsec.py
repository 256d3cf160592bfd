"""Accounts on Mosquitto's dynamic-security plugin, managed over MQTT as its admin (`$CONTROL/dynamic-security/v1`).

Each request is answered on `…/response`, which every admin client subscribed to it receives: commands carry a
correlation id, and only answers to our own ids count. No answer within the timeout: BrokerUnavailable.
"""
import json
import logging
import secrets
import threading
import time
from collections.abc import Sequence

from paho.mqtt.client import MQTTMessage

from backend.broker_accounts.dynsec_commands import Command, first_round, is_one_of
from backend.broker_accounts.interface import BrokerUnavailable, Change
from device_gateway.broker_url import BrokerAddress
from device_gateway.connection import new_client

log = logging.getLogger(__name__)
CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = f"{CONTROL_TOPIC}/response"
MAX_MESSAGE_BYTES = 12_000  # under the broker's max_packet_size (20 KiB, docs/reliability.md)
# The plugin rewrites its whole JSON file after every change and answers a message's commands together, so a
# message with few commands is answered within the timeout even when the file has grown large.
MAX_COMMANDS_PER_MESSAGE = 4


class DynsecAccounts:
    def __init__(self, broker: BrokerAddress, timeout_s: float = 5.0):
        self.address, self.timeout_s = broker, timeout_s
        self.client_id = f"scanpower-accounts-{secrets.token_hex(4)}"
        self._client = None
        self._ready = threading.Event()
        self._refused: str | None = None
        self._answers: dict[str, str | None] = {}
        self._answered = threading.Condition()
        self._one_at_a_time = threading.Lock()

    # --- what the reconciler calls ---

    def apply(self, changes: Sequence[Change]) -> dict[str, str | None]:
        with self._one_at_a_time:
            self._connect()
            errors: dict[str, str | None] = {change.username: None for change in changes}
            first = [command for change in changes for command in first_round(change)]
            second: list[Command] = []
            for command, error in zip(first, self._send([c.body for c in first])):
                if error is None:
                    continue
                if is_one_of(error, command.tolerated):
                    second += [Command(command.username, body) for body in command.then]
                else:
                    errors[command.username] = errors[command.username] or f"{command.body['command']}: {error}"
            for command, error in zip(second, self._send([c.body for c in second])):
                if error is not None:
                    errors[command.username] = errors[command.username] or f"{command.body['command']}: {error}"
            return errors

    def close(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None

    # --- the connection ---

    def _connect(self) -> None:
        if self._client is not None and self._client.is_connected() and self._ready.is_set():
            return
        self.close()
        self._ready.clear()
        self._refused = None
        client = new_client(self.address, self.client_id)
        client.on_connect = self._on_connect
        client.on_subscribe = lambda *_: self._ready.set()
        client.on_message = self._on_message
        client.on_disconnect = lambda *_: self._ready.clear()
        try:
            client.connect(self.address.host, self.address.port, keepalive=30)
        except OSError as exc:
            raise BrokerUnavailable(f"cannot reach {self.address.url}: {exc}") from exc
        client.loop_start()
        self._client = client
        if not self._ready.wait(self.timeout_s):
            reason = self._refused or "no answer"
            self.close()
            raise BrokerUnavailable(f"{self.address.url} as {self.address.username}: {reason}")

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._refused = str(reason_code)
            return
        client.subscribe(RESPONSE_TOPIC, qos=1)

    def _on_message(self, client, userdata, message: MQTTMessage) -> None:
        try:
            responses = json.loads(message.payload)["responses"]
            answers = {str(r["correlationData"]): r.get("error") for r in responses if "correlationData" in r}
        except (ValueError, KeyError, TypeError):
            log.warning("broker accounts: unreadable answer on %s: %r", message.topic, message.payload[:200])
            return
        with self._answered:
            self._answers.update(answers)
            self._answered.notify_all()

    # --- requests ---

    def _send(self, bodies: list[dict]) -> list[str | None]:
        """Each command's error (None when it succeeded), in order."""
        ids = [f"{self.client_id}:{secrets.token_hex(6)}" for _ in bodies]
        try:
            for chunk in _chunks([dict(body, correlationData=i) for body, i in zip(bodies, ids)]):
                self._request(chunk)
            with self._answered:
                return [self._answers[i] for i in ids]
        finally:
            with self._answered:
                for i in ids:
                    self._answers.pop(i, None)

    def _request(self, commands: list[dict]) -> None:
        ids = [c["correlationData"] for c in commands]
        info = self._client.publish(CONTROL_TOPIC, json.dumps({"commands": commands}), qos=1)
        deadline = time.monotonic() + self.timeout_s
        with self._answered:
            while not all(i in self._answers for i in ids):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BrokerUnavailable(f"no answer from the dynamic-security plugin within {self.timeout_s} s "
                                            f"(published: {info.is_published()})")
                self._answered.wait(left)


def _chunks(commands: list[dict]) -> list[list[dict]]:
    """Commands in messages that fit the broker's packet limit, a few at a time (one per message at worst)."""
    chunks: list[list[dict]] = [[]]
    size = 0
    for command in commands:
        length = len(json.dumps(command)) + 2
        if chunks[-1] and (size + length > MAX_MESSAGE_BYTES or len(chunks[-1]) >= MAX_COMMANDS_PER_MESSAGE):
            chunks.append([])
            size = 0
        chunks[-1].append(command)
        size += length
    return [chunk for chunk in chunks if chunk]
