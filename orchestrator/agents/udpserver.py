"""One UDP socket served by a thread: the loop the agents' servers share (key installation,
discovery, the buffering protocol). A subclass answers each datagram in `datagram`; whatever
it raises (a `ProtocolError` from a decoder, anything else from a bug) drops that datagram
as a counted, logged `malformed` event (agents/health.py) and the loop goes on."""
from __future__ import annotations

import select
import socket
import threading
import time
from typing import Callable, TypeVar

T = TypeVar("T")

from .health import Loop


class UdpServer:
    """Bind `address`:`port`; `start()` serves until `stop()`. `ancillary` is the control
    buffer size passed to recvmsg (0: none)."""
    name = "udp"

    def __init__(self, address: str, port: int, ancillary: int = 0, log=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((address, port))
        self.address, self.port = self.sock.getsockname()
        self.ancillary = ancillary
        self.log = log
        self.loop = Loop(f"{self.name}:{self.port}", log)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self):
        self._thread = self.loop.start(self._serve, f"{self.name}-{self.port}")
        return self

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                if not select.select([self.sock], [], [], 0.1)[0]:
                    continue
                data, ancillary, _flags, peer = self.sock.recvmsg(65535, self.ancillary)
            except (OSError, ValueError):          # closed under us, or a transient error
                continue
            self.loop.guard(self.datagram, data, peer, ancillary, source=f"{peer[0]}:{peer[1]}")

    def datagram(self, data: bytes, peer: tuple[str, int], ancillary: list) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self._stop.set()
        self.loop.stop()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self.sock.close()


def request(server: tuple[str, int], datagram: bytes, answer: Callable[[bytes], T | None],
            timeout: float, retries: int) -> T | None:
    """The client side of a one-datagram request: send `datagram` to `server` (a connected
    socket: only its answers count), retransmitted unchanged `retries` times, the wait
    doubling from `timeout`. `answer(data)` returns the result, None to keep waiting (not
    ours), or raises (a `ProtocolError`, a `ConnectionRefusedError` is skipped; anything
    else ends the request). None when nothing answered."""
    from ..protocols.errors import ProtocolError
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(server)
        for _attempt in range(1 + retries):
            sock.send(datagram)
            deadline = time.perf_counter() + timeout
            while (left := deadline - time.perf_counter()) > 0:
                if not select.select([sock], [], [], left)[0]:
                    break
                try:
                    result = answer(sock.recv(2048))
                except (ConnectionRefusedError, ProtocolError):
                    continue
                if result is not None:
                    return result
            timeout *= 2
    return None
