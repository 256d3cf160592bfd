"""A clock the tests move on, for the app's `state.clock`."""
from datetime import timedelta

from backend.core.clock import utcnow


class MovableClock:
    """Now, until a test moves it on."""

    def __init__(self):
        self.now = utcnow()

    def __call__(self):
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)
