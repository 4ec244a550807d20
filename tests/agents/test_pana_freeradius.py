"""PANA pre-authentication end to end on loopback: PaC -> PAA -> FreeRADIUS (EAP-TLS), then
Tconf: the PAA installs PSK_ap in two fake APs and the MN-AR key in a fake access router.

RFC 6252 C.5.3 (the third scenario of Figure 10) with RFC 5191 / RFC 5873 PANA and RADIUS
(RFC 3579) between PAA and AAA. A private FreeRADIUS (tests/support/freeradius.py) listens
on random loopback ports; the PAA and the fake APs too. Needs no root, except the tshark
capture, which is skipped when tshark is missing or cannot capture on lo.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import threading
import time
from pathlib import Path

import pytest

from orchestrator.agents.keyinstall import (
    ACCESS_POINT, ACCESS_ROUTER, KeyInstallServer, KeyTarget, install_mpa_keys, mac_bytes,
)
from orchestrator.agents.pana import Paa, PaC, PanaSession
from orchestrator.agents.radius_client import RadiusClient
from orchestrator.deploy.pki import Pki, issue_client_cert, make_ca, write_pem
from orchestrator.events import EventLog
from orchestrator.protocols import keyinstall as ki
from tests.support.freeradius import FreeRadius

pytestmark = pytest.mark.skipif(
    shutil.which("freeradius") is None, reason="freeradius (FreeRADIUS 3.2) is not installed"
)

SERVER = "radius.testbed.example"
IDENTITY = "mn1@home.example"
STA = "02:00:00:00:00:01"  # the MN's station MAC at the target APs
BSSID1, BSSID2 = "02:00:00:00:0a:01", "02:00:00:00:0a:02"
AR_ID = "02:00:00:00:0f:01"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pki")
    pki = Pki.ensure(directory, "Testbed CA", [SERVER], [IDENTITY])
    foreign = issue_client_cert(make_ca("Foreign CA"), IDENTITY)
    pki.clients["foreign"] = write_pem(directory, "foreign-client", foreign.cert, foreign.key)
    return pki


@pytest.fixture(scope="module")
def radius_server(tmp_path_factory, pki, request):
    files = pki.servers[SERVER]
    server = FreeRadius(tmp_path_factory.mktemp("freeradius"), server_cert=files.cert,
                        server_key=files.key, ca_file=pki.ca.cert, secret="paa-aaa-secret",
                        tls_max_version="1.3", reject_delay=0,
                        debug=bool(os.environ.get("FREERADIUS_DEBUG")))
    server.render()
    server.check()
    request.addfinalizer(server.stop)  # SIGTERM to the PID we started
    server.start()
    return server


class FakeNode:
    """An AP (or access router) agent reduced to its key installation: a `KeyInstallServer`
    on loopback feeding ``install_pmk`` like `orchestrator.agents.dot1x.Authenticator`."""

    def __init__(self, name: str, kind: str, target_id: str, secret: str, log: EventLog):
        self.name, self.kind, self.target_id, self.secret = name, kind, target_id, secret
        self.pmksa: dict[str, tuple[bytes, str]] = {}
        self.installed = threading.Event()
        receiver = ki.Receiver(secret.encode(), {ACCESS_POINT: ki.TargetKind.ACCESS_POINT,
                                                 ACCESS_ROUTER: ki.TargetKind.ACCESS_ROUTER}[kind],
                               mac_bytes(target_id))
        self.server = KeyInstallServer("127.0.0.1", 0, receiver,
                                       lambda sta, key: self.install_pmk(sta, key, "mpa"), log)

    def install_pmk(self, sta: str, pmk: bytes, source: str) -> None:
        self.pmksa[sta] = (pmk, source)
        self.installed.set()

    def target(self) -> KeyTarget:
        return KeyTarget(self.name, self.kind, "127.0.0.1", self.server.port, self.secret,
                         self.target_id)


class Bed:
    def __init__(self, tmp_path: Path, radius_server: FreeRadius):
        self.events = tmp_path / "events"
        self.paa_log = EventLog(self.events / "paa.jsonl", "paa", "paa")
        self.mn_log = EventLog(self.events / "mn.jsonl", "mn", "mobile-node")
        self.nodes = [FakeNode("ap1", ACCESS_POINT, BSSID1, "paa-ap1-secret",
                               EventLog(self.events / "ap1.jsonl", "ap1", "access-point")),
                      FakeNode("ap2", ACCESS_POINT, BSSID2, "paa-ap2-secret",
                               EventLog(self.events / "ap2.jsonl", "ap2", "access-point")),
                      FakeNode("ar1", ACCESS_ROUTER, AR_ID, "paa-ar1-secret",
                               EventLog(self.events / "ar1.jsonl", "ar1", "access-router"))]
        for node in self.nodes:
            node.server.start()
        self.tconf: list[dict] = []
        self.tconf_done = threading.Event()
        radius = RadiusClient("127.0.0.1", radius_server.auth_port, radius_server.secret,
                              "paa.testbed", timeout=2.0, retries=2)
        self.paa = Paa("127.0.0.1", 0, radius, self.paa_log, on_success=self.on_success).start()

    def on_success(self, session: PanaSession) -> None:
        """Tconf, as the PAA agent wires it: PSK_ap1, PSK_ap2 and the MN-AR key."""
        self.tconf.append(install_mpa_keys(session.mpa_keys, STA,
                                           [n.target() for n in self.nodes], self.paa_log,
                                           lifetime=session.session_lifetime))
        self.tconf_done.set()

    def pac(self, pki, client: str = IDENTITY, tls: str = "1.2") -> PaC:
        files = pki.clients[client]
        return PaC(IDENTITY, str(files.cert), str(files.key), str(pki.ca.cert), "127.0.0.1",
                   self.paa.port, self.mn_log, tls_max_version=tls, server_name=SERVER)

    def records(self, node: str) -> list[dict]:
        path = self.events / f"{node}.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def names(self, node: str) -> list[str]:
        return [r["event"] for r in self.records(node)]

    def close(self) -> None:
        self.paa.stop()
        for node in self.nodes:
            node.server.stop()


def wait_for(predicate, timeout: float = 2.0):
    """The PAA finishes a moment after the PaC (its PAN [C] is still on the way)."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()) and time.monotonic() < deadline:
        time.sleep(0.005)
    assert value, "condition not reached"
    return value


