"""One UDP socket served by a thread: the loop the agents' servers share (key installation,
discovery, the buffering protocol). A subclass answers each datagram in `datagram`."""
from __future__ import annotations

import select
import socket
import threading


class UdpServer:
    """Bind `address`:`port`; `start()` serves until `stop()`. `ancillary` is the control
    buffer size passed to recvmsg (0: none)."""
    name = "udp"

    def __init__(self, address: str, port: int, ancillary: int = 0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((address, port))
        self.address, self.port = self.sock.getsockname()
        self.ancillary = ancillary
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self):
        self._thread = threading.Thread(target=self._serve, daemon=True,
                                        name=f"{self.name}-{self.port}")
        self._thread.start()
        return self

    def _serve(self) -> None:
        while not self._stop.is_set():
            if not select.select([self.sock], [], [], 0.1)[0]:
                continue
            try:
                data, ancillary, _flags, peer = self.sock.recvmsg(65535, self.ancillary)
            except OSError:
                continue
            self.datagram(data, peer, ancillary)

    def datagram(self, data: bytes, peer: tuple[str, int], ancillary: list) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self.sock.close()
