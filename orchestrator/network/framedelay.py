"""framedelay: the link emulation's delay for non-IP frames (a cellular link's PPPoE frames),
where NFQUEUE cannot see them (kernels without tc netem; RFC 6252 C.5.2's radio link).

NFQUEUE (delayd) holds IP packets only: netfilter never sees an Ethernet frame of another
EtherType, and this kernel has neither netem nor nftables' `queue` in the bridge family. The
PPP exchange of a cellular data session (PPPoE discovery 0x8863, session 0x8864: LCP, CHAP,
IPCP) would cross a delayed radio link undelayed. This element delays those frames on one
interface, in one direction (egress), by the link's one-way delay:

* the caller runs, in the interface's network namespace,
  ``python -m orchestrator.network.framedelay CONFIG.json``; it opens a TAP device (not
  persistent: it disappears with the process), with IPv6 off so that it sends nothing of its
  own, brings it up and writes ``ready_file``;
* the caller then steers the interface's egress frames of those EtherTypes into the TAP:
  ``tc qdisc add dev IF clsact`` + ``tc filter add dev IF egress protocol 0x8863 u32 match u32
  0 0 action mirred egress redirect dev TAP`` (:func:`tc_commands`);
* the element reads each frame from the TAP, holds it for the delay (FIFO: a constant delay
  keeps the order) and sends it on the interface through a packet socket with
  PACKET_QDISC_BYPASS, so that it leaves without passing the qdisc and its filter again (nor
  the interface's htb rate limit: the set-up frames are a few dozen octets).

A link has the element at both ends' egress: the mobile's interface (uplink, in its
namespace) and the switch's end of the veth (downlink, in the root namespace, where Open
vSwitch's userspace datapath sends through the qdisc). On SIGTERM it sends what it holds,
writes ``stats_file`` (frames, other frames ignored, mean/max added delay) and exits 0.

CONFIG: ``{"interface", "tap", "delay_s", "ethertypes": [0x8863, 0x8864], "ready_file",
"stats_file"}``.
"""
from __future__ import annotations

import collections
import fcntl
import json
import os
import select
import signal
import socket
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TAP, IFF_NO_PI = 0x0002, 0x1000
SOL_PACKET, PACKET_QDISC_BYPASS = 263, 20
PPPOE_ETHERTYPES = (0x8863, 0x8864)


def tc_commands(interface: str, tap: str, ethertypes=PPPOE_ETHERTYPES) -> list[list[str]]:
    """tc argv lists steering `interface`'s egress frames of `ethertypes` into `tap`."""
    out = [["tc", "qdisc", "replace", "dev", interface, "clsact"]]
    for prio, et in enumerate(ethertypes, start=1):
        out.append(["tc", "filter", "add", "dev", interface, "egress", "protocol", f"0x{et:04x}",
                    "prio", str(prio), "u32", "match", "u32", "0", "0", "action", "mirred",
                    "egress", "redirect", "dev", tap])
    return out


def ethertype(frame: bytes) -> int | None:
    """The EtherType of an Ethernet II frame (after one 802.1Q tag, if any), else None."""
    if len(frame) < 14:
        return None
    et = int.from_bytes(frame[12:14], "big")
    if et == 0x8100 and len(frame) >= 18:
        et = int.from_bytes(frame[16:18], "big")
    return et


def _open_tap(name: str) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", name.encode(), IFF_TAP | IFF_NO_PI))
    try:
        with open(f"/proc/sys/net/ipv6/conf/{name}/disable_ipv6", "w") as fh:
            fh.write("1")
    except FileNotFoundError:
        pass
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:    # IFF_UP
        req = struct.pack("16sH14x", name.encode(), 0)
        flags = struct.unpack_from("16sH", fcntl.ioctl(s, 0x8913, req))[1]      # SIOCGIFFLAGS
        fcntl.ioctl(s, 0x8914, struct.pack("16sH14x", name.encode(), flags | 0x1))  # SIOCSIFFLAGS
    return fd


class FrameDelay:
    def __init__(self, config: dict):
        self.interface, self.tap = config["interface"], config["tap"]
        self.delay_ns = round(float(config["delay_s"]) * 1e9)
        self.ethertypes = set(config.get("ethertypes") or PPPOE_ETHERTYPES)
        self.fd = _open_tap(self.tap)
        self.out = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        self.out.setsockopt(SOL_PACKET, PACKET_QDISC_BYPASS, 1)
        self.out.bind((self.interface, 0))
        self.held: collections.deque = collections.deque()       # (release_ns, arrival_ns, frame)
        self.frames = self.ignored = self.unsent = 0
        self.delay_sum_ns = self.delay_max_ns = 0
        self.stop = False

    def _release(self, now: int, everything: bool = False) -> None:
        while self.held and (everything or self.held[0][0] <= now):
            _, arrived, frame = self.held.popleft()
            try:
                self.out.send(frame)
            except OSError:
                self.unsent += 1
                continue
            added = time.perf_counter_ns() - arrived
            self.delay_sum_ns += added
            self.delay_max_ns = max(self.delay_max_ns, added)

    def _read(self) -> None:
        while True:
            try:
                frame = os.read(self.fd, 65535)
            except BlockingIOError:
                return
            now = time.perf_counter_ns()
            if ethertype(frame) not in self.ethertypes:
                self.ignored += 1
                continue
            self.frames += 1
            self.held.append((now + self.delay_ns, now, frame))

    def run(self) -> None:
        while not self.stop:
            now = time.perf_counter_ns()
            self._release(now)
            timeout = max(0.0, (self.held[0][0] - now) / 1e9) if self.held else 0.5
            try:
                ready, _, _ = select.select([self.fd], [], [], timeout)
            except InterruptedError:
                continue
            if ready:
                self._read()
        self._release(0, everything=True)

    def stats(self) -> dict:
        sent = self.frames - self.unsent - len(self.held)
        return {"interface": self.interface, "tap": self.tap, "delay_ms": self.delay_ns / 1e6,
                "frames": self.frames, "ignored": self.ignored, "unsent": self.unsent,
                "mean_added_ms": self.delay_sum_ns / sent / 1e6 if sent > 0 else 0.0,
                "max_added_ms": self.delay_max_ns / 1e6}


def main(argv: list[str]) -> int:
    config = json.loads(open(argv[0]).read())
    element = FrameDelay(config)

    def stop(*_):
        element.stop = True
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with open(config["ready_file"], "w") as fh:
        json.dump({"pid": os.getpid(), "tap": element.tap}, fh)
    element.run()
    if config.get("stats_file"):
        with open(config["stats_file"], "w") as fh:
            json.dump(element.stats(), fh)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
