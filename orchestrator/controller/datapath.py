"""Keeping Open vSwitch's userspace datapath in step with the flow table.

An OpenFlow barrier reply means the switch's flow *table* changed, not its datapath: the
userspace datapath keeps forwarding by its cached flows until a revalidator round (measured
here, PLATFORM.md, fig8, 200 handoffs each: with no wait at all 72/200 first frames after an
association went astray and 86-123/200 after a port opening). Ways to close that window,
compared by `bench/datapath_sync.py` (first frame after each change must arrive):

  purge    `revalidator/purge` on ovs-vswitchd's unixctl socket (JSON-RPC), right after the
           barrier: every cached datapath flow is dropped, the next packet of each flow is
           upcalled against the new table. One request on a kept connection, ~0.2-0.5 ms.
           The datapath (`netdev@ovs-netdev`) is shared by every userspace bridge of this
           ovs-vswitchd: other bridges' next packets are upcalled too (no loss, one upcall).
  dpctl    `dpctl/del-flows` on the same socket: the same effect through the dpif layer.
  settle   a fixed wait after the barrier (the earlier design: 5 ms, an emulation cost larger
           than the radio events it emulates; kept only for comparison).
  none     nothing (shows the problem).

The method is chosen by $MPA_DATAPATH_SYNC (default `purge`; `settle:5` waits 5 ms) and is
reported with its measured cost in the controller's `emulation_constants` event.
"""
from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path

OVS_RUNDIR = Path(os.environ.get("OVS_RUNDIR", "/var/run/openvswitch"))
METHODS = ("purge", "dpctl", "settle", "none")


class UnixctlError(RuntimeError):
    pass


class Unixctl:
    """A kept JSON-RPC connection to ovs-vswitchd's unixctl server (what `ovs-appctl` does,
    without a process per call: a fork + exec costs ~3 ms here)."""

    def __init__(self, path: str | None = None, timeout: float = 2.0):
        if path is None:
            pid = (OVS_RUNDIR / "ovs-vswitchd.pid").read_text().strip()
            path = str(OVS_RUNDIR / f"ovs-vswitchd.{pid}.ctl")
        self.path, self.timeout = path, timeout
        self._sock: socket.socket | None = None
        self._buf = b""
        self._id = 0
        self._lock = threading.Lock()

    def _connect(self) -> socket.socket:
        if self._sock is None:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(self.timeout)
            s.connect(self.path)
            self._sock, self._buf = s, b""
        return self._sock

    def call(self, method: str, *params: str) -> str:
        with self._lock:
            try:
                return self._call(method, params)
            except OSError:
                self.close()                       # reconnect once (ovs-vswitchd restarted?)
                return self._call(method, params)

    def _call(self, method: str, params) -> str:
        s = self._connect()
        self._id += 1
        s.sendall(json.dumps({"method": method, "params": list(params), "id": self._id}).encode())
        dec = json.JSONDecoder()
        while True:
            text = self._buf.decode("utf-8", "replace").lstrip()
            if text:
                try:
                    reply, end = dec.raw_decode(text)
                except ValueError:
                    reply = None
                if reply is not None:
                    self._buf = text[end:].encode()
                    if reply.get("error") is not None:
                        raise UnixctlError(f"{method}: {reply['error']}")
                    return reply.get("result") or ""
            chunk = s.recv(65536)
            if not chunk:
                raise OSError("ovs-vswitchd closed the unixctl connection")
            self._buf += chunk

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def parse_method(spec: str) -> tuple[str, float]:
    """'purge' | 'dpctl' | 'none' | 'settle:<ms>' -> (method, settle seconds)."""
    name, _, arg = spec.partition(":")
    if name not in METHODS:
        raise ValueError(f"unknown datapath sync method {spec!r}; known: {', '.join(METHODS)}")
    if name == "settle":
        return name, float(arg or 5) / 1e3
    return name, 0.0


class DatapathSync:
    """Called after every barrier that confirmed a flow change the next frame depends on."""

    def __init__(self, spec: str | None = None, unixctl: Unixctl | None = None):
        self.spec = spec or os.environ.get("MPA_DATAPATH_SYNC", "purge")
        self.method, self.settle_s = parse_method(self.spec)
        self.unixctl = unixctl
        if self.method in ("purge", "dpctl") and self.unixctl is None:
            self.unixctl = Unixctl()
        self.calls = 0
        self.total_ns = 0
        self.max_ns = 0

    def __call__(self) -> float:
        """Bring the datapath in line with the tables; returns the seconds it took."""
        t0 = time.perf_counter_ns()
        if self.method == "purge":
            self.unixctl.call("revalidator/purge")
        elif self.method == "dpctl":
            self.unixctl.call("dpctl/del-flows", "netdev@ovs-netdev")
        elif self.method == "settle":
            time.sleep(self.settle_s)
        dt = time.perf_counter_ns() - t0
        self.calls += 1
        self.total_ns += dt
        self.max_ns = max(self.max_ns, dt)
        return dt / 1e9

    def describe(self) -> dict:
        return {"method": self.method, "settle_ms": self.settle_s * 1e3, "calls": self.calls,
                "mean_ms": self.total_ns / self.calls / 1e6 if self.calls else None,
                "max_ms": self.max_ns / 1e6}
