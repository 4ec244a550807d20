"""EAP-TLS peer (RFC 5216; RFC 9190 for TLS 1.3) on pyOpenSSL memory BIOs.

Who does what:
- `EapTlsMessage` knows the EAP-TLS Type-Data: Flags L/M/S and the TLS Message Length
  (RFC 5216 s3.1).
- `fragment_tls_data` cuts one outgoing TLS flight into EAP-TLS messages; `Reassembler`
  puts the authenticator's fragments back together (RFC 5216 s2.1.5).
- `EapTlsPeer` is the peer side of the method: it drives an OpenSSL client whose network
  side is a memory BIO, sends an empty EAP-TLS response to acknowledge each fragment, waits
  for the TLS 1.3 Commitment Message (RFC 9190 s2.1.1, s2.5), and derives MSK and EMSK
  (RFC 5216 s2.3, RFC 9190 s2.3).
- `EapPeer` is the RFC 3748 peer layer above it: Identity (s5.1), Notification (s5.2),
  Nak for other methods (s5.3.1), duplicate Requests (s4.1), Success/Failure (s4.2).

Nothing here touches the network: ``handle(eap_request_bytes)`` returns the EAP Response to
send (or ``None``). Only the constructor reads the certificate, key and CA files.

``fragment_size`` counts TLS-data octets per EAP-TLS message: an EAP packet this peer sends
is at most ``fragment_size + 10`` octets (EAP header 5, Flags 1, TLS Message Length 4).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import Enum
from os import PathLike

from cryptography import x509
from OpenSSL import SSL

from orchestrator.protocols import eap
from orchestrator.protocols.eap import Code, EapPacket, EapType
from orchestrator.protocols.errors import ProtocolError

__all__ = [
    "FLAG_LENGTH_INCLUDED",
    "FLAG_MORE_FRAGMENTS",
    "FLAG_START",
    "EapTlsMessage",
    "fragment_tls_data",
    "Reassembler",
    "PeerState",
    "EapTlsPeer",
    "EapPeer",
    "derive_keys",
]

# Flags octet (RFC 5216 s3.1): L M S R R R R R
FLAG_LENGTH_INCLUDED = 0x80  # L: TLS Message Length field present
FLAG_MORE_FRAGMENTS = 0x40  # M: more fragments follow
FLAG_START = 0x20  # S: EAP-TLS Start (authenticator only)

# RFC 5216 s2.3
TLS12_KEY_LABEL = b"client EAP encryption"
# RFC 9190 s2.3: TLS-Exporter("EXPORTER_EAP_TLS_Key_Material", Type-Code 0x0D, 128)
TLS13_KEY_LABEL = b"EXPORTER_EAP_TLS_Key_Material"
# wpa_supplicant's default fragment_size (1398): the TLS 1.2 client flight (certificate,
# key exchange, verify, finished) fits in one EAP-TLS message, so EAP-TLS takes as many
# RADIUS round trips as with wpa_supplicant/eapol_test (each costs a WAN RTT when roaming)
DEFAULT_FRAGMENT_SIZE = 1398
# Key exchange groups offered (TLS 1.3 key shares): the classical ones of the OpenSSL 3.0 that
# wpa_supplicant uses on Debian 12. The OpenSSL bundled with `cryptography` also offers a
# post-quantum hybrid share (X25519MLKEM768, 1216 octets), which makes the ClientHello larger
# than one 1398-octet fragment: one more EAP round trip than wpa_supplicant (bench/eap_rounds.py).
DEFAULT_GROUPS = "X25519:P-256:X448:P-521:P-384"


def _set_groups(ctx: SSL.Context, groups: str) -> None:
    """SSL_CTX_set1_groups_list (pyOpenSSL has no wrapper; its own binding exposes the
    function under its older name, SSL_CTX_set1_curves_list)."""
    from OpenSSL._util import ffi, lib
    setter = getattr(lib, "SSL_CTX_set1_groups_list", None) or getattr(
        lib, "SSL_CTX_set1_curves_list", None)
    if setter is None:
        return                          # this OpenSSL binding cannot choose: its defaults
    if setter(ctx._context, ffi.new("char[]", groups.encode())) != 1:
        raise ValueError(f"OpenSSL refused the key exchange groups {groups!r}")
TLS13_METHOD_ID_LABEL = b"EXPORTER_EAP_TLS_Method-Id"
TLS13_CONTEXT = bytes([EapType.TLS])
COMMITMENT_MESSAGE = b"\x00"  # RFC 9190 s2.1.1
KEY_MATERIAL_LENGTH = 128  # MSK (64) || EMSK (64)

DEFAULT_MAX_MESSAGE_LENGTH = 65536  # bound on a reassembled TLS flight
# EAP header (5) + Flags (1) + TLS Message Length (4) + data must fit the 16-bit EAP Length
MAX_FRAGMENT_SIZE = 0xFFFF - 10


@dataclass(frozen=True)
class EapTlsMessage:
    """The Type-Data of an EAP-TLS Request or Response (RFC 5216 s3.1, s3.2).

    ``tls_message_length`` is the total length of the (possibly fragmented) TLS message;
    it is present exactly when the L flag is set.
    """

    flags: int = 0
    tls_message_length: int | None = None
    tls_data: bytes = b""

    def __post_init__(self) -> None:
        if not 0 <= self.flags <= 0xFF:
            raise ProtocolError(f"EAP-TLS Flags {self.flags!r} is not one octet")
        has_length = bool(self.flags & FLAG_LENGTH_INCLUDED)
        if has_length != (self.tls_message_length is not None):
            raise ProtocolError("EAP-TLS L flag and TLS Message Length disagree (RFC 5216 s3.1)")
        if self.tls_message_length is not None:
            if not 0 <= self.tls_message_length <= 0xFFFFFFFF:
                raise ProtocolError("TLS Message Length is not four octets")
            if self.tls_message_length < len(self.tls_data):
                raise ProtocolError(
                    f"TLS Message Length {self.tls_message_length} is less than the "
                    f"{len(self.tls_data)} octets of this fragment (RFC 5216 s3.1)"
                )

    @property
    def start(self) -> bool:
        """S: EAP-TLS Start (RFC 5216 s3.1)."""
        return bool(self.flags & FLAG_START)

    @property
    def more_fragments(self) -> bool:
        """M: more fragments follow (RFC 5216 s2.1.5)."""
        return bool(self.flags & FLAG_MORE_FRAGMENTS)

    @property
    def is_ack(self) -> bool:
        """An EAP-TLS message without data, acknowledging a fragment (RFC 5216 s2.1.5)."""
        return not self.tls_data and not self.start and not self.more_fragments

    def encode(self) -> bytes:
        out = bytes([self.flags])
        if self.tls_message_length is not None:
            out += struct.pack("!I", self.tls_message_length)
        return out + self.tls_data

    @classmethod
    def decode(cls, type_data: bytes) -> EapTlsMessage:
        """Parse EAP-TLS Type-Data. The five Reserved flag bits are ignored on receipt."""
        if not type_data:
            raise ProtocolError("EAP-TLS packet without Flags (RFC 5216 s3.1)")
        flags = type_data[0]
        if flags & FLAG_LENGTH_INCLUDED:
            if len(type_data) < 5:
                raise ProtocolError("EAP-TLS L flag set but TLS Message Length truncated")
            (length,) = struct.unpack_from("!I", type_data, 1)
            return cls(flags, length, bytes(type_data[5:]))
        return cls(flags, None, bytes(type_data[1:]))


ACK = EapTlsMessage()


def fragment_tls_data(
    tls_data: bytes, fragment_size: int, *, always_include_length: bool = False
) -> list[EapTlsMessage]:
    """Split one TLS flight into EAP-TLS messages of at most ``fragment_size`` TLS octets.

    RFC 5216 s2.1.5: every fragment but the last has M set, and the first fragment of a
    fragmented message has L set with the total TLS Message Length. An unfragmented message
    carries L only if ``always_include_length``.
    """
    if fragment_size < 1:
        raise ValueError("fragment_size must be at least 1")
    total = len(tls_data)
    if total <= fragment_size:
        if always_include_length:
            return [EapTlsMessage(FLAG_LENGTH_INCLUDED, total, tls_data)]
        return [EapTlsMessage(0, None, tls_data)]
    chunks = [tls_data[i : i + fragment_size] for i in range(0, total, fragment_size)]
    out = []
    for i, chunk in enumerate(chunks):
        flags = FLAG_MORE_FRAGMENTS if i < len(chunks) - 1 else 0
        if i == 0:
            out.append(EapTlsMessage(flags | FLAG_LENGTH_INCLUDED, total, chunk))
        else:
            out.append(EapTlsMessage(flags, None, chunk))
    return out


class Reassembler:
    """Collects the fragments of one TLS message sent by the other side (RFC 5216 s2.1.5).

    `add` returns the whole TLS message once the fragment without M arrives, and ``None``
    while more are expected (the caller then sends an ACK).
    """

    def __init__(self, max_message_length: int = DEFAULT_MAX_MESSAGE_LENGTH) -> None:
        self.max_message_length = max_message_length
        self._parts: list[bytes] = []
        self._received = 0
        self._expected: int | None = None

    @property
    def in_progress(self) -> bool:
        return bool(self._parts) or self._expected is not None

    def reset(self) -> None:
        self._parts, self._received, self._expected = [], 0, None

    def add(self, message: EapTlsMessage) -> bytes | None:
        first = not self.in_progress
        if message.tls_message_length is not None:
            if message.tls_message_length > self.max_message_length:
                self.reset()
                raise ProtocolError(
                    f"TLS Message Length {message.tls_message_length} exceeds the limit of "
                    f"{self.max_message_length} octets"
                )
            if self._expected is None and first:
                self._expected = message.tls_message_length
            elif message.tls_message_length != self._expected:
                self.reset()
                raise ProtocolError(
                    "TLS Message Length changed between fragments (RFC 5216 s2.1.5)"
                )
        elif first and message.more_fragments:
            raise ProtocolError(
                "first fragment of a fragmented TLS message lacks the L flag (RFC 5216 s2.1.5)"
            )
        if message.more_fragments and not message.tls_data:
            self.reset()
            raise ProtocolError("fragment with M flag but no TLS data (RFC 5216 s2.1.5)")
        self._parts.append(message.tls_data)
        self._received += len(message.tls_data)
        if self._expected is not None and self._received > self._expected:
            expected = self._expected
            self.reset()
            raise ProtocolError(
                f"fragments carry more than the announced TLS Message Length {expected}"
            )
        if self._received > self.max_message_length:
            self.reset()
            raise ProtocolError(f"reassembled TLS message exceeds {self.max_message_length} octets")
        if message.more_fragments:
            return None
        whole = b"".join(self._parts)
        expected = self._expected
        self.reset()
        if expected is not None and len(whole) != expected:
            raise ProtocolError(
                f"reassembled {len(whole)} octets but TLS Message Length was {expected} "
                "(RFC 5216 s2.1.5)"
            )
        return whole


class PeerState(str, Enum):
    """Where an EAP-TLS peer stands (after RFC 4137's methodState/decision, simplified)."""

    IDLE = "idle"  # waiting for EAP-TLS Start
    HANDSHAKE = "handshake"  # TLS handshake in progress
    ESTABLISHED = "established"  # handshake (and TLS 1.3 commitment) done; MSK derived
    SUCCESS = "success"  # EAP-Success accepted; MSK/EMSK exported
    FAILURE = "failure"


def derive_keys(conn: SSL.Connection) -> tuple[bytes, bytes]:
    """MSK and EMSK of a finished EAP-TLS handshake.

    TLS 1.2 and earlier (RFC 5216 s2.3): Key_Material = TLS-PRF-128(master_secret,
    "client EAP encryption", client.random || server.random). TLS 1.3 (RFC 9190 s2.3):
    Key_Material = TLS-Exporter("EXPORTER_EAP_TLS_Key_Material", 0x0D, 128).
    MSK = Key_Material[0..63], EMSK = Key_Material[64..127].
    """
    if conn.get_protocol_version_name() == "TLSv1.3":
        km = conn.export_keying_material(TLS13_KEY_LABEL, KEY_MATERIAL_LENGTH, TLS13_CONTEXT)
    else:
        km = conn.export_keying_material(TLS12_KEY_LABEL, KEY_MATERIAL_LENGTH)
    return km[:64], km[64:]


def derive_session_id(conn: SSL.Connection) -> bytes:
    """Session-Id = 0x0D || client.random || server.random (RFC 5216 s2.3), or for TLS 1.3
    0x0D || TLS-Exporter("EXPORTER_EAP_TLS_Method-Id", 0x0D, 64) (RFC 9190 s2.3: the context
    is the Type-Code, as FreeRADIUS and hostapd use it)."""
    if conn.get_protocol_version_name() == "TLSv1.3":
        # Method-Id = TLS-Exporter("EXPORTER_EAP_TLS_Method-Id", Type-Code 0x0D, 64)
        return TLS13_CONTEXT + conn.export_keying_material(TLS13_METHOD_ID_LABEL, 64, TLS13_CONTEXT)
    return TLS13_CONTEXT + conn.client_random() + conn.server_random()


_TLS_VERSIONS = {"1.2": SSL.TLS1_2_VERSION, "1.3": SSL.TLS1_3_VERSION}


class EapTlsPeer:
    """The peer side of EAP-TLS (RFC 5216 s2.1, RFC 9190 s2.1).

    Feed every EAP packet addressed to the method to `handle`; send back what it returns.

    - Malformed or out-of-place packets raise `ProtocolError` and change nothing (the caller
      silently discards them, RFC 3748 s4.1). That includes an EAP-Success that arrives
      before the handshake has finished: it is never taken as success.
    - A TLS failure (bad server certificate, alert from the server, a server fragment
      stream that does not add up) moves to `PeerState.FAILURE` with `failure_reason` set;
      `handle` still returns the TLS alert, or an empty EAP-TLS response acknowledging the
      server's alert (RFC 5216 s2.1.3), so the authenticator can send EAP-Failure.
    - `msk` and `emsk` are available only after EAP-Success (RFC 3748 s7.10).

    ``server_name``, if given, must be a DNS name in the server certificate's
    subjectAltName (RFC 5216 s5.2); the chain is always verified against ``ca_path``.
    """

    def __init__(
        self,
        identity: str,
        cert_path: str | PathLike[str],
        key_path: str | PathLike[str],
        ca_path: str | PathLike[str],
        tls_max_version: str = "1.2",
        fragment_size: int = DEFAULT_FRAGMENT_SIZE,
        *,
        tls_min_version: str = "1.2",
        server_name: str | None = None,
        max_message_length: int = DEFAULT_MAX_MESSAGE_LENGTH,
        groups: str | None = DEFAULT_GROUPS,
    ) -> None:
        if tls_max_version not in _TLS_VERSIONS or tls_min_version not in _TLS_VERSIONS:
            raise ValueError(
                f"TLS versions must be one of {sorted(_TLS_VERSIONS)}, "
                f"got min={tls_min_version!r} max={tls_max_version!r}"
            )
        if not 1 <= fragment_size <= MAX_FRAGMENT_SIZE:
            raise ValueError(f"fragment_size must be 1..{MAX_FRAGMENT_SIZE}, got {fragment_size}")
        self.identity = identity
        self.fragment_size = fragment_size
        self.server_name = server_name
        self.tls_max_version = tls_max_version
        ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
        ctx.set_min_proto_version(_TLS_VERSIONS[tls_min_version])
        ctx.set_max_proto_version(_TLS_VERSIONS[tls_max_version])
        if groups:
            _set_groups(ctx, groups)
        ctx.use_certificate_chain_file(str(cert_path))
        ctx.use_privatekey_file(str(key_path))
        ctx.check_privatekey()
        ctx.load_verify_locations(str(ca_path))
        ctx.set_verify(SSL.VERIFY_PEER, self._verify_server)
        self._ctx = ctx
        self._reassembler = Reassembler(max_message_length)
        self._reset()

    # -- public state ---------------------------------------------------------------------

    @property
    def state(self) -> PeerState:
        return self._state

    @property
    def failure_reason(self) -> str | None:
        return self._failure_reason

    @property
    def msk(self) -> bytes | None:
        """Master Session Key, 64 octets, once EAP-Success was accepted (RFC 5216 s2.3)."""
        return self._msk if self._state == PeerState.SUCCESS else None

    @property
    def emsk(self) -> bytes | None:
        """Extended Master Session Key, 64 octets, once EAP-Success was accepted."""
        return self._emsk if self._state == PeerState.SUCCESS else None

    @property
    def session_id(self) -> bytes | None:
        """EAP Session-Id (RFC 5216 s2.3, RFC 9190 s2.3), once EAP-Success was accepted."""
        return self._session_id if self._state == PeerState.SUCCESS else None

    @property
    def tls_version(self) -> str | None:
        """Negotiated TLS version, e.g. ``"TLSv1.3"``, once the handshake got that far."""
        if self._conn is None:
            return None
        name = self._conn.get_protocol_version_name()
        return None if name == "unknown" else name

    # -- EAP input ------------------------------------------------------------------------

    def handle(self, eap_request: bytes) -> bytes | None:
        """Process one EAP packet from the authenticator; return the EAP Response or None."""
        packet = EapPacket.decode(eap_request)
        if packet.code == Code.SUCCESS:
            self._on_success()
            return None
        if packet.code == Code.FAILURE:
            self._on_failure()
            return None
        if packet.code != Code.REQUEST or packet.type != EapType.TLS:
            raise ProtocolError(f"EAP-TLS peer cannot handle {packet!r}")
        raw = bytes(eap_request[: packet.length])
        if (
            self._last_request is not None
            and packet.identifier == self._last_request[0]
            and raw == self._last_request[1]
        ):
            return self._last_response  # retransmitted Request (RFC 3748 s4.1)
        message = EapTlsMessage.decode(packet.type_data)
        reply = self._on_request(message)
        response = eap.response(packet.identifier, EapType.TLS, reply.encode()).encode()
        self._last_request = (packet.identifier, raw)
        self._last_response = response
        return response

    def _on_request(self, message: EapTlsMessage) -> EapTlsMessage:
        if message.start:
            # EAP-TLS Start (RFC 5216 s2.1.1): begin (or begin again) with a ClientHello.
            self._reset()
            self._state = PeerState.HANDSHAKE
            conn = SSL.Connection(self._ctx, None)
            conn.set_connect_state()
            if self.server_name:
                conn.set_tlsext_host_name(self.server_name.encode("idna"))
            self._conn = conn
            self._drive_tls()
            return self._next_outgoing()
        if self._outgoing:
            # The authenticator acknowledges our previous fragment (RFC 5216 s2.1.5).
            if not message.is_ack:
                raise ProtocolError(
                    "expected an EAP-TLS ACK while sending fragments (RFC 5216 s2.1.5)"
                )
            return self._next_outgoing()
        if self._state not in (PeerState.HANDSHAKE, PeerState.ESTABLISHED):
            raise ProtocolError(f"EAP-TLS Request in state {self._state.value}")
        if message.is_ack and not self._reassembler.in_progress:
            raise ProtocolError("EAP-TLS ACK from the authenticator with nothing to acknowledge")
        try:
            whole = self._reassembler.add(message)
        except ProtocolError as exc:
            self._fail(f"bad fragments from the authenticator: {exc.reason}")
            return ACK
        if whole is None:
            return ACK  # acknowledge the fragment (RFC 5216 s2.1.5)
        if self._state == PeerState.ESTABLISHED:
            # After the handshake (and, for TLS 1.3, the Commitment Message) the server
            # may only send an alert (RFC 9190 s2.1.1); anything else is an error.
            self._conn.bio_write(whole)
            self._read_application_data()
            if self._state == PeerState.ESTABLISHED:
                self._fail("TLS data from the authenticator after the handshake finished")
            return self._next_outgoing()
        self._conn.bio_write(whole)
        self._drive_tls()
        return self._next_outgoing()

    # -- TLS engine -----------------------------------------------------------------------

    def _drive_tls(self) -> None:
        """Run the handshake as far as the input allows, then collect the output."""
        conn = self._conn
        try:
            if not self._handshake_done:
                conn.do_handshake()
                self._handshake_done = True
        except SSL.WantReadError:
            pass
        except SSL.Error as exc:
            self._fail(f"TLS handshake failed: {_ssl_error_text(exc)}")
        if self._handshake_done and self._state == PeerState.HANDSHAKE:
            if conn.get_protocol_version_name() == "TLSv1.3":
                # RFC 9190 s2.1.1: wait for the Commitment Message (or an alert).
                self._read_application_data()
            else:
                self._establish()  # RFC 5216 s2.1.1: server Finished received
        self._collect_output()

    def _read_application_data(self) -> None:
        conn = self._conn
        while self._state in (PeerState.HANDSHAKE, PeerState.ESTABLISHED):
            try:
                data = conn.recv(16384)
            except SSL.WantReadError:
                break
            except SSL.ZeroReturnError:
                self._fail(
                    "the authenticator closed TLS (close_notify) without a Commitment Message"
                )
                break
            except SSL.Error as exc:
                self._fail(f"TLS failed after the handshake: {_ssl_error_text(exc)}")
                break
            if self._state == PeerState.HANDSHAKE and data == COMMITMENT_MESSAGE:
                self._establish()  # RFC 9190 s2.1.1 Commitment Message
            else:
                self._fail(
                    f"unexpected TLS application data ({len(data)} octets) from the "
                    "authenticator (RFC 9190 s2.1.1 allows only the one-octet 0x00)"
                )
        self._collect_output()

    def _collect_output(self) -> None:
        out = b""
        while True:
            try:
                chunk = self._conn.bio_read(65536)
            except SSL.WantReadError:
                break
            if not chunk:
                break
            out += chunk
        if out:
            self._outgoing.extend(fragment_tls_data(out, self.fragment_size))

    def _next_outgoing(self) -> EapTlsMessage:
        if self._outgoing:
            return self._outgoing.pop(0)
        return ACK  # nothing to send: empty EAP-TLS Response (RFC 5216 s2.1.1, s2.1.3)

    def _establish(self) -> None:
        self._msk, self._emsk = derive_keys(self._conn)
        self._session_id = derive_session_id(self._conn)
        self._state = PeerState.ESTABLISHED

    def _verify_server(self, conn, cert, errno, depth, ok) -> bool:
        if not ok:
            return False
        if depth == 0 and self.server_name:
            try:
                san = cert.to_cryptography().extensions.get_extension_for_class(
                    x509.SubjectAlternativeName
                )
                names = san.value.get_values_for_type(x509.DNSName)
            except x509.ExtensionNotFound:
                names = []
            if self.server_name not in names:
                self._server_name_mismatch = names
                return False
        return True

    # -- EAP Success / Failure (RFC 3748 s4.2) --------------------------------------------

    def _on_success(self) -> None:
        if self._state == PeerState.SUCCESS:
            return
        if self._state != PeerState.ESTABLISHED or self._outgoing:
            raise ProtocolError(
                f"EAP-Success in state {self._state.value}: the EAP-TLS handshake has not "
                "finished (RFC 5216 s2.1.1, RFC 9190 s2.1.1)"
            )
        self._state = PeerState.SUCCESS

    def _on_failure(self) -> None:
        if self._failure_reason is None:
            self._failure_reason = "EAP-Failure from the authenticator"
        self._state = PeerState.FAILURE
        self._msk = self._emsk = self._session_id = None
        self._outgoing.clear()

    def _fail(self, reason: str) -> None:
        if self._server_name_mismatch is not None:
            reason += (
                f" (server certificate names {self._server_name_mismatch} do not include "
                f"{self.server_name!r})"
            )
            self._server_name_mismatch = None
        if self._failure_reason is None:
            self._failure_reason = reason
        self._state = PeerState.FAILURE
        self._msk = self._emsk = self._session_id = None

    def _reset(self) -> None:
        self._state = PeerState.IDLE
        self._failure_reason: str | None = None
        self._conn: SSL.Connection | None = None
        self._handshake_done = False
        self._outgoing: list[EapTlsMessage] = []
        self._reassembler.reset()
        self._msk: bytes | None = None
        self._emsk: bytes | None = None
        self._session_id: bytes | None = None
        self._last_request: tuple[int, bytes] | None = None
        self._last_response: bytes | None = None
        self._server_name_mismatch: list[str] | None = None


def _ssl_error_text(exc: SSL.Error) -> str:
    """OpenSSL's error queue as 'reason; reason'."""
    args = exc.args[0] if exc.args else None
    if isinstance(args, list) and args:
        return "; ".join(str(e[-1]) if isinstance(e, tuple) else str(e) for e in args)
    return str(exc) or type(exc).__name__


class EapPeer:
    """The RFC 3748 peer layer with EAP-TLS as its only method.

    - Request/Identity -> Response/Identity with ``identity`` (s5.1);
    - Request/Notification -> empty Response/Notification (s5.2);
    - Request/EAP-TLS -> the `EapTlsPeer`;
    - any other Request Type -> Nak proposing EAP-TLS (s5.3.1), before a method started;
    - a duplicate Request gets the same Response again (s4.1);
    - Success/Failure end the conversation (s4.2); Success counts only once the method has
      finished (otherwise `ProtocolError`, i.e. discard).
    """

    def __init__(self, method: EapTlsPeer, identity: str | None = None) -> None:
        self.method = method
        self.identity = method.identity if identity is None else identity
        self._failure_reason: str | None = None
        self._last: tuple[int, bytes, bytes | None] | None = None

    @property
    def state(self) -> PeerState:
        if self._failure_reason is not None:
            return PeerState.FAILURE
        return self.method.state

    @property
    def succeeded(self) -> bool:
        return self.state == PeerState.SUCCESS

    @property
    def failure_reason(self) -> str | None:
        return self._failure_reason or self.method.failure_reason

    @property
    def msk(self) -> bytes | None:
        return self.method.msk

    @property
    def emsk(self) -> bytes | None:
        return self.method.emsk

    @property
    def session_id(self) -> bytes | None:
        return self.method.session_id

    def handle(self, eap_request: bytes) -> bytes | None:
        packet = EapPacket.decode(eap_request)
        if packet.code == Code.RESPONSE:
            raise ProtocolError("a peer does not accept EAP Responses (RFC 3748 s4.1)")
        if packet.code in (Code.SUCCESS, Code.FAILURE):
            if self.method.state == PeerState.IDLE:
                if packet.code == Code.SUCCESS:
                    raise ProtocolError("EAP-Success before any authentication method ran")
                self._failure_reason = "EAP-Failure from the authenticator before EAP-TLS"
                return None
            return self.method.handle(eap_request)
        raw = bytes(eap_request[: packet.length])
        if self._last is not None and self._last[0] == packet.identifier and self._last[1] == raw:
            return self._last[2]  # retransmission (RFC 3748 s4.1)
        if packet.type == EapType.IDENTITY:
            response = eap.identity_response(packet.identifier, self.identity).encode()
        elif packet.type == EapType.NOTIFICATION:
            response = eap.notification_response(packet.identifier).encode()
        elif packet.type == EapType.TLS:
            response = self.method.handle(raw)
        elif self.method.state == PeerState.IDLE:
            response = eap.nak_response(packet.identifier, (EapType.TLS,)).encode()
        else:
            raise ProtocolError(
                f"Request Type {packet.type} during EAP-TLS (RFC 3748 s2.1 forbids switching)"
            )
        self._last = (packet.identifier, raw, response)
        return response
