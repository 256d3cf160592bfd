"""Catching up: no rate limit from the moment messages start waiting at the broker until the marker returns."""
from device_gateway.catch_up import CatchUp


def test_a_fresh_gateway_catches_up_until_its_first_marker_returns():
    catch_up = CatchUp()
    catch_up.hold("broker")
    assert catch_up.catching_up(0.0)
    marker = catch_up.release("broker", 1.0)
    assert marker is not None and catch_up.catching_up(1.0)
    assert catch_up.marker_returned(marker)
    assert not catch_up.catching_up(1.1)


def test_a_marker_sent_before_the_latest_hold_ends_nothing():
    catch_up = CatchUp()
    first = catch_up.release("broker", 0.0)
    catch_up.hold("database")
    assert not catch_up.marker_returned(first)  # still held
    second = catch_up.release("database", 5.0)
    assert second > first and not catch_up.marker_returned(first)
    assert catch_up.catching_up(5.0) and catch_up.marker_returned(second)


def test_no_marker_while_another_reason_still_holds():
    catch_up = CatchUp()
    catch_up.hold("broker")
    catch_up.hold("database")
    assert catch_up.release("broker", 0.0) is None and catch_up.catching_up(0.0)
    assert catch_up.release("database", 1.0) is not None


def test_a_marker_that_never_returns_ends_catching_up_after_the_timeout():
    catch_up = CatchUp(marker_timeout_s=60)
    catch_up.release("broker", 0.0)
    assert not catch_up.expired(59.0) and catch_up.catching_up(59.0)
    assert catch_up.expired(60.0) and not catch_up.expired(61.0)
    assert not catch_up.catching_up(60.0)
