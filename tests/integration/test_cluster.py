"""Issue 17 item 4(b): one emulated network split across two servers by Mininet's cluster
edition (network/cluster.py), the second server being this machine reached over SSH through
an sshd the testbed starts itself (as Mininet's own cluster tests use localhost).

Topology tests/integration/topologies/split.yaml: the MN, its AP and the radio on `main`;
network A, the access router and the core network with the AAA server on `second`; the CN
on `main` on the core network. The AP's uplink and the CN's link are therefore SSH
Ethernet tunnels: the MN's 802.1X authentication (the AP's RADIUS exchange with the AAA
server) crosses one, its traffic to the CN both (there and back).
"""
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from orchestrator.agents.control import AgentClient
from orchestrator.events import read_events
from orchestrator.network.build import deploy
from orchestrator.network.cleanup import leftovers
from orchestrator.network.nsexec import ping_rtts
from orchestrator.network.state import deployed
from orchestrator.testbed import destroy
from tests.conftest import root_objects_with

REPO = Path(__file__).resolve().parents[2]
TOPOLOGY = REPO / "tests/integration/topologies/split.yaml"
NAME = "t-split"
pytestmark = [pytest.mark.root, pytest.mark.timeout(300),
              pytest.mark.skipif(not (shutil.which("ssh") and os.path.exists("/usr/sbin/sshd")
                                      and os.path.exists("/dev/net/tun")),
                                 reason="SSH to this machine cannot be arranged: needs "
                                        "OpenSSH's ssh and sshd (scripts/setup.sh installs "
                                        "them) and /dev/net/tun")]
ON_SECOND = {"nar", "aaa", "net-a", "core"}


