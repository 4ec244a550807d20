"""EAP-TLS against a real FreeRADIUS 3.2 over RADIUS (RFC 3579), and eapol_test as reference.

A private FreeRADIUS (tests/support/freeradius.py) listens on 127.0.0.1 at random high
ports with EAP-TLS configured from the per-testbed PKI. pyrad carries our `EapPeer`'s
EAP packets in Access-Requests (EAP-Message split into 253-octet attributes, RFC 3579
s3.1; Message-Authenticator, s3.2; State echoed, RFC 2865 s5.24). On Access-Accept the
MS-MPPE keys (RFC 2548) are decrypted and must give the MSK our peer exported.

Needs no root: skipped only when the freeradius binary is missing.
Set FREERADIUS_DEBUG=1 to run the server with -X (its log is in the test's tmp dir).
"""

from __future__ import annotations

import datetime as dt
import io
import os
import shutil
import statistics
import subprocess
import time

import pytest
import pyrad.packet
from pyrad.client import Client
from pyrad.dictionary import Dictionary

from orchestrator.deploy.pki import Pki, issue_client_cert, make_ca, write_pem
from orchestrator.protocols import eap, radius_keys
from orchestrator.protocols.eap import Code, EapPacket
from orchestrator.protocols.eap_tls import EapPeer, EapTlsPeer, PeerState
from tests.support.freeradius import FreeRadius

pytestmark = pytest.mark.skipif(
    shutil.which("freeradius") is None, reason="freeradius (FreeRADIUS 3.2) is not installed"
)

SERVER = "radius.testbed.example"
IDENTITY = "user@realm"
RADIUS_ATTRIBUTE_MAX = 253  # RFC 2865 s5: one octet Length, 2 octets of header

from orchestrator.protocols.radius_dict import TEXT as DICTIONARY  # noqa: E402


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pki")
    pki = Pki.ensure(directory, "Testbed CA", [SERVER], [IDENTITY])
    foreign = issue_client_cert(make_ca("Foreign CA"), IDENTITY)
    pki.clients["foreign"] = write_pem(directory, "foreign-client", foreign.cert, foreign.key)
    expired = issue_client_cert(
        pki.load_ca(),
        IDENTITY,
        days=1,
        not_before=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=10),
    )
    pki.clients["expired"] = write_pem(directory, "expired-client", expired.cert, expired.key)
    return pki


@pytest.fixture(scope="module")
def radius_server(tmp_path_factory, pki, request):
    files = pki.servers[SERVER]
    server = FreeRadius(
        tmp_path_factory.mktemp("freeradius"),
        server_cert=files.cert,
        server_key=files.key,
        ca_file=pki.ca.cert,
        secret="mpa-testbed-secret",
        tls_max_version="1.3",
        reject_delay=0,  # FreeRADIUS waits 1 s before each Access-Reject by default
        debug=bool(os.environ.get("FREERADIUS_DEBUG")),
    )
    server.render()
    server.check()
    request.addfinalizer(server.stop)  # SIGTERM to the PID we started
    server.start()
    return server


@pytest.fixture(scope="module")
def radius_client(radius_server):
    return Client(
        server="127.0.0.1",
        authport=radius_server.auth_port,
        secret=radius_server.secret.encode(),
        dict=Dictionary(io.StringIO(DICTIONARY)),
        retries=2,
        timeout=3,
        enforce_ma=True,
    )


