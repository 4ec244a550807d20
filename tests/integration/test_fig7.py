"""A reduced Figure 7 reproduction, end to end (CI): the real runner on the C.5.1 topology with
two repetitions of MPA with buffering disabled and enabled and of the non-MPA handover, the
records, the agents' events, tshark's verdict on the SIP/RTP captures, and the report."""
import json
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from orchestrator.analysis.reproductions.fig7 import tshark_counts

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.root, pytest.mark.timeout(900)]
REPS = 2


# The shipped experiment caps buffering at the RFC's 20 ms; whether the MN's ATTACHED beats that
# cap is a measured result (`make fig7`, README), not something a shared CI machine can promise.
# This test checks the mechanism (the nAR holds until the MN says so), so its copy of the
# experiment gives the cap room that no layer-2 handoff here approaches, and an association
# of 40 ms, so that the buffering spans two or more of the CN's 16 ms intervals (the nAR holds
# packets whatever the speed of the machine's emulated layer 2).
CI_BUFFERING_CAP = "250ms"
CI_ASSOCIATION_LATENCY = "40ms"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    text = (REPO / "experiments" / "fig7.yaml").read_text()
    assert text.count("buffering: 20ms}") == 1 and text.count("topology: ../topologies/") == 1
    assert text.count("kinds.access_point.association_latency: 4ms") == 1
    text = text.replace("buffering: 20ms}", f"buffering: {CI_BUFFERING_CAP}}}").replace(
        "topology: ../topologies/", f"topology: {REPO}/topologies/").replace(
        "kinds.access_point.association_latency: 4ms",
        f"kinds.access_point.association_latency: {CI_ASSOCIATION_LATENCY}")
    experiment = results / "fig7.yaml"
    experiment.write_text(text)
    r = subprocess.run([sys.executable, "-m", "orchestrator.cli", "run", str(experiment),
                        "--repetitions", str(REPS), "--results", str(results)], cwd=REPO,
                       capture_output=True, text=True, timeout=850)
    assert r.returncode == 0, r.stderr[-3000:]
    [new] = (results / "fig7").glob("*")
    return new


@pytest.fixture(scope="module")
def metrics(run_dir):
    df = pd.read_parquet(run_dir / "records.parquet")
    assert (df.status == "ok").all(), df[df.status != "ok"].error.tolist()
    return df.pivot_table(index=["scenario", "repetition"], columns="phase", values="value")


@pytest.fixture(scope="module")
def events(run_dir):
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]


def test_every_repetition_of_every_scenario_measured(metrics):
    assert metrics.reset_index().groupby("scenario").repetition.nunique().to_dict() == {
        "buffering-disabled": REPS, "buffering-enabled": REPS, "non-mpa": REPS}
    # the stream is the RFC's: one packet every 16 ms outside the handover, no duplicates
    # (the mean interval wanders on a loaded machine: 14.6 ms was seen with load 20)
    assert metrics.inter_packet_interval.between(12.0, 20.0).all()
    assert (metrics.duplicates == 0).all()


def test_buffering_at_the_nar_loses_nothing(metrics, events):
    on = metrics.loc["buffering-enabled"]
    assert (on.packet_loss == 0).all(), on.packet_loss
    assert (on.buffered_packets >= 1).all()           # the nAR did hold packets ...
    flushed = [e for e in events if e["node"] == "ar-a" and e["event"] == "buffering_flushed"]
    assert len(flushed) == REPS
    assert {e["attrs"]["reason"] for e in flushed} == {"MN attached"}   # ... until the MN said so
    assert all(e["attrs"]["mn"] == "mn" for e in flushed)


def test_without_buffering_loss_is_limited_to_the_layer2_switch(metrics):
    off = metrics.loc["buffering-disabled"]
    assert off.buffered_packets.isna().all()
    for _, r in off.iterrows():
        bound = math.ceil((r.l2_handoff + r.l3_handoff) / r.inter_packet_interval) + 1
        assert r.packet_loss <= bound, r


def test_non_mpa_loses_what_its_dhcp_dad_authentication_and_binding_update_take(metrics):
    non = metrics.loc["non-mpa"]
    for _, r in non.iterrows():
        # moved, EAP-TLS, DHCP with 3 ARP probes 1 s apart, re-INVITE: all after the move
        assert r.Tdad >= 2900 and r.Teap > 0 and r.Tbu > 0
        assert r.handover_delay >= r["Tassoc+4way"] + r.Tpostsw + r.Tbu - 1
        assert r.packet_loss >= (r.handover_delay / r.inter_packet_interval) * 0.8
    mpa = metrics.loc[["buffering-disabled", "buffering-enabled"]]
    assert non.handover_delay.median() > 10 * mpa.handover_delay.median()


def test_mpa_binding_update_reaches_the_cn_over_the_tunnel_before_the_move(events):
    bu = [e for e in events if e["node"] == "cn" and e["event"] == "binding_update_received"]
    moves = [e for e in events if e["node"] == "mn" and e["event"] == "l2_handoff_start"
             and e["attrs"].get("bssid")]
    assert len(bu) == 3 * REPS
    # per MPA repetition: the CN moved the stream to the nCoA before the MN left its AP
    pre = [e for e in events if e["node"] == "mn" and e["event"] == "pre_switching_start"]
    assert len(pre) == 2 * REPS
    for p in pre:
        before = [b for b in bu if b["mono_ns"] < p["mono_ns"]]
        assert before and before[-1]["attrs"]["media_to"].startswith("10.1.0.")
        assert any(m["mono_ns"] > p["mono_ns"] for m in moves)


def _tshark(pcap: Path, fields: str) -> list[str]:
    r = subprocess.run(["tshark", "-r", str(pcap), "-d", "udp.port==4000,rtp", "-T", "fields",
                        "-e", fields], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return [x for x in r.stdout.splitlines() if x]


@pytest.mark.parametrize("node", ["cn", "mn"])
def test_tshark_dissects_sip_and_rtp_without_malformed_packets(run_dir, node):
    pcap = run_dir / "pcaps" / "intra-domain" / f"{node}.pcap"
    counts = tshark_counts(pcap)
    assert counts["sip"] >= 6 * REPS                            # INVITE/200/ACK, re-INVITE ...
    assert counts["rtp"] > 100
    assert counts["malformed"] == 0, counts
    methods = set(_tshark(pcap, "sip.Method"))
    assert {"INVITE", "ACK", "BYE"} <= methods


def test_report_puts_figure7_beside_the_rfc(run_dir):
    table = (run_dir / "tables" / "fig7_beside_rfc.md").read_text()
    assert "| L2 handoff (ms) |" in table and "| Buffered Packets |" in table
    checks = (run_dir / "tables" / "checks.md").read_text()
    assert "FAIL" not in checks, checks
    for fig in ("fig7_arrivals.png", "fig7_delay.png"):
        assert (run_dir / "figures" / fig).stat().st_size > 10_000, fig
