"""Whether a number has an account shows neither in the answer to a failed sign-in nor in its timing."""
import statistics
import time

from tests.backend.users.conftest import sign_in

ROUNDS = 15
UNKNOWN = "13999990000"


def _interleaved_medians(first, second) -> tuple[float, float]:
    """Medians of alternating calls, so a busy moment on the machine falls on both alike."""
    a, b = [], []
    for _ in range(ROUNDS):
        for call, samples in ((first, a), (second, b)):
            started = time.perf_counter()
            call()
            samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(a), statistics.median(b)


def test_an_unknown_number_is_refused_in_the_same_words_as_a_wrong_password(client, vendor):
    known = sign_in(client, vendor.phone, "not-the-password")
    unknown = sign_in(client, UNKNOWN, "not-the-password")
    assert known.status_code == unknown.status_code == 401
    assert known.json() == unknown.json() == {"error": "WrongCredentials", "detail": "wrong phone number or password"}
    assert known.headers["WWW-Authenticate"] == unknown.headers["WWW-Authenticate"]


def test_an_unknown_number_locks_out_exactly_like_a_known_one(client, vendor):
    def answers(phone):
        return [(a.status_code, a.json(), a.headers.get("Retry-After"))
                for a in (sign_in(client, phone, f"guess-{n}") for n in range(7))]
    assert answers(vendor.phone) == answers(UNKNOWN)


def test_an_unknown_number_takes_as_long_as_a_known_one(client, vendor, settings):
    settings.sign_in_failures_per_phone = settings.sign_in_failures_per_client = 10 * ROUNDS  # time, not lock-outs
    known, unknown = _interleaved_medians(lambda: sign_in(client, vendor.phone, "not-the-password"),
                                          lambda: sign_in(client, UNKNOWN, "not-the-password"))
    print(f"\nfailed sign-in, median of {ROUNDS}: known number {known:.0f} ms, unknown number {unknown:.0f} ms")
    # Skipping the password hash would make unknown numbers some 50 times faster; allow the noise of a shared machine.
    assert 0.7 < unknown / known < 1.4


def test_signing_up_a_taken_number_neither_repeats_it_nor_answers_sooner(client, vendor, settings):
    settings.sign_ups_per_client = 10 * ROUNDS
    taken = client.post("/api/v1/auth/signup", json={"phone": vendor.phone, "password": "long-enough-1"})
    assert taken.status_code == 409
    assert taken.json() == {"error": "PhoneAlreadyRegistered",
                            "detail": "this phone number is already registered; sign in instead"}
    fresh = iter(range(ROUNDS))
    conflict, created = _interleaved_medians(
        lambda: client.post("/api/v1/auth/signup", json={"phone": vendor.phone, "password": "long-enough-1"}),
        lambda: client.post("/api/v1/auth/signup", json={"phone": f"1360000{next(fresh):04d}",
                                                          "password": "long-enough-1"}))
    print(f"\nsign-up, median of {ROUNDS}: taken number {conflict:.0f} ms, new account {created:.0f} ms")
    assert 0.7 < conflict / created < 1.4
