"""EAP codec (RFC 3748) and EAP-TLS peer (RFC 5216, RFC 9190) without any server process.

The EAP-TLS peer is driven against `LoopbackAuthenticator`, a minimal EAP-TLS server built
here on a pyOpenSSL memory BIO, so fragmentation, reassembly, ACKs, the TLS 1.3 Commitment
Message and key agreement are exercised in-process.
"""

from __future__ import annotations

import datetime as dt
import random

import pytest
from OpenSSL import SSL

from orchestrator.deploy.pki import Pki, issue_client_cert, issue_server_cert, make_ca, write_pem
from orchestrator.protocols import eap
from orchestrator.protocols.eap import Code, EapPacket, EapType
from orchestrator.protocols.eap_tls import (
    ACK,
    FLAG_LENGTH_INCLUDED,
    FLAG_MORE_FRAGMENTS,
    FLAG_START,
    EapPeer,
    EapTlsMessage,
    EapTlsPeer,
    PeerState,
    Reassembler,
    derive_keys,
    fragment_tls_data,
)
from orchestrator.protocols.errors import ProtocolError

SERVER = "radius.testbed.example"
CLIENT = "user@realm"

# --------------------------------------------------------------------------- EAP codec


@pytest.mark.parametrize(
    "packet, wire",
    [
        (eap.identity_request(1), bytes.fromhex("0101000501")),
        (eap.identity_response(1, "user@realm"), bytes.fromhex("0201000f01") + b"user@realm"),
        (eap.success(7), bytes.fromhex("03070004")),
        (eap.failure(255), bytes.fromhex("04ff0004")),
        (eap.nak_response(3, (EapType.TLS,)), bytes.fromhex("02030006" "030d")),
        (eap.nak_response(3), bytes.fromhex("02030006" "0300")),
        (eap.notification_response(9), bytes.fromhex("0209000502")),
        (eap.request(0, EapType.TLS, bytes([FLAG_START])), bytes.fromhex("010000060d20")),
    ],
)
def test_known_encodings_roundtrip(packet, wire):
    assert packet.encode() == wire
    assert EapPacket.decode(wire) == packet
    assert packet.length == len(wire)


def test_roundtrip_every_code_and_sizes():
    rng = random.Random(3748)
    for _ in range(500):
        code = rng.choice(list(Code))
        ident = rng.randrange(256)
        if code in (Code.SUCCESS, Code.FAILURE):
            pkt = EapPacket(code, ident)
        else:
            t = rng.choice([1, 2, 4, 13, 21, 25, 200, 255] + ([3] if code == Code.RESPONSE else []))
            pkt = EapPacket(code, ident, t, rng.randbytes(rng.randrange(0, 1500)))
        assert EapPacket.decode(pkt.encode()) == pkt


def test_padding_after_length_is_ignored():
    wire = eap.success(4).encode() + b"\x00\x00pad"
    assert EapPacket.decode(wire) == eap.success(4)
    wire = eap.identity_response(2, "a").encode() + b"\xff" * 10
    assert eap.identity_of(EapPacket.decode(wire)) == "a"


@pytest.mark.parametrize(
    "wire, reason",
    [
        (b"", "shorter than its header"),
        (b"\x01\x01\x00", "shorter than its header"),
        (b"\x05\x01\x00\x04", "unknown EAP Code 5"),
        (b"\x00\x01\x00\x04", "unknown EAP Code 0"),
        (b"\x01\x01\x00\x03", "shorter than the 4-octet header"),
        (b"\x01\x01\x00\x09\x01", "exceeds the 5 octets received"),
        (b"\x01\x01\x00\x04", "without a Type"),
        (b"\x03\x01\x00\x05\x01", "must be 4"),
        (b"\x04\x01\x00\x06\x00\x00", "must be 4"),
        (b"\x01\x01\x00\x06\x03\x0d", "Nak is valid only in Responses"),
        (b"\x01\x01\x00\x05\x00", "Type of 1..255"),
        (b"\x02\x01\x00\x08\xfe\x00\x00\x00", "Expanded Type"),
    ],
)
def test_malformed_packets_raise_protocol_error(wire, reason):
    with pytest.raises(ProtocolError) as info:
        EapPacket.decode(wire)
    assert reason in info.value.reason
    assert isinstance(info.value, ValueError)


