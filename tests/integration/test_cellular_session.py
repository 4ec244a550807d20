"""The cellular data session set-up as a real exchange (issue 15; RFC 6252 C.5.2).

Three plain namespaces built by hand (tests/support/cellular_bed.py): the mobile's cellular
interface, the base station's packet data gateway, the domain's AAA server (FreeRADIUS with
CHAP). The agents run with `python3 -S` (standard library only). Checked: the address is
assigned (from the gateway's pool, or the Access-Accept's Framed-IP-Address), data flows
over the link afterwards, FreeRADIUS verified the CHAP response (and refused a wrong
secret), malformed frames do not stop either side, and tshark finds every captured frame
valid (PPPoED, PPPoES with LCP, CHAP, IPCP; RADIUS with CHAP-Password).
"""
from __future__ import annotations

import contextlib
import json
import shutil
import signal
import socket
import subprocess
import time

import pytest

from orchestrator.events import vocabulary_problems
from tests.support.cellular_bed import DNS, GATEWAY, USERS, CellularBed, wait_for

pytestmark = pytest.mark.root

JUNK_SRC = "02:ee:ee:ee:ee:01"       # malformed frames come from here (kept out of tshark's check)


# truncated headers, bad VER/TYPE, unknown codes, lengths past the end, a session for nobody
JUNK = [bytes.fromhex(h) for h in (
    "11", "1109", "2109000000000000", "1142000000000000", "11090000ffff",
    "110900000004" "0101ffff", "1100000000020000", "1100abcd0004c0210101", "ff" * 40)]
SEND_JUNK = (
    "import socket,sys\n"
    "iface,dst,src=sys.argv[1],*(bytes.fromhex(a.replace(':','')) for a in sys.argv[2:4])\n"
    "for et in (0x8863,0x8864):\n"
    " s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW);s.bind((iface,0))\n"
    " for h in sys.argv[4:]:\n"
    "  s.send(dst+src+et.to_bytes(2,'big')+bytes.fromhex(h))\n")


@pytest.fixture(scope="module")
def bed(tmp_path_factory):
    if not (shutil.which("freeradius") and shutil.which("dumpcap")):
        pytest.skip("freeradius or dumpcap is not installed")
    with CellularBed(tmp_path_factory.mktemp("cellular")) as b:
        b.start_radius()
        pcap = b.dir / "bs.pcapng"
        b.capture = b.spawn("bs", "dumpcap", "-q", "-i", "bs0", "-i", "core0", "-w", str(pcap))
        b.pcap = pcap
        assert wait_for(lambda: pcap.exists() and pcap.stat().st_size > 0, 10)
        time.sleep(0.5)
        b.gateway = b.start_gateway()
        yield b


def client_result(proc: subprocess.Popen, timeout: float = 20.0) -> dict:
    line = proc.stdout.readline()
    assert line, proc.stderr.read()
    return json.loads(line)


def test_session_set_up_assigns_an_address_and_carries_data(bed):
    proc = bed.client("mn1", USERS["mn1"]["password"], "--hold")
    result = client_result(proc)
    assert result["status"] == "ok", result
    assert result["address"].startswith("10.20.0.") and result["address"] != GATEWAY
    assert (result["peer"], result["dns"]) == (GATEWAY, DNS)
    assert result["lcp"]["peer_auth"] == "chap-md5"
    for part in ("discovery_ms", "lcp_ms", "chap_ms", "ipcp_ms", "configure_ms"):
        assert 0 < result[part] < result["total_ms"]
    addrs = bed.run("mn", "ip", "-4", "-o", "addr", "show", "dev", "cdma0").stdout
    assert f"inet {result['address']}/32" in addrs
    ping = bed.run("mn", "ping", "-c", "3", "-i", "0.1", "-W", "1", GATEWAY, check=False)
    assert ping.returncode == 0 and " 0% packet loss" in ping.stdout, ping.stdout
    # the gateway routes the address to the link: it can reach the mobile
    ping = bed.run("bs", "ping", "-c", "1", "-W", "1", result["address"], check=False)
    assert ping.returncode == 0, ping.stdout
    out, _ = bed.stop(proc)
    assert json.loads(out.splitlines()[-1])["close"]["status"] == "ok"
    assert result["address"] not in bed.run("mn", "ip", "-4", "-o", "addr", "show").stdout
    gw = [e for e in bed.events("bs") if e["attrs"].get("mn") == "mn1"]
    answers = [e["attrs"] for e in gw if e["event"] == "aaa_answer"]
    assert answers and answers[-1]["code"] == "accept"
    done = [e["attrs"] for e in gw if e["event"] == "cellular_session_done"]
    assert done[-1]["address"] == result["address"] and done[-1]["address_source"] == "pool"
    assert wait_for(lambda: any(e["event"] == "cellular_session_terminated"
                                and e["attrs"].get("mn") == "mn1" for e in bed.events("bs")))


