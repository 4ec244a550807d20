"""Issue 4 end to end: the three Figure 10 flows on fig8 (non-roaming) and fig9 (roaming),
real EAP-TLS against FreeRADIUS on the emulated wire, the security cases, and tshark's
verdict on captures of every exchange.

Each topology is deployed once for the module; the MN agent is driven over its control
socket as the experiment runner will drive it.
"""
import datetime as dt
import json
import subprocess
import time
from pathlib import Path

import pytest

from orchestrator.agents.control import AgentClient, AgentError
from orchestrator.deploy.pki import Pki, issue_client_cert, make_ca, write_pem
from orchestrator.events import read_events
from orchestrator.network.build import deploy
from orchestrator.testbed import controller_status, destroy

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.root, pytest.mark.timeout(600)]
TOPOLOGIES = {"fig8": "topologies/fig8-l2-preauth-nonroaming.yaml",
              "fig9": "topologies/fig9-l2-preauth-roaming.yaml"}
CAPTURES = {"mn": ("wlan0", "ether proto 0x888e or ether proto 0x88c7"),
            "ap1": ("eth0", "ether proto 0x888e or ether proto 0x88c7 or udp port 1812"),
            "nar": ("eth0", "udp port 716 or udp port 1812"),
            "aaa-h": ("eth0", "udp port 1812")}


class Bed:
    def __init__(self, journal):
        self.j = journal
        self.captures = {}

    def agent(self, node):
        return AgentClient(str(self.j.dir / "nodes" / node / "mpa-agent" / "control.sock"))

    def mn(self, cmd, **kw):
        return self.agent("mn").call(cmd, timeout=60, **kw)

    def events(self, since_ns=0):
        return [e for e in read_events(self.j.run_dir) if e["mono_ns"] >= since_ns]

    def sta(self):
        return next(i["mac"] for i in self.j.nodes["mn"]["interfaces"] if i["name"] == "wlan0")


