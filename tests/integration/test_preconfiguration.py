"""Issue 6 end to end: discovery, proactive nCoA acquisition (IKEv2-assisted and DHCPv4 only),
the proactive handover tunnel, multiple CTNs (RFC 6252 s6.3 step 2, s7.1-s7.4, Appendices A
and B), on fig1 and on the three-CTN test topology; tshark's verdict on the captured IKEv2
and DHCP exchanges.

The MN starts authorized at its current AP (802.1X at ap-b), pre-authenticates with a CTN's
PAA over PANA, and the tests wait for Tconf (the PAA's installation of the MN-AR key in the
nAR) before pre-configuring: the nAR knows nothing of the MN before that.
"""
import json
import subprocess
import time
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from orchestrator.agents.control import AgentClient, AgentError
from orchestrator.agents.ike import Charon
from orchestrator.events import phase_durations, read_events, vocabulary_problems
from orchestrator.network.build import deploy
from orchestrator.network.nsexec import ping_rtts, run_in
from orchestrator.testbed import destroy

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.root, pytest.mark.timeout(600)]
IDENTITY = "mn@home.example"
CAPTURES = {"mn": ("wlan0", "udp"), "ar-a": ("any", "udp"), "ca-a": ("eth0", "udp port 67"),
            "ar-c": ("any", "udp"), "ca-c": ("eth0", "udp port 67")}


class Bed:
    def __init__(self, journal):
        self.j = journal
        self.captures = {}

    def agent(self, node):
        return AgentClient(str(self.j.dir / "nodes" / node / "mpa-agent" / "control.sock"))

    def call(self, node, cmd, **args):
        return self.agent(node).request(cmd, args, 60)

    def mn(self, cmd, **args):
        return self.call("mn", cmd, **args)

    def ns(self, node):
        return self.j.nodes[node]["netns"]

    def sta(self):
        return next(i["mac"] for i in self.j.nodes["mn"]["interfaces"] if i["name"] == "wlan0")

    def events(self, since_ns=0):
        return [e for e in read_events(self.j.run_dir) if e["mono_ns"] >= since_ns]

    def mn_charon(self):
        return Charon(str(self.j.dir / "nodes/mn/ikev2-strongswan-mn/run/charon.vici"))

    def leases(self, ca):
        path = self.j.dir / "nodes" / ca / "dhcp-dnsmasq" / "dnsmasq.leases"
        return path.read_text() if path.exists() else ""

    def preauthenticate(self, paa):
        """PANA with `paa`, then wait until it has installed the MN-AR key (Tconf)."""
        t0 = time.perf_counter_ns()
        assert self.mn("preauthenticate_mpa", paa=paa)["status"] == "ok"
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            done = [e for e in self.events(t0) if e["node"] == paa and e["event"] == "tconf_done"]
            if done:
                assert not done[-1]["attrs"]["failed"], done[-1]
                return
            time.sleep(0.02)
        raise AssertionError(f"no Tconf at {paa}")

    def wait_ar_up(self, ar, ncoa, timeout=5.0):
        """Until the nAR has done DAD for the nCoA and answers ARP for it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.call(ar, "pht_status")
            if st["tunnels"].get(ncoa, {}).get("state") == "up":
                return st
            time.sleep(0.05)
        raise AssertionError(f"{ar} never finished the tunnel for {ncoa}: {st}")


def _bed(name, topology, tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    j = deploy(str(REPO / topology), name=name, results=str(results))
    t = Bed(j)
    pcaps = Path(j.run_dir) / "pcaps"
    pcaps.mkdir()
    for node, (iface, bpf) in CAPTURES.items():
        if node in j.nodes:
            path = pcaps / f"{node}.pcap"
            p = subprocess.Popen(["ip", "netns", "exec", t.ns(node), "tcpdump", "-n", "-U", "-i",
                                  iface, "-w", str(path), bpf],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            t.captures[node] = (p, path)
    time.sleep(0.5)
    t.mn("connect", ap="ap-b")                 # authorized at its current AP (802.1X)
    return t


def _stop_captures(t):
    for p, _ in t.captures.values():
        if p.poll() is None:
            p.terminate()
            p.wait(5)


@pytest.fixture(scope="module")
def fig1(tmp_path_factory):
    t = _bed("t-preconf", "topologies/fig1-inter-domain.yaml", tmp_path_factory)
    yield t
    _stop_captures(t)
    destroy("t-preconf")


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    t = _bed("t-3ctn", "tests/integration/topologies/three-ctn.yaml", tmp_path_factory)
    yield t
    _stop_captures(t)
    destroy("t-3ctn")


def _cn_reaches_mn_through_the_tunnel(t, ncoa, conn):
    """The CN's pings to the nCoA are answered, and they entered the MN as ESP of the
    tunnel's CHILD_SA (its inbound packet counter grows by at least as many)."""
    def packets_in():
        sa = t.mn_charon().list_sas(conn)[conn]
        return int(next(iter(sa["child-sas"].values()))["packets-in"])
    before = packets_in()
    rtts = ping_rtts(t.ns("cn"), ncoa, count=5, interval=0.1)
    assert len(rtts) == 5, f"CN -> {ncoa}: {rtts}"
    assert packets_in() - before >= 5
    wlan0 = run_in(t.ns("mn"), ["ip", "-br", "-4", "addr", "show", "dev", "wlan0"]).stdout
    assert ncoa not in wlan0                    # s7.3.3: not on the physical interface
    return rtts