def test_framed_ip_address_from_the_aaa_server(bed):
    result = client_result(bed.client("mn2", USERS["mn2"]["password"]))
    assert result["status"] == "ok" and result["address"] == USERS["mn2"]["framed_ip"]
    assert wait_for(lambda: any(e["event"] == "cellular_session_done"
                                and e["attrs"].get("address_source") == "aaa"
                                for e in bed.events("bs")))


def test_wrong_secret_is_refused_by_freeradius(bed):
    result = client_result(bed.client("mn1", "not-the-secret"))
    assert result == {**result, "status": "failed", "stage": "chap"}
    # the gateway writes its events after answering the mobile: wait for them
    assert wait_for(lambda: any(e["event"] == "chap_failure" and e["attrs"]["mn"] == "mn1"
                                for e in bed.events("bs")))
    answers = [e["attrs"]["code"] for e in bed.events("bs") if e["event"] == "aaa_answer"]
    assert answers[-1] == "reject"


@contextlib.contextmanager
def preauthorized_gateway(bed, mac: str, secret: str):
    """The bed's gateway restarted holding `secret` for the mobile `mac` (as a PAA installs
    it), then back to a plain one; yields the count of Access-Requests so far."""
    bed.stop(bed.gateway)
    bed.gateway = bed.start_gateway(gateway_args=("--preauthorize", f"{mac}={secret}"))
    try:
        yield sum(e["event"] == "aaa_request" for e in bed.events("bs"))
    finally:
        bed.stop(bed.gateway)
        bed.gateway = bed.start_gateway()


def test_a_preauthorized_secret_is_checked_by_the_gateway_without_aaa(bed):
    """RFC 6252 s7.6.2 (C.5.2, MPA): a PAA installed a CHAP secret for the mobile's interface;
    the gateway checks the response itself (no Access-Request), once; a wrong one is refused
    without the AAA server too, and the next set-up goes to the AAA server again."""
    mac = bed.run("mn", "cat", "/sys/class/net/cdma0/address").stdout.strip()
    aaa = lambda: sum(e["event"] == "aaa_request" for e in bed.events("bs"))  # noqa: E731
    with preauthorized_gateway(bed, mac, "mpa-derived-secret") as n_aaa:
        result = client_result(bed.client("mn1", "mpa-derived-secret"))
        assert result["status"] == "ok", result
        assert wait_for(lambda: any(e["event"] == "cellular_session_done"
                                    and e["attrs"].get("address") == result["address"]
                                    for e in bed.events("bs")))
        verified = [e["attrs"] for e in bed.events("bs") if e["event"] == "chap_verified"]
        assert verified[-1] == {**verified[-1], "method": "mpa-key", "ok": True, "mn": "mn1"}
        assert aaa() == n_aaa
        # used once: the long-term secret goes to FreeRADIUS again
        assert client_result(bed.client("mn1", USERS["mn1"]["password"]))["status"] == "ok"
        assert aaa() == n_aaa + 1
    with preauthorized_gateway(bed, mac, "mpa-derived-secret") as n_aaa:
        result = client_result(bed.client("mn1", "a-wrong-secret"))
        assert result == {**result, "status": "failed", "stage": "chap"}
        assert wait_for(lambda: any(e["event"] == "chap_verified" and not e["attrs"]["ok"]
                                    for e in bed.events("bs")))
        assert aaa() == n_aaa


