"""The emulated 802.1X controlled port holds with several stations at one AP (issue 11).

Topology written for the test (tests/integration/topologies/shared-cell.yaml): stations
alice, bob and eve at AP `cell`, a second AP `cell2` in the same distribution system, a
router `edge`. Raw frames are sent and captured inside the hosts (tests/support/rawframes).
Each attack must get nothing through while the authorized station keeps working.
"""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.network.build import deploy, station_request
from orchestrator.network.nsexec import ping_rtts, run_in
from orchestrator.testbed import controller_status, destroy

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.root, pytest.mark.timeout(300)]
NAME = "t-portsec"
ETH_TEST = 0x88B6          # IEEE 802 Local Experimental 2: data frames of the test


@pytest.fixture(scope="module")
def bed(tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    j = deploy(str(REPO / "tests/integration/topologies/shared-cell.yaml"), name=NAME,
               results=str(results), images=False)
    for sta in ("alice", "bob"):
        assert station_request(j, "cell", "authorize", mac(j, sta))["status"] == "ok"
    yield j
    destroy(NAME)


def ns(j, node):
    return j.nodes[node]["netns"]


def iface(j, node):
    return "wlan0" if j.nodes[node]["kind"] == "mobile_node" else j.nodes[node]["interfaces"][0]["name"]


def mac(j, node):
    return next(i["mac"] for i in j.nodes[node]["interfaces"] if i["name"] == iface(j, node))


def bssid(j, ap):
    conf = json.loads(Path(j.controller["config"]).read_text())
    return next(a["bssid"] for a in conf["aps"] if a["name"] == ap)


def seen(j, receiver, sender, dst, ethertype=ETH_TEST, src=None):
    """Frames of `ethertype` with source `src` (default: the sender's MAC) that `receiver`
    saw after `sender` sent one frame to `dst`."""
    rx = subprocess.Popen(["ip", "netns", "exec", ns(j, receiver), sys.executable, "-m",
                           "tests.support.rawframes", "recv", "--iface", iface(j, receiver),
                           "--ethertype", hex(ethertype), "--timeout", "1.0"],
                          cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert rx.stdout.readline().strip() == "ready"
    run_in(ns(j, sender), [sys.executable, "-m", "tests.support.rawframes", "send", "--iface",
                           iface(j, sender), "--dst", dst, "--ethertype", hex(ethertype)], cwd=REPO)
    out, _ = rx.communicate(timeout=10)
    want = src or mac(j, sender)
    return [f for f in json.loads(out) if f["src"] == want]


def test_all_three_at_one_ap_two_authorized(bed):
    st = controller_status(bed)
    assert st["associations"] == {"alice": "cell", "bob": "cell", "eve": "cell"}
    assert st["authorized"] == ["alice", "bob"]


def test_spoofed_mac_gets_nothing_through(bed):
    alice, edge = mac(bed, "alice"), mac(bed, "edge")
    assert seen(bed, "edge", "alice", edge)                      # the real alice passes
    run_in(ns(bed, "eve"), ["ip", "link", "set", "dev", "wlan0", "address", alice])
    try:
        assert seen(bed, "edge", "eve", edge, src=alice) == []   # eve as alice: dropped
        assert seen(bed, "bob", "eve", mac(bed, "bob"), src=alice) == []
    finally:
        run_in(ns(bed, "eve"), ["ip", "link", "set", "dev", "wlan0", "address", mac(bed, "eve")])
    # and alice keeps working
    assert seen(bed, "edge", "alice", edge)


def test_preauthentication_only_through_an_authorized_association(bed):
    target = bssid(bed, "cell2")
    assert seen(bed, "cell2", "alice", target, ethertype=0x88C7)
    assert seen(bed, "cell2", "eve", target, ethertype=0x88C7) == []
    # nor to anything but an AP of the same distribution system
    assert seen(bed, "edge", "alice", mac(bed, "edge"), ethertype=0x88C7) == []


def test_unauthorized_station_reaches_only_its_authenticator(bed):
    assert seen(bed, "cell", "eve", bssid(bed, "cell"), ethertype=0x888E)
    assert seen(bed, "cell2", "eve", bssid(bed, "cell2"), ethertype=0x888E) == []
    assert seen(bed, "edge", "eve", mac(bed, "edge")) == []


def test_broadcast_from_the_ds_reaches_authorized_stations_only(bed):
    bc = "ff:ff:ff:ff:ff:ff"
    assert seen(bed, "alice", "edge", bc)
    assert seen(bed, "bob", "edge", bc)
    assert seen(bed, "eve", "edge", bc) == []


def test_forged_station_associated_from_the_ds_is_dropped(bed):
    # a DS host addresses the AP host with a management frame: only the controller may
    assert seen(bed, "cell", "edge", bssid(bed, "cell"), ethertype=0x88B5) == []
    # other frames to the AP host still arrive
    assert seen(bed, "cell", "edge", bssid(bed, "cell"))


def test_intra_bss_between_authorized_stations(bed):
    assert seen(bed, "bob", "alice", mac(bed, "bob"))
    assert seen(bed, "alice", "bob", mac(bed, "alice"))
    assert seen(bed, "eve", "alice", mac(bed, "eve")) == []
    # a station's broadcast reaches the other authorized station and the DS, not eve
    assert seen(bed, "bob", "alice", "ff:ff:ff:ff:ff:ff")
    assert seen(bed, "edge", "alice", "ff:ff:ff:ff:ff:ff")
    assert seen(bed, "eve", "alice", "ff:ff:ff:ff:ff:ff") == []
    # IP between the two, through the AP (ARP broadcast, then unicast)
    assert len(ping_rtts(ns(bed, "alice"), "10.7.0.102", count=3, interval=0.2)) >= 2
    assert len(ping_rtts(ns(bed, "alice"), "10.7.0.1", count=3, interval=0.2)) >= 2
    assert ping_rtts(ns(bed, "eve"), "10.7.0.1", count=2, interval=0.2, timeout=1) == []


def driver_config(j, ap):
    """What the deploy gives an AP agent for its own switch (deploy/context.py), from the
    controller's configuration: the same bridge and cookie indices."""
    conf = json.loads(Path(j.controller["config"]).read_text())
    a = next(a for a in conf["aps"] if a["name"] == ap)
    return json.dumps({"bridge": conf["bridges"][ap],
                       "ap": {"name": ap, "index": a["index"], "bssid": a["bssid"]},
                       "stations": {s["mac"]: s["index"] for s in conf["stations"]}})


@pytest.mark.parametrize("opener", ["ap-driver", "controller"])
def test_first_frame_after_every_association_and_port_opening_arrives(bed, opener):
    """1000 handoffs between two APs (200 where the AP asks the controller to open ports):
    the frame a station sends the moment its association response arrives reaches the new
    AP's authenticator, and the frame it sends the moment the AP answers it (as a station
    sends data right after message 4, the AP having opened the port before message 3)
    reaches the distribution system: no stale datapath flow loses it."""
    n = int(os.environ.get("MPA_FIRST_FRAME_HANDOFFS", 1000))
    if opener == "controller":
        n //= 5
    aps = ["cell", "cell2"]

    def spawn(node, *args):
        p = subprocess.Popen(["ip", "netns", "exec", ns(bed, node), sys.executable, "-m",
                              "tests.support.firstframe", *args], cwd=REPO,
                             stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == "ready"
        return p
    per_ap = {ap: n // 2 for ap in aps}
    listeners = {ap: spawn(ap, "ap", "--iface", iface(bed, ap), "--count", str(per_ap[ap]),
                           *(["--driver", driver_config(bed, ap)] if opener == "ap-driver" else []))
                 for ap in aps}
    sink = spawn("edge", "sink", "--iface", iface(bed, "edge"), "--count", str(n))
    # bob walks: alice and eve stay at `cell` (a shared medium with other stations)
    sta = spawn("bob", "sta", "--iface", "wlan0", "--count", str(n), "--sink", mac(bed, "edge"),
                "--bssids", ",".join(bssid(bed, ap) for ap in reversed(aps)))
    out, _ = sta.communicate(timeout=240)
    results = json.loads(out.strip().splitlines()[-1])["results"]
    for p in [*listeners.values(), sink]:        # whatever they have not seen by now is lost
        p.send_signal(signal.SIGINT)
    got = {ap: json.loads(p.communicate(timeout=60)[0].strip().splitlines()[-1])
           for ap, p in listeners.items()}
    sunk = json.loads(sink.communicate(timeout=60)[0].strip().splitlines()[-1])["seen"]
    assert results.count("ok") == n, {r: results.count(r) for r in set(results)}
    # handoff k goes to bssids[k % 2]: odd ones to `cell`, even ones to `cell2`
    assert got["cell2"]["seen"] == list(range(0, n, 2))
    assert got["cell"]["seen"] == list(range(1, n, 2))
    missing = sorted(set(range(n)) - set(sunk))
    assert not missing, f"{len(missing)} data frames lost, e.g. {missing[:20]}"
    # back where the fixture left bob: associated with `cell`, authorized
    assert station_request(bed, "bob", "associate", bssid(bed, "cell"))["status"] == "ok"
    assert station_request(bed, "cell", "authorize", mac(bed, "bob"))["status"] == "ok"


def test_port_closed_on_return_while_the_old_flows_retire(bed):
    """The old AP keeps its flows for a station briefly (frames in flight); a station back at
    that AP within that time must still find its port closed until 802.1X opens it."""
    script = (
        "import sys, socket\n"
        "from orchestrator.agents.l2 import L2Port, associate\n"
        "from orchestrator.protocols import mgmt\n"
        "p = L2Port('wlan0')\n"
        "assert associate(p, sys.argv[1])['status'] == 'ok'\n"
        "assert associate(p, sys.argv[2])['status'] == 'ok'\n"
        "s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)\n"
        "s.bind(('wlan0', 0))\n"
        "for k in range(5):\n"
        "    s.send(mgmt.mac_bytes(sys.argv[3]) + mgmt.mac_bytes(p.mac) + bytes.fromhex('88b6')"
        " + k.to_bytes(4, 'big') + bytes(42))\n")
    rx = subprocess.Popen(["ip", "netns", "exec", ns(bed, "edge"), sys.executable, "-m",
                           "tests.support.rawframes", "recv", "--iface", iface(bed, "edge"),
                           "--ethertype", hex(ETH_TEST), "--timeout", "1.0"],
                          cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert rx.stdout.readline().strip() == "ready"
    r = run_in(ns(bed, "bob"), [sys.executable, "-c", script, bssid(bed, "cell2"),
                                bssid(bed, "cell"), mac(bed, "edge")], cwd=REPO, check=False)
    out, _ = rx.communicate(timeout=10)
    try:
        assert r.returncode == 0, r.stderr
        assert [f for f in json.loads(out) if f["src"] == mac(bed, "bob")] == []
        assert "bob" not in controller_status(bed)["authorized"]
    finally:
        assert station_request(bed, "cell", "authorize", mac(bed, "bob"))["status"] == "ok"
    assert seen(bed, "edge", "bob", mac(bed, "edge"))
