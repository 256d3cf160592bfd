"""uvicorn in a thread of this process, for `scanpower run` and the operations port of gateway and scheduler."""
import threading
import time
from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

from device_gateway.embedded_broker import port_is_free


def serve_in_thread(app: FastAPI, host: str, port: int, setting: str = "HTTP_PORT") -> Callable[[], None]:
    """Start serving `app`; returns what stops it. RuntimeError when the port is taken or it does not start."""
    if not port_is_free(host, port):
        raise RuntimeError(f"http://{host}:{port} is taken; set {setting} to another port")
    # Proxy headers are the app's job (TRUSTED_PROXIES); our own middleware logs requests.
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False,
                                           proxy_headers=False))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"the web server did not start on {host}:{port}")
        time.sleep(0.05)

    def stop() -> None:
        server.should_exit = True
        thread.join(10)
    return stop