def test_the_gateway_survives_malformed_frames(bed):
    """Garbage on both PPPoE EtherTypes (truncated headers, bad VER/TYPE, lengths past the
    end, unknown codes, a session for nobody) reaches the gateway; it counts each one and
    still sets up the next session."""
    before = sum(e["event"] == "cellular_frame_dropped" for e in bed.events("bs"))
    bed.run("mn", "python3", "-S", "-c", SEND_JUNK, "cdma0", bed.mac["bs"], JUNK_SRC,
            *[j.hex() for j in JUNK])
    expected = 2 * len(JUNK)
    assert wait_for(lambda: sum(e["event"] == "cellular_frame_dropped"
                                for e in bed.events("bs")) - before >= expected)
    assert bed.gateway.poll() is None
    result = client_result(bed.client("mn1", USERS["mn1"]["password"]))
    assert result["status"] == "ok"


def test_the_mobile_survives_malformed_frames_during_its_session(bed):
    proc = bed.client("mn1", USERS["mn1"]["password"], "--hold")
    result = client_result(proc)
    assert result["status"] == "ok"
    before = sum(e["event"] == "cellular_frame_dropped" for e in bed.events("mn"))
    bed.run("bs", "python3", "-S", "-c", SEND_JUNK, "bs0", bed.mac["mn"], JUNK_SRC,
            *[j.hex() for j in JUNK])
    assert wait_for(lambda: sum(e["event"] == "cellular_frame_dropped"
                                for e in bed.events("mn")) - before >= 2 * len(JUNK))
    assert proc.poll() is None
    ping = bed.run("mn", "ping", "-c", "1", "-W", "1", GATEWAY, check=False)
    assert ping.returncode == 0
    out, _ = bed.stop(proc)
    assert json.loads(out.splitlines()[-1])["close"]["status"] == "ok"


def test_tshark_finds_every_frame_valid(bed):
    # after the other tests: stop the capture (by PID) and read it
    time.sleep(0.3)
    bed.capture.send_signal(signal.SIGTERM)
    bed.capture.wait(10)
    radius_port = bed.radius.auth_port

    def tshark(*args):
        done = subprocess.run(["tshark", "-n", "-r", str(bed.pcap), "-d",
                               f"udp.port=={radius_port},radius", *args],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return [line.split("\t") for line in done.stdout.splitlines() if line.strip()]

    ours = f"!(eth.src == {JUNK_SRC})"
    bad = tshark("-Y", f"{ours} && (_ws.malformed || _ws.expert.severity >= error)")
    assert bad == []
    assert tshark("-Y", f"eth.src == {JUNK_SRC} && (pppoed || pppoes)")   # the junk was seen
    codes = {tuple(r) for r in tshark("-Y", f"{ours} && pppoed", "-T", "fields",
                                      "-e", "pppoe.code")}
    assert {("0x09",), ("0x07",), ("0x19",), ("0x65",), ("0xa7",)} <= codes
    layers = {r[0] for r in tshark("-Y", f"{ours} && pppoes", "-T", "fields",
                                   "-e", "frame.protocols")}
    assert any(p.endswith(":lcp") for p in layers)
    assert any(p.endswith(":chap") for p in layers) and any(p.endswith(":ipcp") for p in layers)
    chap = {r[0] for r in tshark("-Y", "chap", "-T", "fields", "-e", "chap.code")}
    assert chap == {"1", "2", "3", "4"}                     # Failure: the wrong secret
    rad = tshark("-Y", "radius", "-T", "fields", "-e", "radius.code",
                 "-e", "radius.CHAP_Password", "-e", "radius.Framed-IP-Address")
    assert {r[0] for r in rad} == {"1", "2", "3"}
    assert all(r[1] for r in rad if r[0] == "1")            # every request carries CHAP
    assert USERS["mn2"]["framed_ip"] in {r[2] for r in rad if r[0] == "2"}


def test_events_are_in_the_vocabulary(bed):
    records = bed.events("bs") + bed.events("mn")
    assert records and vocabulary_problems(records) == []
    starts = [e for e in bed.events("mn") if e["event"] == "cellular_session_start"]
    assert len(starts) >= 4 and all(e["phase"] == "switching" for e in starts)