@pytest.fixture(scope="module")
def bed(tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    journal = deploy(str(TOPOLOGY), name=NAME, results=str(results))
    yield journal
    if NAME in deployed():
        destroy(NAME)


def ns(j, node):
    return j.nodes[node]["netns"]


def alive(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def tunnel_ports(j):
    """The journaled root-namespace interfaces that are tap devices (the tunnel's ends)."""
    return [ln for ln in j.links if Path(f"/sys/class/net/{ln}/tun_flags").exists()]


def packets(ifname):
    stats = Path(f"/sys/class/net/{ifname}/statistics")
    return int((stats / "rx_packets").read_text()) + int((stats / "tx_packets").read_text())


def test_nodes_are_made_on_their_servers_through_ssh(bed):
    servers = {**{n: v["server"] for n, v in bed.nodes.items()},
               **{s: v["server"] for s, v in bed.switches.items()}}
    assert {n for n, s in servers.items() if s == "second"} == ON_SECOND
    assert servers["air"] == servers["mn"] == servers["ap1"] == "main"
    sshd = next(p for p in bed.processes if p["what"] == "sshd")
    assert alive(sshd["pid"]) and bed.servers["second"]["sshd"].startswith("127.0.0.1:")
    # every object of `second` was made through that sshd: one login for the connection
    # that the shells and commands share, one per tunnel; a session per host and switch
    # shell, and more for the bridges' ovs-vsctl and a tunnel's end in a namespace
    log = Path(bed.run_dir, "logs", "server-second", "sshd.log").read_text()
    assert log.count("Accepted publickey for root from 127.0.0.1") == 1 + 2
    assert log.count("Starting session: command") >= len(ON_SECOND) + 2
    shells = [p for p in bed.processes if p["what"].endswith("'s server")]
    assert {p["node"] for p in shells} == ON_SECOND


def test_the_split_links_are_ssh_ethernet_tunnels(bed):
    tunnels = [p for p in bed.processes if p["what"].startswith("ssh tunnel")]
    assert len(tunnels) == 2
    for t in tunnels:
        assert alive(t["pid"])
        argv = Path(f"/proc/{t['pid']}/cmdline").read_bytes().split(b"\0")
        assert argv[0] == b"ssh" and b"Tunnel=ethernet" in argv and b"-w" in argv
    # in the root namespace: the AP's bridge (main), network A's and the core's (second)
    ports = tunnel_ports(bed)
    assert sorted(p.split("-")[0] for p in ports) == [bed.prefix + s
                                                      for s in ("ap1", "core", "neta")]
    # the CN's end is its eth0, a tap in its namespace
    r = subprocess.run(["ip", "-n", ns(bed, "cn"), "-d", "link", "show", "eth0"],
                       capture_output=True, text=True)
    assert "tun type tap" in r.stdout


def test_traffic_and_8021x_cross_the_split(bed):
    ports = tunnel_ports(bed)
    ap_uplink = [p for p in ports if "core" not in p]
    before = {p: packets(p) for p in ports}
    # a host on `main` to a host on `second`: through the AP's uplink tunnel
    assert len(ping_rtts(ns(bed, "ap1"), "10.9.0.10", count=5, interval=0.05)) == 5  # -> aaa
    assert all(packets(p) >= before[p] + 10 for p in ap_uplink)   # 5 requests + 5 replies
    # to the CN (main) through `second`: out by one tunnel, back through the other
    before = {p: packets(p) for p in ports}
    assert len(ping_rtts(ns(bed, "ap1"), "10.9.0.20", count=5, interval=0.05)) == 5
    assert all(packets(p) >= before[p] + 10 for p in ports)
    # 802.1X with EAP-TLS: the MN at ap1 (main), the AAA server on `second`
    t0 = time.perf_counter_ns()
    before = {p: packets(p) for p in ports}
    mn = AgentClient(str(bed.dir / "nodes" / "mn" / "mpa-agent" / "control.sock"))
    r = mn.call("connect", ap="ap1", timeout=60)
    assert r["status"] == "ok" and r["pmksa"] == "eap"
    ev = [e for e in read_events(bed.run_dir) if e["mono_ns"] >= t0]
    assert [e for e in ev if e["node"] == "ap1" and e["event"] == "eap_done"
            and e["attrs"]["mode"] == "eap"]
    # EAP-TLS takes several RADIUS round trips, each through the AP's tunnel
    assert all(packets(p) >= before[p] + 8 for p in ap_uplink)
    # the authorized MN reaches its access router and the AAA server on the other server
    for address in ("10.9.1.1", "10.9.0.10"):
        assert len(ping_rtts(ns(bed, "mn"), address, count=3, interval=0.05)) == 3


def test_destroy_leaves_nothing_on_either_server(bed):
    pids = [p["pid"] for p in bed.processes]
    destroy(NAME)
    assert leftovers(bed) == []
    assert root_objects_with(bed.prefix) == []
    assert [p for p in pids if alive(p)] == []
    assert not [ln for ln in bed.links if Path(f"/sys/class/net/{ln}").exists()]
    # nothing is left of the sshd's sessions either (children of the server's sshd)
    sshd = next(p["pid"] for p in bed.processes if p["what"] == "sshd")
    orphans = [d.name for d in Path("/proc").iterdir() if d.name.isdigit()
               and _ppid(d.name) == sshd]
    assert orphans == []
    assert NAME not in deployed() and not os.path.exists(bed.dir)


def _ppid(pid):
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def test_kill_9_once_the_tunnel_is_up_then_clean_leaves_nothing(tmp_path):
    """The tunnel's ssh and the remote shells run in sessions of their own (they outlive a
    deploy on purpose): `clean` must find them in the journal after a kill -9."""
    import json
    import signal
    import subprocess
    import sys

    from orchestrator.network.state import Journal, state_root
    name = "t-split-kill"
    proc = subprocess.Popen([sys.executable, "-m", "orchestrator.cli", "deploy", str(TOPOLOGY),
                             "--name", name, "--results", str(tmp_path), "--no-images"],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            state = json.loads((state_root() / name / "state.json").read_text())
        except (OSError, ValueError):
            state = {}
        if any(p["what"].startswith("ssh tunnel") for p in state.get("processes", [])):
            break
        time.sleep(0.005)
    else:
        pytest.fail("the deploy never started its tunnel")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    j = Journal.load(name)
    sshd = next(p["pid"] for p in j.processes if p["what"] == "sshd")
    r = subprocess.run([sys.executable, "-m", "orchestrator.cli", "clean", name], cwd=REPO,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert leftovers(j) == []
    assert root_objects_with(j.prefix) == []
    assert [p["pid"] for p in j.processes if alive(p["pid"])] == []
    assert not [ln for ln in j.links if Path(f"/sys/class/net/{ln}").exists()]
    assert [d.name for d in Path("/proc").iterdir() if d.name.isdigit()
            and _ppid(d.name) == sshd] == []
    assert name not in deployed()
