"""A session's state in plain words for the people who watch it: notices, and where it stops by itself."""
from dataclasses import dataclass

from backend.pages.display import kwh, yuan
from backend.pages.i18n import gettext
from backend.sessions.models import SessionPublic, SessionStatus


@dataclass(frozen=True)
class Notice:
    kind: str  # ok, warn, error: the notice's colour
    text: str


def notices(session: SessionPublic) -> list[Notice]:
    """What a person should know about this session beyond its figures, in the request's language."""
    found = []
    if session.status == SessionStatus.failed:
        found.append(Notice("error", gettext("Power did not come on: the meter did not confirm the start. "
                                             "Nothing was charged. Try again, or use another outlet.")))
    if session.status == SessionStatus.stopping and session.failure_reason:
        found.append(Notice("warn", gettext("The meter has not confirmed switching off yet. The bill waits for its "
                                            "reading; you are not charged for the wait.")))
    if session.provisional:
        found.append(Notice("warn", gettext("Settled for now from the meter's last reading, because the meter has "
                                            "not confirmed the stop. When its record arrives the bill is corrected "
                                            "by itself.")))
    if session.needs_review:
        found.append(Notice("warn", gettext("The meter reported something unusual in this session; an operator "
                                            "will check the bill. You do not need to do anything.")))
    return found


def limit_words(session: SessionPublic) -> str:
    """Why the meter will switch off by itself, and where: the limit is priced at the dearest period ahead."""
    if session.max_amount is None:
        return gettext("Stops by itself at %(energy)s.", energy=kwh(session.energy_limit_wh))
    return gettext("Stops by itself at %(energy)s: what %(money)s buys at the dearest price it may meet, so the "
                   "money set aside always covers the bill.", energy=kwh(session.energy_limit_wh),
                   money=yuan(session.max_amount))
