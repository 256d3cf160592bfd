"""Relay orders decided by services, buffered on the DB session until it commits."""
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from sqlmodel import Session

_KEY = "scanpower.relay_orders"


@dataclass(frozen=True)
class RelayOrder:
    meter_serial: str
    channel: int
    action: Literal["close", "open"]
    session_id: int
    cmd_id: str
    deadline: datetime
    energy_limit_wh: int | None = None


class OrderSink(Protocol):
    def send(self, order: RelayOrder) -> None: ...


def queue_order(db: Session, order: RelayOrder) -> None:
    db.info.setdefault(_KEY, []).append(order)


def pending_orders(db: Session) -> list[RelayOrder]:
    return db.info.pop(_KEY, [])


class RecordingSink:
    """An in-memory sink for tests and for an API running without a broker."""

    def __init__(self) -> None:
        self.sent: list[RelayOrder] = []

    def send(self, order: RelayOrder) -> None:
        self.sent.append(order)
