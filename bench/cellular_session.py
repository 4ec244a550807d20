#!/usr/bin/env python3
"""Time of the cellular data session set-up (issue 15, RFC 6252 C.5.2), split into its stages,
and the cost of the two possible data paths after IPCP.

    sudo .venv/bin/python bench/cellular_session.py [--n 50] [--delay-ms 0] [--ping 200]

Builds the hand-made namespaces of tests/support/cellular_bed.py (mobile, packet data
gateway, FreeRADIUS with CHAP; with --delay-ms a user-space relay holding every frame that
long one way, since netem is absent and NFQUEUE does not see PPPoE frames), then:

1. set-up time: the mobile's client sets up and closes the session N times
   (`client --repeat N`); median / p10 / p90 of discovery (PADI..PADS), LCP (PADS..LCP
   Opened), CHAP (LCP Opened..Success, including the gateway's RADIUS round trip to
   FreeRADIUS), IPCP (Success..IPCP Opened), configure (address, route and neighbour by
   rtnetlink) and the total; the gateway's AAA round trip beside them;
2. data path: ICMP echo RTT from the mobile to the gateway (a) as plain IPv4 on the link
   after IPCP (what agents/cellular.py does) and (b) through TUN devices whose datagrams a
   user-space relay on each side carries in PPPoE session frames (PPP Protocol 0x0021), the
   only way to keep PPP framing for data without the kernel's PPP driver.

Every constant that shapes the numbers is printed beside them.
"""
from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import select
import socket
import statistics
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orchestrator.protocols import ppp, ppp_fsm  # noqa: E402
from tests.support.cellular_bed import GATEWAY, USERS, CellularBed  # noqa: E402

STAGES = ("discovery_ms", "lcp_ms", "chap_ms", "ipcp_ms", "configure_ms", "total_ms")
TUNSETIFF, IFF_TUN, IFF_NO_PI = 0x400454CA, 0x0001, 0x1000
RELAY_SESSION = 0x0BE1
TUN_ADDR = {"mn": "10.30.0.2", "bs": "10.30.0.1"}


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def summary(values: list[float]) -> str:
    return (f"median {statistics.median(values):8.3f}   p10 {pct(values, 0.1):8.3f}   "
            f"p90 {pct(values, 0.9):8.3f}")


def relay(args) -> int:
    """Inside a namespace: TUN <-> PPPoE session frames (PPP Protocol 0x0021 = IPv4)."""
    tun = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(tun, TUNSETIFF, struct.pack("16sH", args.tun.encode(), IFF_TUN | IFF_NO_PI))
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ppp.ETH_P_PPP_SES))
    sock.bind((args.iface, ppp.ETH_P_PPP_SES))
    mac = bytes.fromhex(Path(f"/sys/class/net/{args.iface}/address").read_text().strip()
                        .replace(":", ""))
    peer = bytes.fromhex(args.peer.replace(":", ""))
    print("ready", flush=True)
    while True:
        ready, _, _ = select.select([tun, sock], [], [])
        if tun in ready:
            datagram = os.read(tun, 65535)
            sock.send(ppp_fsm.session_frame(peer, mac, RELAY_SESSION, ppp.PROTO_IPV4, datagram))
        if sock in ready:
            frame, addr = sock.recvfrom(65535)
            if addr[2] == socket.PACKET_OUTGOING:
                continue
            try:
                f = ppp.decode_frame(frame)
            except ppp.ProtocolError:
                continue
            if f.packet.session_id == RELAY_SESSION and f.packet.protocol == ppp.PROTO_IPV4:
                os.write(tun, f.packet.information)


