"""The nAR's buffering module and the buffering protocol, on real namespaces (root).

Three network namespaces of our own (tbuf-<pid>-cn, -nar, -mn), veth links
cn0--nar0 (10.213.1.0/24) and ctn0--mn0 (the CTN link, 10.213.2.0/24; the MN's nCoA is
10.213.2.10, inside the nAR's connected subnet, as in the testbed). The buffering module,
the UDP sender and the receiver run in a driver process per namespace: this file run as
``python -m tests.agents.test_buffering_module`` under ``ip netns exec``, one JSON command
per line on stdin, one JSON answer per line on stdout.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.root, pytest.mark.timeout(120)]

STA, OTHER_STA = "02:00:00:00:00:01", "02:00:00:00:00:02"
KEY, OTHER_KEY = bytes(range(32)), bytes(range(1, 33))
NCOA, NAR_CTN, CN = "10.213.2.10", "10.213.2.254", "10.213.1.1"
PORT, DATA_PORT = 7012, 5000


def sh(*argv: str) -> str:
    r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, f"{' '.join(argv)}: {r.stderr.strip()}"
    return r.stdout


class Driver:
    """A driver process in one namespace."""

    def __init__(self, netns: str):
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", netns, sys.executable, "-m",
             "tests.agents.test_buffering_module"],
            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def __call__(self, op: str, **args):
        self.proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"driver died during {op}"
        answer = json.loads(line)
        assert answer["ok"], f"{op}: {answer['error']}"
        return answer["result"]

    def close(self) -> None:
        try:
            self.proc.stdin.close()             # the driver cleans up and exits
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()                    # our own child, by its PID
            self.proc.wait()


class Net:
    def __init__(self, prefix: str, events: Path):
        self.prefix, self.events = prefix, events
        self.drivers: list[Driver] = []

    def ns(self, name: str) -> str:
        return self.prefix + name

    def driver(self, name: str) -> Driver:
        self.drivers.append(Driver(self.ns(name)))
        return self.drivers[-1]

    def ip(self, name: str, *argv: str) -> str:
        return sh("ip", "-n", self.ns(name), *argv)

    def records(self, event: str) -> list[dict]:
        if not self.events.exists():
            return []
        lines = self.events.read_text().splitlines()
        return [r for r in map(json.loads, lines) if r["event"] == event]

    def nar_module(self) -> Driver:
        nar = self.driver("nar")
        nar("module", ctn_iface="ctn0", events=str(self.events))
        return nar

    def simulate_charon_route(self, dev: str) -> None:
        """What kernel-libipsec does for the tunnel: the nCoA in table 220 (rule pref 220).
        Here `dev` is the CTN link itself (no dummy devices in every kernel): what the
        "tunnel" carries reaches the MN at once, and is told apart by not being held."""
        self.ip("nar", "rule", "add", "pref", "220", "lookup", "220")
        self.ip("nar", "route", "add", f"{NCOA}/32", "dev", dev, "table", "220")


@pytest.fixture
def net(tmp_path):
    net = Net(f"tbuf-{os.getpid()}-", tmp_path / "events" / "nar.jsonl")
    created: list[str] = []
    try:
        for name in ("cn", "nar", "mn"):
            sh("ip", "netns", "add", net.ns(name))
            created.append(net.ns(name))
            net.ip(name, "link", "set", "lo", "up")
        net.ip("cn", "link", "add", "cn0", "type", "veth", "peer", "name", "nar0",
               "netns", net.ns("nar"))
        net.ip("nar", "link", "add", "ctn0", "type", "veth", "peer", "name", "mn0",
               "netns", net.ns("mn"))
        for name, dev, address in [("cn", "cn0", f"{CN}/24"), ("nar", "nar0", "10.213.1.254/24"),
                                   ("nar", "ctn0", f"{NAR_CTN}/24"), ("mn", "mn0", f"{NCOA}/24")]:
            net.ip(name, "addr", "add", address, "dev", dev)
            net.ip(name, "link", "set", dev, "up")
        net.ip("cn", "route", "add", "default", "via", "10.213.1.254")
        net.ip("mn", "route", "add", "default", "via", NAR_CTN)
        sh("ip", "netns", "exec", net.ns("nar"), "sysctl", "-qw", "net.ipv4.ip_forward=1")
        yield net
    finally:
        for driver in net.drivers:
            driver.close()
        for ns in created:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)


def wait_until(predicate, what: str, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def held(nar: Driver) -> int:
    return nar("status")["buffers"].get(NCOA, {}).get("packets", 0)


def main_routes(net: Net) -> list[str]:
    return [r["dst"] for r in json.loads(net.ip("nar", "-j", "route", "show", "table", "main"))]


def test_held_after_arm_and_delivered_in_order_by_flush(net):
    nar, cn, mn = net.nar_module(), net.driver("cn"), net.driver("mn")
    mn("recv", port=DATA_PORT)
    assert nar("arm", ncoa=NCOA, period_ms=10_000, sta=STA)["already"] is False
    cn("send", dst=NCOA, port=DATA_PORT, count=5, tag="a")
    wait_until(lambda: held(nar) == 5, "5 packets held")
    assert mn("received") == []
    result = nar("flush", ncoa=NCOA, reason="attached")
    assert result["packets"] == 5 and result["reason"] == "attached" and result["held_ms"] > 0
    expected = [f"a-{i}" for i in range(5)]
    wait_until(lambda: mn("received") == expected, "the flushed packets")
    assert NCOA not in main_routes(net)       # later packets take the connected route
    cn("send", dst=NCOA, port=DATA_PORT, count=2, tag="after")
    wait_until(lambda: len(mn("received")) == 7, "packets sent after the flush")
    assert nar("flush", ncoa=NCOA, reason="again") == {"packets": 0, "held_ms": 0.0,
                                                         "reason": "again", "dropped": 0}
    [start] = net.records("buffering_start")
    assert start["phase"] == "pre-switching"
    assert start["attrs"] | {"sta": STA, "ncoa": NCOA, "period_ms": 10_000} == start["attrs"]
    [flushed] = net.records("buffering_flushed")
    assert flushed["phase"] == "post-switching"
    assert flushed["attrs"]["packets"] == 5 and flushed["attrs"]["reason"] == "attached"
    assert flushed["attrs"]["sta"] == STA and flushed["attrs"]["period_ms"] == 10_000


def test_the_tunnel_route_in_table_220_wins_until_it_is_deleted(net):
    nar, cn, mn = net.nar_module(), net.driver("cn"), net.driver("mn")
    net.simulate_charon_route("ctn0")           # the "tunnel" reaches the MN directly
    mn("recv", port=DATA_PORT)
    nar("arm", ncoa=NCOA, period_ms=10_000, sta=STA)
    cn("send", dst=NCOA, port=DATA_PORT, count=3, tag="tunnel")
    tunnelled = [f"tunnel-{i}" for i in range(3)]
    wait_until(lambda: mn("received") == tunnelled, "3 packets through the 'tunnel'")
    assert held(nar) == 0
    net.ip("nar", "route", "del", f"{NCOA}/32", "table", "220")  # charon deletes the CHILD_SA
    cn("send", dst=NCOA, port=DATA_PORT, count=4, tag="b")
    wait_until(lambda: held(nar) == 4, "4 packets held")
    assert mn("received") == tunnelled
    assert nar("flush", ncoa=NCOA, reason="attached")["packets"] == 4
    expected = tunnelled + [f"b-{i}" for i in range(4)]
    wait_until(lambda: mn("received") == expected, "the 4 held packets")


def test_the_period_caps_the_buffering(net):
    nar, cn, mn = net.nar_module(), net.driver("cn"), net.driver("mn")
    mn("recv", port=DATA_PORT)
    nar("arm", ncoa=NCOA, period_ms=1000, sta=STA)
    time.sleep(0.3)                             # the timer starts with the first packet held
    cn("send", dst=NCOA, port=DATA_PORT, count=3, tag="c")
    wait_until(lambda: held(nar) == 3, "3 packets held")
    assert mn("received") == []
    wait_until(lambda: mn("received") == ["c-0", "c-1", "c-2"], "the expired buffer", 5)
    [flushed] = wait_until(lambda: net.records("buffering_flushed"), "buffering_flushed")
    attrs = flushed["attrs"]
    assert attrs["reason"] == "period expired" and attrs["packets"] == 3
    assert 1000 <= attrs["held_ms"] < 3000 and attrs["armed_ms"] >= attrs["held_ms"] + 250
    assert nar("status")["buffers"] == {} and NCOA not in main_routes(net)


def test_buffer_request_and_attached_over_the_protocol(net):
    nar, cn, mn = net.nar_module(), net.driver("cn"), net.driver("mn")
    nar("server", port=PORT, keys={STA: KEY.hex()})
    net.simulate_charon_route("ctn0")           # the "tunnel" reaches the MN directly
    mn("recv", port=DATA_PORT)

    def request(msg_type: int, key: bytes = KEY, sta: str = STA, **kw) -> dict:
        return mn("request", server=[NAR_CTN, PORT], source=NCOA, sta=sta, ncoa=NCOA,
                  key=key.hex(), msg_type=msg_type, **kw)

    ack = request(1, period_ms=5000)            # BUFFER_REQUEST, through the "tunnel"
    assert (ack["status"], ack["acked"], ack["authenticated"]) == ("OK", "BUFFER_REQUEST", True)
    assert nar("status")["buffers"][NCOA]["period_ms"] == 5000
    cn("send", dst=NCOA, port=DATA_PORT, count=2, tag="tunnel")
    wait_until(lambda: len(mn("received")) == 2, "packets through the 'tunnel'")
    net.ip("nar", "route", "del", f"{NCOA}/32", "table", "220")  # the tunnel is deleted
    cn("send", dst=NCOA, port=DATA_PORT, count=6, tag="d")
    wait_until(lambda: held(nar) == 6, "6 packets held")

    wrong = request(2, key=OTHER_KEY)           # ATTACHED signed with the wrong key
    assert (wrong["status"], wrong["authenticated"]) == ("BAD_MAC", False)
    unknown = request(2, sta=OTHER_STA)
    assert (unknown["status"], unknown["authenticated"]) == ("UNKNOWN_STATION", False)
    assert held(nar) == 6 and len(mn("received")) == 2

    ack = request(2)                            # ATTACHED
    assert (ack["status"], ack["packets"], ack["authenticated"]) == ("OK", 6, True)
    expected = ["tunnel-0", "tunnel-1"] + [f"d-{i}" for i in range(6)]
    wait_until(lambda: mn("received") == expected, "the flushed packets")
    again = request(2, sequence=ack["sequence"])  # the same datagram: a retransmission
    assert again == ack and len(net.records("buffering_flushed")) == 1  # not flushed twice
    replay = request(2, sequence=1)
    assert (replay["status"], replay["authenticated"]) == ("REPLAY", True)

    rejected = net.records("buffering_rejected")
    assert [(r["attrs"]["status"], r["attrs"]["sta"]) for r in rejected] == [
        ("BAD_MAC", STA), ("UNKNOWN_STATION", OTHER_STA), ("REPLAY", STA)]
    assert all(r["phase"] == "pre-switching" for r in rejected)
    [flushed] = net.records("buffering_flushed")
    assert flushed["attrs"]["packets"] == 6 and flushed["attrs"]["reason"] == "attached"


# -- the driver, run inside a namespace ----------------------------------------------------
def _driver() -> None:
    from orchestrator.agents import buffering
    from orchestrator.events import EventLog
    from orchestrator.protocols import buffering as proto

    state: dict = {"received": []}

    def module(ctn_iface: str, events: str):
        state["log"] = EventLog(events, "nar", "access-router")
        state["module"] = buffering.BufferingModule(ctn_iface, state["log"])

    def server(port: int, keys: dict[str, str]):
        m = state["module"]
        state["server"] = buffering.BufferingServer(
            "0.0.0.0", port, lambda sta: bytes.fromhex(keys[sta]) if sta in keys else None,
            lambda sta, ncoa, period_ms: m.arm(ncoa, period_ms, sta),
            lambda sta, ncoa: m.flush(ncoa, "attached")["packets"], state["log"]).start()

    def recv(port: int):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("0.0.0.0", port))

        def loop():
            while True:
                state["received"].append(sock.recv(2048).decode())
        threading.Thread(target=loop, daemon=True).start()

    def send(dst: str, port: int, count: int, tag: str):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for i in range(count):
                sock.sendto(f"{tag}-{i}".encode(), (dst, port))

    def request(server: list, source: str, sta: str, ncoa: str, key: str, msg_type: int,
                **kw):
        ack = buffering.request(tuple(server), source, sta, ncoa, bytes.fromhex(key),
                                proto.MessageType(msg_type), **kw)
        return {"status": ack.status.name, "acked": ack.acked.name, "packets": ack.packets,
                "authenticated": ack.authenticated, "sequence": ack.sequence}

    ops = {"module": module, "server": server, "recv": recv, "send": send,
           "request": request, "received": lambda: list(state["received"]),
           "arm": lambda **kw: state["module"].arm(**kw),
           "flush": lambda **kw: state["module"].flush(**kw),
           "status": lambda: state["module"].status()}
    for line in sys.stdin:
        command = json.loads(line)
        try:
            answer = {"ok": True, "result": ops[command.pop("op")](**command)}
        except Exception as exc:  # reported to the test, which fails with it
            answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(answer, default=str), flush=True)
    if "server" in state:
        state["server"].stop()
    if "module" in state:
        state["module"].close()


if __name__ == "__main__":
    _driver()
