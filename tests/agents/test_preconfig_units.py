"""Pre-configuration pieces that need neither root nor a network (issue 6): what the
information server answers, the CTN records and charon settings derived from fig1 and the
three-CTN test topology, the MN's IKEv2 connection, the nAR's DHCP filter match and the
rendered strongSwan configurations."""
from pathlib import Path

import pytest

from orchestrator.agents.discovery import answer
from orchestrator.agents.preconfig import _ike_failure, mn_connection
from orchestrator.agents.tunnel import _in_ranges, _sta_of, _u32_for_chaddr
from orchestrator.deploy import ctn
from orchestrator.deploy.context import CONTEXTS, Facts, agent_config, pki_names
from orchestrator.deploy.images import DEFAULT_IMAGE_DIR, load_image, render_image
from orchestrator.deploy.pki import Pki
from orchestrator.deploy.secrets import Secrets
from orchestrator.model import load_topology
from orchestrator.model.plan import build_plan
from orchestrator.protocols.checksum import internet_checksum

REPO = Path(__file__).resolve().parents[2]
FIG1 = REPO / "topologies/fig1-inter-domain.yaml"
THREE = REPO / "tests/integration/topologies/three-ctn.yaml"
FIG9 = REPO / "topologies/fig9-l2-preauth-roaming.yaml"


@pytest.fixture(scope="module")
def facts(tmp_path_factory):
    def make(path):
        tmp = tmp_path_factory.mktemp("ctx")
        topo = load_topology(path)
        plan = build_plan(topo)
        pki = Pki.ensure(tmp / "pki", "test CA", *pki_names(topo))
        return Facts(topo, plan, pki, Secrets(tmp / "secrets.json"),
                     {n: f"ns-{n}" for n in plan.hosts}, tmp / "run")
    return make


def test_information_server_describes_each_access_network(facts):
    f = facts(FIG1)
    nets = {n["name"]: n for n in ctn.information_server_config(f)["networks"]}
    assert set(nets) == {"acc-a", "acc-b"}
    a = nets["acc-a"]
    assert a["domain"] == "dom-a" and a["subnet"] == "10.1.0.0/24" and a["router"] == "10.1.0.1"
    assert a["paas"] == [{"node": "aa-a", "address": "10.1.0.5"}]
    assert a["cas"] == [{"node": "ca-a", "address": "10.1.0.6"}]
    [ar] = a["ars"]
    assert ar["node"] == "ar-a" and ar["address"] == "10.1.0.1"
    assert (ar["ike_id_cp"], ar["ike_id_pht"]) == ("cp.ar-a.a.example", "pht.ar-a.a.example")
    assert [ap["name"] for ap in a["aps"]] == ["ap-a"]
    macs = {i.name: i.mac for i in f.plan.hosts["ca-a"].interfaces}
    assert {"node": "ca-a", "address": "10.1.0.6", "mac": macs["eth0"]} in a["arp"]   # App. B
    assert {e["node"] for e in a["arp"]} == {"ar-a", "aa-a", "ca-a"}


def test_the_server_leaves_out_the_querying_mns_own_network(facts):
    nets = ctn.information_server_config(facts(THREE))["networks"]
    reply = answer(nets, {"type": "query", "id": 3, "mn": "mn", "address": "10.2.0.100"})
    assert reply["id"] == 3 and [c["name"] for c in reply["ctns"]] == ["acc-a", "acc-c"]
    assert answer(nets, {"type": "nope", "id": 4})["type"] == "error"
    assert "bad address" in answer(nets, {"type": "query", "address": "x"})["reason"]


def test_agent_settings_for_mn_ar_and_is(facts, tmp_path):
    f = facts(FIG1)
    mn = agent_config(f, "mn", tmp_path / "mn")
    mac = f.plan.stations["mn"].mac
    assert mn["mac"] == mac and mn["ike"]["id"] == mac.replace(":", "") + ".sta.mpa"
    assert mn["ike"]["vici"] == str(tmp_path / "mn/ikev2-strongswan-mn/run/charon.vici")
    assert mn["information_server"] == {"node": "is", "address": "10.0.0.30", "port": 4551}
    ar = agent_config(f, "ar-a", tmp_path / "ar-a")
    assert ar["ctn"]["network"] == "acc-a" and ar["ctn"]["iface"] == "eth0"
    assert ar["ctn"]["ca"] == "10.1.0.6" and not ar["ctn"]["ca_local"]
    assert ar["ctn"]["pool"] == [["10.1.0.100", "10.1.0.199"]] and ar["ctn"]["own_pool"] == []
    assert agent_config(f, "is")["info_port"] == 4551


def test_colocated_dhcp_server_makes_the_ar_use_its_own_pool(facts):
    f = facts(FIG9)
    c = ctn.ar_ctn(f, "nar")
    assert c["ca"] is None and c["ca_local"]
    assert c["own_pool"] == [["10.1.0.200", "10.1.0.249"]]
    ctx = ctn.ikev2_context(f, "nar")
    assert ctx["dhcp_relays"] == [] and ctx["ctn_services"][0]["ike_pools"] == "ctn"
    assert ctx["address_pools"] == [{"pool_name": "ctn", "pool_addrs": "10.1.0.200-10.1.0.249"}]


def _render(f, node, image, tmp_path):
    img = load_image(image, [DEFAULT_IMAGE_DIR])
    ctx = CONTEXTS[img.spec.context](f, node, tmp_path / node / image)
    render_image(img, ctx, tmp_path / node / image)
    return tmp_path / node / image


