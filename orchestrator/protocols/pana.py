"""PANA message codec, AUTH AVP and key derivation (RFC 5191, with RFC 5873 pre-authentication).

What this module implements, and where it comes from:

* RFC 5191 s6.2, the PANA header (16 octets, network byte order): Reserved (16 bits, sent as
  zero, ignored on receipt), Message Length (16, the whole message including the header and
  the AVPs), Flags (16), Message Type (16), Session Identifier (32), Sequence Number (32).
  Flags, bit 0 being the most significant: R(equest) 0, S(tart) 1, C(omplete) 2,
  A (re-Authentication) 3, P(ing) 4, I (IP reconfiguration) 5, and RFC 5873's
  E (prE-authentication) bit 6, set in PCI/PAR/PAN of a pre-authentication session (IANA
  "PANA Message Flags" registry: bit 6, E, [RFC5873]).
* RFC 5191 s6.3, AVPs: AVP Code (16), AVP Flags (16; V, vendor, is bit 0), AVP Length (16,
  the length of the Value field only), Reserved (16), Vendor-Id (32, present iff V), Value,
  then zero padding to a multiple of 4 octets (the padding counts in Message Length, not in
  AVP Length).
* RFC 5191 s7 message types: PCI (1, R clear), PAR/PAN (2), PTR/PTA (3), PNR/PNA (4), a
  request and its answer sharing a type and differing in the R flag.
* RFC 5191 s8 AVP codes: AUTH 1, EAP-Payload 2, Integrity-Algorithm 3, Key-Id 4, Nonce 5,
  PRF-Algorithm 6, Result-Code 7, Session-Lifetime 8, Termination-Cause 9.
* RFC 5191 s5.2, sequence numbers: each request carries the sender's next sequence number
  (initial value random, incremented by one per new request); an answer carries the number of
  the request; a received request is new iff its number is one more than the last received
  request's, a retransmission iff equal (answered from cache), otherwise discarded.
* RFC 5191 s5.3, PANA_AUTH_KEY = prf+(MSK, "IETF PANA" | I_PAR | I_PAN | PaC_nonce |
  PAA_nonce | Key_ID), where I_PAR/I_PAN are the initial PAR and PAN (S flag set) as sent,
  PaC_nonce/PAA_nonce the values of the Nonce AVPs, Key_ID the value of the Key-Id AVP; prf+
  is that of IKEv2 (RFC 4306 s2.13) with the negotiated PRF, PRF_HMAC_SHA1 (IKEv2 PRF
  transform 2) being mandatory. The key length follows the integrity algorithm: 20 octets for
  AUTH_HMAC_SHA1_160 (IKEv2 integrity transform 7, RFC 4595).
* RFC 5191 s5.4 / s8.1, AUTH AVP value = AUTH_HMAC_SHA1_160(PANA_AUTH_KEY, whole PANA
  message with the AUTH AVP Value field set to zero).

Every malformed input raises `ProtocolError` and nothing else.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import Iterator

from orchestrator.protocols.errors import ProtocolError

__all__ = [
    "PANA_UDP_PORT",
    "HEADER_LENGTH",
    "FLAG_R", "FLAG_S", "FLAG_C", "FLAG_A", "FLAG_P", "FLAG_I", "FLAG_E",
    "AVP_FLAG_V",
    "MessageType",
    "AvpCode",
    "ResultCode",
    "TerminationCause",
    "PRF_HMAC_SHA1",
    "PRF_HMAC_SHA2_256",
    "AUTH_HMAC_SHA1_160",
    "ProtocolError",
    "Avp",
    "PanaMessage",
    "prf_plus",
    "derive_pana_auth_key",
    "compute_auth",
    "sign",
    "verify_auth",
    "RequestVerdict",
    "SequenceNumbers",
]

PANA_UDP_PORT = 716  # RFC 5191 s10 (IANA)
HEADER_LENGTH = 16
AVP_HEADER_LENGTH = 8
VENDOR_ID_LENGTH = 4
MAX_MESSAGE_LENGTH = 0xFFFF

FLAG_R = 0x8000  # Request
FLAG_S = 0x4000  # Start
FLAG_C = 0x2000  # Complete
FLAG_A = 0x1000  # re-Authentication
FLAG_P = 0x0800  # Ping
FLAG_I = 0x0400  # IP reconfiguration
FLAG_E = 0x0200  # prE-authentication (RFC 5873)

AVP_FLAG_V = 0x8000  # Vendor-Id present

_HEADER = struct.Struct("!HHHHII")
_AVP_HEADER = struct.Struct("!HHHH")


class MessageType(IntEnum):
    """PANA Message Types (RFC 5191 s7)."""

    CLIENT_INITIATION = 1
    AUTH = 2
    TERMINATION = 3
    NOTIFICATION = 4


_NAMES = {
    (MessageType.CLIENT_INITIATION, False): "PCI",
    (MessageType.AUTH, True): "PAR", (MessageType.AUTH, False): "PAN",
    (MessageType.TERMINATION, True): "PTR", (MessageType.TERMINATION, False): "PTA",
    (MessageType.NOTIFICATION, True): "PNR", (MessageType.NOTIFICATION, False): "PNA",
}


class AvpCode(IntEnum):
    """PANA AVP Codes (RFC 5191 s8)."""

    AUTH = 1
    EAP_PAYLOAD = 2
    INTEGRITY_ALGORITHM = 3
    KEY_ID = 4
    NONCE = 5
    PRF_ALGORITHM = 6
    RESULT_CODE = 7
    SESSION_LIFETIME = 8
    TERMINATION_CAUSE = 9


class ResultCode(IntEnum):
    """Result-Code AVP values (RFC 5191 s8.7)."""

    PANA_SUCCESS = 0
    PANA_AUTHENTICATION_REJECTED = 1
    PANA_AUTHORIZATION_REJECTED = 2


class TerminationCause(IntEnum):
    """Termination-Cause AVP values (RFC 5191 s8.9)."""

    LOGOUT = 1
    ADMINISTRATIVE = 4
    SESSION_TIMEOUT = 8


PRF_HMAC_SHA1 = 2  # IKEv2 Transform Type 2 (PRF) ID 2
PRF_HMAC_SHA2_256 = 5  # IKEv2 Transform Type 2 (PRF) ID 5 (RFC 4868)
AUTH_HMAC_SHA1_160 = 7  # IKEv2 Transform Type 3 (Integrity) ID 7 (RFC 4595)
AUTH_VALUE_LENGTH = 20  # AUTH_HMAC_SHA1_160 output and key length

_PRF_HASHES = {PRF_HMAC_SHA1: hashlib.sha1, PRF_HMAC_SHA2_256: hashlib.sha256}
_AUTH_KEY_LENGTHS = {AUTH_HMAC_SHA1_160: 20}

# --- AVPs -------------------------------------------------------------------------------


def _padding(length: int) -> int:
    return -length % 4


@dataclass(frozen=True)
class Avp:
    """One AVP (RFC 5191 s6.3). ``vendor_id`` set means the V flag is set."""

    code: int
    value: bytes = b""
    vendor_id: int | None = None
    flags: int = 0  # AVP Flags other than V, kept as received

    @classmethod
    def unsigned32(cls, code: int, number: int) -> Avp:
        if not 0 <= number < 1 << 32:
            raise ProtocolError(f"Unsigned32 AVP value {number} out of range")
        return cls(code, number.to_bytes(4, "big"))

    def as_unsigned32(self) -> int:
        if len(self.value) != 4:
            raise ProtocolError(f"AVP {self.code} is not an Unsigned32 ({len(self.value)} octets)")
        return int.from_bytes(self.value, "big")

    def encode(self) -> bytes:
        if not 0 <= self.code <= 0xFFFF or not 0 <= self.flags <= 0xFFFF:
            raise ProtocolError("AVP Code and AVP Flags are 16-bit fields")
        if len(self.value) > 0xFFFF:
            raise ProtocolError("AVP Value longer than 65535 octets")
        flags = self.flags & ~AVP_FLAG_V
        vendor = b""
        if self.vendor_id is not None:
            if not 0 <= self.vendor_id < 1 << 32:
                raise ProtocolError("Vendor-Id is a 32-bit field")
            flags |= AVP_FLAG_V
            vendor = self.vendor_id.to_bytes(4, "big")
        header = _AVP_HEADER.pack(self.code, flags, len(self.value), 0)
        return header + vendor + bytes(self.value) + bytes(_padding(len(self.value)))


@dataclass(frozen=True)
class _AvpSpan:
    avp: Avp
    value_start: int  # offsets into the whole message


def _iter_avps(data: bytes, start: int, end: int) -> Iterator[_AvpSpan]:
    offset = start
    while offset < end:
        if offset + AVP_HEADER_LENGTH > end:
            raise ProtocolError(f"AVP header truncated at offset {offset}")
        code, flags, length, _reserved = _AVP_HEADER.unpack_from(data, offset)
        value_start = offset + AVP_HEADER_LENGTH
        vendor_id = None
        if flags & AVP_FLAG_V:
            if value_start + VENDOR_ID_LENGTH > end:
                raise ProtocolError(f"Vendor-Id of AVP {code} truncated")
            vendor_id = int.from_bytes(data[value_start:value_start + 4], "big")
            value_start += VENDOR_ID_LENGTH
        value_end = value_start + length
        if value_end + _padding(length) > end:
            raise ProtocolError(f"AVP {code} Length {length} overruns the message")
        avp = Avp(code, data[value_start:value_end], vendor_id, flags & ~AVP_FLAG_V)
        yield _AvpSpan(avp, value_start)
        offset = value_end + _padding(length)


# --- messages ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PanaMessage:
    """A PANA message (RFC 5191 s6)."""

    msg_type: int
    flags: int = 0
    session_id: int = 0
    seq: int = 0
    avps: tuple[Avp, ...] = ()
    reserved: int = 0

    @property
    def is_request(self) -> bool:
        return bool(self.flags & FLAG_R)

    @property
    def name(self) -> str:
        """PCI, PAR, PAN, PTR, PTA, PNR or PNA."""
        return _NAMES.get((self.msg_type, self.is_request), f"type-{self.msg_type}")

    def find(self, code: int) -> Avp | None:
        """The first AVP with this code (vendor-specific AVPs are not matched)."""
        return next((a for a in self.avps if a.code == code and a.vendor_id is None), None)

    def encode(self) -> bytes:
        _check_header(self.msg_type, self.flags)
        for name, value in (("Session Identifier", self.session_id), ("Sequence Number", self.seq)):
            if not 0 <= value < 1 << 32:
                raise ProtocolError(f"{name} is a 32-bit field")
        if not 0 <= self.reserved <= 0xFFFF:
            raise ProtocolError("Reserved is a 16-bit field")
        body = b"".join(avp.encode() for avp in self.avps)
        length = HEADER_LENGTH + len(body)
        if length > MAX_MESSAGE_LENGTH:
            raise ProtocolError(f"PANA message of {length} octets exceeds 65535")
        header = _HEADER.pack(self.reserved, length, self.flags, self.msg_type,
                              self.session_id, self.seq)
        return header + body

    @classmethod
    def decode(cls, data: bytes) -> PanaMessage:
        data = bytes(data)
        if len(data) < HEADER_LENGTH:
            raise ProtocolError(f"PANA header needs 16 octets, got {len(data)}")
        reserved, length, flags, msg_type, session_id, seq = _HEADER.unpack_from(data)
        if length != len(data):
            raise ProtocolError(f"Message Length {length} but {len(data)} octets received")
        _check_header(msg_type, flags)
        avps = tuple(span.avp for span in _iter_avps(data, HEADER_LENGTH, length))
        return cls(msg_type, flags, session_id, seq, avps, reserved)


def _check_header(msg_type: int, flags: int) -> None:
    if msg_type not in MessageType._value2member_map_:
        raise ProtocolError(f"unknown PANA Message Type {msg_type}")
    if not 0 <= flags <= 0xFFFF:
        raise ProtocolError("Flags is a 16-bit field")
    if msg_type == MessageType.CLIENT_INITIATION and flags & FLAG_R:
        raise ProtocolError("PANA-Client-Initiation has no request form (R flag set)")


# --- key derivation (RFC 5191 s5.3, RFC 4306 s2.13) -------------------------------------


def prf_plus(key: bytes, seed: bytes, length: int, prf: int = PRF_HMAC_SHA1) -> bytes:
    """IKEv2 prf+: T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n), output T1 | T2 | ..."""
    if prf not in _PRF_HASHES:
        raise ProtocolError(f"unsupported PRF algorithm {prf}")
    digest = _PRF_HASHES[prf]
    if not 0 <= length <= 255 * digest().digest_size:
        raise ProtocolError(f"prf+ cannot produce {length} octets")
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(bytes(key), block + bytes(seed) + bytes([counter]), digest).digest()
        out += block
        counter += 1
    return out[:length]


def derive_pana_auth_key(msk: bytes, i_par: bytes, i_pan: bytes, pac_nonce: bytes,
                         paa_nonce: bytes, key_id: int, *, prf: int = PRF_HMAC_SHA1,
                         integrity_algorithm: int = AUTH_HMAC_SHA1_160) -> bytes:
    """PANA_AUTH_KEY of RFC 5191 s5.3; Key_ID is the 4-octet value of the Key-Id AVP."""
    if integrity_algorithm not in _AUTH_KEY_LENGTHS:
        raise ProtocolError(f"unsupported integrity algorithm {integrity_algorithm}")
    if not 0 <= key_id < 1 << 32:
        raise ProtocolError("Key-Id is an Unsigned32")
    seed = (b"IETF PANA" + bytes(i_par) + bytes(i_pan) + bytes(pac_nonce) + bytes(paa_nonce)
            + key_id.to_bytes(4, "big"))
    return prf_plus(msk, seed, _AUTH_KEY_LENGTHS[integrity_algorithm], prf)


# --- AUTH AVP (RFC 5191 s5.4, s8.1) -----------------------------------------------------


def _auth_span(data: bytes) -> _AvpSpan:
    PanaMessage.decode(data)  # validates the whole message first
    spans = [s for s in _iter_avps(data, HEADER_LENGTH, len(data))
             if s.avp.code == AvpCode.AUTH and s.avp.vendor_id is None]
    if len(spans) != 1:
        raise ProtocolError(f"expected exactly one AUTH AVP, found {len(spans)}")
    if len(spans[0].avp.value) != AUTH_VALUE_LENGTH:
        raise ProtocolError(f"AUTH AVP value must be {AUTH_VALUE_LENGTH} octets")
    return spans[0]


def compute_auth(pana_auth_key: bytes, message: bytes) -> bytes:
    """AUTH_HMAC_SHA1_160 over the encoded message with the AUTH AVP Value zeroed."""
    message = bytes(message)
    start = _auth_span(message).value_start
    zeroed = message[:start] + bytes(AUTH_VALUE_LENGTH) + message[start + AUTH_VALUE_LENGTH:]
    return hmac.new(bytes(pana_auth_key), zeroed, hashlib.sha1).digest()


def sign(message: PanaMessage, pana_auth_key: bytes) -> bytes:
    """Encode ``message`` with an AUTH AVP (replacing any) carrying the right value."""
    avps = tuple(a for a in message.avps if a.code != AvpCode.AUTH or a.vendor_id is not None)
    unsigned = PanaMessage(message.msg_type, message.flags, message.session_id, message.seq,
                           avps + (Avp(AvpCode.AUTH, bytes(AUTH_VALUE_LENGTH)),),
                           message.reserved).encode()
    start = _auth_span(unsigned).value_start
    auth = compute_auth(pana_auth_key, unsigned)
    return unsigned[:start] + auth + unsigned[start + AUTH_VALUE_LENGTH:]


def verify_auth(pana_auth_key: bytes, message: bytes) -> bool:
    """True iff the message's single AUTH AVP is right for this key."""
    message = bytes(message)
    start = _auth_span(message).value_start
    received = message[start:start + AUTH_VALUE_LENGTH]
    return hmac.compare_digest(compute_auth(pana_auth_key, message), received)