def test_constructor_checks():
    with pytest.raises(ProtocolError):
        EapPacket(Code.SUCCESS, 1, EapType.IDENTITY)
    with pytest.raises(ProtocolError):
        EapPacket(Code.REQUEST, 256, EapType.IDENTITY)
    with pytest.raises(ProtocolError):
        EapPacket(9, 1)
    with pytest.raises(ProtocolError):
        EapPacket(Code.RESPONSE, 1, EapType.TLS, b"x" * 70000)


def test_identity_and_nak_helpers():
    req = EapPacket.decode(eap.identity_request(5, b"Hello\x00networkid=x").encode())
    assert eap.identity_of(req) == "Hello"
    assert eap.identity_of(eap.identity_response(5, "éva@realm")) == "éva@realm"
    with pytest.raises(ProtocolError, match="UTF-8"):
        eap.identity_of(eap.response(5, EapType.IDENTITY, b"\xff\xfe"))
    assert eap.nak_desired_types(eap.nak_response(1, (13, 21))) == (13, 21)
    assert eap.nak_desired_types(eap.nak_response(1)) == ()
    with pytest.raises(ProtocolError):
        eap.nak_desired_types(eap.response(1, EapType.NAK, b""))
    with pytest.raises(ProtocolError):
        eap.nak_desired_types(eap.response(1, EapType.NAK, b"\x0d\x00"))
    with pytest.raises(ProtocolError):
        eap.nak_response(1, (EapType.IDENTITY,))


def _mutations(rng: random.Random, seeds: list[bytes]):
    for _ in range(4000):
        choice = rng.randrange(5)
        if choice == 0:
            yield rng.randbytes(rng.randrange(0, 40))
            continue
        data = bytearray(rng.choice(seeds))
        if choice == 1 and data:  # flip bits
            for _ in range(rng.randrange(1, 4)):
                i = rng.randrange(len(data))
                data[i] ^= 1 << rng.randrange(8)
        elif choice == 2:  # truncate or extend
            cut = rng.randrange(len(data) + 1)
            data = data[:cut] + (rng.randbytes(rng.randrange(4)) if rng.random() < 0.3 else b"")
        elif choice == 3 and len(data) >= 4:  # lie in Length
            data[2:4] = rng.randrange(0, 0x10000).to_bytes(2, "big")
        elif choice == 4 and len(data) >= 5:  # random Type / flags
            data[4] = rng.randrange(256)
            if len(data) >= 6:
                data[5] = rng.randrange(256)
        yield bytes(data)


SEEDS = [
    eap.identity_request(1).encode(),
    eap.identity_response(1, "user@realm").encode(),
    eap.success(2).encode(),
    eap.failure(2).encode(),
    eap.nak_response(3, (13,)).encode(),
    eap.request(4, EapType.TLS, bytes([FLAG_START])).encode(),
    eap.request(
        5,
        EapType.TLS,
        EapTlsMessage(FLAG_LENGTH_INCLUDED | FLAG_MORE_FRAGMENTS, 3000, b"\x16\x03\x03" * 20).encode(),
    ).encode(),
    eap.response(6, EapType.TLS, ACK.encode()).encode(),
]


def test_fuzz_codec_only_protocol_error():
    """Seeded fuzz: decoding never raises anything but ProtocolError, and what decodes
    re-encodes to the same octets (up to Length)."""
    rng = random.Random(20240601)
    decoded = rejected = 0
    for data in _mutations(rng, SEEDS):
        try:
            pkt = EapPacket.decode(data)
        except ProtocolError:
            rejected += 1
            continue
        decoded += 1
        assert pkt.encode() == data[: pkt.length]
        if pkt.type == EapType.TLS:
            try:
                msg = EapTlsMessage.decode(pkt.type_data)
            except ProtocolError:
                continue
            assert msg.encode() == pkt.type_data
    assert decoded > 500 and rejected > 500


# --------------------------------------------------------------------------- EAP-TLS framing


def test_eap_tls_message_codec():
    msg = EapTlsMessage(FLAG_LENGTH_INCLUDED | FLAG_MORE_FRAGMENTS, 5000, b"abc")
    assert msg.encode() == b"\xc0\x00\x00\x13\x88abc"
    assert EapTlsMessage.decode(msg.encode()) == msg
    assert msg.more_fragments and not msg.start and not msg.is_ack
    assert EapTlsMessage.decode(b"\x20").start
    assert EapTlsMessage.decode(b"\x00").is_ack
    assert EapTlsMessage.decode(b"\x1f").is_ack  # reserved bits ignored
    for bad in (b"", b"\x80\x00\x00", b"\x80\x00\x00\x00\x01ab"):
        with pytest.raises(ProtocolError):
            EapTlsMessage.decode(bad)