@pytest.fixture
def testbed(tmp_path, radius_server):
    bed = Bed(tmp_path, radius_server)
    yield bed
    bed.close()


@pytest.mark.parametrize("tls", ["1.2", "1.3"])
def test_preauthentication_and_tconf(testbed, pki, tls):
    pac = testbed.pac(pki, tls=tls)
    result = pac.pre_authenticate(timeout=10)
    assert result["status"] == "ok", (result, testbed.names("mn"))
    assert result["tls_version"] == f"TLSv{tls}"
    session = wait_for(lambda: testbed.paa.established.get(result["session_id"]))
    # the PaC's MSK (exported from TLS) equals the PAA's (from FreeRADIUS' MS-MPPE keys)
    assert len(result["msk"]) == 64 and result["msk"] == session.msk
    assert result["pana_auth_key"] == session.pana_auth_key
    assert result["key_id"] == session.key_id and session.identity == IDENTITY
    assert session.preauth and result["rounds"] >= 5

    assert testbed.tconf_done.wait(5), "Tconf did not finish"
    tconf = testbed.tconf[0]
    assert tconf["status"] == "ok" and sorted(tconf["installed_ms"]) == ["ap1", "ap2", "ar1"]
    keys = pac.mpa_keys  # the MN derives the same keys from its own MPA-SA
    ap1, ap2, ar1 = testbed.nodes
    assert ap1.pmksa[STA] == (keys.psk_ap(mac_bytes(BSSID1)), "mpa")
    assert ap2.pmksa[STA] == (keys.psk_ap(mac_bytes(BSSID2)), "mpa")
    assert ap1.pmksa[STA][0] != ap2.pmksa[STA][0]
    assert ar1.pmksa[STA][0] == keys.mn_ar_key()

    mn = {r["event"]: r for r in testbed.records("mn")}
    assert mn["preauth_done"]["phase"] == "pre-authentication"
    assert mn["preauth_done"]["attrs"]["rounds"] == result["rounds"]
    assert mn["preauth_done"]["attrs"]["elapsed_ms"] == pytest.approx(result["elapsed_ms"])
    paa = testbed.names("paa")
    assert "pana_session_established" in paa and "tconf_done" in paa
    assert paa.count("psk_installed") == 3
    installed = [r for r in testbed.records("paa") if r["event"] == "psk_installed"]
    assert all(r["phase"] == "pre-configuration" and r["attrs"]["elapsed_ms"] > 0
               for r in installed)
    assert "psk_received" in testbed.names("ap1")
    print(f"\nPANA pre-authentication TLS {tls}: {result['elapsed_ms']:.1f} ms, "
          f"{result['rounds']} PAR/PAN rounds; Tconf {tconf['elapsed_ms']:.1f} ms "
          f"({', '.join(f'{k} {v:.2f} ms' for k, v in sorted(tconf['installed_ms'].items()))})")

    # after the move: the pre-authenticated session becomes the active one
    attached = pac.attach()
    assert attached["status"] == "ok" and attached["event"] == "activated"
    # the PAA logs the activation after it has answered: give its thread a moment
    deadline = time.monotonic() + 2
    while "pana_session_activated" not in testbed.names("paa") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "pana_session_activated" in testbed.names("paa")
    assert pac.terminate()["status"] == "ok"
    time.sleep(0.05)
    assert result["session_id"] not in testbed.paa.sessions
    pac.close()


