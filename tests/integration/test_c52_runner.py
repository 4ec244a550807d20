"""Issue 15: RFC 6252 C.5.2's handovers as runner flows on the deployed C.5.2 topology
(tests/integration/experiments/c52-mini.yaml): MPA with both interfaces up and the binding
update through the proactive handover tunnel, the same with the binding update after the
switch, the reactive handover and the battery flavour (through the tunnel, with
copy-and-forward through it), twice each, timed from the agents' events; records, the RTP
arrivals of each repetition, and the C.5.2 report beside the RFC."""
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from orchestrator.analysis import report

HERE = Path(__file__).parent
REPO = HERE.parents[1]
pytestmark = [pytest.mark.root, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    proc = subprocess.run([sys.executable, "-m", "orchestrator.cli", "run",
                           str(HERE / "experiments" / "c52-mini.yaml"), "--results",
                           str(results)], cwd=REPO, capture_output=True, text=True, timeout=540)
    assert proc.returncode == 0, proc.stderr[-3000:]
    [run] = list((results / "c52-mini").glob("*/records.csv"))
    return run.parent


def _values(df, scenario, phase):
    rows = df[(df.scenario == scenario) & (df.phase == phase)]
    return list(rows.sort_values("repetition")["value"])


MPA = ("both-up", "after-switch", "at-handover")
TUNNELLED = ("both-up", "at-handover")


def _events(run_dir):
    return sorted((json.loads(line) for line in (run_dir / "events.jsonl").open()),
                  key=lambda e: e["mono_ns"])


def test_every_repetition_ran(run_dir):
    progress = [json.loads(l) for l in (run_dir / "progress.jsonl").read_text().splitlines()]
    assert [(p["scenario"], p["status"]) for p in progress if p["status"] != "ok"] == []
    assert sorted((p["scenario"], p["repetition"]) for p in progress) == [
        ("after-switch", 1), ("after-switch", 2), ("at-handover", 1), ("at-handover", 2),
        ("both-up", 1), ("both-up", 2), ("reactive", 1), ("reactive", 2)]


def test_make_before_break_loses_nothing_and_the_stream_moves(run_dir):
    df = pd.read_csv(run_dir / "records.csv")
    for scen in MPA:
        assert _values(df, scen, "packet_loss") == [0, 0], scen
        assert all(v > 0 for v in _values(df, scen, "on_new_address"))
        # the first packet on the cellular interface crossed the emulated radio link (60 ms
        # one way) after the switch
        assert all(v >= 55 for v in _values(df, scen, "handover_total")), scen
        assert all(v > 0 for v in _values(df, scen, "both_interfaces_up"))
    # and the gap after the last packet over the WLAN cannot be shorter than that either,
    # unless copies keep arriving over the WLAN after the switch (at-handover: through the
    # tunnel, a late copy shortens the gap)
    for scen in ("both-up", "after-switch"):
        assert all(v >= 55 for v in _values(df, scen, "handoff_delay")), scen
    assert all(v > 0 for v in _values(df, "at-handover", "handoff_delay"))
    # the activation (emulated 200 ms) is in the preparation, not in the handover
    assert all(v >= 300 for v in _values(df, "both-up", "preparation"))
    assert _values(df, "both-up", "activation") == [200, 200]


def test_mpa_pre_authenticates_the_cellular_domain_through_the_wlan(run_dir):
    """RFC 6252 s7.6.2: both MPA flavours authenticate with the cellular domain's PAA over
    the WLAN before the switch; the PAA's key lets the gateway check CHAP itself, so the
    data session set-up sends no Access-Request; the reactive one asks the AAA server."""
    df = pd.read_csv(run_dir / "records.csv")
    for scen in MPA:
        assert all(v > 0 for v in _values(df, scen, "pre_authentication")), scen
        assert all(v > 0 for v in _values(df, scen, "key_installation")), scen
        assert _values(df, scen, "aaa_in_session_setup") == [0, 0], scen
    assert _values(df, "reactive", "aaa_in_session_setup") == [1, 1]
    assert _values(df, "reactive", "pre_authentication") == []
    # what remains at the handover: the battery flavour powers up (200 ms) and attaches
    # (100 ms) in it; with both up only the switch and the binding are left
    assert all(v >= 300 for v in _values(df, "at-handover", "at_handover"))
    assert _values(df, "both-up", "at_handover") == _values(df, "both-up", "handover_total")
    events = sorted((json.loads(line) for line in (run_dir / "events.jsonl").open()),
                    key=lambda e: e["mono_ns"])
    verified = [e for e in events if e["event"] == "chap_verified"]
    assert len(verified) == 6 and all(e["attrs"]["method"] == "mpa-key" and e["attrs"]["ok"]
                                      for e in verified)
    for v in verified:
        before = [e for e in events if e["mono_ns"] < v["mono_ns"]]
        start = [e for e in before if e["event"] == "preauth_start"][-1]
        done = [e for e in before if e["event"] == "preauth_done"][-1]
        # through the WLAN: from the WLAN address, with the cellular interface still off
        assert start["node"] == "mn" and start["attrs"]["source"] == "10.1.0.100"
        powered = [e for e in before if e["event"] == "interface_powered_on"][-1]
        assert start["mono_ns"] < done["mono_ns"] < powered["mono_ns"]
        switch = next(e for e in events if e["event"] == "active_interface_changed"
                      and e["mono_ns"] > v["mono_ns"])
        assert switch["attrs"]["iface"] == "cdma0"
        # no AAA exchange from the pre-authentication's end to the switch
        assert not [e for e in events if e["event"] == "aaa_request"
                    and done["mono_ns"] < e["mono_ns"] < switch["mono_ns"]]
    chap_aaa = [e for e in events if e["event"] == "aaa_request"
                and e["attrs"].get("method") == "chap"]
    assert len(chap_aaa) == 2                        # the reactive repetitions'


def test_mpa_reserves_the_cellular_address_through_the_wlan_and_ipcp_confirms_it(run_dir):
    """RFC 6252 s7.3, s7.6.2: the address is known before the cellular interface is powered
    (reserved at the gateway through the WLAN); the data session gets that very address."""
    df = pd.read_csv(run_dir / "records.csv")
    for scen in MPA:
        assert all(v > 0 for v in _values(df, scen, "address_preconfiguration")), scen
    assert _values(df, "reactive", "address_preconfiguration") == []
    events = sorted((json.loads(line) for line in (run_dir / "events.jsonl").open()),
                    key=lambda e: e["mono_ns"])
    pre = [e for e in events if e["event"] == "cellular_address_preconfigured"]
    assert len(pre) == 6
    for p in pre:
        after = [e for e in events if e["mono_ns"] > p["mono_ns"]]
        powered = next(e for e in after if e["event"] == "interface_powered_on")
        gw_done = next(e for e in after if e["event"] == "cellular_session_done"
                       and e["node"] == "pdsn")
        mn_done = next(e for e in after if e["event"] == "cellular_session_done"
                       and e["node"] == "mn")
        assert powered["mono_ns"] < mn_done["mono_ns"]
        assert mn_done["attrs"]["address"] == gw_done["attrs"]["address"] == p["attrs"]["address"]
        assert gw_done["attrs"]["address_source"] == "reserved"


def test_copy_and_forward_explains_the_duplicates(run_dir):
    df = pd.read_csv(run_dir / "records.csv")
    # after-switch: the old AR copies what it forwards to the WLAN address from the switch
    # until the CN moves the stream (the re-INVITE's round trip over the radio); at-handover:
    # the tunnel's end copies what leaves on the radio link into the tunnel. Some copies,
    # never fewer than the duplicates the MN counts (a copy of a lost packet is none)
    for scen in ("after-switch", "at-handover"):
        copies, duplicates = (_values(df, scen, "copy_forward_copies"),
                              _values(df, scen, "duplicates"))
        assert all(c > 0 for c in copies) and all(d <= c for d, c in zip(duplicates, copies))
        assert any(d > 0 for d in duplicates), scen
        assert _values(df, scen, "copy_forward_period") == [200, 200]
    # through the tunnel without copy-and-forward: nothing lost, nothing twice
    assert _values(df, "both-up", "duplicates") == [0, 0]
    assert _values(df, "both-up", "copy_forward_copies") == []


def test_the_binding_update_goes_through_the_tunnel_before_the_switch(run_dir):
    """RFC 6252 s7.4, s7.5, C.5.2 ("the proactive handover tunnel, the binding update through
    it, then the switch"): per tunnelled repetition, the tunnel's two ends are up for the
    reserved cellular address, the re-INVITE from that address is answered before the
    cellular interface is even powered (so it cannot have left on it), the stream arrives
    through the tunnel, and the tunnel's end in the cellular network stops tunnelling only
    after the switch; the after-switch comparison binds after it."""
    df = pd.read_csv(run_dir / "records.csv")
    for scen in TUNNELLED:
        assert _values(df, scen, "bound_before_switch") == [1, 1], scen
        assert all(v > 0 for v in _values(df, scen, "on_tunnel")), scen
        assert all(v > 0 for v in _values(df, scen, "tunnel_setup")), scen
    assert _values(df, "after-switch", "bound_before_switch") == [0, 0]
    assert _values(df, "after-switch", "on_tunnel") == []
    events = _events(run_dir)
    mine = [e for e in events if e["node"] == "mn" and e["event"] == "pht_established"
            and e["attrs"].get("method") == "reserved"]
    assert len(mine) == 4
    for up in mine:
        address = up["attrs"]["inner"]
        after = [e for e in events if e["mono_ns"] > up["mono_ns"]]
        ar_up = [e for e in events if e["node"] == "pdsn" and e["event"] == "pht_established"
                 and e["attrs"]["ncoa"] == address and e["mono_ns"] <= up["mono_ns"]]
        assert ar_up and ar_up[-1]["attrs"]["network"] == "cellular"
        assert ar_up[-1]["attrs"]["reserved_for_mn"] is True   # the gateway's reservation
        start = next(e for e in after if e["event"] == "binding_update_start")
        done = next(e for e in after if e["event"] == "binding_update_done")
        powered = next(e for e in after if e["event"] == "interface_powered_on")
        switch = next(e for e in after if e["event"] == "active_interface_changed")
        disabled = next(e for e in after if e["event"] == "pht_disabled")
        assert start["attrs"]["source"] == f"{address}:5060"
        assert done["attrs"]["status"] == 200
        assert done["mono_ns"] < powered["mono_ns"] < switch["mono_ns"] < disabled["mono_ns"]
        assert switch["attrs"]["iface"] == "cdma0" and disabled["attrs"]["ncoa"] == address
        assert disabled["node"] == "pdsn" and disabled["attrs"]["mn"] == "mn"


def test_the_reactive_handover_breaks_before_it_makes(run_dir):
    df = pd.read_csv(run_dir / "records.csv")
    assert all(v > 0 for v in _values(df, "reactive", "packet_loss"))
    assert _values(df, "reactive", "both_interfaces_up") == [0, 0]
    detection = _values(df, "reactive", "link_down_detection")
    assert all(v >= 50 for v in detection)          # the WLAN's emulated link_down_detection
    # link lost -> first packet on the new address holds detection, activation, attach
    assert all(v >= 50 + 200 + 100 for v in _values(df, "reactive", "handover_total"))


def test_emulated_cellular_parameters_are_in_every_row(run_dir):
    df = pd.read_csv(run_dir / "records.csv")
    for col, value in (("emulated:nodes.bs.activation_latency[ms]", 200),
                       ("emulated:nodes.bs.attach_latency[ms]", 100),
                       ("emulated:nodes.bs.link_rtt[ms]", 120),
                       ("emulated:nodes.mn.interfaces.wlan0.link_down_detection[ms]", 50)):
        assert (df[col] == value).all(), col


def test_arrivals_and_the_report(run_dir):
    raw = json.loads((run_dir / "media" / "c52" / "both-up" / "rep1.json").read_text())
    assert {p["dst"].rsplit(":", 1)[0] for p in raw["packets"]} == {"10.1.0.100", raw["packets"][-1]["dst"].rsplit(":", 1)[0]}
    # the WLAN address on wlan0, the cellular one through the tunnel, then on cdma0
    assert [p["iface"] for p in raw["packets"]][0] == "wlan0"
    assert {p["iface"] for p in raw["packets"]} == {"wlan0", "ipsec0", "cdma0"}
    assert raw["switched_ns"] and raw["powered_on_ns"]
    paths = report.report(run_dir)
    assert "figures/c52_arrivals.png" in paths and "figures/c52_both_up.png" in paths
    checks = (run_dir / "tables" / "checks.md").read_text()
    assert "| (a) | both-up: no packet lost in any repetition | 0.00 | 0.00 | ✔ ok" in checks
    assert ("| (g) | at-handover: the binding update went through the proactive handover "
            "tunnel before the switch | 1.00 | 1.00 | ✔ ok") in checks
    # (c) needs the RFC's radio latencies (this run's are short): every other check holds
    assert [line for line in checks.splitlines() if "FAIL" in line and "| (c) |" not in line] == []
