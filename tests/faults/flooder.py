"""A meter that floods its own topics as fast as paho can publish: `python -m tests.faults.flooder URL SERIAL ...`.

Run as its own process, so the flood does not share the gateway's interpreter (and its GIL) in tests.
Prints one JSON line: how many messages the broker acknowledged and how long that took.
"""
import json
import sys
import time
from datetime import UTC, datetime

import typer

from device_gateway.broker_url import BrokerAddress
from device_gateway.connection import new_client
from device_gateway.protocol import OutletReading, Telemetry, Topics, encode

# Far more than paho's default of 20: an attacker does not wait for the broker's acknowledgements.
IN_FLIGHT = 1000


def junk(index: int) -> bytes:
    return b'{"v": 1, "junk": %d}' % index


def valid_telemetry(index: int) -> bytes:
    reading = OutletReading(ch=1, energy_wh=index, power_w=0.0, voltage_v=220.0, current_a=0.0, relay="open")
    return encode(Telemetry(boot_id="flood", seq=index, ts=datetime.now(UTC), outlets=[reading]))


PAYLOADS = {"junk": junk, "valid": valid_telemetry}


def main(broker_url: str, serial: str, prefix: str, count: int = 10_000, kind: str = "junk") -> None:
    make = PAYLOADS[kind]
    broker = BrokerAddress.parse(broker_url)
    client = new_client(broker, f"{serial}-flood")
    client.max_inflight_messages_set(IN_FLIGHT)
    client.connect(broker.host, broker.port)
    client.loop_start()
    topic = Topics(prefix).meter(serial, "telemetry")
    payloads = [make(index) for index in range(count)]
    started = time.monotonic()
    infos = [client.publish(topic, payload, qos=1) for payload in payloads]
    for info in infos:
        info.wait_for_publish(60)
    seconds = time.monotonic() - started
    client.disconnect()
    client.loop_stop()
    print(json.dumps({"sent": sum(info.is_published() for info in infos), "seconds": round(seconds, 3)}))
    sys.stdout.flush()


if __name__ == "__main__":
    typer.run(main)