# -- fig1 ---------------------------------------------------------------------------------------
def test_discovery_caches_the_ctn_and_its_address_resolution_mappings(fig1):
    t0 = time.perf_counter_ns()
    r = fig1.mn("discover")
    [a] = r["ctns"]                            # the MN's own network acc-b is left out
    assert a["name"] == "acc-a" and a["domain"] == "dom-a"
    assert a["paas"][0]["node"] == "aa-a" and a["cas"][0]["node"] == "ca-a"
    assert a["ars"][0]["node"] == "ar-a"
    assert a["aps"] == [{"name": "ap-a", "bssid": fig1.j.nodes["ap-a"]["interfaces"][0]["mac"]}]
    ev = fig1.events(t0)
    assert [e for e in ev if e["node"] == "is" and e["event"] == "discovery_answered"]
    [tdisc] = [r for r in phase_durations(ev) if r["interval"] == "Tdisc"]
    assert tdisc["status"] == "ok" and tdisc["duration_ms"] > 0      # no upper bound: timing
    # Appendix B: the mappings learnt at discovery go into the neighbour table at once
    fig1.mn("install_arp", ctn="acc-a")
    neigh = run_in(fig1.ns("mn"), ["ip", "neigh", "show", "dev", "wlan0"]).stdout
    for e in a["arp"]:
        assert f"{e['address']} lladdr {e['mac']}" in neigh
    run_in(fig1.ns("mn"), ["ip", "neigh", "flush", "dev", "wlan0", "to", "10.1.0.0/24"])


@pytest.mark.parametrize("method", ["ikev2", "dhcp"])
def test_ncoa_of_domain_a_and_a_protected_tunnel_that_carries_the_cns_traffic(fig1, method):
    fig1.mn("discover")
    fig1.preauthenticate("aa-a")
    t0 = time.perf_counter_ns()
    r = fig1.mn("preconfigure", ctn="acc-a", method=method)
    ncoa = r["ncoa"]
    assert IPv4Address(ncoa) in IPv4Network("10.1.0.0/24") and r["oCoA"] == "10.2.0.100"
    assert r["router"] == "10.1.0.1"
    # the nCoA comes from the CTN's DHCP server (dnsmasq on ca-a) with either method
    assert ncoa in fig1.leases("ca-a")
    sa = fig1.mn_charon().list_sas(r["conn"])[r["conn"]]
    child = next(iter(sa["child-sas"].values()))
    assert child["state"] == "INSTALLED" and child["protocol"] == "ESP" and child["encap"] == "yes"
    assert child["local-ts"] == [f"{ncoa}/32"] and child["remote-ts"] == ["0.0.0.0/0"]
    assert sa["remote-host"] == "10.1.0.1" and sa["local-host"] == "10.2.0.100"
    # the nAR: DAD for the nCoA (Appendix A), then proxy ARP for it (s7.4)
    st = fig1.wait_ar_up("ar-a", ncoa)
    assert ncoa in st["proxy_arp"] and st["tunnels"][ncoa]["sta"] == fig1.sta()
    assert st["tunnels"][ncoa]["conn"] == ("mpa-cp" if method == "ikev2" else "mpa-pht")
    _cn_reaches_mn_through_the_tunnel(fig1, ncoa, r["conn"])
    # a host on the CTN link reaches the nCoA too: the nAR answers ARP for it
    run_in(fig1.ns("aa-a"), ["ip", "neigh", "flush", "dev", "eth0"])
    assert len(ping_rtts(fig1.ns("aa-a"), ncoa, count=3, interval=0.1)) == 3
    ev = fig1.events(t0)
    assert not vocabulary_problems(ev)
    times = {row["interval"]: row for row in phase_durations(ev) if row["mn"] == "mn"}
    assert times["Taddr"]["status"] == times["Ttunnel"]["status"] == "ok"
    assert times["Taddr"]["end_attrs"]["method"] == method
    names = {(e["node"], e["event"]) for e in ev}
    assert {("ar-a", "dad_start"), ("ar-a", "dad_done"), ("ar-a", "pht_established")} <= names
    # released: no tunnel, no proxy ARP, no lease, no nCoA on the MN
    fig1.mn("release", ctn="acc-a")
    time.sleep(0.3)
    st = fig1.call("ar-a", "pht_status")
    assert st["tunnels"] == {} and ncoa not in st["proxy_arp"]
    assert ncoa not in fig1.leases("ca-a")
    assert ncoa not in run_in(fig1.ns("mn"), ["ip", "-br", "addr"]).stdout
    assert ping_rtts(fig1.ns("cn"), ncoa, count=2, interval=0.1, timeout=0.5) == []


