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
    action: Literal["close", "open", "confirm_end"]
    session_id: int
    cmd_id: str
    deadline: datetime
    energy_limit_wh: int | None = None


@dataclass(frozen=True)
class LimitsOrder:
    """The power limits a meter enforces by itself: per outlet, and for the whole point."""

    meter_serial: str
    cmd_id: str
    deadline: datetime
    outlet_max_power_w: tuple[tuple[int, float], ...]
    max_total_power_w: float | None


Order = RelayOrder | LimitsOrder


class OrderSink(Protocol):
    def send(self, order: Order) -> None: ...


def queue_order(db: Session, order: Order) -> None:
    db.info.setdefault(_KEY, []).append(order)


def pending_orders(db: Session) -> list[Order]:
    return db.info.pop(_KEY, [])


class RecordingSink:
    """An in-memory sink for tests and for an API running without a broker."""

    def __init__(self) -> None:
        self.sent: list[Order] = []

    def send(self, order: Order) -> None:
        self.sent.append(order)