@pytest.mark.parametrize(
    "size, fragment_size", [(0, 10), (10, 10), (11, 10), (1020, 1020), (5000, 1020), (4080, 1020)]
)
def test_fragmentation(size, fragment_size):
    data = bytes(range(256)) * (size // 256 + 1)
    data = data[:size]
    frags = fragment_tls_data(data, fragment_size)
    assert b"".join(f.tls_data for f in frags) == data
    assert all(len(f.tls_data) <= fragment_size for f in frags)
    assert len(frags) == max(1, -(-size // fragment_size))
    if len(frags) == 1:
        assert frags[0].flags == 0
    else:
        assert frags[0].flags == FLAG_LENGTH_INCLUDED | FLAG_MORE_FRAGMENTS
        assert frags[0].tls_message_length == size
        assert all(f.flags == FLAG_MORE_FRAGMENTS for f in frags[1:-1])
        assert frags[-1].flags == 0
    r = Reassembler()
    results = [r.add(f) for f in frags]
    assert results[:-1] == [None] * (len(frags) - 1) and results[-1] == data


def test_reassembly_errors():
    r = Reassembler(max_message_length=100)
    with pytest.raises(ProtocolError, match="lacks the L flag"):
        r.add(EapTlsMessage(FLAG_MORE_FRAGMENTS, None, b"x"))
    with pytest.raises(ProtocolError, match="exceeds the limit"):
        r.add(EapTlsMessage(FLAG_LENGTH_INCLUDED | FLAG_MORE_FRAGMENTS, 101, b"x"))
    assert r.add(EapTlsMessage(FLAG_LENGTH_INCLUDED | FLAG_MORE_FRAGMENTS, 4, b"ab")) is None
    with pytest.raises(ProtocolError, match="more than the announced"):
        r.add(EapTlsMessage(0, None, b"cde"))
    assert not r.in_progress
    assert r.add(EapTlsMessage(FLAG_LENGTH_INCLUDED | FLAG_MORE_FRAGMENTS, 4, b"ab")) is None
    with pytest.raises(ProtocolError, match="reassembled 3 octets"):
        r.add(EapTlsMessage(0, None, b"c"))
    assert r.add(EapTlsMessage(FLAG_LENGTH_INCLUDED | FLAG_MORE_FRAGMENTS, 4, b"ab")) is None
    with pytest.raises(ProtocolError, match="changed between fragments"):
        r.add(EapTlsMessage(FLAG_LENGTH_INCLUDED, 5, b"cd"))
    # An L flag repeated with the same value on later fragments is tolerated.
    assert r.add(EapTlsMessage(FLAG_LENGTH_INCLUDED | FLAG_MORE_FRAGMENTS, 4, b"ab")) is None
    assert r.add(EapTlsMessage(FLAG_LENGTH_INCLUDED, 4, b"cd")) == b"abcd"


# --------------------------------------------------------------------------- loopback server


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pki")
    pki = Pki.ensure(directory, "Testbed CA", [SERVER], [CLIENT])
    foreign = make_ca("Foreign CA")
    c = issue_client_cert(foreign, CLIENT)
    pki.clients["foreign"] = write_pem(directory, "foreign-client", c.cert, c.key)
    s = issue_server_cert(foreign, SERVER)
    pki.servers["foreign"] = write_pem(directory, "foreign-server", s.cert, s.key)
    return pki


class LoopbackAuthenticator:
    """A minimal EAP-TLS server (RFC 5216 s2.1, RFC 9190 s2.1.1) for unit tests only."""

    def __init__(self, pki, tls_max="1.2", fragment_size=1000, server="radius"):
        ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
        ctx.set_min_proto_version(SSL.TLS1_2_VERSION)
        ctx.set_max_proto_version(SSL.TLS1_3_VERSION if tls_max == "1.3" else SSL.TLS1_2_VERSION)
        files = pki.servers[SERVER if server == "radius" else server]
        ctx.use_certificate_file(str(files.cert))
        ctx.use_privatekey_file(str(files.key))
        ctx.load_verify_locations(str(pki.ca.cert))
        ctx.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, lambda *a: a[-1])
        self.conn = SSL.Connection(ctx, None)
        self.conn.set_accept_state()
        self.fragment_size = fragment_size
        self.identifier = 0
        self.pending: list[EapTlsMessage] = []
        self.reassembler = Reassembler()
        self.committed = False
        self.failed = False
        self.msk = self.emsk = None
        self.peer_packets: list[bytes] = []  # every EAP Response received
        self.acks_received = 0

    def _request(self, message: EapTlsMessage) -> bytes:
        self.identifier = (self.identifier + 1) % 256
        return eap.request(self.identifier, EapType.TLS, message.encode()).encode()

    def start(self) -> bytes:
        return self._request(EapTlsMessage(FLAG_START))

    def handle(self, response: bytes) -> bytes:
        self.peer_packets.append(response)
        pkt = EapPacket.decode(response)
        assert pkt.code == Code.RESPONSE and pkt.identifier == self.identifier
        msg = EapTlsMessage.decode(pkt.type_data)
        if self.pending:
            assert msg.is_ack
            self.acks_received += 1
            return self._request(self.pending.pop(0))
        whole = self.reassembler.add(msg)
        if whole is None:
            return self._request(ACK)
        if not whole:  # the peer's ACK of our last flight
            self.acks_received += 1
            if self.failed or not self.committed:
                return eap.failure(self.identifier).encode()
            return eap.success(self.identifier).encode()
        if self.failed:
            return eap.failure(self.identifier).encode()
        self.conn.bio_write(whole)
        try:
            self.conn.do_handshake()
            if not self.committed:
                if self.conn.get_protocol_version_name() == "TLSv1.3":
                    self.conn.send(b"\x00")  # Commitment Message, RFC 9190 s2.1.1
                self.msk, self.emsk = derive_keys(self.conn)
                self.committed = True
        except SSL.WantReadError:
            pass
        except SSL.Error:
            self.failed = True
        out = b""
        while True:
            try:
                out += self.conn.bio_read(65536)
            except SSL.WantReadError:
                break
        if not out:
            return eap.failure(self.identifier).encode()
        self.pending = fragment_tls_data(out, self.fragment_size, always_include_length=True)
        return self._request(self.pending.pop(0))


def run_exchange(peer, server, first: bytes | None = None, limit: int = 100):
    request = first if first is not None else server.start()
    for _ in range(limit):
        response = peer.handle(request)
        if EapPacket.decode(request).code in (Code.SUCCESS, Code.FAILURE):
            assert response is None
            return request
        assert response is not None
        request = server.handle(response)
    raise AssertionError("exchange did not finish")


def make_peer(pki, tls_max="1.2", fragment_size=1020, client=CLIENT, **kw):
    files = pki.clients[client]
    return EapTlsPeer(CLIENT, files.cert, files.key, pki.ca.cert, tls_max, fragment_size, **kw)


@pytest.mark.parametrize("tls_max", ["1.2", "1.3"])
@pytest.mark.parametrize("peer_fragment, server_fragment", [(1020, 1000), (100, 64), (4000, 4000)])
def test_peer_against_loopback(pki, tls_max, peer_fragment, server_fragment):
    peer = make_peer(pki, tls_max, peer_fragment)
    server = LoopbackAuthenticator(pki, tls_max, server_fragment)
    final = run_exchange(peer, server)
    assert EapPacket.decode(final).code == Code.SUCCESS
    assert peer.state == PeerState.SUCCESS and peer.failure_reason is None
    assert peer.tls_version == ("TLSv1.3" if tls_max == "1.3" else "TLSv1.2")
    assert peer.msk == server.msk and len(peer.msk) == 64
    assert peer.emsk == server.emsk and len(peer.emsk) == 64
    assert peer.msk != peer.emsk
    assert len(peer.session_id) == 65 and peer.session_id[0] == 0x0D
    # Every EAP packet the peer sent respects its fragment size (+10 octets of headers).
    assert max(len(p) for p in server.peer_packets) <= peer_fragment + 10
    if server_fragment < 1000:
        assert server.acks_received > 3  # the server's flights were fragmented


def test_tls13_waits_for_commitment_message(pki):
    """RFC 9190 s2.1.1: with TLS 1.3 the peer is not done when its handshake completes;
    an EAP-Success before the Commitment Message is discarded."""
    peer = make_peer(pki, "1.3")
    server = LoopbackAuthenticator(pki, "1.3")
    request = server.start()
    while True:
        response = peer.handle(request)
        if peer._handshake_done:
            break
        request = server.handle(response)
    assert peer.state == PeerState.HANDSHAKE
    with pytest.raises(ProtocolError, match="has not finished"):
        peer.handle(eap.success(server.identifier).encode())
    assert peer.msk is None and peer.state == PeerState.HANDSHAKE
    while peer.state == PeerState.HANDSHAKE:  # rest of our flight, then the Commitment
        request = server.handle(response)
        response = peer.handle(request)
    assert peer.state == PeerState.ESTABLISHED
    assert server.committed
    assert EapTlsMessage.decode(EapPacket.decode(response).type_data) == ACK
    assert peer.handle(server.handle(response)) is None
    assert peer.state == PeerState.SUCCESS and peer.msk == server.msk


def test_retransmitted_request_gets_same_response(pki):
    peer = make_peer(pki, "1.2")
    server = LoopbackAuthenticator(pki, "1.2")
    start = server.start()
    first = peer.handle(start)
    assert peer.handle(start) == first  # RFC 3748 s4.1
    request = server.handle(first)
    second = peer.handle(request)
    assert peer.handle(request) == second


def test_success_before_handshake_is_discarded(pki):
    peer = make_peer(pki)
    with pytest.raises(ProtocolError):
        peer.handle(eap.success(1).encode())
    server = LoopbackAuthenticator(pki)
    peer.handle(server.start())
    with pytest.raises(ProtocolError):
        peer.handle(eap.success(1).encode())
    assert peer.state == PeerState.HANDSHAKE and peer.msk is None


def test_failure_clears_keys(pki):
    peer = make_peer(pki)
    server = LoopbackAuthenticator(pki)
    request = server.start()
    while peer.state != PeerState.ESTABLISHED:
        request = server.handle(peer.handle(request))
    peer.handle(eap.failure(server.identifier).encode())
    assert peer.state == PeerState.FAILURE and peer.msk is None and peer.emsk is None
    assert "EAP-Failure" in peer.failure_reason


@pytest.mark.parametrize("tls_max", ["1.2", "1.3"])
def test_untrusted_server_certificate_fails(pki, tls_max):
    peer = make_peer(pki, tls_max)
    server = LoopbackAuthenticator(pki, tls_max, server="foreign")
    final = run_exchange(peer, server)
    assert EapPacket.decode(final).code == Code.FAILURE
    assert peer.state == PeerState.FAILURE and peer.msk is None
    assert "certificate verify failed" in peer.failure_reason


def test_server_name_mismatch_fails(pki):
    peer = make_peer(pki, "1.2", server_name="other.example")
    final = run_exchange(peer, LoopbackAuthenticator(pki, "1.2"))
    assert EapPacket.decode(final).code == Code.FAILURE
    assert "other.example" in peer.failure_reason
    ok = make_peer(pki, "1.2", server_name=SERVER)
    final = run_exchange(ok, LoopbackAuthenticator(pki, "1.2"))
    assert EapPacket.decode(final).code == Code.SUCCESS


@pytest.mark.parametrize("tls_max", ["1.2", "1.3"])
def test_client_from_foreign_ca_is_rejected(pki, tls_max):
    peer = make_peer(pki, tls_max, client="foreign")
    final = run_exchange(peer, LoopbackAuthenticator(pki, tls_max))
    assert EapPacket.decode(final).code == Code.FAILURE
    assert peer.state == PeerState.FAILURE and peer.msk is None


def test_bad_server_fragments_fail_the_peer(pki):
    peer = make_peer(pki)
    peer.handle(eap.request(1, EapType.TLS, bytes([FLAG_START])).encode())
    bad = EapTlsMessage(FLAG_LENGTH_INCLUDED, 10, b"abc")  # announces 10, carries 3
    response = peer.handle(eap.request(2, EapType.TLS, bad.encode()).encode())
    assert EapTlsMessage.decode(EapPacket.decode(response).type_data) == ACK
    assert peer.state == PeerState.FAILURE and "TLS Message Length" in peer.failure_reason


def test_peer_acks_each_server_fragment(pki):
    peer = make_peer(pki)
    peer.handle(eap.request(1, EapType.TLS, bytes([FLAG_START])).encode())
    first = EapTlsMessage(FLAG_LENGTH_INCLUDED | FLAG_MORE_FRAGMENTS, 300, b"\x16" * 100)
    response = peer.handle(eap.request(2, EapType.TLS, first.encode()).encode())
    pkt = EapPacket.decode(response)
    assert pkt.identifier == 2 and pkt.type_data == b"\x00"
    mid = EapTlsMessage(FLAG_MORE_FRAGMENTS, None, b"\x16" * 100)
    response = peer.handle(eap.request(3, EapType.TLS, mid.encode()).encode())
    assert EapPacket.decode(response).type_data == b"\x00"
    assert peer.state == PeerState.HANDSHAKE


def test_eap_peer_layer(pki):
    peer = EapPeer(make_peer(pki, "1.3"))
    server = LoopbackAuthenticator(pki, "1.3")
    resp = EapPacket.decode(peer.handle(eap.identity_request(0).encode()))
    assert resp.code == Code.RESPONSE and eap.identity_of(resp) == CLIENT
    resp = EapPacket.decode(peer.handle(eap.request(1, EapType.NOTIFICATION, b"hello").encode()))
    assert resp.type == EapType.NOTIFICATION and resp.type_data == b""
    md5 = eap.request(2, EapType.MD5_CHALLENGE, b"\x10" + bytes(16)).encode()
    resp = EapPacket.decode(peer.handle(md5))
    assert eap.nak_desired_types(resp) == (EapType.TLS,)
    final = run_exchange(peer, server)
    assert EapPacket.decode(final).code == Code.SUCCESS
    assert peer.succeeded and peer.msk == server.msk and peer.emsk == server.emsk
    with pytest.raises(ProtocolError):
        peer.handle(eap.identity_response(9, "x").encode())


def test_eap_peer_failure_before_method(pki):
    peer = EapPeer(make_peer(pki))
    peer.handle(eap.identity_request(0).encode())
    with pytest.raises(ProtocolError):
        peer.handle(eap.success(0).encode())
    assert peer.handle(eap.failure(0).encode()) is None
    assert peer.state == PeerState.FAILURE and peer.msk is None


def test_fuzz_peer_only_protocol_error(pki):
    """Random and mutated Requests into peers at several stages: only ProtocolError escapes."""
    rng = random.Random(5216)
    server = LoopbackAuthenticator(pki, "1.3", 300)
    transcript = [server.start()]
    peer = make_peer(pki, "1.3", 300)
    for _ in range(3):
        transcript.append(server.handle(peer.handle(transcript[-1])))
    seeds = SEEDS + transcript
    count = 0
    for i, data in enumerate(_mutations(rng, seeds)):
        if i % 400 == 0:  # a fresh peer, advanced a random number of steps
            tls_peer = make_peer(pki, "1.3", 300)
            for request in transcript[: rng.randrange(len(transcript))]:
                try:
                    tls_peer.handle(request)
                except ProtocolError:
                    pass
            target = EapPeer(tls_peer) if rng.random() < 0.5 else tls_peer
        try:
            target.handle(data)
        except ProtocolError:
            pass
        count += 1
        assert target.state in set(PeerState)
        if target.state != PeerState.SUCCESS:
            assert target.msk is None
    assert count == 4000


def test_constructor_validation(pki):
    files = pki.clients[CLIENT]
    with pytest.raises(ValueError):
        EapTlsPeer(CLIENT, files.cert, files.key, pki.ca.cert, "1.1")
    with pytest.raises(ValueError):
        EapTlsPeer(CLIENT, files.cert, files.key, pki.ca.cert, "1.2", 0)
    other = pki.clients["foreign"]
    with pytest.raises(SSL.Error):  # key does not match certificate
        EapTlsPeer(CLIENT, files.cert, other.key, pki.ca.cert)


def test_expired_client_certificate_is_rejected_by_loopback(pki, tmp_path):
    ca = pki.load_ca()
    expired = issue_client_cert(
        ca, CLIENT, days=1, not_before=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=9)
    )
    files = write_pem(tmp_path, "expired", expired.cert, expired.key)
    peer = EapTlsPeer(CLIENT, files.cert, files.key, pki.ca.cert, "1.2")
    final = run_exchange(peer, LoopbackAuthenticator(pki, "1.2"))
    assert EapPacket.decode(final).code == Code.FAILURE and peer.msk is None
