"""What the platform asks of a broker's account store: make these accounts so, and say which it could not."""
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from backend.broker_accounts.desired import Account


@dataclass(frozen=True)
class Change:
    username: str
    account: Account | None  # None: remove the account (and its rights); the broker disconnects it


class BrokerUnavailable(Exception):
    """The broker's management interface could not be reached, or did not answer in time."""


class BrokerAccounts(Protocol):
    def apply(self, changes: Sequence[Change]) -> dict[str, str | None]:
        """Apply each change (idempotently); username → None when done, else the broker's error.

        Raises BrokerUnavailable when nothing could be applied at all."""
        ...

    def close(self) -> None: ...


class RecordingAccounts:
    """A broker that accepts every change and remembers it: for tests, and where nothing is live."""

    def __init__(self) -> None:
        self.applied: list[Change] = []

    def apply(self, changes: Sequence[Change]) -> dict[str, str | None]:
        self.applied.extend(changes)
        return {change.username: None for change in changes}

    def close(self) -> None:
        pass
