"""Calls due after a delay, from one kept thread.

`threading.Timer` starts a thread per call: 0.1-0.5 ms on this machine, paid by the caller, which
is often inside a measured interval (an association, a 4-way handshake message). Standard
library only (agents run from a zipapp)."""
from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time


class Later:
    def __init__(self, name: str = "later", logger: logging.Logger | None = None):
        self.logger = logger or logging.getLogger(__name__)
        self.heap: list = []
        self.cond = threading.Condition()
        self.seq = itertools.count()
        threading.Thread(target=self._run, name=name, daemon=True).start()

    def call(self, delay: float, fn, *args) -> None:
        """Run fn(*args) `delay` seconds from now (in this object's thread)."""
        with self.cond:
            heapq.heappush(self.heap, (time.monotonic() + delay, next(self.seq), fn, args))
            self.cond.notify()

    def _run(self) -> None:
        while True:
            with self.cond:
                while not self.heap or self.heap[0][0] > time.monotonic():
                    self.cond.wait(self.heap[0][0] - time.monotonic() if self.heap else None)
                _, _, fn, args = heapq.heappop(self.heap)
            try:
                fn(*args)
            except Exception:                      # noqa: BLE001 - the thread goes on
                self.logger.exception("delayed call failed")