def test_an_mn_that_did_not_pre_authenticate_gets_no_ncoa_and_no_tunnel(fig1):
    fig1.mn("discover")
    fig1.mn("flush")                                    # no MPA-SA on the MN
    fig1.call("ar-a", "forget_mn", sta=fig1.sta())      # and none at the nAR
    leases_before = fig1.leases("ca-a")
    dropped = fig1.call("ar-a", "pht_status")["dhcp_filter"]["dropped"]
    t0 = time.perf_counter_ns()
    # DHCPv4 only: the nAR drops the unicast DHCP of a station that is not pre-authenticated
    with pytest.raises(AgentError, match="no nCoA from acc-a by DHCP"):
        fig1.mn("preconfigure", ctn="acc-a", method="dhcp", timeout=5.0)
    assert fig1.call("ar-a", "pht_status")["dhcp_filter"]["dropped"] > dropped
    # IKEv2: the MN has no MN-AR key to authenticate with ...
    with pytest.raises(AgentError, match="no MPA-SA with acc-a"):
        fig1.mn("preconfigure", ctn="acc-a", method="ikev2")
    # ... and a key the nAR does not hold is refused by the nAR
    fig1.preauthenticate("aa-a")
    fig1.call("ar-a", "forget_mn", sta=fig1.sta())
    with pytest.raises(AgentError, match="AUTHENTICATION_FAILED"):
        fig1.mn("preconfigure", ctn="acc-a", method="ikev2")
    ev = fig1.events(t0)
    assert not [e for e in ev if e["event"] in ("address_acquired", "pht_established")]
    assert len([e for e in ev if e["node"] == "mn" and e["event"] == "address_failed"]) >= 2
    st = fig1.call("ar-a", "pht_status")
    assert st["tunnels"] == {} and st["proxy_arp"] == [] and st["authorized"] == []
    assert fig1.mn_charon().list_sas() == {}
    assert "10.1.0." not in run_in(fig1.ns("mn"), ["ip", "-br", "addr"]).stdout
    assert fig1.leases("ca-a") == leases_before
    assert fig1.mn("preconfig_status")["preconfigured"] == {}


