"""The rtnetlink client (orchestrator/agents/rtnl.py) against the kernel, checked with `ip -j`.

Testbed: one namespace per test, trtnl-<pid>-<n>, holding a veth pair v0/v1 (both up). A
child process in the namespace (`ip netns exec NS .venv/bin/python -c DRIVER OPS`) opens
one `Rtnl`, performs OPS ([method, args, kwargs] in order, on the same socket) and prints
one JSON result per operation: {"ok": value} or {"errno": n, "error": str(exc)}. What the
kernel then holds is read with `ip -n NS -j ...`. The namespace is deleted in a finalizer.

How long the MN's post-switching changes take with `Rtnl` and with `ip -batch`:
bench/post_switching.py.
"""
from __future__ import annotations

import errno
import itertools
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

pytestmark = [pytest.mark.root, pytest.mark.timeout(120)]

PYTHON = str(REPO / ".venv" / "bin" / "python") if (REPO / ".venv").exists() else sys.executable
_names = itertools.count()

DRIVER = """
import json, sys
from orchestrator.agents.rtnl import Rtnl, RtnlError
out = []
with Rtnl() as r:
    for method, args, kwargs in json.loads(sys.argv[1]):
        try:
            out.append({"ok": getattr(r, method)(*args, **kwargs)})
        except RtnlError as exc:
            out.append({"errno": exc.errno, "error": str(exc)})
print(json.dumps(out))
"""



def sh(*argv: str) -> str:
    r = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, f"{' '.join(argv)}: {r.stderr.strip()}"
    return r.stdout


@pytest.fixture
def ns():
    name = f"trtnl-{os.getpid()}-{next(_names)}"
    sh("ip", "netns", "add", name)
    try:
        sh("ip", "-n", name, "link", "add", "v0", "type", "veth", "peer", "name", "v1")
        for dev in ("v0", "v1"):
            sh("ip", "-n", name, "link", "set", dev, "up")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=20)


def rtnl(ns: str, *ops: tuple) -> list[dict]:
    """Run ops ((method, *args) or (method, args, kwargs) with a dict last) in `ns`."""
    encoded = [[op[0], list(op[1:-1]), op[-1]] if isinstance(op[-1], dict)
               else [op[0], list(op[1:]), {}] for op in ops]
    out = sh("ip", "netns", "exec", ns, PYTHON, "-c", DRIVER, json.dumps(encoded))
    return json.loads(out)


def ok(ns: str, *ops: tuple) -> list:
    results = rtnl(ns, *ops)
    assert all("ok" in r for r in results), results
    return [r["ok"] for r in results]


def ip_j(ns: str, *argv: str) -> list[dict]:
    return json.loads(sh("ip", "-n", ns, "-j", *argv) or "[]")


def inet(ns: str, dev: str = "v0") -> list[dict]:
    (link,) = ip_j(ns, "-d", "addr", "show", "dev", dev)
    return [a for a in link["addr_info"] if a["family"] == "inet"]


def routes(ns: str) -> list[dict]:
    return [r for r in ip_j(ns, "-4", "route", "show", "table", "all")
            if r.get("type", "unicast") == "unicast" and r.get("protocol") != "kernel"]


def test_addresses(ns):
    listed = ok(ns, ("addr_add", "v0", "10.1.0.5/24"), ("addr_add", "v0", "10.1.0.6/24"),
                ("addr_add", "v0", "10.2.0.1/16", {"broadcast": True}),
                ("addr_add", "v1", "10.3.0.1/24"), ("addrs", "v0"))[-1]
    assert listed == ["10.1.0.5/24", "10.2.0.1/16", "10.1.0.6/24"]  # primaries first
    got = {a["local"]: a for a in inet(ns)}
    assert {k: v["prefixlen"] for k, v in got.items()} == {
        "10.1.0.5": 24, "10.1.0.6": 24, "10.2.0.1": 16}
    assert "broadcast" not in got["10.1.0.5"]            # like `ip addr add` without `brd`
    assert got["10.2.0.1"]["broadcast"] == "10.2.255.255"
    assert got["10.1.0.6"].get("secondary") is True and got["10.1.0.5"]["scope"] == "global"

    ok(ns, ("addr_del", "v0", "10.1.0.5/24"))            # 10.1.0.6 is promoted or gone
    assert "10.1.0.5" not in {a["local"] for a in inet(ns)}
    assert ok(ns, ("addr_flush", "v0"), ("addrs", "v0")) == [None, []]
    assert inet(ns) == []
    (link,) = ip_j(ns, "addr", "show", "dev", "v0")
    assert any(a["family"] == "inet6" for a in link["addr_info"])  # IPv4 only
    assert [a["local"] for a in inet(ns, "v1")] == ["10.3.0.1"]    # other interfaces untouched


