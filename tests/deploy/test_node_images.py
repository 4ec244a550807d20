"""Node images without a network: image.yaml validation, the template renderer, the
contexts drawn from fig9/fig1, and the daemons' own checks on the rendered configs."""
import shutil
import subprocess
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from orchestrator.deploy.context import CONTEXTS, Facts, pki_names, pool_ranges
from orchestrator.deploy.images import (DEFAULT_IMAGE_DIR, ImageError, image_path, load_image,
                                        render_argv, render_image, render_text)
from orchestrator.deploy.lifecycle import daemon_says, images_for
from orchestrator.deploy.pki import Pki
from orchestrator.deploy.secrets import Secrets
from orchestrator.model import load_topology, load_topology_text
from orchestrator.model.plan import build_plan

REPO = Path(__file__).resolve().parents[2]
SHIPPED = ["aaa-freeradius", "dhcp-dnsmasq", "ikev2-strongswan", "ikev2-strongswan-mn"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_images_load(name):
    image = load_image(name)
    assert image.folder == DEFAULT_IMAGE_DIR / name
    assert image.spec.start and image.spec.ready.timeout > 0


def _image(tmp_path, text: str, templates=("a.conf",)) -> Path:
    folder = tmp_path / "imgs" / "x"
    folder.mkdir(parents=True)
    (folder / "image.yaml").write_text(text)
    for t in templates:
        (folder / t).write_text("value={{ node }}\n")
    return tmp_path / "imgs"


def test_unknown_key_is_reported_with_file_line_and_suggestion(tmp_path):
    path = _image(tmp_path, "daemon: x\nstart: [x]\nredy: {log: up}\n")
    with pytest.raises(ImageError) as err:
        load_image("x", [path])
    assert str(err.value).splitlines() == [
        f"{path}/x/image.yaml:1:1: missing required key 'ready'",
        f"{path}/x/image.yaml:3:1: redy: unknown key 'redy' (did you mean 'ready'?)"]


def test_ready_needs_a_condition_and_a_file_needs_one_source(tmp_path):
    path = _image(tmp_path, "daemon: x\nstart: [x]\nready: {timeout: 1s}\n"
                            "files:\n  - {to: a, template: a.conf, copy: /etc/hostname}\n")
    with pytest.raises(ImageError) as err:
        load_image("x", [path])
    text = str(err.value)
    assert "image.yaml:3:8: ready: give at least one of 'log', 'port' or 'file'" in text
    assert "image.yaml:5:5: files[0]: give exactly one of 'template' or 'copy'" in text


def test_missing_template_and_unknown_image(tmp_path):
    path = _image(tmp_path, "daemon: x\nstart: [x]\nready: {log: up}\n"
                            "files:\n  - {to: a, template: nope.conf}\n")
    with pytest.raises(ImageError, match=r"image.yaml:5:\d+: files\[0\].template: template "
                                         r"'nope.conf' not found"):
        load_image("x", [path])
    with pytest.raises(ImageError, match=r"no image 'aaa-freeradios' \(did you mean "
                                         r"'aaa-freeradius'\?\)"):
        load_image("aaa-freeradios")


def test_renderer_names_file_and_line_of_an_unknown_variable():
    assert render_text("a {{ x }} ${y} %{z}", {"x": 1}, "t") == "a 1 ${y} %{z}"
    with pytest.raises(ImageError) as err:
        render_text("ok\nsecret = {{ secert }}\n", {"secret": "s", "node": "n"}, "clients.conf")
    assert str(err.value).startswith("clients.conf:2:10: unknown template variable 'secert' "
                                     "(did you mean 'secret'?)")


def test_a_socket_path_longer_than_a_unix_address_is_refused_at_rendering(tmp_path):
    """strongSwan's VICI socket lives under the node's image directory: a long testbed name
    used to make charon fail at start, far from the cause."""
    from orchestrator.deploy.images import SUN_PATH_MAX, check_unix_sockets
    image = load_image("ikev2-strongswan")
    conf = (image.folder / "strongswan.conf").read_text()
    assert "unix://{{ dir }}/run/charon.vici" in conf      # what the check guards
    short, long = tmp_path / "tb" / "ar", tmp_path / ("t" * 80) / "ar"
    check_unix_sockets(conf.replace("{{ dir }}", str(short)), "strongswan.conf")
    with pytest.raises(ImageError, match=r"^strongswan\.conf:\d+:\d+: socket path .* more than "
                                         rf"a Unix socket address holds \({SUN_PATH_MAX}\): give "
                                         "the testbed a shorter name"):
        check_unix_sockets(conf.replace("{{ dir }}", str(long)), "strongswan.conf")


def test_image_path_env_comes_first(tmp_path, monkeypatch):
    monkeypatch.setenv("MPA_IMAGE_PATH", str(tmp_path))
    assert image_path() == [tmp_path, DEFAULT_IMAGE_DIR]


def test_pool_leaves_static_addresses_out():
    net = IPv4Network("10.2.0.0/24")
    static = {IPv4Address("10.2.0.100"), IPv4Address("10.2.0.150")}
    assert pool_ranges(net, static) == [
        (IPv4Address("10.2.0.101"), IPv4Address("10.2.0.149")),
        (IPv4Address("10.2.0.151"), IPv4Address("10.2.0.199"))]
    assert pool_ranges(IPv4Network("10.3.0.0/28"), set()) == [
        (IPv4Address("10.3.0.8"), IPv4Address("10.3.0.14"))]


def test_node_to_image_mapping_fig9():
    topo = load_topology(REPO / "topologies/fig9-l2-preauth-roaming.yaml")
    path = [DEFAULT_IMAGE_DIR]
    got = {n: set(images_for(topo, n, path)) - {"mpa-agent"} for n in topo.nodes}
    assert got["aaa-h"] == got["aaa-v"] == {"aaa-freeradius"}
    assert got["nar"] == got["par"] == {"ikev2-strongswan", "dhcp-dnsmasq"}
    assert got["mn"] == {"ikev2-strongswan-mn"}
    assert got["ap0"] == got["gw-v"] == set()


@pytest.mark.parametrize("flow", ["sip-mpa", "switch-back", "movement"])
def test_flows_that_preconfigure_with_the_tunnel_get_the_mns_charon(flow):
    """`preconfigure` needs the MN's charon (the proactive handover tunnel's end): a testbed
    deployed for these flows starts it (a merge once left switch-back and movement without
    it: every repetition of `make c1` failed 'no charon on this MN')."""
    topo = load_topology(REPO / "topologies/fig9-l2-preauth-roaming.yaml")
    assert "ikev2-strongswan-mn" in images_for(topo, "mn", [DEFAULT_IMAGE_DIR], [flow])
    assert "ikev2-strongswan-mn" not in images_for(topo, "mn", [DEFAULT_IMAGE_DIR],
                                                   ["dot11i-post-authentication"])


def test_daemon_says_picks_the_complaint():
    out = "banner\nincluding x\n/x/eap.conf[31]: EOF reached without closing brace\nbye\n"
    assert daemon_says(out) == "    /x/eap.conf[31]: EOF reached without closing brace"
    assert daemon_says("a\nb\n") == "    a\n    b"


def _render_all(tmp_path, topology):
    topo = load_topology(REPO / "topologies" / topology)
    plan = build_plan(topo)
    pki = Pki.ensure(tmp_path / "pki", "test CA", *pki_names(topo))
    facts = Facts(topo, plan, pki, Secrets(tmp_path / "secrets.json"),
                  {n: f"ns-{n}" for n in plan.hosts}, tmp_path / "run")
    out = {}
    for node in plan.hosts:
        for name in images_for(topo, node, [DEFAULT_IMAGE_DIR]):
            if name == "mpa-agent":
                continue
            image = load_image(name, [DEFAULT_IMAGE_DIR])
            dest = tmp_path / "nodes" / node / name
            ctx = CONTEXTS[image.spec.context](facts, node, dest)
            render_image(image, ctx, dest)
            out[(node, name)] = (image, ctx, dest)
    return facts, out


@pytest.mark.parametrize("topology", ["fig9-l2-preauth-roaming.yaml", "fig1-inter-domain.yaml",
                                      "c52-wlan-cellular.yaml", "c6-corridor.yaml"])
def test_rendered_configs_pass_the_daemons_own_checks(tmp_path, topology):
    _, units = _render_all(tmp_path, topology)
    checked = 0
    for (node, name), (image, ctx, dest) in units.items():
        if not image.spec.check or shutil.which(image.spec.check[0]) is None:
            continue
        r = subprocess.run(render_argv(image.spec.check, ctx, "t"), capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0, f"{node}/{name}: {r.stdout[-2000:]}{r.stderr[-2000:]}"
        checked += 1
    if checked == 0:
        pytest.skip("neither freeradius nor dnsmasq is installed")


def test_visited_aaa_proxies_the_home_realm_with_the_home_servers_secret(tmp_path):
    facts, units = _render_all(tmp_path, "fig9-l2-preauth-roaming.yaml")
    _, v_ctx, v_dir = units[("aaa-v", "aaa-freeradius")]
    _, h_ctx, h_dir = units[("aaa-h", "aaa-freeradius")]
    [proxied] = [p for p in v_ctx["proxied_realms"] if p["realm"] == "home.example"]
    assert proxied["home_server"] == "aaa-h" and proxied["home_address"] == "10.9.0.10"
    [client] = [c for c in h_ctx["radius_clients"] if c["client"] == "aaa-v"]
    assert client["client_address"] == "10.0.0.10"
    assert client["secret"] == proxied["home_secret"] and len(client["secret"]) == 32
    assert "realm home.example {\n\tauth_pool = aaa-h\n\tnostrip" in (v_dir / "proxy.conf").read_text()
    # clients of the visited AAA: its APs and the PAA (both nAR addresses), each with a secret
    v_clients = {c["client_name"] for c in v_ctx["radius_clients"]}
    assert {"ap0-eth0", "ap1-eth0", "ap2-eth0", "nar-eth0", "nar-eth1", "aaa-h-eth0"} == v_clients
    secrets = {c["client"]: c["secret"] for c in v_ctx["radius_clients"]}
    assert len(set(secrets.values())) == len(secrets)          # one secret per client pair
    assert oct((v_dir / "clients.conf").stat().st_mode & 0o777) == "0o600"


def test_stop_images_by_pid_escalates_to_sigkill(tmp_path):
    """stop_images sends the image's stop signal to the recorded PID, then SIGKILL after
    the grace time (a daemon that ignores SIGTERM)."""
    import sys
    from orchestrator.deploy.lifecycle import stop_images
    from orchestrator.network.state import Journal, proc_start_time
    stubborn = subprocess.Popen([sys.executable, "-c", "import signal, time; "
                                 "signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); "
                                 "time.sleep(30)"], stdout=subprocess.PIPE, text=True)
    polite = subprocess.Popen(["sleep", "30"])
    assert stubborn.stdout.readline().strip() == "up"
    recs = {name: {"pid": p.pid, "start": proc_start_time(p.pid), "stop_signal": "TERM",
                   "stop_grace": 0.3}
            for name, p in (("stubborn", stubborn), ("polite", polite))}
    j = Journal(name="x", prefix="x", topology_file="", run_dir=str(tmp_path),
                nodes={"n": {"images": recs}})
    try:
        assert sorted(stop_images(j)) == [f"polite on n (pid {polite.pid})",
                                          f"stubborn on n (pid {stubborn.pid})"]
        assert polite.wait(2) == -15 and stubborn.wait(2) == -9
        assert stop_images(j) == []                       # nothing left to stop
    finally:
        for p in (stubborn, polite):
            if p.poll() is None:
                p.kill()


def test_cellular_chap_user_gateway_client_and_agent_configs(tmp_path):
    """C.5.2 (issue 15): the MN's home AAA holds its CHAP password (users file, the `chap`
    module), the cellular domain's AAA takes the packet data gateway as a RADIUS client,
    and the MN and the gateway get the same secret and the AAA server's address."""
    from orchestrator.deploy.context import agent_config
    facts, units = _render_all(tmp_path, "c52-wlan-cellular.yaml")
    _, w_ctx, w_dir = units[("aaa-w", "aaa-freeradius")]
    _, c_ctx, c_dir = units[("aaa-c", "aaa-freeradius")]
    [user] = w_ctx["chap_users"]
    assert user["identity"] == "mn@wlan.example" and len(user["password"]) == 32
    assert f'"mn@wlan.example" Cleartext-Password := "{user["password"]}"' in \
        (w_dir / "users").read_text()
    assert oct((w_dir / "users").stat().st_mode & 0o777) == "0o600"
    assert c_ctx["chap_users"] == []                   # the visited AAA proxies the realm
    assert "Auth-Type CHAP {\n\t\t\tchap" in (c_dir / "radiusd.conf").read_text()
    [client] = [c for c in c_ctx["radius_clients"] if c["client"] == "pdsn"
                and c["client_address"] == "10.29.0.1"]
    assert "packet data gateway" in client["what"]
    mn = agent_config(facts, "mn")["cellular"]
    assert mn == {"cdma0": {"identity": "mn@wlan.example", "secret": user["password"],
                            "base_station": "bs", "attach_latency": 0.0,
                            "activation_latency": 0.0, "link_down_detection": 0.001}}
    gw = agent_config(facts, "pdsn")
    assert (gw["pdg_iface"], gw["pdg_local"], gw["pdg_pool"], gw["pdg_reserved"]) == \
        ("eth0", "10.20.0.1", "10.20.0.0/24", ["10.20.0.1"])
    assert gw["pdg_radius"]["server"] == "10.29.0.10"
    assert gw["pdg_radius"]["secret"] == client["secret"]


def test_the_cellular_paa_pre_authorizes_the_gateway_through_the_wlan(tmp_path):
    """C.5.2, RFC 6252 s7.6.2 (issue 15): the PAA co-located with the PDSN installs the CHAP
    secret in the gateway (its own key installation port and shared secret), bound to the
    gateway's MAC on the base station's network, for the MN's cellular interface's MAC; the
    MN knows which gateway a pre-authentication with that PAA serves, and reaches the PAA at
    an address routed through the WLAN (its address on the cellular domain's networks)."""
    from orchestrator.deploy.context import agent_config
    facts, _ = _render_all(tmp_path, "c52-wlan-cellular.yaml")
    pdsn, mn = agent_config(facts, "pdsn"), agent_config(facts, "mn")
    gw_if = next(i for i in facts.plan.hosts["pdsn"].interfaces if i.network == "cell-net")
    cdma = next(i for i in facts.plan.hosts["mn"].interfaces if i.name == "cdma0")
    [target] = pdsn["ctn_pdgs"]
    assert target == {"name": "pdsn", "address": "10.20.0.1", "port": 7013,
                      "secret": target["secret"], "target_id": gw_if.mac}
    assert pdsn["pdg_keyinstall_id"] == gw_if.mac and pdsn["pdg_keyinstall_port"] == 7013
    assert set(pdsn["pdg_keyinstall_peers"].values()) == {target["secret"]}
    assert "10.20.0.1" in pdsn["pdg_keyinstall_peers"]
    assert pdsn["keyinstall_port"] != pdsn["pdg_keyinstall_port"]   # the AR's own server
    assert pdsn["cellular_stations"] == {"mn@wlan.example": cdma.mac}
    assert pdsn["paa_radius"]["server"] == "10.29.0.10"           # AAA_V, proxying to AAA_H
    assert mn["paas"]["pdsn"] == "10.20.0.1"
    assert mn["paa_pdgs"] == {"pdsn": [{"iface": "cdma0", "gateway": "pdsn",
                                         "target_id": gw_if.mac, "address": "10.20.0.1",
                                         "address_port": pdsn["pdg_address_port"],
                                         "tunnel_end": {"node": "pdsn", "address": "10.29.0.1",
                                                        "ike_id_pht": "pht.pdsn.cell.example"}}]}
    assert pdsn["pdg_address_port"] not in (pdsn["keyinstall_port"],
                                            pdsn["pdg_keyinstall_port"])


def test_the_cellular_network_has_a_proactive_handover_tunnel_end(tmp_path):
    """C.5.2, RFC 6252 s7.4 (issue 15): the access router on the base station's network (found
    by role, not by name) ends proactive handover tunnels into it: the PAA installs the MN-AR
    key there as in a WLAN CTN, its charon has the tunnel connection for that network (no
    configuration payload: the inner address is the one the gateway reserved), its agent
    knows the network as cellular (the gateway's pool; no DHCP, DAD or proxy ARP), and the
    MN's tunnel goes to its address off the radio network (the data session's host route to
    the radio-network address must not carry the tunnel before the switch)."""
    from orchestrator.deploy import ctn
    from orchestrator.deploy.context import agent_config
    from orchestrator.deploy.lifecycle import images_for
    facts, _ = _render_all(tmp_path, "c52-wlan-cellular.yaml")
    pdsn = agent_config(facts, "pdsn")
    gw_if = next(i for i in facts.plan.hosts["pdsn"].interfaces if i.network == "cell-net")
    [ar] = pdsn["ctn_ars"]
    assert ar["name"] == "pdsn" and ar["port"] == pdsn["keyinstall_port"] == 7011
    assert ar["target_id"] == pdsn["keyinstall_id"] == gw_if.mac
    c = pdsn["ctn"]
    assert (c["kind"], c["network"], c["iface"], c["ca"], c["outer"]) == (
        "cellular", "cell-net", gw_if.name, None, "10.29.0.1")
    assert c["pool"] == [["10.20.0.2", "10.20.0.254"]]       # all but the gateway's own
    assert "station_nodes" in pdsn and pdsn["station_nodes"] != pdsn["stations"]
    wlan = facts.plan.stations["mn"].mac
    cdma = next(i.mac for i in facts.plan.hosts["mn"].interfaces if i.name == "cdma0")
    assert pdsn["cellular_macs"] == {wlan: [cdma]}       # whose reservation the tunnel carries
    ike = ctn.ikev2_context(facts, "pdsn")
    assert ike["ctn_services"] == [] and ike["dhcp_relays"] == [] and ike["address_pools"] == []
    [pht] = ike["pht_services"]
    assert pht["ctn_subnet"] == "10.20.0.0/24" and pht["ike_id_pht"] == "pht.pdsn.cell.example"
    conf = next(tmp_path.rglob("pdsn/ikev2-strongswan/swanctl/swanctl.conf")).read_text()
    assert "mpa-pht {" in conf and "remote_ts = 10.20.0.0/24" in conf and "mpa-cp {" not in conf
    # a WLAN CTN's access router keeps both connections
    assert ctn.ar_ctn(facts, "ar-w") is None or ctn.ar_ctn(facts, "ar-w")["kind"] == "access"
    # the MN's charon (the tunnel's other end) runs for the C.5.2 MPA flows
    path = [REPO / "node_images"]
    for flows, runs in ((["c52-mpa-both-up"], True), (["c52-mpa-activate-at-handover"], True),
                        (["c52-reactive"], False)):
        assert ("ikev2-strongswan-mn" in images_for(facts.topo, "mn", path, flows)) is runs


def test_a_dhcp_pool_all_assigned_in_the_topology_is_refused_by_name(tmp_path):
    """100 MNs at .100-.199 took the whole pool: dnsmasq started with no range, never bound
    port 67 and the deploy failed 10 s later with "not ready" (issue 17)."""
    text = (REPO / "topologies" / "fig9-l2-preauth-roaming.yaml").read_text()
    mn = next(line for line in text.splitlines() if line.startswith("  mn:"))
    topo = load_topology_text(text.replace(mn, (
        "  mn: {kind: mobile_node, count: 100, home_domain: home, identity: 'mn{i}@home.example', "
        "associate: ap0, address: '10.2.0.{99+i}/24'}")))
    plan = build_plan(topo)
    pki = Pki.ensure(tmp_path / "pki", "test CA", *pki_names(topo))
    facts = Facts(topo, plan, pki, Secrets(tmp_path / "secrets.json"),
                  {n: f"ns-{n}" for n in plan.hosts}, tmp_path / "run")
    with pytest.raises(ValueError, match=r"network 'net-b': every address of its DHCP pool "
                                         r"\(host numbers 100-199 of 10.2.0.0/24\)"):
        CONTEXTS["dhcp"](facts, "par", tmp_path / "par")
    assert CONTEXTS["dhcp"](facts, "nar", tmp_path / "nar")["dhcp_ranges"]   # net-a is free


def test_dhcp_conflict_check(tmp_path):
    """dnsmasq pings an address before offering it unless the node's conflict_check is
    false (c6-corridor: the nAR's DAD checks a pre-configured nCoA): 'no-ping' then, and
    only then, is in its configuration."""
    def options(topology):
        _, units = _render_all(tmp_path / topology[:2], topology)
        return {node: [line.strip() for line in (dest / "dnsmasq.conf").read_text().splitlines()
                       if line.strip() and not line.lstrip().startswith("#")]
                for (node, name), (_, _, dest) in units.items() if name == "dhcp-dnsmasq"}
    c6, fig9 = options("c6-corridor.yaml"), options("fig9-l2-preauth-roaming.yaml")
    assert c6 and fig9
    assert all("no-ping" in lines for lines in c6.values())
    assert not any("no-ping" in lines for lines in fig9.values())
