"""Guessing passwords over HTTP: per number and per client, a few tries and then a lock-out that ends on time."""
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.backend.users.conftest import client_from, sign_in
from tests.live_server import serve


def test_200_wrong_passwords_lock_the_number_and_even_the_right_one_waits_for_the_lock_out(client, vendor, clock):
    started = time.monotonic()
    answers = [sign_in(client, vendor.phone, f"guess-{n:04d}") for n in range(200)]
    elapsed = time.monotonic() - started
    statuses = [a.status_code for a in answers]
    print(f"\n200 wrong passwords in {elapsed:.1f} s: {statuses.count(401)} checked, {statuses.count(429)} refused")
    assert statuses == [401] * 5 + [429] * 195
    locked = answers[-1]
    assert locked.json() == {"error": "TooManySignIns",
                             "detail": "too many failed sign-ins for this phone number; try again in 15 minutes"}
    assert locked.headers["Retry-After"] == "900"

    assert sign_in(client, vendor.phone).status_code == 429  # the right password, during the lock-out
    clock.advance(minutes=14, seconds=30)
    still = sign_in(client, vendor.phone)
    assert still.status_code == 429 and still.headers["Retry-After"] == "30"
    clock.advance(seconds=30)
    assert sign_in(client, vendor.phone).status_code == 200


def test_another_client_is_locked_out_of_the_number_too(app, client, vendor):
    for n in range(5):
        sign_in(client, vendor.phone, f"guess-{n}")
    with client_from(app, "203.0.113.99") as elsewhere:
        assert sign_in(elsewhere, vendor.phone).status_code == 429


def test_a_success_clears_the_numbers_count(client, vendor):
    for n in range(4):
        assert sign_in(client, vendor.phone, f"typo-{n}").status_code == 401
    assert sign_in(client, vendor.phone).status_code == 200
    assert [sign_in(client, vendor.phone, f"typo-{n}").status_code for n in range(5)] == [401] * 5
    assert sign_in(client, vendor.phone).status_code == 429


def test_one_client_trying_many_numbers_is_locked_out_of_all_of_them(app, client, vendor, clock):
    numbers = [f"1390000{n:04d}" for n in range(30)]  # none has an account, so each is tried once
    assert {sign_in(client, number, "123456").status_code for number in numbers} == {401}
    refused = sign_in(client, vendor.phone)  # a real account and its right password
    assert refused.status_code == 429
    assert refused.json()["detail"] == "too many failed sign-ins from your network; try again in 15 minutes"
    assert refused.headers["Retry-After"] == "900"
    with client_from(app, "203.0.113.7") as neighbour:
        assert sign_in(neighbour, vendor.phone).status_code == 200
    clock.advance(minutes=15)
    assert sign_in(client, vendor.phone).status_code == 200


def test_a_client_keeps_its_successes_out_of_the_count(client, vendor, settings):
    """A shared address (a market's Wi-Fi) with many good sign-ins is not locked out by them."""
    for _ in range(settings.sign_in_failures_per_client + 2):
        assert sign_in(client, vendor.phone).status_code == 200


def test_a_burst_of_concurrent_guesses_gets_no_more_tries_than_the_limit(app, vendor):
    with serve(app) as url, ThreadPoolExecutor(max_workers=20) as pool:
        def guess(n: int) -> int:
            with httpx.Client(base_url=url, timeout=60) as http:
                return sign_in(http, vendor.phone, f"burst-{n}").status_code
        statuses = Counter(pool.map(guess, range(40)))
    print(f"\n40 concurrent guesses: {statuses[401]} checked, {statuses[429]} refused")
    assert statuses == {401: 5, 429: 35}


def test_sign_ups_from_one_client_are_limited(client, settings, clock):
    settings.sign_ups_per_client = 3
    answers = [client.post("/api/v1/auth/signup", json={"phone": f"1370000{n:04d}", "password": "long-enough-1"})
               for n in range(4)]
    assert [a.status_code for a in answers] == [201, 201, 201, 429]
    assert answers[-1].json()["detail"] == "too many sign-ups from your network; try again in 60 minutes"
    assert answers[-1].headers["Retry-After"] == "3600"
    clock.advance(hours=1)
    assert client.post("/api/v1/auth/signup", json={"phone": "13700009999", "password": "long-enough-1"}
                       ).status_code == 201
