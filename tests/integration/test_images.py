"""Node images on fig9: FreeRADIUS home (aaa-h) and visited proxy (aaa-v), dnsmasq and
strongSwan on the ARs (nar, par) come up ready; EAP-TLS with the testbed PKI works against
the home AAA and through the visited proxy (roaming, RFC 6252 Figure 9); a broken template
stops the deploy with the daemon's own words; destroy leaves no daemon behind.

eapol_test runs inside the MN's namespace, after the MN's 802.1X-controlled port at AP0 has
been authorized by hand (`station_request(..., "authorize", ...)`): it sends RADIUS itself,
standing in for the real 802.1X path (EAPOL to the AP's authenticator, RADIUS from there),
which comes with issue 4. The AAA servers list the MN's address as a "stand-in NAS" client.
"""
import secrets
import shutil
import statistics
import subprocess
import time
from pathlib import Path

import pytest

from orchestrator.deploy.pki import issue_client_cert, make_ca, write_pem
from orchestrator.deploy.secrets import radius_secret
from orchestrator.network import build
from orchestrator.network.build import DeployError, deploy, station_request
from orchestrator.network.nsexec import run_in
from orchestrator.network.state import deployed, state_root
from orchestrator.testbed import destroy
from tests.conftest import root_objects_with

REPO = Path(__file__).resolve().parents[2]
FIG9 = str(REPO / "topologies/fig9-l2-preauth-roaming.yaml")
pytestmark = [pytest.mark.root, pytest.mark.timeout(300)]
NAME = "t-images"
IDENTITY = "mn@home.example"
EXPECTED = {("aaa-h", "aaa-freeradius"), ("aaa-v", "aaa-freeradius"),
            ("nar", "dhcp-dnsmasq"), ("par", "dhcp-dnsmasq"),
            ("nar", "ikev2-strongswan"), ("par", "ikev2-strongswan")}