def test_foreign_ca_certificate_fails_without_keys(testbed, pki):
    pac = testbed.pac(pki, client="foreign")
    result = pac.pre_authenticate(timeout=10)
    assert result["status"] == "failure"
    assert result["msk"] is None and result["pana_auth_key"] is None and pac.mpa_keys is None
    assert "PANA_AUTHENTICATION_REJECTED" in result["reason"]
    assert {"pana_auth_failed", "preauth_failed"} <= set(testbed.names("mn"))
    time.sleep(0.1)
    assert "pana_auth_failed" in testbed.names("paa")
    assert testbed.paa.established == {}
    assert not testbed.tconf_done.is_set()
    assert all(not node.pmksa for node in testbed.nodes)
    pac.close()


def test_reauthentication_installs_fresh_keys(testbed, pki):
    pac = testbed.pac(pki)
    first = pac.pre_authenticate(timeout=10)
    assert first["status"] == "ok"
    assert testbed.tconf_done.wait(5)
    testbed.tconf_done.clear()
    again = pac.reauthenticate(timeout=10)
    assert again["status"] == "ok" and again["event"] == "reauthenticated"
    assert again["msk"] != first["msk"] and again["key_id"] != first["key_id"]
    session = wait_for(lambda: (s := testbed.paa.established.get(first["session_id"]))
                       and s.reauthentication and s)
    assert session.msk == again["msk"] and session.pana_auth_key == again["pana_auth_key"]
    assert testbed.tconf_done.wait(5)
    ap1 = testbed.nodes[0]
    assert ap1.pmksa[STA][0] == pac.mpa_keys.psk_ap(mac_bytes(BSSID1))
    assert "pana_reauthenticated" in testbed.names("paa")
    pac.terminate()
    pac.close()


def test_paa_serves_several_pacs_at_once(testbed, pki):
    results: list[dict] = []
    pacs = [testbed.pac(pki, tls=tls) for tls in ("1.2", "1.3", "1.2", "1.3")]
    threads = [threading.Thread(target=lambda p=p: results.append(p.pre_authenticate(10)))
               for p in pacs]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert [r["status"] for r in results] == ["ok"] * 4
    assert len({r["session_id"] for r in results}) == 4
    for r in results:
        assert wait_for(lambda r=r: testbed.paa.established.get(r["session_id"])).msk == r["msk"]
    for p in pacs:
        p.terminate()
        p.close()


def test_preauthentication_time_on_loopback(testbed, pki):
    """Median of 10 PANA pre-authentications (TLS 1.2): PCI to the PaC's PAN [C]."""
    times = []
    for _ in range(10):
        pac = testbed.pac(pki)
        result = pac.pre_authenticate(timeout=10)
        assert result["status"] == "ok"
        times.append(result["elapsed_ms"])
        pac.terminate()
        pac.close()
    print(f"\nPANA pre-authentication over loopback, TLS 1.2, median of 10: "
          f"{statistics.median(times):.1f} ms (min {min(times):.1f}, max {max(times):.1f})")
    assert statistics.median(times) < 1000