def test_rendered_strongswan_of_the_ar_relays_dhcp_and_has_both_psk_connections(facts, tmp_path):
    d = _render(facts(FIG1), "ar-a", "ikev2-strongswan", tmp_path)
    conf = (d / "run/strongswan.conf").read_text()
    assert "kdf kernel-libipsec kernel-netlink" in conf and " dhcp\n" in conf
    assert "server = 10.1.0.6" in conf and "use_server_port = yes" in conf
    sw = (d / "swanctl/swanctl.conf").read_text()
    assert "mpa-tunnel {" in sw and "mpa-cp {" in sw and "mpa-pht {" in sw
    assert "pools = dhcp" in sw and "id = cp.ar-a.a.example" in sw
    assert "remote_ts = 10.1.0.0/24" in sw and "id = *.sta.mpa" in sw
    assert "{{" not in sw + conf
    d9 = _render(facts(FIG9), "nar", "ikev2-strongswan", tmp_path)
    sw9 = (d9 / "swanctl/swanctl.conf").read_text()
    assert "pools = ctn" in sw9 and "addrs = 10.1.0.200-10.1.0.249" in sw9
    assert "server =" not in (d9 / "run/strongswan.conf").read_text()


def test_rendered_strongswan_of_the_mn(facts, tmp_path):
    d = _render(facts(FIG1), "mn", "ikev2-strongswan-mn", tmp_path)
    conf = (d / "run/strongswan.conf").read_text()
    assert "routing_table_prio = 40000" in conf and "kernel-libipsec kernel-netlink" in conf


def test_mn_connection_with_configuration_payload_or_known_ncoa():
    cp = mn_connection("10.2.0.100", "10.1.0.1", "02aa.sta.mpa", "cp.ar-a.a.example", None, 60)
    assert cp["vips"] == ["0.0.0.0"] and cp["local_addrs"] == ["10.2.0.100"]
    assert cp["children"]["pht"]["local_ts"] == ["dynamic"]
    assert cp["children"]["pht"]["remote_ts"] == ["0.0.0.0/0"]
    assert cp["local"] == {"auth": "psk", "id": "02aa.sta.mpa"}
    assert cp["children"]["pht"]["life_time"] == "90" and cp["rekey_time"] == "0"
    pht = mn_connection("10.2.0.100", "10.1.0.1", "02aa.sta.mpa", "pht.x", "10.1.0.177", 60)
    assert "vips" not in pht and pht["children"]["pht"]["local_ts"] == ["10.1.0.177/32"]


def test_dhcp_filter_matches_the_client_hardware_address():
    # chaddr is UDP payload octets 28-33: IP header length + 8 (UDP) + 28 = +36
    assert _u32_for_chaddr("02:43:c6:91:c9:0a") == \
        "0>>22&0x3C@36=0x0243c691&&0>>22&0x3C@40>>16=0xc90a"


def test_small_helpers():
    assert _sta_of("0243c691c90a.sta.mpa") == "02:43:c6:91:c9:0a"
    assert _sta_of("cp.ar-a.a.example") is None and _sta_of("zz43c691c90a.sta.mpa") is None
    from ipaddress import IPv4Address
    assert _in_ranges(IPv4Address("10.1.0.150"), [["10.1.0.100", "10.1.0.199"]])
    assert not _in_ranges(IPv4Address("10.1.0.6"), [["10.1.0.100", "10.1.0.199"]])
    # RFC 1071 example: 0001 f203 f4f5 f6f7 -> checksum ~0xddf2 = 0x220d
    assert internet_checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D
    lines = ["sending packet", "received AUTHENTICATION_FAILED notify error"]
    assert "AUTHENTICATION_FAILED" in _ike_failure("establishing CHILD_SA 'pht' failed", lines)


def test_information_server_answers_on_udp(tmp_path):
    from orchestrator.agents.discovery import InformationServer, query
    from orchestrator.events import EventLog
    nets = [{"name": "acc-a", "subnet": "10.1.0.0/24"}, {"name": "acc-b", "subnet": "10.2.0.0/24"}]
    log = EventLog(tmp_path / "is.jsonl", "is", "information-server")
    server = InformationServer("127.0.0.1", 0, nets, log).start()
    try:
        reply = query(server.sock.getsockname(), "mn", "10.2.0.100", timeout=2.0)
        assert [c["name"] for c in reply["ctns"]] == ["acc-a"]
    finally:
        server.stop()
    assert '"discovery_answered"' in (tmp_path / "is.jsonl").read_text()


def test_vici_client_hands_interleaved_events_to_the_callback(tmp_path):
    """A stand-in charon on a Unix socket: an event arrives before the command's answer."""
    import socket
    import struct
    import threading
    from orchestrator.agents.ike import Vici
    from orchestrator.protocols import vici
    path = str(tmp_path / "charon.vici")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    got = {}

    def charon():
        conn, _ = srv.accept()
        (n,) = struct.unpack("!I", conn.recv(4))
        got["request"] = vici.decode_packet(conn.recv(n))
        conn.sendall(vici.encode_packet(vici.EVENT, "control-log", {"msg": "sending packet"})
                     + vici.encode_packet(vici.CMD_RESPONSE, None, {"success": "yes"}))
        conn.close()

    th = threading.Thread(target=charon)
    th.start()
    events = []
    v = Vici(path, timeout=2)
    reply = v.request("initiate", {"ike": "mpa-acc-a", "child": "pht"},
                      lambda name, msg, t: events.append((name, msg["msg"], t > 0)))
    v.close()
    th.join(2)
    srv.close()
    assert got["request"] == (vici.CMD_REQUEST, "initiate", {"ike": b"mpa-acc-a", "child": b"pht"})
    assert events == [("control-log", "sending packet", True)] and reply == {"success": "yes"}