# --- sequence numbers (RFC 5191 s5.2) ---------------------------------------------------

_SEQ_MODULUS = 1 << 32


class RequestVerdict(str, Enum):
    NEW = "new"  # process it
    RETRANSMISSION = "retransmission"  # resend the cached answer
    INVALID = "invalid"  # discard


class SequenceNumbers:
    """One PANA entity's sequence-number state for a session (RFC 5191 s5.2)."""

    def __init__(self, initial_seq: int, last_received_request: int | None = None):
        if not 0 <= initial_seq < _SEQ_MODULUS:
            raise ValueError("sequence numbers are 32-bit")
        self._next_tx = initial_seq
        self.last_sent_request: int | None = None
        self.last_received_request = last_received_request

    def next_request(self) -> int:
        """The number for a new request (a retransmission reuses ``last_sent_request``)."""
        self.last_sent_request = self._next_tx
        self._next_tx = (self._next_tx + 1) % _SEQ_MODULUS
        return self.last_sent_request

    def check_request(self, seq: int) -> RequestVerdict:
        """Classify a received request; a NEW one becomes the last received request."""
        last = self.last_received_request
        if last is None or seq == (last + 1) % _SEQ_MODULUS:
            self.last_received_request = seq
            return RequestVerdict.NEW
        if seq == last:
            return RequestVerdict.RETRANSMISSION
        return RequestVerdict.INVALID

    def check_answer(self, seq: int) -> bool:
        """An answer is accepted iff it carries the number of the last request sent."""
        return self.last_sent_request is not None and seq == self.last_sent_request