def _start_capture(port: int, path: Path) -> subprocess.Popen:
    """tshark on lo for ``port`` plus a probe port; returns once a probe was captured (its
    "Capturing on" line comes some 40 ms before packets really are)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    probe_port = probe.getsockname()[1]
    capture_filter = f"udp port {port} or udp port {probe_port}"
    proc = subprocess.Popen(["tshark", "-i", "lo", "-f", capture_filter, "-w", str(path),
                             "-P", "-l"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = threading.Event()
    errors: list[str] = []
    threading.Thread(target=lambda: [seen.set() for _ in proc.stdout], daemon=True).start()
    threading.Thread(target=lambda: errors.extend(proc.stderr), daemon=True).start()
    deadline = time.monotonic() + 20
    with probe:
        while not seen.is_set() and proc.poll() is None and time.monotonic() < deadline:
            probe.sendto(b"capture probe", ("127.0.0.1", probe_port))
            seen.wait(0.05)
    if not seen.is_set():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # the PID we started
            proc.wait(timeout=10)
        pytest.skip(f"tshark cannot capture on lo: {''.join(errors)[-500:]}")
    return proc


PANA_FLAG_E = 0x0200  # RFC 5873


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_tshark_dissects_pana_without_errors(testbed, pki, tmp_path):
    """One pre-authentication session (E flag) and one ordinary session, captured on lo.

    Wireshark 4.0's PANA dissector (epan/dissectors/packet-pana.c) treats flag bits 6-15 as
    reserved (PANA_FLAG_RESERVED 0x03ff) and declines any message with one set, so messages
    carrying RFC 5873's E bit are shown as plain UDP data, not as malformed PANA. The
    ordinary session, which uses every message type and AVP the pre-authenticated one does,
    must dissect completely; the E-flag frames must be exactly the undissected ones."""
    port = testbed.paa.port
    capture = tmp_path / "pana.pcapng"
    proc = _start_capture(port, capture)
    try:
        pre = testbed.pac(pki)
        assert pre.pre_authenticate(timeout=10)["status"] == "ok"
        assert pre.attach()["status"] == "ok"
        assert pre.terminate()["status"] == "ok"
        pre.close()
        plain = testbed.pac(pki)
        assert plain.pre_authenticate(timeout=10, preauth=False)["status"] == "ok"
        assert plain.ping()["status"] == "ok"
        assert plain.reauthenticate()["status"] == "ok"
        assert plain.terminate()["status"] == "ok"
        plain.close()
        time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGINT)  # the PID we started; tshark flushes and exits
        proc.wait(timeout=15)

    def tshark(*args: str) -> str:
        done = subprocess.run(["tshark", "-r", str(capture), "-d", f"udp.port=={port},pana",
                               *args], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    bad = tshark("-Y", f"udp.port=={port} && (_ws.malformed || _ws.expert.severity==error)")
    assert bad.strip() == "", bad
    # (Wireshark 4.0 shows "Flags: 0x8800" but fills no pana.flags.* fields: flags are read
    # from the payload, the message type from the dissector)
    rows = [line.split("\t") for line in tshark(
        "-Y", f"udp.port=={port}", "-T", "fields", "-e", "udp.payload", "-e", "pana.type",
    ).splitlines()]
    assert len(rows) >= 50
    e_frames = [r for r in rows if int(r[0][8:12], 16) & PANA_FLAG_E]
    plain_frames = [r for r in rows if not int(r[0][8:12], 16) & PANA_FLAG_E]
    assert len(e_frames) >= 10 and int(e_frames[0][0][12:16], 16) == 1  # a PCI with E
    assert all(r[1] == "" for r in e_frames)  # not dissected (see above), not malformed
    assert all(r[1] != "" for r in plain_frames)  # everything else is PANA
    kinds = {(int(t), bool(int(p[8:12], 16) & 0x8000)) for p, t in plain_frames}
    assert kinds == {(1, False), (2, True), (2, False), (3, True), (3, False), (4, True),
                     (4, False)}  # PCI, PAR, PAN, PTR, PTA, PNR, PNA
    eap = tshark("-Y", f"udp.port=={port} && pana && eap", "-T", "fields", "-e", "eap.code")
    assert {"1", "2", "3"} <= set(eap.split())  # EAP Request, Response, Success inside PANA
