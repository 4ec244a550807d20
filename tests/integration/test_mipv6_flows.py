"""Issue 14's runner flows on a topology written for the test (tests/integration/experiments/
mipv6-small.yaml): the non-MPA Mobile IPv6 handover (move, RS/RA, the kernel's SLAAC and
DAD, BU to the HA, with route optimization RR and BU to the CN after the move) and MPA with
Mobile IPv6 (pre-authentication, nCoA with the nAR's proactive DAD, the proactive handover
tunnel over IPv6, the BUs through it, buffering at the nAR flushed by the MN's unsolicited
NA), run by the real runner; the run's captures dissected by tshark as Mobile IPv6."""
import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from orchestrator.events import vocabulary_problems
from tests.support.runs import run_experiment

EXPERIMENT = "tests/integration/experiments/mipv6-small.yaml"
pytestmark = [pytest.mark.root, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return run_experiment(tmp_path_factory.mktemp("results"), EXPERIMENT, "mipv6-small")


@pytest.fixture(scope="module")
def records(run_dir):
    return pd.read_parquet(run_dir / "records.parquet")


def values(records, scenario, phase):
    return records[(records.scenario == scenario) & (records.phase == phase)].value.tolist()


def test_every_handover_is_measured(records):
    assert (records.status == "ok").all(), records[records.status != "ok"].error.tolist()
    assert records.groupby("scenario").repetition.nunique().to_dict() == {
        "non-mpa": 2, "non-mpa-ro": 2, "mpa": 2, "mpa-buffering-ro": 2}


def test_the_non_mpa_handover_configures_its_address_after_the_move(records):
    for scenario in ("non-mpa", "non-mpa-ro"):
        # the kernel's DAD of the autoconfigured address and the BU come after the move:
        # the stream is lost meanwhile
        assert all(v > 0 for v in values(records, scenario, "packet_loss"))
        assert values(records, scenario, "Tdad") and values(records, scenario, "Tbu")
        for taddr, delay in zip(values(records, scenario, "Taddr"),
                                values(records, scenario, "handover_delay")):
            assert delay > taddr


def test_mpa_with_buffering_loses_nothing(records):
    assert values(records, "mpa-buffering-ro", "packet_loss") == [0, 0]
    assert all(v >= 1 for v in values(records, "mpa-buffering-ro", "buffered_packets"))
    assert values(records, "mpa-buffering-ro", "buffering_period") == [1000.0, 1000.0]
    for scenario in ("mpa", "mpa-buffering-ro"):
        assert values(records, scenario, "Tpresw") and values(records, scenario, "Tpostsw")
        assert not values(records, scenario, "Tdad")          # the nAR's DAD, before


def test_the_events_tell_every_step(run_dir):
    evs = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    assert vocabulary_problems(evs) == []
    names = {(e["node"], e["event"]) for e in evs}
    for step in [("gate2", "dad_start"), ("gate2", "pht_established"),
                 ("gate2", "pht_disabled"), ("gate2", "buffering_start"),
                 ("gate2", "buffering_flushed"), ("rover", "pht_setup_start"),
                 ("rover", "pre_switching_done"), ("rover", "post_switching_done"),
                 ("anchor", "mipv6_bu_processed"), ("buddy", "mipv6_bu_processed"),
                 ("gate2", "router_solicitation_received")]:
        assert step in names, step
    flushed = [e for e in evs if e["event"] == "buffering_flushed"]
    # the MN's unsolicited NA ended every buffering (the 1 s period is only a cap)
    assert [(e["attrs"]["mn"], e["attrs"]["reason"]) for e in flushed] == [("rover", "attached")] * 2


def test_tshark_dissects_the_mobile_ipv6_of_the_run(run_dir):
    if shutil.which("tshark") is None:
        pytest.skip("tshark not installed")
    pcaps = sorted((run_dir / "pcaps").rglob("*.pcap"))
    assert pcaps
    types, hao, rh2, tunnelled = set(), 0, 0, 0
    for pcap in pcaps:
        assert tshark(pcap, "-Y", "_ws.malformed || _ws.expert.severity >= error") == [], pcap
        types |= {int(t) for t in tshark(pcap, "-Y", "mipv6", "-T", "fields", "-e",
                                         "mip6.mhtype")}
        hao += len(tshark(pcap, "-Y", "ipv6.opt.mipv6.home_address"))
        rh2 += len(tshark(pcap, "-Y", "ipv6.routing.type == 2"))
        tunnelled += len(tshark(pcap, "-Y", "ipv6.nxt == 41"))
    assert {1, 2, 3, 4, 5, 6} <= types, types          # HoTI CoTI HoT CoT BU BA
    assert hao and rh2 and tunnelled


def tshark(pcap: Path, *args: str) -> list[str]:
    out = subprocess.run(["tshark", "-n", "-r", str(pcap), *args], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return [line for line in out.stdout.splitlines() if line.strip()]
