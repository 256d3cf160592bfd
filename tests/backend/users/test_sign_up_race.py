"""One new number signed up from several places at once: one account, the rest 409, never a 500."""
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.live_server import serve

ATTEMPTS = 6


def test_simultaneous_sign_ups_of_one_number_make_one_account(app):
    start = threading.Barrier(ATTEMPTS)

    def sign_up(n: int) -> int:
        with httpx.Client(base_url=url, timeout=60) as http:
            start.wait()
            return http.post("/api/v1/auth/signup", json={"phone": "13512345678", "password": f"password-{n}"}
                             ).status_code

    with serve(app) as url, ThreadPoolExecutor(max_workers=ATTEMPTS) as pool:
        statuses = Counter(pool.map(sign_up, range(ATTEMPTS)))
    assert statuses == {201: 1, 409: ATTEMPTS - 1}
