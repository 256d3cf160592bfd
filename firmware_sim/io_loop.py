"""One thread that drives the sockets of many paho clients, so a fleet needs no thread per meter."""
import heapq
import itertools
import logging
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

import paho.mqtt.client as mqtt

from device_gateway.connection import send_at_once

log = logging.getLogger(__name__)

# Connects waiting for their CONNACK at once: enough to connect thousands of meters in seconds,
# few enough that the broker's accept backlog never overflows.
MAX_CONNECTING = 128
# A connect whose CONNACK has not come by then frees its slot; paho's keepalive ends the socket.
CONNECT_SLOT_S = 10.0
# How often every client's keepalive is checked.
MISC_INTERVAL_S = 1.0
_READ = selectors.EVENT_READ
_READ_WRITE = selectors.EVENT_READ | selectors.EVENT_WRITE


class Dialer(Protocol):
    """Something the loop connects when its turn comes."""

    client: mqtt.Client

    def dial(self) -> None:
        """Open the connection (`client.reconnect()`); called on the loop's thread."""

    def dial_failed(self, error: OSError) -> None:
        """The connection could not be opened; called on the loop's thread."""


class IoLoop:
    """Reads, writes and keeps alive every adopted client from one selector thread.

    Clients are adopted before they connect. Only this thread reads and writes their sockets:
    other threads may publish, and then call `touch` so the loop notices there is something to write.
    Connects go through `dial`, at most `max_connecting` at once, so a whole fleet connects smoothly.
    """

    def __init__(self, max_connecting: int = MAX_CONNECTING, name: str = "firmware-sim-io"):
        self.max_connecting = max_connecting
        self._name = name
        self._selector = selectors.DefaultSelector()
        self._masks: dict[mqtt.Client, int] = {}  # the registered socket's events, per client
        self._clients: list[mqtt.Client] = []
        self._posted: deque[Callable[[], None]] = deque()
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._dial_queue: deque[Dialer] = deque()
        self._dialing: dict[Dialer, float] = {}  # dialer -> when its slot frees anyway
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._woken = False
        self._stopping = False
        self._thread: threading.Thread | None = None

    def adopt(self, client: mqtt.Client) -> None:
        """Let the loop drive this client's sockets; call before it connects."""
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        # A write callback stops paho writing from the publishing thread; the loop writes instead.
        client.on_socket_register_write = _ignore
        client.on_socket_unregister_write = _ignore
        self.call_soon(lambda: self._clients.append(client))

    def start(self) -> None:
        if self._thread:
            return
        self._selector.register(self._wake_r, _READ, None)
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Let disconnects already asked for go out, end every socket still open, then end the thread."""
        if not self._thread:
            return
        deadline = time.monotonic() + timeout
        while self._masks and time.monotonic() < deadline:
            time.sleep(0.02)
        self.call_soon(self._end)
        self._thread.join()
        self._thread = None
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    def touch(self, client: mqtt.Client) -> None:
        """Tell the loop that another thread gave this client something to send."""
        self.call_soon(lambda: self._follow_writes(client))

    def dial(self, dialer: Dialer, delay: float = 0.0) -> None:
        """Connect this dialer after `delay` seconds, when a connect slot is free."""
        self.call_soon(lambda: self._call_later(delay, lambda: self._dial_queue.append(dialer)))

    def dial_done(self, dialer: Dialer) -> None:
        """The dialer's connect ended (CONNACK or loss): its slot is free. Call on the loop's thread."""
        self._dialing.pop(dialer, None)

    def call_soon(self, work: Callable[[], None]) -> None:
        """Run `work` on the loop's thread; safe from any thread."""
        self._posted.append(work)
        if not self._woken:
            self._woken = True
            try:
                self._wake_w.send(b"x")
            except (BlockingIOError, OSError):
                pass

    def _run(self) -> None:
        next_misc = time.monotonic() + MISC_INTERVAL_S
        while not self._stopping:
            self._run_posted()
            self._run_timers()
            self._dial_waiting()
            timeout = max(0.0, min(next_misc, self._timers[0][0] if self._timers else next_misc) - time.monotonic())
            for key, events in self._selector.select(0 if self._posted else timeout):
                self._guarded(self._serve, key, events)
            if time.monotonic() >= next_misc:
                self._guarded(self._keep_alive)
                next_misc = time.monotonic() + MISC_INTERVAL_S

    def _serve(self, key: selectors.SelectorKey, events: int) -> None:
        client = key.data
        if client is None:
            self._drain_wake()
            return
        if events & _READ:
            client.loop_read(10)
        if events & selectors.EVENT_WRITE and client.socket() is key.fileobj:
            client.loop_write()
        self._follow_writes(client)

    def _keep_alive(self) -> None:
        now = time.monotonic()
        for dialer in [d for d, until in self._dialing.items() if until < now]:
            del self._dialing[dialer]
        for client in self._clients:
            if client in self._masks:
                client.loop_misc()
                self._follow_writes(client)

    def _dial_waiting(self) -> None:
        while self._dial_queue and len(self._dialing) < self.max_connecting:
            dialer = self._dial_queue.popleft()
            if dialer in self._dialing:
                continue
            self._dialing[dialer] = time.monotonic() + CONNECT_SLOT_S
            try:
                dialer.dial()
            except OSError as exc:
                self._dialing.pop(dialer, None)
                self._guarded(dialer.dial_failed, exc)
            except Exception:
                self._dialing.pop(dialer, None)
                log.exception("connecting a client failed")
            else:
                self._follow_writes(dialer.client)

    def _follow_writes(self, client: mqtt.Client) -> None:
        """Watch the client's socket for writability exactly while paho has bytes to send."""
        sock = client.socket()
        if sock is None or client not in self._masks:
            return
        wanted = _READ_WRITE if client.want_write() else _READ
        if self._masks[client] != wanted:
            self._selector.modify(sock, wanted, client)
            self._masks[client] = wanted

    def _on_socket_open(self, client, userdata, sock) -> None:
        send_at_once(sock)
        self._selector.register(sock, _READ, client)
        self._masks[client] = _READ

    def _on_socket_close(self, client, userdata, sock) -> None:
        if self._masks.pop(client, None) is not None:
            try:
                self._selector.unregister(sock)
            except (KeyError, ValueError, OSError):
                pass

    def _end(self) -> None:
        """End the sockets left open without a goodbye, like a meter losing power."""
        for client in list(self._masks):
            sock = client.socket()
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                self._guarded(client.loop_read)
            self._masks.pop(client, None)
        self._stopping = True

    def _run_posted(self) -> None:
        self._woken = False
        while self._posted:
            self._guarded(self._posted.popleft())

    def _run_timers(self) -> None:
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _, _, work = heapq.heappop(self._timers)
            self._guarded(work)

    def _call_later(self, delay: float, work: Callable[[], None]) -> None:
        if delay <= 0:
            work()
            return
        heapq.heappush(self._timers, (time.monotonic() + delay, next(self._order), work))

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass

    @staticmethod
    def _guarded(work, *args) -> None:
        """One client's failure is logged and cannot stop the loop."""
        try:
            work(*args)
        except Exception:
            log.exception("MQTT I/O work failed")


def _ignore(*args) -> None:
    pass
