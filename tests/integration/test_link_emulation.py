"""Link delay on this machine (no netem): the NFQUEUE element, verified at bring-up."""
import statistics
from pathlib import Path

import pytest

from orchestrator.network.build import deploy
from orchestrator.network.impairment import netem_available
from orchestrator.network.nsexec import ping_rtts
from orchestrator.network.state import deployed
from orchestrator.testbed import destroy

HERE = Path(__file__).parent
pytestmark = [pytest.mark.root, pytest.mark.timeout(300)]


def test_50ms_one_way_link_measures_100ms_rtt(tmp_path):
    j = deploy(str(HERE / "topologies/delay50.yaml"), name="t-delay50", results=str(tmp_path))
    try:
        assert j.emulation["mechanism"] == ("netem" if netem_available() else "nfqueue")
        rtts = ping_rtts(j.nodes["r1"]["netns"], "10.6.0.2", count=40, interval=0.05)
        assert len(rtts) == 40
        assert abs(statistics.median(rtts) - 100.0) <= 5.0, rtts
        # and the same link measured at bring-up
        [check] = j.emulation["verification"]
        assert check["ok"] and abs(check["measured_rtt_ms"] - 100.0) <= 11.0
    finally:
        destroy("t-delay50")


@pytest.mark.skipif(netem_available(), reason="netem can delay between switches")
def test_a_delay_that_cannot_be_applied_fails_the_deploy(tmp_path):
    with pytest.raises(RuntimeError, match=r"links\[0\].*needs tc netem"):
        deploy(str(HERE / "topologies/delay-between-switches.yaml"), name="t-delaysw",
               results=str(tmp_path))
    assert "t-delaysw" not in deployed()


def test_a_delay_on_a_host_to_switch_link_counts_both_ways(tmp_path):
    """Egress and ingress of the host are delayed: 30 ms one way -> 60 ms RTT, measured by
    the bring-up check and from the other side (a plain ping's kernel timestamp would miss
    the ingress half at the delayed host: ping_rtts times user to user)."""
    j = deploy(str(HERE / "topologies/delay-host.yaml"), name="t-delayh", results=str(tmp_path))
    try:
        [check] = j.emulation["verification"]
        assert check["ok"] and abs(check["measured_rtt_ms"] - 60.0) <= 7.0, check
        for node, peer in (("aaa", "10.5.0.1"), ("r1", "10.5.0.10")):
            rtts = ping_rtts(j.nodes[node]["netns"], peer, count=20, interval=0.05)
            assert len(rtts) == 20 and abs(statistics.median(rtts) - 60.0) <= 5.0, (node, rtts)
    finally:
        destroy("t-delayh")
