"""localstripe (a local Stripe-compatible server) on a free port, once per test run; if it cannot start, the tests
that need it fail: nothing is skipped."""
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from device_gateway.embedded_broker import free_port
from tests.billing.stripe.stripe_support import SECRET_KEY

LOCALSTRIPE = Path(sys.executable).parent / "localstripe"


@pytest.fixture(scope="session")
def localstripe_url(tmp_path_factory):
    port = free_port()
    log_path = tmp_path_factory.mktemp("localstripe") / "localstripe.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([str(LOCALSTRIPE), "--port", str(port), "--from-scratch"],
                                   stdout=log, stderr=subprocess.STDOUT, cwd=log_path.parent)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process, log_path)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_up(url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"localstripe exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            if httpx.get(f"{url}/v1/customers", auth=(SECRET_KEY, ""), timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"localstripe did not answer at {url} within 30 s:\n{log_path.read_text()}")
