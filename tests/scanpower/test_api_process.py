"""`scanpower api` as deployed, with two uvicorn workers: metrics add up over the workers; ids and readiness."""
import os
import subprocess
import sys
import time

import httpx
import pytest

from device_gateway.embedded_broker import free_port
from tests.faults.fault_harness import REPO, wait_until

REQUESTS = 12


@pytest.fixture
def api_process(tmp_path, database_url, broker_url):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "MQTT_URL": broker_url, "HTTP_PORT": str(port),
           "API_WORKERS": "2", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"), "LOG_FORMAT": "json",
           "SECRET_KEY": "api-process-test-secret-0123456789abcdef", "PYTHONPATH": str(REPO)}
    log = tmp_path / "api.log"
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "scanpower.cli", "api"], env=env, cwd=tmp_path,
                                   stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(base) or process.poll() is not None, 120, "the API to answer")
        assert process.poll() is None, log.read_text()
        yield base, log
    finally:
        process.terminate()
        process.wait(20)


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_two_workers_count_every_request_once_and_echo_request_ids(api_process):
    base, log = api_process
    for n in range(REQUESTS):
        # A new connection each time, so both workers get some of them.
        answer = httpx.get(f"{base}/api/v1/wallet", headers={"X-Request-ID": f"probe-{n}"})
        assert answer.status_code == 401 and answer.headers["X-Request-ID"] == f"probe-{n}"
    assert httpx.get(f"{base}/api/v1/wallet", headers={"X-Request-ID": "bad id {}"}).headers["X-Request-ID"] \
        != "bad id {}"
    wanted = f'scanpower_http_requests_total{{method="GET",route="/api/v1/wallet",status="401"}} {REQUESTS + 1}.0'
    # Whichever worker answers the scrape, it sums the files of both.
    scrapes = [httpx.get(f"{base}/metrics").text for _ in range(4)]
    assert all(wanted in text for text in scrapes), scrapes[0][:3000]
    assert all("scanpower_sessions_open" in text for text in scrapes)  # read from the database at each scrape
    ready = httpx.get(f"{base}/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": True, "broker": True}
    time.sleep(0.5)
    assert '"request_id": "probe-3"' in log.read_text()  # JSON lines, each naming its request