def ping(bed: CellularBed, node: str, target: str, count: int) -> dict:
    out = bed.run(node, "ping", "-q", "-c", str(count), "-i", "0.005", "-W", "1", target,
                  check=False).stdout
    m = re.search(r"= ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms", out)
    loss = re.search(r"([\d.]+)% packet loss", out)
    if not m:
        return {"error": out.strip()[-200:]}
    return {"min": float(m[1]), "avg": float(m[2]), "max": float(m[3]), "mdev": float(m[4]),
            "loss_pct": float(loss[1]) if loss else None}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=50, help="session set-ups")
    ap.add_argument("--delay-ms", type=float, default=0.0, help="one-way link delay")
    ap.add_argument("--ping", type=int, default=200, help="echo requests per data path")
    sub = ap.add_subparsers(dest="op")
    r = sub.add_parser("relay")
    r.add_argument("--iface", required=True)
    r.add_argument("--tun", required=True)
    r.add_argument("--peer", required=True)
    args = ap.parse_args()
    if args.op == "relay":
        return relay(args)
    user, secret = "mn1", USERS["mn1"]["password"]
    with CellularBed(delay_ms=args.delay_ms) as bed:
        radius_ready = bed.start_radius()
        bed.start_delay()
        gateway = bed.start_gateway()
        proc = bed.client(user, secret, "--repeat", str(args.n))
        results = []
        for line in proc.stdout:
            doc = json.loads(line)
            if "status" in doc:
                results.append(doc)
        proc.wait(60)
        ok = [r for r in results if r["status"] == "ok"]
        aaa = [e["attrs"]["rtt_ms"] for e in bed.events("bs") if e["event"] == "aaa_answer"]
        # data path (a): plain IPv4 after IPCP
        hold = bed.client(user, secret, "--hold")
        held = json.loads(hold.stdout.readline())
        plain = ping(bed, "mn", GATEWAY, args.ping) if held["status"] == "ok" else {}
        bed.stop(hold)
        bed.stop(gateway)
        # data path (b): IPv4 in PPPoE session frames through TUN + user-space relays
        py = sys.executable
        for node, iface, peer in (("mn", "cdma0", bed.mac["bs"]), ("bs", "bs0", bed.mac["mn"])):
            rp = bed.spawn(node, py, __file__, "relay", "--iface", iface, "--tun", "pppoe0",
                           "--peer", peer)
            assert rp.stdout.readline().strip() == "ready", rp.stderr.read()
            bed.run(node, "ip", "addr", "add", f"{TUN_ADDR[node]}/32", "peer",
                    f"{TUN_ADDR['bs' if node == 'mn' else 'mn']}", "dev", "pppoe0")
            bed.run(node, "ip", "link", "set", "pppoe0", "up")
        framed = ping(bed, "mn", TUN_ADDR["bs"], args.ping)

    print(f"cellular data session set-up (PPPoE + LCP + CHAP-MD5/RADIUS + IPCP), "
          f"{len(ok)}/{len(results)} ok")
    print(f"  link: veth, one-way delay {args.delay_ms:g} ms "
          f"({'user-space frame relay' if args.delay_ms else 'none'}); "
          f"FreeRADIUS 3.2 ready in {radius_ready * 1000:.0f} ms, reject_delay 0")
    print(f"  constants: RFC 1661 restart timer {ppp_fsm.RESTART_S} s, Max-Configure "
          f"{ppp_fsm.MAX_CONFIGURE}; PADI/PADR timeout {ppp_fsm.DISCOVERY_TIMEOUT_S} s "
          f"doubling, {ppp_fsm.DISCOVERY_ATTEMPTS} attempts; RADIUS timeout 1 s, 3 retries")
    print("  stage (ms)          " + "-" * 56)
    for stage in STAGES:
        values = [r[stage] for r in ok]
        if values:
            print(f"  {stage[:-3]:<18}{summary(values)}")
    if aaa:
        print(f"  {'(gateway AAA rtt)':<18}{summary(aaa)}")
    retrans = sum(r["configure_requests"] > 3 for r in ok)
    print(f"  sessions with a retransmitted Configure-Request: {retrans}/{len(ok)}")
    print(f"data path, ICMP echo RTT mobile -> gateway, {args.ping} requests (ms):")
    for name, res in (("plain IPv4 after IPCP", plain), ("PPPoE session framing (TUN+relay)",
                                                          framed)):
        if "avg" in res:
            print(f"  {name:<36} min {res['min']:.3f}  avg {res['avg']:.3f}  "
                  f"max {res['max']:.3f}  mdev {res['mdev']:.3f}  loss {res['loss_pct']:g}%")
        else:
            print(f"  {name:<36} {res}")
    return 0 if ok and len(ok) == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
