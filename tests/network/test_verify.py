"""The bring-up RTT check: pass within 10% + 1 ms, fail with a clear message outside."""
from types import SimpleNamespace

import pytest

from orchestrator.model import load_topology_text
from orchestrator.model.plan import build_plan
from orchestrator.network import impairments

TOPO = """
name: v
domains: {d: {realm: d.example, aaa_server: aaa}}
networks: {lan: {domain: d, subnet: 10.5.0.0/24}}
nodes:
  r1: {kind: router, domain: d}
  r2: {kind: router, domain: d}
  aaa: {kind: aaa_server, domain: d}
links:
  - {endpoints: [aaa, lan], addresses: {aaa: 10.5.0.10}}
  - {endpoints: [r1, lan], addresses: {r1: 10.5.0.1}, delay: 10ms}
  - {endpoints: [r1, r2], addresses: {r1: 10.6.0.1/30, r2: 10.6.0.2/30}, delay: 50ms}
"""


@pytest.fixture
def plan():
    return build_plan(load_topology_text(TOPO))


def _journal(plan):
    return SimpleNamespace(nodes={h: {"netns": f"ns-{h}"} for h in plan.hosts})


@pytest.mark.parametrize("measured,ok", [(100.4, True), (110.9, True), (89.2, True),
                                         (111.2, False), (88.8, False), (None, False)])
def test_tolerance(plan, monkeypatch, measured, ok):
    def fake_ping(netns, addr, count, interval, timeout=2.0):
        if addr == "10.6.0.2":
            return [] if measured is None else [measured] * count
        return [20.0] * count
    monkeypatch.setattr(impairments, "ping_rtts", fake_ping)
    report = impairments.verify(plan, _journal(plan), lambda s: None)
    by_link = {r["link"]: r for r in report}
    assert by_link["links[2]"]["ok"] is ok
    assert by_link["links[2]"]["expected_rtt_ms"] == 100.0
    # host-to-network link: measured against another host of the network
    assert by_link["links[1]"]["to"] == "aaa" and by_link["links[1]"]["expected_rtt_ms"] == 20.0
    if not ok:
        assert "configured 50 ms one-way -> expected RTT 100.0 ms" in by_link["links[2]"]["message"]
