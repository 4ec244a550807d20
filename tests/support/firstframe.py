"""First frames after emulated layer-2 changes (python -m tests.support.firstframe ROLE ...).

  ap   --iface IF --count N [--driver JSON]
                                       the AP host: each sequenced EAPOL probe from a station
                                       is counted, the station's port opened (on the AP's own
                                       switch with agents/port_driver.py when --driver gives
                                       its config, the controller told without waiting, as
                                       the AP agent does; else by asking the controller and
                                       waiting for its answer), then an EAPOL frame back to
                                       the station: the authenticator's message 3
  sink --iface IF --count N            a DS host: counts sequenced data frames
  sta  --iface IF --bssids A,B --sink MAC --count N
                                       the station: N handoffs alternating between the APs;
                                       after each association response at once an EAPOL probe
                                       to the AP, after the AP's answer at once a data frame
                                       to the sink (as a station sends data right after
                                       message 4)

Each prints 'ready' when listening and at the end a JSON line with the sequence numbers it
saw (ap, sink) or its per-handoff results (sta). Frames carry a 4-octet sequence number.
"""
import argparse
import json
import socket
import sys
import time

from orchestrator.agents.l2 import L2Port
from orchestrator.agents.port_driver import PortDriver
from orchestrator.protocols import mgmt

ETH_EAPOL, ETH_DATA = 0x888E, 0x88B6


def _sock(iface, et):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(et))
    s.bind((iface, et))
    return s


def _frame(dst, src, et, seq):
    # EAPOL version 2, type 1 (Start), length 4: the sequence number rides as its body
    body = bytes([2, 1, 0, 4]) if et == ETH_EAPOL else b""
    return (mgmt.mac_bytes(dst) + mgmt.mac_bytes(src) + et.to_bytes(2, "big") + body
            + seq.to_bytes(4, "big") + bytes(40))


def _seq(data, et):
    off = 18 if et == ETH_EAPOL else 14
    return int.from_bytes(data[off:off + 4], "big")


def receive(iface, et, count, on_frame=None, timeout=120.0):
    s = _sock(iface, et)
    print("ready", flush=True)
    seen, deadline = set(), time.monotonic() + timeout
    while len(seen) < count and (left := deadline - time.monotonic()) > 0:
        s.settimeout(left)
        try:
            data, addr = s.recvfrom(65535)
        except (socket.timeout, KeyboardInterrupt):     # SIGINT: the sender is done
            break
        if addr[2] == socket.PACKET_OUTGOING:
            continue
        seq = _seq(data, et)
        seen.add(seq)
        if on_frame:
            on_frame(mgmt.mac_str(data[6:12]), seq)
    return sorted(seen)


def _answer(s, src, seq, timeout) -> bool:
    """Wait for the AP's EAPOL frame with sequence number `seq`."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        s.settimeout(left)
        try:
            data, addr = s.recvfrom(65535)
        except socket.timeout:
            return False
        if addr[2] != socket.PACKET_OUTGOING and mgmt.mac_str(data[6:12]) == src \
                and _seq(data, ETH_EAPOL) == seq:
            return True
    return False


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("role", choices=["ap", "sink", "sta"])
    p.add_argument("--iface", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--bssids")
    p.add_argument("--sink")
    p.add_argument("--driver", help="the AP's port driver config (JSON)")
    a = p.parse_args()
    if a.role == "ap":
        port = L2Port(a.iface)
        eapol = _sock(a.iface, ETH_EAPOL)
        driver = PortDriver(json.loads(a.driver)) if a.driver else None
        failures = []

        def authorize(sta, seq):
            if driver is not None:
                driver.open(sta)
                port.sock.send(mgmt.encode(port.mac, port.mac, mgmt.Mgmt("authorize", sta, port.mac)))
            else:
                reply, _, _ = port.request(port.mac, mgmt.Mgmt("authorize", sta, port.mac),
                                           "port_status", 2.0)
                if reply is None or reply.status != "ok":
                    failures.append(seq)
                    return
            eapol.send(_frame(sta, port.mac, ETH_EAPOL, seq))
        seen = receive(a.iface, ETH_EAPOL, a.count, authorize)
        print(json.dumps({"seen": seen, "authorize_failed": failures}), flush=True)
    elif a.role == "sink":
        print(json.dumps({"seen": receive(a.iface, ETH_DATA, a.count)}), flush=True)
    else:
        port = L2Port(a.iface)
        eapol, data = _sock(a.iface, ETH_EAPOL), _sock(a.iface, ETH_DATA)
        bssids = a.bssids.split(",")
        print("ready", flush=True)
        results = []
        for k in range(a.count):
            bssid = bssids[k % len(bssids)]
            reply, _, _ = port.request(bssid, mgmt.Mgmt("assoc_request", port.mac, bssid),
                                       "assoc_response", 2.0)
            if reply is None or reply.status != "ok":
                results.append("assoc_failed")
                continue
            eapol.send(_frame(bssid, port.mac, ETH_EAPOL, k))       # at once
            if not _answer(eapol, bssid, k, 2.0):
                results.append("port_not_opened")
                continue
            data.send(_frame(a.sink, port.mac, ETH_DATA, k))         # at once
            results.append("ok")
        print(json.dumps({"results": results}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