def authenticate(client: Client, peer: EapPeer, identity: str = IDENTITY):
    """Pass-through authenticator over RADIUS: EAP from the peer goes in Access-Requests,
    EAP from Access-Challenge/Accept/Reject goes to the peer. Returns the final reply."""
    eap_response = peer.handle(eap.identity_request(0).encode())
    state = None
    for _ in range(64):
        req = client.CreateAuthPacket(code=pyrad.packet.AccessRequest, User_Name=identity)
        req["NAS-Identifier"] = "mpa-testbed"
        req["Framed-MTU"] = 1400
        for i in range(0, len(eap_response), RADIUS_ATTRIBUTE_MAX):
            req.AddAttribute("EAP-Message", eap_response[i : i + RADIUS_ATTRIBUTE_MAX])
        if state is not None:
            req["State"] = state
        req.add_message_authenticator()
        reply = client.SendPacket(req)
        assert reply.message_authenticator, "RFC 3579 s3.2: reply needs Message-Authenticator"
        eap_request = b"".join(reply["EAP-Message"]) if "EAP-Message" in reply else b""
        state = reply["State"][0] if "State" in reply else None
        eap_response = peer.handle(eap_request) if eap_request else None
        if reply.code != pyrad.packet.AccessChallenge:
            return reply, eap_request
        assert eap_response is not None, "peer had no answer to an Access-Challenge"
    raise AssertionError("no Access-Accept/Reject after 64 round trips")


def make_peer(pki, client=IDENTITY, tls_max="1.2", fragment_size=1020) -> EapPeer:
    files = pki.clients[client]
    return EapPeer(
        EapTlsPeer(
            IDENTITY,
            files.cert,
            files.key,
            pki.ca.cert,
            tls_max_version=tls_max,
            fragment_size=fragment_size,
            server_name=SERVER,
        )
    )


def msk_from_accept(reply, secret: str) -> bytes:
    authenticator = reply.request_authenticator
    recv, send = (
        radius_keys.decrypt_mppe_key(reply[name][0], secret.encode(), authenticator)
        for name in ("MS-MPPE-Recv-Key", "MS-MPPE-Send-Key")
    )
    return radius_keys.msk_from_mppe_keys(recv, send)


@pytest.mark.parametrize(
    "tls_max, fragment_size", [("1.2", 1020), ("1.3", 1020), ("1.2", 200), ("1.3", 200)]
)
def test_msk_matches_freeradius(pki, radius_server, radius_client, tls_max, fragment_size):
    peer = make_peer(pki, tls_max=tls_max, fragment_size=fragment_size)
    reply, eap_request = authenticate(radius_client, peer)
    assert reply.code == pyrad.packet.AccessAccept, radius_server.log_tail()
    assert EapPacket.decode(eap_request).code == Code.SUCCESS
    assert peer.state == PeerState.SUCCESS, peer.failure_reason
    assert peer.method.tls_version == {"1.2": "TLSv1.2", "1.3": "TLSv1.3"}[tls_max]
    assert msk_from_accept(reply, radius_server.secret) == peer.msk
    assert len(peer.emsk) == 64
    # the EAP Session-Id is FreeRADIUS's (RFC 5216 s2.3; RFC 9190 s2.3 for TLS 1.3)
    assert reply["EAP-Key-Name"][0] == peer.session_id


@pytest.mark.parametrize("tls_max", ["1.2", "1.3"])
@pytest.mark.parametrize("client", ["foreign", "expired"])
def test_bad_client_certificate_is_rejected(pki, radius_server, radius_client, client, tls_max):
    peer = make_peer(pki, client=client, tls_max=tls_max)
    reply, eap_request = authenticate(radius_client, peer)
    assert reply.code == pyrad.packet.AccessReject
    assert EapPacket.decode(eap_request).code == Code.FAILURE
    assert peer.state == PeerState.FAILURE
    assert peer.msk is None and peer.emsk is None
    assert "MS-MPPE-Recv-Key" not in reply


