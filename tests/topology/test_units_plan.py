"""Units and the network plan (addresses, routes, APs), without root."""
from pathlib import Path

import pytest

from orchestrator.model import load_topology
from orchestrator.model.plan import AP_AUTH_PORT, AP_UPLINK_PORT, build_plan
from orchestrator.model.units import format_duration, parse_bandwidth, parse_duration, parse_percent

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("text,seconds", [("15ms", 0.015), ("1.5s", 1.5), ("200us", 2e-4),
                                          ("0ms", 0.0), ("2 min", 120.0), ("10 MS", 0.01)])
def test_durations(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["15", 15, "-1ms", "ms", "1.2.3ms", "5 parsecs", True, None])
def test_bad_durations(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_bandwidth_percent_and_format():
    assert parse_bandwidth("1Gbit") == 1000.0 and parse_bandwidth("512kbit") == 0.512
    assert parse_percent("2.5%") == 0.025
    assert format_duration(0.015) == "15ms" and format_duration(2.0) == "2s"


@pytest.fixture(scope="module")
def fig9():
    topo = load_topology(REPO / "topologies/fig9-l2-preauth-roaming.yaml")
    return topo, build_plan(topo)


def test_routes_reach_every_subnet(fig9):
    topo, plan = fig9
    subnets = {str(n.subnet) for n in topo.networks.values()} | {"192.168.100.0/30"}
    for r in (h for h in plan.hosts.values() if h.forwarding):
        direct = {str(i.address.network) for i in r.interfaces}
        assert subnets <= direct | {rt.prefix for rt in r.routes}, r.name
    gw_h = {rt.prefix: rt.via for rt in plan.hosts["gw-h"].routes}
    assert gw_h["10.2.0.0/24"] == "192.168.100.1"
    assert [(rt.prefix, rt.via) for rt in plan.hosts["mn"].routes] == [("default", "10.2.0.1")]
    assert [(rt.prefix, rt.via) for rt in plan.hosts["aaa-h"].routes] == [("default", "10.9.0.1")]


def test_access_points_and_stations(fig9):
    topo, plan = fig9
    assert set(plan.aps) == {"ap0", "ap1", "ap2"}
    assert len({a.bssid for a in plan.aps.values()}) == 3
    assert plan.aps["ap1"].network == "net-a" and plan.aps["ap0"].network == "net-b"
    assert plan.aps["ap1"].association_latency == 0.015                 # from kinds:
    # the AP host's interface carries the BSSID and hangs off the AP switch's auth port
    ap1_if = plan.hosts["ap1"].interfaces[0]
    assert ap1_if.mac == plan.aps["ap1"].bssid and str(ap1_if.address) == "10.1.0.2/24"
    ports = {(l.a.node, l.a.port, l.b.node, l.b.port) for l in plan.links}
    assert ("ap1", AP_UPLINK_PORT, "net-a", 1) in ports
    assert any(l.b.node == "ap1" and l.b.port == AP_AUTH_PORT and l.a.intf == "eth0"
               for l in plan.links)
    assert plan.stations["mn"].identity == "mn@home.example"
    assert plan.stations["mn"].associate == "ap0"


def test_wan_delay_is_on_the_inter_domain_link(fig9):
    _, plan = fig9
    delayed = [l for l in plan.links if l.params.delay]
    assert [(l.a.node, l.b.node, l.params.delay) for l in delayed] == [("gw-v", "gw-h", 0.025)]


def test_inheritance_defaults_kind_node(tmp_path):
    text = (REPO / "tests/topology/valid/minimal.yaml").read_text()
    text = text.replace("name: minimal", "name: minimal\ndefaults:\n  node: {association_latency: 3ms, "
                        "link_down_detection: 2ms}\n  link: {delay: 1ms}\nkinds:\n  access_point: "
                        "{association_latency: 7ms}")
    text = text.replace("{kind: access_point, domain: home}",
                        "{kind: access_point, domain: home, association_latency: 9ms}")
    text = text.replace("{kind: aaa_server, domain: home}", "{kind: aaa_server, domain: home}\n"
                        "  ap2: {kind: access_point, domain: home}")
    text += "  - {endpoints: [ap2, lan], addresses: {ap2: 10.1.0.3}, delay: 0ms}\n"
    p = tmp_path / "t.yaml"
    p.write_text(text)
    t = load_topology(p)
    assert t.nodes["ap"].association_latency == 0.009       # node wins
    assert t.nodes["ap2"].association_latency == 0.007      # kind beats defaults
    assert t.nodes["mn"].link_down_detection == 0.002       # defaults
    assert t.links[0].delay == 0.001 and t.links[-1].delay == 0.0