# -- two CTNs ------------------------------------------------------------------------------------
def test_two_ctns_at_once_and_the_unused_ones_address_and_tunnel_are_released(three):
    assert [c["name"] for c in three.mn("discover")["ctns"]] == ["acc-a", "acc-c"]
    three.preauthenticate("aa-a")
    three.preauthenticate("aa-c")
    a = three.mn("preconfigure", ctn="acc-a", method="ikev2")
    c = three.mn("preconfigure", ctn="acc-c", method="dhcp")
    assert IPv4Address(c["ncoa"]) in IPv4Network("10.3.0.0/24")
    assert set(three.mn("preconfig_status")["preconfigured"]) == {"acc-a", "acc-c"}
    three.wait_ar_up("ar-a", a["ncoa"])
    three.wait_ar_up("ar-c", c["ncoa"])
    _cn_reaches_mn_through_the_tunnel(three, a["ncoa"], a["conn"])
    _cn_reaches_mn_through_the_tunnel(three, c["ncoa"], c["conn"])
    assert c["ncoa"] in three.leases("ca-c")
    t0 = time.perf_counter_ns()
    r = three.mn("commit", ctn="acc-a")                # C.4: the MN commits to domain A
    assert r["kept"]["ctn"] == "acc-a" and [x["ctn"] for x in r["released"]] == ["acc-c"]
    time.sleep(0.3)
    st = three.call("ar-c", "pht_status")
    assert st["tunnels"] == {} and st["proxy_arp"] == []
    assert c["ncoa"] not in three.leases("ca-c")       # DHCPRELEASE reached the CA
    assert "mpa-acc-c" not in three.mn_charon().list_sas()
    assert c["ncoa"] not in run_in(three.ns("mn"), ["ip", "-br", "addr"]).stdout
    assert ping_rtts(three.ns("cn"), c["ncoa"], count=2, interval=0.1, timeout=0.5) == []
    # the committed one still works
    _cn_reaches_mn_through_the_tunnel(three, a["ncoa"], a["conn"])
    released = [e for e in three.events(t0) if e["event"] in ("pht_released", "address_released")]
    assert {(e["node"], e["event"]) for e in released} >= {
        ("mn", "pht_released"), ("mn", "address_released"), ("ar-c", "pht_released")}
    assert all(e["attrs"]["reason"] == "committed to acc-a" for e in released
               if e["node"] == "mn")
    three.mn("release", ctn="acc-a")


def test_tunnels_are_time_bound(three):
    three.mn("discover")
    if "aa-c" not in three.mn("preconfig_status")["mpa_sas"]:
        three.preauthenticate("aa-c")
    t0 = time.perf_counter_ns()
    r = three.mn("preconfigure", ctn="acc-c", method="ikev2", lifetime=2.0)
    assert r["expires_in_s"] <= 2.0
    three.wait_ar_up("ar-c", r["ncoa"])
    deadline = time.monotonic() + 6
    while three.mn("preconfig_status")["preconfigured"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert three.mn("preconfig_status")["preconfigured"] == {}
    time.sleep(0.3)
    assert three.call("ar-c", "pht_status")["tunnels"] == {}
    assert r["ncoa"] not in three.leases("ca-c")       # the nAR's relay released the lease
    [rel] = [e for e in three.events(t0) if e["event"] == "pht_released" and e["node"] == "mn"
             and e["attrs"]["ncoa"] == r["ncoa"]]
    assert rel["attrs"]["reason"] == "expired"


# -- captures ------------------------------------------------------------------------------------
@pytest.mark.parametrize("bed", ["fig1", "three"])
def test_tshark_dissects_the_ikev2_and_dhcp_exchanges_without_malformed_packets(bed, request):
    t = request.getfixturevalue(bed)
    _stop_captures(t)
    counts = {}
    for node, (_, path) in t.captures.items():
        def tshark(display):
            r = subprocess.run(["tshark", "-n", "-r", str(path), "-Y", display, "-T", "fields",
                                "-e", "frame.number"], capture_output=True, text=True, timeout=120)
            assert r.returncode == 0, r.stderr
            return len(r.stdout.split())
        assert tshark("_ws.malformed || _ws.expert.severity == error") == 0, node
        counts[node] = {p: tshark(p) for p in ("isakmp", "esp", "dhcp")}
    assert counts["mn"]["isakmp"] > 0 and counts["mn"]["esp"] > 0 and counts["mn"]["dhcp"] > 0
    ar, ca = ("ar-a", "ca-a") if bed == "fig1" else ("ar-c", "ca-c")
    assert counts[ar]["isakmp"] > 0 and counts[ar]["dhcp"] > 0     # incl. its dhcp relay
    assert counts[ca]["dhcp"] > 0
    # the IKEv2 exchanges: IKE_SA_INIT and IKE_AUTH both ways
    r = subprocess.run(["tshark", "-n", "-r", str(t.captures["mn"][1]), "-Y", "isakmp",
                        "-T", "fields", "-e", "isakmp.exchangetype"],
                       capture_output=True, text=True)
    assert {"34", "35"} <= set(r.stdout.split())
    (Path(t.j.run_dir) / "pcaps" / "counts.json").write_text(json.dumps(counts))
