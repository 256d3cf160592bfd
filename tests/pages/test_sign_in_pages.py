"""The sign-in page under attack: the same lock-out as the API, said on the page, and no hint of which numbers exist."""
import pytest

from tests.clocks import MovableClock
from tests.pages.conftest import PASSWORD

KNOWN = "13800000003"
UNKNOWN = "13800000099"


@pytest.fixture
def clock(app) -> MovableClock:
    app.state.clock = MovableClock()
    return app.state.clock


def _log_in(client, phone: str, password: str):
    return client.post("/login", data={"phone": phone, "password": password}, follow_redirects=False)


def test_wrong_passwords_lock_the_page_out_until_the_lock_out_ends(anonymous, clock):
    assert [_log_in(anonymous, KNOWN, f"guess-{n}").status_code for n in range(5)] == [401] * 5
    locked = _log_in(anonymous, KNOWN, PASSWORD)
    assert locked.status_code == 429
    assert locked.headers["Retry-After"] == "900"
    assert "Too many failed sign-ins for this number or this device. Wait 15 minutes, then try again." in locked.text
    clock.advance(minutes=15)
    assert _log_in(anonymous, KNOWN, PASSWORD).status_code == 303


def test_an_unknown_number_gets_the_same_page_as_a_wrong_password(anonymous):
    known = _log_in(anonymous, KNOWN, "not-the-password")
    unknown = _log_in(anonymous, UNKNOWN, "not-the-password")
    assert known.status_code == unknown.status_code == 401
    assert known.text.replace(KNOWN, "N") == unknown.text.replace(UNKNOWN, "N")


def test_signing_up_a_taken_number_does_not_repeat_it(anonymous):
    page = anonymous.post("/signup", data={"phone": KNOWN, "password": "long-enough-1"})
    assert page.status_code == 422
    assert "This phone number is already registered. Sign in instead, or use another number." in page.text
    assert page.text.count(KNOWN) == 1  # only in the field it was typed into
