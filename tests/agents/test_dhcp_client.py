"""The MN's on-link DHCPv4 client against dnsmasq (RFC 6252 C.5.1: the address the MN gets
after the move when nothing was pre-configured; Appendix A: the duplicate address checks).

Testbed: namespaces tdhc-srv (a bridge br0, 10.77.0.1, and dnsmasq on it), tdhc-cli (the
client's eth0, no IPv4 address) and, for the conflict, tdhc-oth (a host that holds an
address statically), joined by veth pairs to the bridge. The client runs in tdhc-cli as a
child process (`ip netns exec` gives it the namespace's /sys, which `ArpPort` reads).
dnsmasq and the namespaces are removed in finalizers, dnsmasq by the PID we started.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from orchestrator.events import vocabulary_problems
from tests.conftest import REPO

pytestmark = [pytest.mark.root, pytest.mark.timeout(120),
              pytest.mark.skipif(shutil.which("dnsmasq", path="/usr/sbin:/usr/bin") is None,
                                 reason="dnsmasq (Debian package dnsmasq-base) is missing")]

SRV, CLI, OTH = "tdhc-srv", "tdhc-cli", "tdhc-oth"
SERVER, ROUTER, POOL = "10.77.0.1", "10.77.0.254", ("10.77.0.50", "10.77.0.59")
CLI_MAC, OTH_MAC = "02:00:00:77:00:10", "02:00:00:77:00:20"
RESERVED = "10.77.0.77"                  # a --dhcp-host address that tdhc-oth holds
LEASE_TIME = 600

CHILD = """
import json, sys
from orchestrator.agents.control import CommandError
from orchestrator.agents.dhcp_client import OnLinkDhcpClient
from orchestrator.events import EventLog
a = json.loads(sys.argv[1])
client = OnLinkDhcpClient("eth0", a["mac"], EventLog(a["events"], "mn", "mobile-node"),
                          broadcast=a["broadcast"])
try:
    if a["action"] == "acquire":
        out = client.acquire(a["timeout"], a["probes"], a["interval"])
    else:
        client.release(a["lease"])
        out = {}
except (CommandError, OSError) as exc:
    out = {"error": f"{type(exc).__name__}: {exc}"}
print(json.dumps(out))
"""


def sh(*argv: str) -> str:
    r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, f"{' '.join(argv)}: {r.stderr.strip()}"
    return r.stdout


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return result


def _delete_namespaces() -> None:
    present = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    for ns in (CLI, OTH, SRV):
        if any(line.split()[0] == ns for line in present.splitlines() if line.strip()):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)


def _port_forwarding(port: str) -> bool:
    out = subprocess.run(["bridge", "-n", SRV, "-j", "link", "show", "dev", port],
                         capture_output=True, text=True).stdout
    return any(p.get("state") == "forwarding" for p in json.loads(out or "[]"))


def _attach(ns: str, port: str, mac: str) -> None:
    """Namespace `ns` with an eth0 (MAC `mac`) whose peer `port` is on br0 in tdhc-srv."""
    sh("ip", "netns", "add", ns)
    sh("ip", "-n", SRV, "link", "add", port, "type", "veth", "peer", "name", "eth0",
       "netns", ns)
    sh("ip", "-n", SRV, "link", "set", port, "master", "br0", "up")
    sh("ip", "-n", ns, "link", "set", "eth0", "address", mac)
    for dev in ("lo", "eth0"):
        sh("ip", "-n", ns, "link", "set", dev, "up")
    wait_for(lambda: _port_forwarding(port), 10, f"bridge port {port} forwarding")


@pytest.fixture
def link(request):
    """br0 in tdhc-srv with the server address, tdhc-cli's eth0 on it."""
    _delete_namespaces()                        # left over by an interrupted run of ours
    request.addfinalizer(_delete_namespaces)
    sh("ip", "netns", "add", SRV)
    sh("ip", "-n", SRV, "link", "add", "br0", "type", "bridge")
    sh("ip", "-n", SRV, "addr", "add", f"{SERVER}/24", "dev", "br0")
    for dev in ("lo", "br0"):
        sh("ip", "-n", SRV, "link", "set", dev, "up")
    _attach(CLI, "vcli", CLI_MAC)


@pytest.fixture
def third_host(link):
    """tdhc-oth on the same link, holding `RESERVED` statically."""
    _attach(OTH, "voth", OTH_MAC)
    sh("ip", "-n", OTH, "addr", "add", f"{RESERVED}/24", "dev", "eth0")


