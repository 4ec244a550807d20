"""Issue 15 on the deployed C.5.2 topology (topologies/c52-wlan-cellular.yaml): the MN's second
(cellular) interface brings up its data session through the deployed packet data gateway (the
PDSN co-located on the cellular domain's access router) and FreeRADIUS (the cellular domain's
AAA server proxies the MN's realm to its home AAA server, which checks CHAP), then becomes the
active interface and carries the MN's traffic to the CN; back to the WLAN, then the session
ends and the interface powers off (RFC 6252 C.5.2's preparation of the second interface and
its two flavours' building blocks: both interfaces up, or the second brought up on demand).
"""
import time
from pathlib import Path

import pytest

from orchestrator.agents.control import AgentClient, AgentError
from orchestrator.events import read_events, vocabulary_problems
from orchestrator.network.build import deploy
from orchestrator.network.nsexec import ping_rtts, run_in
from orchestrator.testbed import destroy

REPO = Path(__file__).resolve().parents[2]
NAME = "t-c52"
CN, PDSN = "10.0.0.20", "10.20.0.1"
pytestmark = [pytest.mark.root, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def bed(tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    j = deploy(str(REPO / "topologies" / "c52-wlan-cellular.yaml"), name=NAME,
               results=str(results))
    try:
        yield j
    finally:
        destroy(NAME)


def call(j, node, cmd, **args):
    return AgentClient(str(j.dir / "nodes" / node / "mpa-agent" / "control.sock")).request(
        cmd, args, 60)


def sh(ns, *argv):
    return run_in(ns, list(argv)).stdout


def events(j, since_ns=0):
    return [e for e in read_events(j.run_dir) if e["mono_ns"] >= since_ns]


def test_the_radio_link_is_emulated_and_reported(bed):
    [entry] = [e for e in bed.emulation["links"] if e["link"] == "nodes.mn.interfaces.cdma0"]
    assert entry["delay_ms"] == pytest.approx(60.0) and entry["bandwidth_mbit"] == 2.4
    assert "PPPoE" in entry.get("note", "") or bed.emulation["mechanism"] == "netem"
    [check] = [r for r in bed.emulation["verification"]
               if r["link"] == "nodes.mn.interfaces.cdma0"]
    assert check["verified"] is False and "no address" in check["message"]


def test_cellular_session_through_the_deployed_gateway_and_aaa(bed):
    ns = bed.nodes["mn"]["netns"]
    t0 = time.perf_counter_ns()
    up = call(bed, "mn", "cellular_up", iface="cdma0")
    assert up["status"] == "ok", up
    assert up["address"].startswith("10.20.0.") and up["address"] != PDSN
    assert up["peer"] == PDSN and up["lcp"]["peer_auth"] == "chap-md5"
    assert up["was_up"] is True and up["attach_ms"] == 0.0
    for part in ("discovery_ms", "lcp_ms", "chap_ms", "ipcp_ms"):
        assert 0 < up[part] < up["total_ms"] <= up["elapsed_ms"]
    assert f"inet {up['address']}/32" in sh(ns, "ip", "-4", "-o", "addr", "show", "dev", "cdma0")
    evs = events(bed, t0)
    assert vocabulary_problems(evs) == []
    names = [(e["node"], e["event"]) for e in evs]
    for needed in (("mn", "radio_attached"), ("mn", "cellular_session_done"),
                   ("pdsn", "aaa_answer"), ("pdsn", "cellular_session_done")):
        assert needed in names, names
    [answer] = [e for e in evs if e["node"] == "pdsn" and e["event"] == "aaa_answer"]
    assert answer["attrs"]["code"] == "accept"
    # FreeRADIUS: the cellular domain's AAA proxied the realm, the home AAA checked CHAP
    log_w = (Path(bed.run_dir) / "logs" / "aaa-w" / "freeradius.log").read_text()
    assert "mn@wlan.example" in log_w
    status = call(bed, "pdsn", "sessions")
    assert [s["address"] for s in status["sessions"]] == [up["address"]]

    # the cellular interface becomes the active one: the MN reaches the CN through it; the
    # radio link's emulated RTT (120 ms) is on the path (the CN is one hop past the PDSN)
    made = call(bed, "mn", "use_interface", iface="cdma0")
    assert (made["status"], made["previous"]) == ("ok", "wlan0")
    route = sh(ns, "ip", "-4", "route", "show", "default")
    assert f"via {PDSN} dev cdma0" in route
    rtts = ping_rtts(ns, CN, count=5, interval=0.2)
    assert len(rtts) == 5 and 110.0 < min(rtts) < 140.0, rtts
    status = call(bed, "mn", "interfaces_status")
    assert status["active"] == "cdma0" and status["cellular"]["cdma0"]["session"]["address"] \
        == up["address"]

    # back to the WLAN (its gateway remembered), then the session ends and the radio is off
    back = call(bed, "mn", "use_interface", iface="wlan0")
    assert back["gateway"] == "10.1.0.1" and back["previous"] == "cdma0"
    down = call(bed, "mn", "cellular_down", iface="cdma0", power_off=True)
    assert down["status"] == "ok" and down["up"] is False
    assert "inet " not in sh(ns, "ip", "-4", "-o", "addr", "show", "dev", "cdma0")


def test_a_powered_off_interface_is_activated_for_its_session(bed):
    ns = bed.nodes["mn"]["netns"]
    run_in(ns, ["ip", "link", "set", "cdma0", "down"])
    up = call(bed, "mn", "cellular_up", iface="cdma0", phase="switching")
    assert up["status"] == "ok" and up["was_up"] is False
    assert ",UP" in sh(ns, "ip", "link", "show", "cdma0")
    assert call(bed, "mn", "cellular_down", iface="cdma0")["status"] == "ok"


def test_a_command_for_an_unknown_interface_is_refused(bed):
    with pytest.raises(AgentError, match="no cellular interface 'wlan9'"):
        call(bed, "mn", "cellular_up", iface="wlan9")


def test_mpa_handover_with_both_interfaces_up_loses_nothing(bed):
    """C.5.2 flavour (b), the agents' commands in the order a flow would send them: in a call
    over the WLAN, the cellular interface is prepared (data session), made the active
    interface, and the binding update (SIP re-INVITE, s7.5) leaves from its address; the
    CN's stream moves there. Make-before-break: no RTP packet is lost. The handoff delay
    (last packet on the WLAN address to the first on the cellular one) is printed, not
    asserted (the radio's 60 ms one way is in it)."""
    from orchestrator.experiment.media import read_receiver_log
    assert call(bed, "mn", "connect", ap="ap-w")["status"] == "ok"   # 802.1X at AP-W
    started = call(bed, "mn", "call", cn="cn")
    time.sleep(0.5)
    up = call(bed, "mn", "cellular_up", iface="cdma0")
    assert call(bed, "mn", "use_interface", iface="cdma0")["status"] == "ok"
    bu = call(bed, "mn", "binding_update", address=up["address"])
    assert bu["ncoa"] == up["address"]
    time.sleep(0.5)
    call(bed, "mn", "hangup")
    call(bed, "mn", "use_interface", iface="wlan0")
    call(bed, "mn", "cellular_down", iface="cdma0")
    packets = read_receiver_log(started["rtp_log"])
    seqs = [p["seq"] for p in packets]
    assert len(seqs) > 40
    lost = set(range(min(seqs), max(seqs) + 1)) - set(seqs)
    assert not lost, sorted(lost)
    old = [p for p in packets if p["dst"].startswith("10.1.0.100:")]
    new = [p for p in packets if p["dst"].startswith(up["address"] + ":")]
    assert old and new and len(old) + len(new) == len(packets)
    assert max(p["seq"] for p in old) < min(p["seq"] for p in new) + 10
    gap_ms = (new[0]["mono_ns"] - old[-1]["mono_ns"]) / 1e6
    print(f"\nC.5.2 (b): {len(packets)} packets, 0 lost, {len(seqs) - len(set(seqs))} "
          f"duplicates, handoff delay {gap_ms:.1f} ms (session set-up {up['total_ms']} ms)")