def test_routes(ns):
    ok(ns, ("addr_add", "v0", "10.1.0.5/24"),
       ("route_replace", "default", "10.1.0.1", "v0"),
       ("route_replace", "default", {"gateway": "10.1.0.2", "ifname": "v0"}),  # replaces
       ("route_replace", "10.9.0.0/16", {"ifname": "v0"}),
       ("route_replace", "10.8.0.0/16", {"gateway": "10.1.0.3", "table": 100}),
       ("route_replace", "default", {"ifname": "v0", "table": 1000}))
    got = {(r["dst"], r.get("table", "main")): r for r in routes(ns)}
    assert set(got) == {("default", "main"), ("10.9.0.0/16", "main"),
                        ("10.8.0.0/16", "100"), ("default", "1000")}
    assert got["default", "main"]["gateway"] == "10.1.0.2"
    assert got["default", "main"]["dev"] == "v0"
    assert "protocol" not in got["default", "main"]          # boot: `ip` leaves it unsaid
    assert got["10.9.0.0/16", "main"]["scope"] == "link"
    assert got["10.8.0.0/16", "100"]["gateway"] == "10.1.0.3"
    assert got["default", "1000"]["scope"] == "link" and "gateway" not in got["default", "1000"]

    ok(ns, ("route_del", "default"), ("route_del", "10.9.0.0/16", {"ifname": "v0"}),
       ("route_del", "10.8.0.0/16", {"table": 100}), ("route_del", "default", {"table": 1000}))
    assert routes(ns) == []


def test_neighbours(ns):
    ok(ns, ("addr_add", "v0", "10.1.0.5/24"),
       ("neigh_replace", "v0", "10.1.0.7", "02:00:00:00:00:07"),
       ("neigh_replace", "v0", "10.1.0.8", "02:00:00:00:00:08", {"state": "reachable"}),
       ("neigh_replace", "v0", "10.1.0.9", "02:00:00:00:00:09", {"state": "permanent"}),
       ("neigh_replace", "v0", "10.1.0.7", "02:00:00:00:00:17", {"state": "stale"}),
       ("neigh_replace", "v1", "10.1.0.10", "02:00:00:00:00:10"))
    got = {(n["dev"], n["dst"]): (n["lladdr"], n["state"]) for n in ip_j(ns, "-4", "neigh")}
    assert got == {("v0", "10.1.0.7"): ("02:00:00:00:00:17", ["STALE"]),
                   ("v0", "10.1.0.8"): ("02:00:00:00:00:08", ["REACHABLE"]),
                   ("v0", "10.1.0.9"): ("02:00:00:00:00:09", ["PERMANENT"]),
                   ("v1", "10.1.0.10"): ("02:00:00:00:00:10", ["STALE"])}

    ok(ns, ("neigh_flush", "v0"))
    left = {(n["dev"], n["dst"]) for n in ip_j(ns, "-4", "neigh")}
    assert left == {("v0", "10.1.0.9"), ("v1", "10.1.0.10")}   # like `ip neigh flush dev v0`


def test_rule_del(ns):
    sh("ip", "-n", ns, "rule", "add", "from", "10.1.0.5/32", "table", "1000", "pref", "1000")
    sh("ip", "-n", ns, "rule", "add", "from", "10.1.0.0/24", "table", "100", "pref", "100")
    ok(ns, ("rule_del", "10.1.0.5/32", 1000))
    assert {(r.get("src"), r["table"]) for r in ip_j(ns, "-4", "rule")} == {
        ("all", "local"), ("all", "main"), ("all", "default"), ("10.1.0.0", "100")}
    ok(ns, ("rule_del", "10.1.0.0/24", 100))
    assert {r["table"] for r in ip_j(ns, "-4", "rule")} == {"local", "main", "default"}


def test_errors_name_the_operation_and_keep_the_socket_usable(ns):
    results = rtnl(ns, ("addr_add", "nope0", "10.1.0.5/24"),
                   ("addr_add", "v0", "10.1.0.5/24"),
                   ("addr_add", "v0", "10.1.0.5/24"),
                   ("addr_del", "v0", "10.4.0.1/24"),
                   ("route_del", "10.99.0.0/16"),
                   ("route_replace", "default", "10.77.0.1"),
                   ("rule_del", "10.1.0.0/24", 100),
                   ("addrs", "v0"))
    assert [r.get("errno") for r in results] == [
        errno.ENODEV, None, errno.EEXIST, errno.EADDRNOTAVAIL, errno.ESRCH,
        errno.ENETUNREACH, errno.ENOENT, None]
    assert "addr_add('nope0', '10.1.0.5/24')" in results[0]["error"]
    assert "addr_add('v0', '10.1.0.5/24')" in results[2]["error"]
    assert "Address already assigned" in results[2]["error"]     # the kernel's extended ack
    assert "route_del('10.99.0.0/16', table=254" in results[4]["error"]
    assert "rule_del('10.1.0.0/24', 100)" in results[6]["error"]
    assert results[-1]["ok"] == ["10.1.0.5/24"]
