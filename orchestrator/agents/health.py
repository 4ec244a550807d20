"""Receive loops that no input can stop, and the health an agent reports of them.

Every receive loop of an agent (802.1X authenticator, PAA, SIP user agent, RTP receiver,
information server, key installation, buffering protocol, control channel) hands each frame
or datagram to its handler through `Loop.guard`: a `ProtocolError` (RFC 3748 s4.1 "silently
discard", RFC 3261 s16.3/s18) and any other exception a handler lets escape are counted and
logged as one `malformed` event, and the loop goes on with the next input. A loop's thread
runs its body through `Loop.run`: should it end anyway, the loop is recorded as dead with
the exception, a `loop_died` event is written, and the agent's `hello` (`inspect`) reports
it, which fails the experiment's repetition loudly (experiment/runner.py).

`malformed` events are rate-limited per loop (`LOG_PER_SECOND`; the next logged one carries
`suppressed`); the count itself is exact.
"""
from __future__ import annotations

import sys
import threading
import time
import traceback
from typing import Callable

from ..protocols.errors import ProtocolError

LOG_PER_SECOND = 20


class Loop:
    """One receive loop: its name, counts, and whether its thread still runs."""

    def __init__(self, name: str, log=None):
        self.name, self.log = name, log
        self.malformed = 0
        self.errors: dict[str, int] = {}          # exception type -> count (not ProtocolError)
        self.died: str | None = None
        self.stopped = False
        self.thread: threading.Thread | None = None
        self._window, self._logged, self._suppressed = 0, 0, 0
        self._lock = threading.Lock()
        with _LOCK:
            LOOPS.append(self)

    def malformed_input(self, reason: str, error: str | None = None, **attrs) -> None:
        """Count one dropped input; log it unless this second's quota is used."""
        now = int(time.monotonic())
        with self._lock:
            self.malformed += 1
            if error:
                self.errors[error] = self.errors.get(error, 0) + 1
            if now != self._window:
                self._window, self._logged = now, 0
            if self._logged >= LOG_PER_SECOND:
                self._suppressed += 1
                return
            self._logged += 1
            suppressed, self._suppressed = self._suppressed, 0
        if self.log is not None:
            extra = {"error": error} if error else {}
            if suppressed:
                extra["suppressed"] = suppressed
            self.log.emit("malformed", "setup", loop=self.name, reason=str(reason)[:300],
                          count=self.malformed, **extra, **attrs)

    def guard(self, handler: Callable, *args, **where):
        """handler(*args)'s result, or None if it raised (counted, logged). `where` (e.g.
        source=...) goes into the event."""
        try:
            return handler(*args)
        except ProtocolError as exc:
            self.malformed_input(exc.reason, **where)
        except Exception as exc:  # noqa: BLE001 -- no input may stop the loop
            traceback.print_exc(file=sys.stderr)
            self.malformed_input(f"{type(exc).__name__}: {exc}", type(exc).__name__, **where)
        return None

    def run(self, body: Callable[[], None]) -> None:
        """The thread body: `body()`; record how it ended if it was not `stop`ped."""
        try:
            body()
        except BaseException as exc:
            self.died = f"{type(exc).__name__}: {exc}"
            traceback.print_exc(file=sys.stderr)
            if self.log is not None:
                try:
                    self.log.emit("loop_died", "setup", loop=self.name, reason=self.died[:300])
                except Exception:  # noqa: BLE001 -- the log itself may be what failed
                    pass
            return
        if not self.stopped:
            self.died = "the loop returned before it was stopped"
            if self.log is not None:
                self.log.emit("loop_died", "setup", loop=self.name, reason=self.died)

    def start(self, body: Callable[[], None], thread_name: str | None = None) -> threading.Thread:
        self.thread = threading.Thread(target=self.run, args=(body,), daemon=True,
                                       name=thread_name or self.name)
        self.thread.start()
        return self.thread

    def stop(self) -> None:
        """The loop ends on purpose (not a death)."""
        self.stopped = True
        with _LOCK:
            if self in LOOPS:
                LOOPS.remove(self)

    @property
    def alive(self) -> bool:
        return self.died is None and (self.thread is None or self.thread.is_alive()
                                      or self.stopped)

    def report(self) -> dict:
        return {"alive": self.alive, "malformed": self.malformed, "errors": dict(self.errors),
                "died": self.died}


LOOPS: list[Loop] = []
_LOCK = threading.Lock()


def report() -> dict:
    """This process's receive loops: {"ok", "loops": {name: {...}}, "dead": [names]}."""
    with _LOCK:
        loops = list(LOOPS)
    out: dict[str, dict] = {}
    for loop in loops:
        name, n = loop.name, 2
        while name in out:                          # two loops of one kind: name#2, ...
            name, n = f"{loop.name}#{n}", n + 1
        out[name] = loop.report()
    dead = [name for name, r in out.items() if not r["alive"]]
    return {"ok": not dead, "loops": out, "dead": dead,
            "malformed": sum(r["malformed"] for r in out.values())}
