"""Plain IPv6 network namespaces for the user-space Mobile IPv6 tests and bench (root only;
no Mininet, no OVS). Every name starts with a random prefix; `Netns6.cleanup` deletes the
namespaces (their veths go with them) and stops the processes it started, by PID.

`mipv6_topology` builds RFC 6275's picture with four namespaces around one router::

    mn --(foreign link 2001:db8:2::/64)-- ar --(home link 2001:db8:1::/64)-- ha
                                          |
                                          +--(2001:db8:3::/64)-- cn

With ``second_foreign_link`` the MN has a second link to the AR (2001:db8:4::/64, its
address there 2001:db8:4::100), to move to by changing its default route.

The MN's home address 2001:db8:1::100 is on the home link's prefix but the MN is on the
foreign link: the AR reaches the home address only through the HA's proxy Neighbor
Discovery. The home address sits on the MN's loopback (the data plane owns the rest).
"""
from __future__ import annotations

import json
import os
import secrets
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

HOME_PREFIX = "2001:db8:1::/64"
ADDR = {
    "home_address": "2001:db8:1::100", "ha": "2001:db8:1::1", "ar_home": "2001:db8:1::2",
    "coa": "2001:db8:2::100", "ar_foreign": "2001:db8:2::1",
    "cn": "2001:db8:3::100", "ar_cn": "2001:db8:3::1",
    "coa2": "2001:db8:4::100", "ar_foreign2": "2001:db8:4::1",
}


@dataclass
class Netns6:
    prefix: str = field(default_factory=lambda: "m6" + secrets.token_hex(2))
    namespaces: list[str] = field(default_factory=list)
    procs: list[subprocess.Popen] = field(default_factory=list)

    def ns(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def add(self, name: str) -> str:
        ns = self.ns(name)
        subprocess.run(["ip", "netns", "add", ns], check=True)
        self.namespaces.append(ns)
        self.run(name, "ip", "link", "set", "lo", "up")
        for key in ("all", "default", "lo"):
            self.sysctl(name, f"net.ipv6.conf.{key}.disable_ipv6", "0")
        for key in ("all", "default"):              # link-local addresses usable at once
            self.sysctl(name, f"net.ipv6.conf.{key}.accept_dad", "0")
        return ns

    def run(self, name: str, *argv: str, check: bool = True, **kw):
        return subprocess.run(["ip", "netns", "exec", self.ns(name), *argv], check=check,
                              capture_output=True, text=True, **kw)

    def popen(self, name: str, argv: list[str], **kw) -> subprocess.Popen:
        proc = subprocess.Popen(["ip", "netns", "exec", self.ns(name), *argv], **kw)
        self.procs.append(proc)
        return proc

    def sysctl(self, name: str, key: str, value: str) -> None:
        self.run(name, "sysctl", "-qw", f"{key}={value}")

    def link(self, a: str, b: str, a_addr: str, b_addr: str, tag: str = ""
             ) -> tuple[str, str]:
        """A veth between namespaces a and b named <prefix><tag><a><b> (15 characters)."""
        ia, ib = f"{self.prefix}{tag}{a}{b}"[:15], f"{self.prefix}{tag}{b}{a}"[:15]
        subprocess.run(["ip", "link", "add", ia, "netns", self.ns(a), "type", "veth",
                        "peer", "name", ib, "netns", self.ns(b)], check=True)
        for name, ifname, addr in ((a, ia, a_addr), (b, ib, b_addr)):
            self.run(name, "ip", "link", "set", ifname, "up")
            self.run(name, "ip", "addr", "add", addr, "dev", ifname, "nodad")
        return ia, ib

    def cleanup(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)           # the PID we started
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
        for ns in self.namespaces:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def mipv6_topology(net: Netns6, second_foreign_link: bool = False) -> dict[str, str]:
    """Build the four namespaces; returns interface names by role."""
    for name in ("mn", "ar", "ha", "cn"):
        net.add(name)
    mn_if, ar_mn = net.link("mn", "ar", ADDR["coa"] + "/64", ADDR["ar_foreign"] + "/64")
    ha_if, ar_ha = net.link("ha", "ar", ADDR["ha"] + "/64", ADDR["ar_home"] + "/64")
    cn_if, ar_cn = net.link("cn", "ar", ADDR["cn"] + "/64", ADDR["ar_cn"] + "/64")
    for name in ("ar", "ha"):
        net.sysctl(name, "net.ipv6.conf.all.forwarding", "1")
    net.run("mn", "ip", "-6", "route", "add", "default", "via", ADDR["ar_foreign"])
    net.run("ha", "ip", "-6", "route", "add", "default", "via", ADDR["ar_home"])
    net.run("cn", "ip", "-6", "route", "add", "default", "via", ADDR["ar_cn"])
    net.run("mn", "ip", "addr", "add", ADDR["home_address"] + "/128", "dev", "lo", "nodad")
    ifs = {"mn": mn_if, "ha": ha_if, "cn": cn_if, "ar_mn": ar_mn, "ar_ha": ar_ha,
           "ar_cn": ar_cn}
    if second_foreign_link:
        ifs["mn2"], ifs["ar_mn2"] = net.link("mn", "ar", ADDR["coa2"] + "/64",
                                             ADDR["ar_foreign2"] + "/64", tag="b")
    return ifs


def move(net: Netns6, to_second: bool) -> None:
    """The MN's default route to the AR through its first or second foreign link."""
    via = ADDR["ar_foreign2"] if to_second else ADDR["ar_foreign"]
    net.run("mn", "ip", "-6", "route", "replace", "default", "via", via)


class PlaneProcess:
    """One data plane process in a namespace: JSON commands in, JSON events out."""

    def __init__(self, net: Netns6, name: str, config: dict, tmp: Path) -> None:
        path = tmp / f"{name}.json"
        path.write_text(json.dumps(config))
        self.name = name
        self.proc = net.popen(name, [sys.executable, "-m",
                                     "orchestrator.agents.mipv6_dataplane", str(path)],
                              cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
        self.events: list[dict] = []
        self._buf = b""
        self.wait_for("ready", 10)

    def command(self, **cmd) -> None:
        self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
        self.proc.stdin.flush()

    def _read(self, timeout: float) -> None:
        fd = self.proc.stdout.fileno()
        ready, _, _ = select.select([fd], [], [], timeout)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                raise AssertionError(f"{self.name} exited: {self.proc.stderr.read().decode()}")
            self._buf += chunk
            while b"\n" in self._buf:
                line, self._buf = self._buf.split(b"\n", 1)
                self.events.append(json.loads(line))

    def wait_for(self, event: str, timeout: float = 5.0, start: int = 0, **match) -> dict:
        """The first ``event`` (with ``match``ing fields) from ``self.events[start:]`` on."""
        deadline = time.monotonic() + timeout
        seen = start
        while True:
            for ev in self.events[seen:]:
                if ev["event"] == event and all(ev.get(k) == v for k, v in match.items()):
                    return ev
            seen = len(self.events)
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{self.name}: no {event} {match}; events {self.events}")
            self._read(left)

    def stats(self) -> dict:
        start = len(self.events)
        self.command(op="stats")
        return self.wait_for("stats", start=start)

    def stop(self) -> dict:
        self.command(op="stop")
        return self.wait_for("stopped", 10)
