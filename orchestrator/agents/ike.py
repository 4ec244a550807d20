"""Talking to a node's strongSwan charon over its VICI socket (protocols.vici on a Unix socket).

Who does what:
- `Vici` is one connection: `request` sends a command and returns its answer, handing any
  event that arrives meanwhile (e.g. `control-log` during `initiate`) to a callback, stamped
  with its CLOCK_MONOTONIC arrival time; `streamed` collects the events a listing command
  produces (`list-sas` -> `list-sa`).
- `Charon` wraps the commands the agents use: load/unload a shared secret (the MN-AR key as
  the IKEv2 PSK, RFC 6252 s7.3.2), load/unload a connection, initiate, terminate, list SAs.
- `EventListener` is a thread that keeps a connection registered for `child-updown` /
  `ike-updown` and calls back on each (the access router's side of the tunnel, s7.4); it
  reconnects when charon is not up yet.

charon runs in its own private /run (node_images/ikev2-strongswan*); from outside the socket
is `<image dir>/run/charon.vici`.
"""
from __future__ import annotations

import socket
import struct
import threading
import time
from typing import Callable

from ..protocols import vici

Event = Callable[[str, dict, int], None]     # (event name, message as text, arrival mono_ns)


class ViciError(RuntimeError):
    pass


class Vici:
    def __init__(self, path: str, timeout: float = 30.0):
        self.path, self.timeout = path, timeout
        self.sock: socket.socket | None = None

    def connect(self) -> "Vici":
        if self.sock is None:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(self.timeout)
            try:
                s.connect(self.path)
            except OSError as exc:
                s.close()
                raise ViciError(f"cannot reach charon at {self.path}: {exc.strerror or exc}") \
                    from None
            self.sock = s
        return self

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _send(self, ptype: int, name: str | None = None, msg: dict | None = None) -> None:
        self.connect().sock.sendall(vici.encode_packet(ptype, name, msg))

    def _recv_exact(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ViciError("charon closed the VICI connection")
            buf += chunk
        return bytes(buf)

    def read(self, timeout: float | None = None) -> tuple[int, str | None, dict, int]:
        """One packet: (type, name, message as text, arrival mono_ns)."""
        self.connect().sock.settimeout(timeout if timeout is not None else self.timeout)
        try:
            (n,) = struct.unpack("!I", self._recv_exact(4))
            if n > vici.MAX_PACKET:
                raise ViciError(f"VICI packet of {n} octets")
            body = self._recv_exact(n)
        except socket.timeout:
            raise ViciError("no answer from charon (VICI timeout)") from None
        now = time.perf_counter_ns()
        ptype, name, msg = vici.decode_packet(body)
        return ptype, name, vici.text(msg), now

    def request(self, cmd: str, msg: dict | None = None, on_event: Event | None = None,
                timeout: float | None = None) -> dict:
        self._send(vici.CMD_REQUEST, cmd, msg)
        while True:
            ptype, name, reply, now = self.read(timeout)
            if ptype == vici.EVENT:
                if on_event:
                    on_event(name, reply, now)
                continue
            if ptype == vici.CMD_UNKNOWN:
                raise ViciError(f"charon does not know the VICI command '{cmd}'")
            if ptype == vici.CMD_RESPONSE:
                return reply
            raise ViciError(f"unexpected VICI packet type {ptype} in answer to '{cmd}'")

    def register(self, event: str, register: bool = True) -> None:
        self._send(vici.EVENT_REGISTER if register else vici.EVENT_UNREGISTER, event)
        while True:
            ptype, _name, _msg, _now = self.read()
            if ptype == vici.EVENT_CONFIRM:
                return
            if ptype == vici.EVENT_UNKNOWN:
                raise ViciError(f"charon does not know the VICI event '{event}'")
            # an event of an earlier registration: drop it

    def streamed(self, cmd: str, msg: dict | None, event: str) -> tuple[dict, list[dict]]:
        got: list[dict] = []
        self.register(event)
        try:
            reply = self.request(cmd, msg, lambda name, m, _t: got.append(m) if name == event
                                 else None)
        finally:
            self.register(event, False)
        return reply, got


def _ok(reply: dict, what: str) -> dict:
    if reply.get("success", "yes") != "yes":
        raise ViciError(f"{what}: {reply.get('errmsg', 'failed')}")
    return reply


class Charon:
    """The commands the agents send to their node's charon (one connection per call)."""

    def __init__(self, path: str):
        self.path = path

    def _call(self, cmd: str, msg: dict | None = None, what: str = "", **kw) -> dict:
        v = Vici(self.path, kw.pop("timeout", 30.0))
        try:
            return _ok(v.request(cmd, msg, **kw), what or cmd)
        finally:
            v.close()

    def version(self) -> dict:
        return self._call("version")

    def load_shared(self, name: str, key: bytes, owners: list[str]) -> None:
        """An IKE pre-shared key (the MN-AR key) for the identities `owners`."""
        self._call("load-shared", {"id": name, "type": "IKE", "data": bytes(key),
                                   "owners": list(owners)}, f"load-shared {name}")

    def unload_shared(self, name: str) -> None:
        self._call("unload-shared", {"id": name}, f"unload-shared {name}")

    def shared_ids(self) -> list[str]:
        return self._call("get-shared").get("keys", [])

    def load_conn(self, name: str, conn: dict) -> None:
        self._call("load-conn", {name: conn}, f"load-conn {name}")

    def unload_conn(self, name: str) -> None:
        self._call("unload-conn", {"name": name}, f"unload-conn {name}")

    def initiate(self, ike: str, child: str, timeout: float = 10.0,
                 on_log: Event | None = None) -> dict:
        """Set up IKE_SA `ike` and its CHILD_SA `child`; charon's log lines of the exchange go
        to `on_log` as they happen. Returns charon's answer (success yes/no, errmsg)."""
        v = Vici(self.path, timeout + 5)
        try:
            if on_log:
                v.register("control-log")
            return v.request("initiate", {"ike": ike, "child": child,
                                          "timeout": int(timeout * 1000), "init-limits": "no",
                                          "loglevel": 1}, on_log)
        finally:
            v.close()

    def terminate(self, ike: str | None = None, ike_id: str | None = None,
                  timeout: float = 3.0, force: bool = False) -> dict:
        """Delete an IKE_SA (and its CHILD_SAs) by an INFORMATIONAL DELETE exchange; with
        `force`, destroy it locally once `timeout` has passed without the peer's answer
        (a peer that is no longer reachable at that address)."""
        msg = {"timeout": max(1, int(timeout * 1000)), "loglevel": -1}
        if force:
            msg["force"] = "yes"
        if ike:
            msg["ike"] = ike
        if ike_id:
            msg["ike-id"] = ike_id
        v = Vici(self.path, timeout + 5)
        try:
            return v.request("terminate", msg)
        finally:
            v.close()

    def list_sas(self, ike: str | None = None) -> dict[str, dict]:
        """{IKE_SA name: its state} (one entry per IKE_SA of that name: the last one)."""
        v = Vici(self.path)
        try:
            _, events = v.streamed("list-sas", {"noblock": "yes", **({"ike": ike} if ike else {})},
                                   "list-sa")
        finally:
            v.close()
        out: dict[str, dict] = {}
        for e in events:
            out.update(e)
        return out

    def list_conns(self) -> list[str]:
        v = Vici(self.path)
        try:
            _, events = v.streamed("list-conns", {}, "list-conn")
        finally:
            v.close()
        return [name for e in events for name in e]


class EventListener:
    """A thread registered for charon's SA events; `callback(event, message, mono_ns)`."""

    def __init__(self, path: str, events: tuple[str, ...], callback: Event,
                 on_error: Callable[[str], None] | None = None, retry: float = 0.2):
        self.path, self.events, self.callback = path, events, callback
        self.on_error, self.retry = on_error, retry
        self._stop = threading.Event()
        self.ready = threading.Event()
        self._vici: Vici | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name="vici-events")

    def start(self) -> "EventListener":
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            v = Vici(self.path, timeout=1.0)
            try:
                for e in self.events:
                    v.register(e)
            except (ViciError, OSError):
                v.close()
                self._stop.wait(self.retry)        # charon not up yet
                continue
            self._vici = v
            self.ready.set()
            try:
                while not self._stop.is_set():
                    try:
                        ptype, name, msg, now = v.read(timeout=0.5)
                    except ViciError as exc:
                        if "timeout" in str(exc):
                            continue
                        raise
                    if ptype == vici.EVENT:
                        try:
                            self.callback(name, msg, now)
                        except Exception as exc:          # a bug in a handler: report, go on
                            if self.on_error:
                                self.on_error(f"{name}: {exc!r}")
            except (ViciError, OSError, vici.ProtocolError) as exc:
                self.ready.clear()
                if self.on_error and not self._stop.is_set():
                    self.on_error(f"VICI event connection lost: {exc}")
            finally:
                v.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