@pytest.fixture(scope="module", params=sorted(TOPOLOGIES))
def tb(request, tmp_path_factory):
    name = f"t-auth-{request.param}"
    results = tmp_path_factory.mktemp("results")
    j = deploy(str(REPO / TOPOLOGIES[request.param]), name=name, results=str(results))
    t = Bed(j)
    t.figure = request.param
    pcap_dir = Path(j.run_dir) / "pcaps"
    pcap_dir.mkdir()
    for node, (iface, bpf) in CAPTURES.items():
        if node not in j.nodes:
            continue
        path = pcap_dir / f"{node}.pcap"
        p = subprocess.Popen(["ip", "netns", "exec", j.nodes[node]["netns"], "tcpdump", "-n",
                              "-U", "--immediate-mode", "-i", iface, "-w", str(path), bpf],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t.captures[node] = (p, path)
    time.sleep(0.5)
    t.mn("connect", ap="ap0")                    # the MN starts authorized at AP0
    yield t
    for p, _ in t.captures.values():
        p.terminate()
        p.wait(5)
    destroy(name)


def _eventually(tb, since_ns, node, name, timeout=5.0):
    """`node`'s `name` events since `since_ns`, waiting for the first (events of other nodes
    than the one that answered the command may still be on their way)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [e for e in tb.events(since_ns) if e["node"] == node and e["event"] == name]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def _between(events, start_ns, end_ns, node, name):
    return [e for e in events if e["node"] == node and e["event"] == name
            and start_ns <= e["mono_ns"] <= end_ns]


def test_post_authentication_runs_eap_after_the_move(tb):
    t0 = time.perf_counter_ns()
    r = tb.mn("handoff", ap="ap1")
    assert r["connect"]["pmksa"] == "eap"
    ev = tb.events(t0)
    [start] = [e for e in ev if e["node"] == "mn" and e["event"] == "l2_handoff_start"]
    [opened] = [e for e in ev if e["node"] == "mn" and e["event"] == "port_open"]
    eap = _between(ev, start["mono_ns"], opened["mono_ns"], "mn", "eap_done")
    assert len(eap) == 1 and eap[0]["attrs"]["mode"] == "eap"          # Tauth inside the handoff
    # the AP opened the port on its own switch, before message 3 (agents/port_driver.py) ...
    [ap_open] = _between(ev, start["mono_ns"], opened["mono_ns"], "ap1", "port_opened")
    assert ap_open["attrs"]["status"] == "ok" and ap_open["attrs"]["mn"] == "mn"
    [msg4] = _eventually(tb, t0, "ap1", "fourway_done")
    assert ap_open["mono_ns"] < msg4["mono_ns"]
    # ... and the controller, told right after, installed what depends on other stations
    assert _eventually(tb, t0, "controller", "port_authorized")
    consts = [e for e in tb.events() if e["node"] == "ap1" and e["event"] == "emulation_constants"]
    assert consts and consts[-1]["attrs"]["port_control"]["value"].startswith("AP-local")
    # the AAA path: the AP is a RADIUS client of its domain's AAA server
    assert [e for e in ev if e["node"] == "ap1" and e["event"] == "eap_done"]


def test_80211i_preauthentication_then_handoff_needs_only_the_4way(tb):
    tb.mn("handoff", ap="ap2")
    t0 = time.perf_counter_ns()
    pre = tb.mn("preauthenticate_80211i", ap="ap1")
    assert pre["status"] == "ok"
    assert tb.agent("ap1").call("pmksa")[tb.sta()] == "preauth"
    t1 = time.perf_counter_ns()
    r = tb.mn("handoff", ap="ap1")
    assert r["connect"]["pmksa"] == "preauth"
    ev = tb.events(t1)
    assert not [e for e in ev if e["event"] in ("eap_start", "eap_done")]   # no EAP at the move
    assert [e for e in ev if e["node"] == "mn" and e["event"] == "fourway_done"]
    pre_ev = [e for e in tb.events(t0) if e["node"] == "mn" and e["event"] == "eap_done"
              and e["attrs"]["mode"] == "preauth"]
    assert pre_ev and pre_ev[0]["phase"] == "pre-authentication"


def test_80211i_preauthentication_to_another_subnet_fails_clearly(tb):
    tb.mn("handoff", ap="ap1")
    t0 = time.perf_counter_ns()
    with pytest.raises(AgentError, match="different subnet or domain"):
        tb.mn("preauthenticate_80211i", ap="ap0")
    [failed] = [e for e in tb.events(t0) if e["node"] == "mn" and e["event"] == "eap_failed"]
    assert failed["attrs"]["mode"] == "preauth" and "distribution system" in failed["attrs"]["reason"]


def test_mpa_preauthentication_installs_psk_ap_and_the_handoff_needs_only_the_4way(tb):
    tb.mn("handoff", ap="ap0")
    for node in ("mn", "ap1", "ap2", "nar"):
        tb.agent(node).call("flush")
    t0 = time.perf_counter_ns()
    r = tb.mn("preauthenticate_mpa", paa="nar")
    assert r["status"] == "ok" and r["psk_ap"] == ["ap1", "ap2"]
    deadline = time.monotonic() + 5
    while True:
        try:
            tconf = tb.agent("nar").call("tconf_status", identity="mn@home.example")
            break
        except AgentError:
            assert time.monotonic() < deadline, "no Tconf"
            time.sleep(0.02)
    assert tconf["status"] == "ok" and set(tconf["installed_ms"]) >= {"ap1", "ap2", "nar"}
    # a distinct PSK_ap in each AP of the CTN, and the MN-AR key in the AR
    assert tb.agent("ap1").call("pmksa")[tb.sta()] == "mpa"
    assert tb.agent("ap2").call("pmksa")[tb.sta()] == "mpa"
    assert tb.agent("nar").call("mn_ar_key", sta=tb.sta())["installed"]
    t1 = time.perf_counter_ns()
    h = tb.mn("handoff", ap="ap1")
    assert h["connect"]["pmksa"] == "mpa"
    assert not [e for e in tb.events(t1) if e["event"] in ("eap_start", "eap_done")]
    ev = tb.events(t0)
    names = [(e["node"], e["event"]) for e in ev]
    for needed in [("mn", "preauth_start"), ("mn", "preauth_done"), ("nar", "psk_install_start"),
                   ("nar", "tconf_done"), ("mn", "l2_handoff_start"), ("mn", "fourway_done"),
                   ("mn", "port_open")]:
        assert needed in names, needed
    # PSK_ap from AP1 does not open AP2's... the MN holds one PSK per AP (bound to the BSSID)
    assert set(tb.mn("pmksa")) >= {tb.j.nodes["ap1"]["interfaces"][0]["mac"],
                                    tb.j.nodes["ap2"]["interfaces"][0]["mac"]}


def test_wrong_pmk_fails_the_4way_on_the_mic_and_keeps_the_port_closed(tb):
    tb.mn("handoff", ap="ap0")
    tb.agent("ap1").call("flush")
    tb.mn("preauthenticate_mpa", paa="nar")
    time.sleep(0.2)
    tb.mn("inject_pmk", ap="ap1", pmk_hex="00" * 32)
    t0 = time.perf_counter_ns()
    with pytest.raises(AgentError):
        tb.mn("handoff", ap="ap1")
    ev = tb.events(t0)
    reasons = [e["attrs"].get("reason") for e in ev if e["event"] in ("fourway_failure", "fourway_failed")]
    assert "MIC mismatch" in reasons, ev
    assert "mn" not in controller_status(tb.j)["authorized"]
    tb.mn("flush")
    tb.mn("handoff", ap="ap1")                 # full EAP again works


@pytest.mark.parametrize("which", ["foreign-ca", "expired"])
def test_bad_client_certificate_gives_eap_failure_no_keys_no_port(tb, which, tmp_path):
    pki_dir = Path(tb.j.dir) / "pki"
    identity = "mn@home.example"
    if which == "foreign-ca":
        cred = issue_client_cert(make_ca("Foreign CA"), identity)
    else:
        ca = Pki.ensure(pki_dir, "unused", [], []).load_ca()
        cred = issue_client_cert(ca, identity, days=1,
                                 not_before=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=10))
    files = write_pem(tmp_path, which, cred.cert, cred.key)
    tb.mn("use_credentials", cert=str(files.cert), key=str(files.key))
    try:
        tb.mn("flush")
        tb.agent("ap2").call("flush")
        t0 = time.perf_counter_ns()
        with pytest.raises(AgentError, match="802.1X at ap2 failed"):
            tb.mn("handoff", ap="ap2")
        assert [e for e in tb.events(t0) if e["node"] == "mn" and e["event"] == "eap_failed"]
        # the AP hears Access-Reject (FreeRADIUS delays rejects by its reject_delay)
        deadline = time.monotonic() + 5
        while not [e for e in tb.events(t0) if e["node"] == "ap2" and e["event"] == "eap_failed"
                   and e["attrs"]["reason"] == "Access-Reject"]:
            assert time.monotonic() < deadline, "the AP never heard Access-Reject"
            time.sleep(0.05)
        assert tb.sta() not in tb.agent("ap2").call("pmksa")
        assert tb.mn("pmksa") == {}
        assert "mn" not in controller_status(tb.j)["authorized"]
    finally:
        cfg = json.loads((Path(tb.j.dir) / "nodes" / "mn" / "mpa-agent" / "agent.json").read_text())
        tb.mn("use_credentials", cert=cfg["cert"], key=cfg["key"])


def test_tshark_dissects_every_capture_without_malformed_packets(tb):
    for p, _ in tb.captures.values():
        p.terminate()
        p.wait(5)
    counts = {}
    for node, (_, path) in tb.captures.items():
        def tshark(display):
            r = subprocess.run(["tshark", "-n", "-r", str(path), "-d", "udp.port==716,pana",
                                "-Y", display, "-T", "fields", "-e", "frame.number"],
                               capture_output=True, text=True, timeout=120)
            assert r.returncode == 0, r.stderr
            return len(r.stdout.split())
        assert tshark("_ws.malformed || _ws.expert.severity == error") == 0, node
        counts[node] = {p: tshark(p) for p in ("eapol", "radius", "pana")}
    assert counts["mn"]["eapol"] > 0
    assert counts["ap1"]["eapol"] > 0 and counts["ap1"]["radius"] > 0
    assert counts["aaa-h"]["radius"] > 0
    assert counts["nar"]["radius"] > 0
    # PANA with the RFC 5873 E (pre-authentication) flag: Wireshark 4.0 declines the
    # reserved flag bits and shows such messages as UDP data -- never as malformed
    (Path(tb.j.run_dir) / "pcaps" / "counts.json").write_text(json.dumps(counts))