class Dnsmasq:
    """dnsmasq's DHCP server alone (no DNS) on br0, logging every exchange (--log-dhcp)."""

    def __init__(self, directory: Path, *extra: str):
        self.leases, self.log = directory / "leases", directory / "dnsmasq.log"
        argv = ["ip", "netns", "exec", SRV, "/usr/sbin/dnsmasq", "--no-daemon",
                "--conf-file=/dev/null", "--port=0",
                f"--dhcp-range={POOL[0]},{POOL[1]},255.255.255.0,{LEASE_TIME}",
                f"--dhcp-option=3,{ROUTER}", "--interface=br0", "--bind-interfaces",
                f"--dhcp-leasefile={self.leases}", f"--pid-file={directory / 'dnsmasq.pid'}",
                "--log-dhcp", "--log-facility=-", *extra]
        with open(self.log, "wb") as out:           # `ip netns exec` execs dnsmasq: one PID
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        wait_for(lambda: "sockets bound exclusively" in self.text() or self.proc.poll(), 10,
                 "dnsmasq to start")
        assert self.proc.poll() is None, f"dnsmasq exited: {self.text()}"

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def leased(self) -> dict[str, str]:
        """address -> MAC from the lease file."""
        lines = self.leases.read_text().splitlines() if self.leases.exists() else []
        return {f[2]: f[1] for f in (line.split() for line in lines) if len(f) >= 3}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture
def dnsmasq(link, tmp_path, request):
    """Starts dnsmasq with extra options (several may run one after another)."""
    def start(*extra: str) -> Dnsmasq:
        directory = tmp_path / f"dnsmasq{len(started)}"
        directory.mkdir()
        server = Dnsmasq(directory, *extra)
        started.append(server)
        return server
    started: list[Dnsmasq] = []
    request.addfinalizer(lambda: [s.stop() for s in started])
    return start


class Client:
    """OnLinkDhcpClient in tdhc-cli, one child process a call; its events in one file."""

    def __init__(self, directory: Path):
        self.events = directory / "mn-events.jsonl"

    def _run(self, **args) -> dict:
        args = {"mac": CLI_MAC, "events": str(self.events), "broadcast": True, **args}
        r = subprocess.run(["ip", "netns", "exec", CLI, sys.executable, "-c", CHILD,
                            json.dumps(args)], capture_output=True, text=True, cwd=REPO,
                           timeout=90)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    def acquire(self, timeout=20.0, probes=3, interval=0.2, broadcast=True) -> dict:
        return self._run(action="acquire", timeout=timeout, probes=probes, interval=interval,
                         broadcast=broadcast)

    def release(self, lease: dict) -> dict:
        return self._run(action="release", lease=lease)

    def records(self) -> list[dict]:
        if not self.events.exists():
            return []
        return [json.loads(line) for line in self.events.read_text().splitlines()]


@pytest.fixture
def client(link, tmp_path):
    return Client(tmp_path)


def in_pool(address: str) -> bool:
    return IPv4Address(POOL[0]) <= IPv4Address(address) <= IPv4Address(POOL[1])


@pytest.mark.parametrize("broadcast", [True, False], ids=["broadcast", "unicast"])
def test_acquire_returns_dnsmasqs_lease_after_dad(dnsmasq, client, broadcast):
    server = dnsmasq("--no-ping")
    probes, interval = 3, 0.2
    info = client.acquire(probes=probes, interval=interval, broadcast=broadcast)
    assert "error" not in info, info
    assert in_pool(info["address"]) and info["prefixlen"] == 24
    assert (info["router"], info["server"], info["lease_time"]) == (ROUTER, SERVER, LEASE_TIME)
    assert info["sent"] == 2                                   # DISCOVER, REQUEST
    assert info["dad_ms"] >= probes * interval * 1000 * 0.9
    assert server.leased() == {info["address"]: CLI_MAC}
    # answers as asked for: broadcast, or unicast to the offered address and our MAC
    assert ("broadcast response" in server.text()) is broadcast
    records = client.records()
    assert [r["event"] for r in records] == ["address_request", "dad_start", "dad_done",
                                            "address_acquired"]
    assert {r["phase"] for r in records} == {"post-switching"}
    assert vocabulary_problems(records) == []
    assert records[0]["attrs"]["method"] == "dhcp-on-link"
    assert records[0]["attrs"]["iface"] == "eth0"
    assert records[2]["attrs"]["unique"] is True
    acquired = records[3]["attrs"]
    assert acquired["ncoa"] == info["address"] and acquired["method"] == "dhcp-on-link"
    assert (acquired["router"], acquired["server"], acquired["lease_time"]) == (
        ROUTER, SERVER, LEASE_TIME)
    assert acquired["offer_ms"] == info["offer_ms"] and acquired["ack_ms"] == info["ack_ms"]
    stamps = [r["mono_ns"] for r in records]
    assert stamps == sorted(stamps)
    print(f"\n{'broadcast' if broadcast else 'unicast'} answers: offer {info['offer_ms']:.1f} "
          f"ms, ack {info['ack_ms']:.1f} ms, dad {info['dad_ms']:.1f} ms")