@pytest.fixture(scope="module")
def fig9(tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    journal = deploy(FIG9, name=NAME, results=str(results))
    yield journal
    if NAME in deployed():
        destroy(NAME)


def images(j) -> dict[tuple[str, str], dict]:
    return {(node, img): rec for node, info in j.nodes.items()
            for img, rec in info.get("images", {}).items()}


def running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def processes_using(path: str) -> list[int]:
    """Running processes whose command line or environment mentions `path` (charon's
    command line does not, but its SWANCTL_DIR does)."""
    out = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                env = (proc / "environ").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if (path in cmd or path in env) and running(int(proc.name)):
                out.append(int(proc.name))
    return out


def ns(j, node):
    return j.nodes[node]["netns"]


def test_every_daemon_is_up_and_ready(fig9):
    recs = images(fig9)
    assert EXPECTED <= set(recs)
    for key in EXPECTED:
        rec = recs[key]
        assert running(rec["pid"]), key
        assert rec["ready_s"] is not None and rec["ready_s"] < 10, key
        assert Path(rec["log"]).is_file() and Path(rec["log"]).parent.name == key[0]
        print(f"{key[0]}/{key[1]}: ready in {rec['ready_s'] * 1000:.0f} ms")
    # FreeRADIUS listens on the node's address; dnsmasq on the DHCP port
    ss = run_in(ns(fig9, "aaa-h"), ["ss", "-Hlun"]).stdout
    assert "10.9.0.10:1812" in ss
    assert ":67 " in run_in(ns(fig9, "nar"), ["ss", "-Hlun"]).stdout + " "
    # charon has its configuration loaded (the VICI socket is in its private /run)
    rec = recs[("nar", "ikev2-strongswan")]
    r = subprocess.run(["swanctl", "--list-conns", "--uri", f"unix://{rec['dir']}/run/charon.vici"],
                       capture_output=True, text=True, timeout=10)
    assert "mpa-tunnel: IKEv2" in r.stdout, r.stdout + r.stderr
    # and it did not write /run/charon.pid of the machine
    assert not Path("/run/charon.pid").exists() or \
        int(Path("/run/charon.pid").read_text()) != rec["pid"]


def test_dnsmasq_pools_leave_static_addresses_out(fig9):
    conf = Path(images(fig9)[("par", "dhcp-dnsmasq")]["dir"], "dnsmasq.conf").read_text()
    # net-b: .100 is the MN's static address, so the pool starts at .101
    assert "dhcp-range=set:net-b,10.2.0.101,10.2.0.199,255.255.255.0" in conf
    assert "dhcp-authoritative" in conf and "no-ping" not in conf.replace("'no-ping'", "")


@pytest.fixture(scope="module")
def mn_port_open(fig9):
    mac = next(i["mac"] for i in fig9.nodes["mn"]["interfaces"] if i["name"] == "wlan0")
    assert station_request(fig9, "ap0", "authorize", mac)["status"] == "ok"
    yield
    station_request(fig9, "ap0", "deauthorize", mac)


def eapol_test(j, tmp_path, server: str, address: str, cert: Path, key: Path):
    conf = tmp_path / f"eapol-{server}.conf"
    conf.write_text(f'''network={{
    key_mgmt=IEEE8021X
    eap=TLS
    identity="{IDENTITY}"
    ca_cert="{j.dir / 'pki' / 'ca.pem'}"
    client_cert="{cert}"
    private_key="{key}"
    phase1="tls_disable_tlsv1_3=0"
    eapol_flags=0
}}
''')
    t0 = time.perf_counter()
    r = run_in(ns(j, "mn"), ["eapol_test", "-c", str(conf), "-a", address, "-s",
                             radius_secret(j.dir, server, "mn"), "-t", "10"],
               check=False, timeout=30)
    return r, time.perf_counter() - t0


@pytest.mark.parametrize("server,address", [("aaa-h", "10.9.0.10"), ("aaa-v", "10.0.0.10")],
                         ids=["home-direct", "via-visited-proxy"])
def test_eap_tls_with_the_testbed_client_certificate(fig9, mn_port_open, tmp_path, server,
                                                     address):
    pki = fig9.dir / "pki"
    times = []
    for _ in range(3):
        r, dt = eapol_test(fig9, tmp_path, server, address, pki / f"client-{IDENTITY}.pem",
                           pki / f"client-{IDENTITY}.key")
        assert r.returncode == 0, r.stdout[-3000:]
        assert r.stdout.rstrip().endswith("SUCCESS")
        assert "MPPE keys OK: 1  mismatch: 0" in r.stdout
        times.append(dt)
    print(f"eapol_test {server}: median {statistics.median(times) * 1000:.0f} ms")
    home_log = Path(images(fig9)[("aaa-h", "aaa-freeradius")]["log"]).read_text()
    origin = "aaa-v-eth0" if server == "aaa-v" else "mn-wlan0"
    assert f"Login OK: [{IDENTITY}] (from client {origin} " in home_log


@pytest.mark.parametrize("server,address", [("aaa-h", "10.9.0.10"), ("aaa-v", "10.0.0.10")],
                         ids=["home-direct", "via-visited-proxy"])
def test_eap_tls_with_a_foreign_ca_certificate_fails(fig9, mn_port_open, tmp_path, server,
                                                     address):
    foreign = issue_client_cert(make_ca("Foreign CA"), IDENTITY)
    files = write_pem(tmp_path, "foreign", foreign.cert, foreign.key)
    home_log = Path(images(fig9)[("aaa-h", "aaa-freeradius")]["log"])
    rejects = home_log.read_text().count("Login incorrect")
    r, _ = eapol_test(fig9, tmp_path, server, address, files.cert, files.key)
    assert r.returncode != 0
    assert r.stdout.rstrip().endswith("FAILURE"), r.stdout[-2000:]
    time.sleep(1.5)                      # FreeRADIUS logs the reject after reject_delay
    assert home_log.read_text().count("Login incorrect") > rejects


BREAKAGES = {
    # a missing closing brace at the end of the EAP module
    "aaa-freeradius": ("eap.conf", lambda t: t.rstrip().removesuffix("}"),
                       "aaa-v", "EOF reached without closing brace for section eap"),
    # a misspelt option
    "dhcp-dnsmasq": ("dnsmasq.conf", lambda t: t.replace("dhcp-authoritative", "dhcp-authoritativ"),
                     "par", "bad option at line"),
    # strongSwan has no offline check: swanctl --load-all into the started charon is the check
    "ikev2-strongswan": ("swanctl.conf", lambda t: t.replace("auth = pubkey", "auth = pubkee", 1),
                         "par", "loading connection 'mpa-tunnel' failed"),
}


@pytest.mark.parametrize("image", sorted(BREAKAGES))
def test_a_broken_template_stops_the_deploy_with_the_daemons_error(tmp_path, monkeypatch, image):
    template, breakit, node, words = BREAKAGES[image]
    copy = tmp_path / "images" / image
    shutil.copytree(REPO / "node_images" / image, copy)
    (copy / template).write_text(breakit((copy / template).read_text()))
    monkeypatch.setenv("MPA_IMAGE_PATH", str(tmp_path / "images"))
    name = f"t-broken-{image[:8]}"
    prefix = "mx" + secrets.token_hex(1)            # to find what this deploy made
    monkeypatch.setattr(build, "new_prefix", lambda: prefix)
    with pytest.raises(DeployError) as err:
        deploy(FIG9, name=name, results=str(tmp_path / "results"))
    msg = str(err.value)
    print(msg)
    assert f"node '{node}', image '{image}'" in msg
    assert words in msg
    # the failed deploy removed what it made
    assert name not in deployed()
    assert root_objects_with(prefix) == []
    assert processes_using(str(state_root() / name)) == []


def test_destroy_leaves_no_daemon(fig9):
    recs = images(fig9)
    pids = [r["pid"] for r in recs.values()]
    assert all(running(p) for p in pids)
    assert set(pids) <= set(processes_using(str(fig9.dir)))
    destroy(NAME)
    assert [p for p in pids if running(p)] == []
    assert not any(Path(f"/run/netns/{n}").exists() for n in fig9.netns)
    # no process anywhere still runs from a configuration this testbed rendered
    assert processes_using(str(fig9.dir)) == []