def test_time_per_authentication(pki, radius_server, radius_client):
    """Wall time of a whole EAP-TLS authentication (identity to Access-Accept) over loopback."""
    results = {}
    for tls_max in ("1.2", "1.3"):
        times = []
        for _ in range(10):
            peer = make_peer(pki, tls_max=tls_max)
            t0 = time.perf_counter()
            reply, _ = authenticate(radius_client, peer)
            times.append(time.perf_counter() - t0)
            assert reply.code == pyrad.packet.AccessAccept
        results[tls_max] = statistics.median(times)
    print(
        "EapPeer+pyrad vs FreeRADIUS, median of 10: "
        + ", ".join(f"TLS {v}: {t * 1000:.1f} ms" for v, t in results.items())
    )
    assert all(t < 1.0 for t in results.values())


EAPOL_TEST_CONF = """\
network={{
    key_mgmt=IEEE8021X
    eap=TLS
    identity="{identity}"
    ca_cert="{ca}"
    client_cert="{cert}"
    private_key="{key}"
    phase1="tls_disable_tlsv1_3={disable13}"
}}
"""


@pytest.mark.skipif(shutil.which("eapol_test") is None, reason="eapol_test is not installed")
@pytest.mark.parametrize("tls_max", ["1.2", "1.3"])
def test_eapol_test_reference(pki, radius_server, tmp_path, tls_max):
    """wpa_supplicant's eapol_test with the same client credential succeeds and checks the
    MS-MPPE keys against its own MSK ("MPPE keys OK")."""
    files = pki.clients[IDENTITY]
    conf = tmp_path / "eapol_test.conf"
    conf.write_text(
        EAPOL_TEST_CONF.format(
            identity=IDENTITY,
            ca=pki.ca.cert,
            cert=files.cert,
            key=files.key,
            disable13=0 if tls_max == "1.3" else 1,
        )
    )
    args = ["eapol_test", "-c", str(conf), "-a", "127.0.0.1", "-p", str(radius_server.auth_port)]
    args += ["-s", radius_server.secret, "-t", "10"]
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        result = subprocess.run(args, capture_output=True, text=True, timeout=30)
        times.append(time.perf_counter() - t0)
        assert result.returncode == 0, result.stdout[-3000:]
    assert result.stdout.rstrip().endswith("SUCCESS")
    assert "MPPE keys OK: 1  mismatch: 0" in result.stdout
    assert f"Using TLS version TLSv{tls_max}" in result.stdout
    print(
        f"eapol_test TLS {tls_max}: median {statistics.median(times) * 1000:.1f} ms per run "
        "(process start included)"
    )


@pytest.mark.skipif(shutil.which("eapol_test") is None, reason="eapol_test is not installed")
@pytest.mark.parametrize("tls_max", ["1.2", "1.3"])
def test_as_many_radius_round_trips_as_eapol_test(pki, radius_server, radius_client, tmp_path,
                                                  tls_max):
    """With the default fragment size and key-exchange groups, our peer needs the RADIUS
    round trips wpa_supplicant needs (each costs a WAN RTT when roaming; bench/eap_rounds.py)."""
    files = pki.clients[IDENTITY]
    conf = tmp_path / "eapol_test.conf"
    conf.write_text(EAPOL_TEST_CONF.format(identity=IDENTITY, ca=pki.ca.cert, cert=files.cert,
                                           key=files.key, disable13=0 if tls_max == "1.3" else 1))
    r = subprocess.run(["eapol_test", "-c", str(conf), "-a", "127.0.0.1", "-p",
                        str(radius_server.auth_port), "-s", radius_server.secret, "-t", "10"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout[-2000:]
    theirs = r.stdout.count("Sending RADIUS message")
    sent = []
    original = radius_client.SendPacket
    radius_client.SendPacket = lambda pkt: (sent.append(pkt), original(pkt))[1]
    try:
        peer = EapPeer(EapTlsPeer(IDENTITY, files.cert, files.key, pki.ca.cert,
                                  tls_max_version=tls_max, server_name=SERVER))
        reply, _ = authenticate(radius_client, peer)
    finally:
        radius_client.SendPacket = original
    assert reply.code == pyrad.packet.AccessAccept
    assert len(sent) == theirs, (len(sent), theirs)