def test_dnsmasq_ping_check_delays_the_first_offer(dnsmasq, client):
    """Server-side duplicate detection (Appendix A, C.5.1): dnsmasq pings an address it has
    not leased before offering it; with --no-ping it offers at once."""
    pinging = dnsmasq()
    checked = client.acquire(probes=0)
    assert "error" not in checked, checked
    assert checked["dad_ms"] == 0
    assert in_pool(checked["address"])
    pinging.stop()
    dnsmasq("--no-ping")                        # a fresh lease file: a new address again
    unchecked = client.acquire(probes=0)
    assert "error" not in unchecked, unchecked
    events = [r["event"] for r in client.records()]
    assert events == ["address_request", "address_acquired"] * 2    # no DAD with 0 probes
    print(f"\nfirst offer with dnsmasq's ping check: {checked['offer_ms']:.1f} ms; "
          f"with --no-ping: {unchecked['offer_ms']:.1f} ms")
    assert checked["offer_ms"] > unchecked["offer_ms"]


def test_dad_conflict_declines_the_address(third_host, dnsmasq, client):
    server = dnsmasq("--no-ping", f"--dhcp-host={CLI_MAC},{RESERVED}")
    info = client.acquire(probes=3, interval=0.2)
    assert "error" in info and f"{RESERVED} is in use by {OTH_MAC}" in info["error"]
    records = client.records()
    assert [r["event"] for r in records] == ["address_request", "dad_start", "dad_conflict",
                                            "address_failed"]
    assert records[2]["attrs"]["by"] == OTH_MAC and records[2]["attrs"]["ncoa"] == RESERVED
    assert "DHCPDECLINE" in records[3]["attrs"]["reason"]
    assert vocabulary_problems(records) == []
    declined = f"DHCPDECLINE(br0) {RESERVED} {CLI_MAC}"
    wait_for(lambda: declined in server.text(), 5, f"dnsmasq to log {declined!r}")
    wait_for(lambda: RESERVED not in server.leased(), 5, "dnsmasq to drop the lease")


def test_release_removes_the_lease(dnsmasq, client):
    server = dnsmasq("--no-ping")
    info = client.acquire(probes=0)
    assert server.leased() == {info["address"]: CLI_MAC}
    # release() sends from the address: the caller has configured it by then
    sh("ip", "-n", CLI, "addr", "add", f"{info['address']}/{info['prefixlen']}", "dev", "eth0")
    assert client.release(info) == {}
    wait_for(lambda: not server.leased(), 5, "the lease to leave dnsmasq's lease file")
    assert f"DHCPRELEASE(br0) {info['address']} {CLI_MAC}" in server.text()
    assert [r["event"] for r in client.records()] == ["address_request", "address_acquired"]


def test_release_needs_the_address_configured(dnsmasq, client):
    dnsmasq("--no-ping")
    info = client.acquire(probes=0)
    error = client.release(info)["error"]        # nothing to bind the socket to
    assert error.startswith("OSError") and "Cannot assign requested address" in error


def test_no_server_retransmits_then_fails(client):
    t0 = time.monotonic()
    info = client.acquire(timeout=4.5, probes=0)
    assert time.monotonic() - t0 < 10
    assert "no DHCPOFFER" in info["error"] and "(2 messages sent)" in info["error"]  # 0 s, 4 s
    records = client.records()
    assert [r["event"] for r in records] == ["address_request", "address_failed"]


DAD_CHILD = """
import json, sys
from orchestrator.agents.tunnel import ArpPort
a = json.loads(sys.argv[1])
print(json.dumps(ArpPort("eth0").dad(a["address"], 3, 0.2, owner=a["owner"])))
"""


@pytest.mark.parametrize("owner, verdict", [(None, [False, OTH_MAC]),
                                            ("02:00:00:77:00:99", [False, OTH_MAC]),
                                            (OTH_MAC, [True, OTH_MAC])],
                         ids=["no-owner", "another-owner", "the-owner"])
def test_dad_on_behalf_of_an_owner(third_host, owner, verdict):
    """The nAR probes an nCoA on the MN's behalf (Appendix A): an ARP from the MN itself
    claiming the address (it moved and announced it before the probes ended) ends the
    probing as the owner's arrival; from any other host it is a conflict (RFC 5227)."""
    r = subprocess.run(["ip", "netns", "exec", CLI, sys.executable, "-c", DAD_CHILD,
                        json.dumps({"address": RESERVED, "owner": owner})],
                       capture_output=True, text=True, cwd=REPO, timeout=30)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == verdict
