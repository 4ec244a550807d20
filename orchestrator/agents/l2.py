"""Layer-2 management primitives as seen from inside a host.

- A station (the MN's radio) asks for association / reassociation / disassociation.
- An authenticator (on an AP host) authorizes or unauthorizes a station's controlled port.

Both are real frames on the emulated wire (protocols.mgmt), answered by the controller.
Run inside a host:  python -m orchestrator.agents.l2 --iface wlan0 associate BSSID
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import socket
import sys
import time

from ..events import EventLog
from ..protocols import mgmt


class L2Port:
    def __init__(self, iface: str):
        self.iface = iface
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(mgmt.ETH_P_MGMT))
        self.sock.bind((iface, mgmt.ETH_P_MGMT))
        with open(f"/sys/class/net/{iface}/address") as fh:
            self.mac = fh.read().strip()
        self._seq = itertools.count(int.from_bytes(os.urandom(2), "big"))

    def request(self, dst: str, msg: mgmt.Mgmt, expect: str, timeout: float = 5.0):
        """Send `msg`, wait for the `expect` reply with the same seq.
        Returns (reply, t_send_ns, t_reply_ns); reply is None on timeout."""
        msg.seq = next(self._seq)
        t_send = time.perf_counter_ns()
        msg.attrs["t_sent_ns"] = t_send          # CLOCK_MONOTONIC: same clock in every netns
        self.sock.send(mgmt.encode(dst, self.mac, msg))
        reply, t_recv = self._next(lambda src, m: m.type == expect and m.seq == msg.seq, timeout)
        return reply, t_send, t_recv

    def wait_for(self, kind: str, timeout: float, sender: str | None = None):
        """The next management frame of type `kind` (from `sender`), or None."""
        return self._next(lambda src, m: m.type == kind and sender in (None, src), timeout)[0]

    def next_of(self, kind: str, timeout: float):
        """(the next management frame of type `kind`, its arrival ns), or (None, None)."""
        return self._next(lambda src, m: m.type == kind, timeout)

    def drain(self) -> int:
        """Discard the frames already queued (answers nobody waited for); returns how many."""
        n = 0
        self.sock.setblocking(False)
        try:
            while True:
                self.sock.recv(65535)
                n += 1
        except (BlockingIOError, InterruptedError):
            return n
        finally:
            self.sock.setblocking(True)

    def _next(self, accept, timeout: float):
        """(first frame `accept(src, msg)` takes, its arrival ns), or (None, None)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65535)
            except socket.timeout:
                break
            t_recv = time.perf_counter_ns()
            try:
                _, src, msg = mgmt.decode(data)
            except mgmt.MgmtError:
                continue
            if accept(src, msg):
                return msg, t_recv
        return None, None


def associate(port: L2Port, bssid: str, log: EventLog | None = None, timeout: float = 5.0) -> dict:
    """(Re)associate the station with the AP `bssid`; returns the measured handoff time."""
    if log:
        log.emit("l2_handoff_start", phase="switching", bssid=bssid)
    reply, t0, t1 = port.request(bssid, mgmt.Mgmt("assoc_request", port.mac, bssid),
                                 "assoc_response", timeout)
    if reply is None or reply.status != "ok":
        status = reply.status if reply else "timeout"
        if log:
            log.emit("l2_handoff_failed", phase="switching", bssid=bssid, reason=status)
        return {"status": status}
    result = {"status": "ok", "bssid": bssid, "previous": reply.attrs.get("previous"),
              "t_request_ns": t0, "t_response_ns": t1, "l2_handoff_ms": (t1 - t0) / 1e6}
    if log:
        log.emit("l2_handoff_done", phase="switching", mono_ns=t1, bssid=bssid,
                 request_mono_ns=t0, l2_handoff_ms=result["l2_handoff_ms"])
    return result


def set_port(port: L2Port, sta: str, authorized: bool, log: EventLog | None = None,
             timeout: float = 5.0) -> dict:
    """Authenticator side: open or close `sta`'s controlled port at this AP."""
    kind = "authorize" if authorized else "deauthorize"
    reply, t0, t1 = port.request(port.mac, mgmt.Mgmt(kind, sta, port.mac), "port_status", timeout)
    status = reply.status if reply else "timeout"
    if log:
        log.emit(f"{kind}_{'done' if status == 'ok' else 'failed'}", phase="switching",
                 sta=sta, status=status)
    return {"status": status, "elapsed_ms": (t1 - t0) / 1e6 if t1 else None}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m orchestrator.agents.l2")
    ap.add_argument("--iface", required=True)
    ap.add_argument("--events", help="event log file (JSON lines)")
    ap.add_argument("--node", default=socket.gethostname())
    ap.add_argument("--timeout", type=float, default=5.0)
    sub = ap.add_subparsers(dest="op", required=True)
    sub.add_parser("associate").add_argument("bssid")
    sub.add_parser("disassociate").add_argument("bssid")
    sub.add_parser("authorize").add_argument("sta")
    sub.add_parser("deauthorize").add_argument("sta")
    args = ap.parse_args(argv)
    port = L2Port(args.iface)
    role = "station" if args.op in ("associate", "disassociate") else "authenticator"
    log = EventLog(args.events, args.node, role) if args.events else None
    if args.op == "associate":
        result = associate(port, args.bssid, log, args.timeout)
    elif args.op == "disassociate":
        reply, _, _ = port.request(args.bssid, mgmt.Mgmt("disassoc_request", port.mac, args.bssid),
                                   "disassociated", args.timeout)
        result = {"status": reply.status if reply else "timeout"}
    else:
        result = set_port(port, args.sta, args.op == "authorize", log, args.timeout)
    print(json.dumps(result))
    return 0 if result["status"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
