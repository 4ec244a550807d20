"""EAPOL framing and the IEEE 802.11 RSN 4-way handshake (pure: bytes and state in and out).

What this module implements, and where it comes from:

* IEEE Std 802.1X-2004 s7.5 / 802.1X-2010 s11.3, the EAPOL PDU: Protocol Version (1 octet),
  Packet Type (1), Packet Body Length (2, big endian), Packet Body. EtherType 0x888E
  (s7.5.2 / s11.1). Packet types used here: EAP-Packet (0), EAPOL-Start (1),
  EAPOL-Logoff (2), EAPOL-Key (3); the others (ASF alert, MKA, announcements) are rejected as
  unknown. Octets after Packet Body Length (Ethernet padding) are ignored.
* IEEE Std 802.11-2016 s12.7.2, the EAPOL-Key frame with Descriptor Type 2 (RSN): Key
  Information (2), Key Length (2), Key Replay Counter (8), Key Nonce (32), EAPOL-Key IV (16),
  Key RSC (8), Reserved (8), Key MIC (16 for the AKMs used here), Key Data Length (2), Key
  Data. Key Information bits: Key Descriptor Version (0-2), Key Type (3), Install (6),
  Key Ack (7), Key MIC (8), Secure (9), Error (10), Request (11), Encrypted Key Data (12),
  SMK Message (13).
* s12.7.1.2, PRF-n: HMAC-SHA1 over A || 0x00 || B || i, i = 0, 1, ... truncated to n bits.
* s12.7.1.3, the pairwise key hierarchy: PTK = PRF-384(PMK, "Pairwise key expansion",
  Min(AA,SPA) || Max(AA,SPA) || Min(ANonce,SNonce) || Max(ANonce,SNonce)), split into
  KCK (16 octets), KEK (16) and TK (16, CCMP-128). PRF-512 gives the TKIP layout (TK 32).
* s12.7.2, Key Descriptor Version 2: the MIC is HMAC-SHA1 truncated to 128 bits over the
  whole EAPOL PDU with the Key MIC field zeroed; the Key Data is encrypted with the NIST AES
  key wrap (RFC 3394) under the KEK after padding with 0xdd 0x00... to at least 16 octets and
  a multiple of 8.
* s12.7.2 (KDEs): Key Data carries elements (RSNE, type 48) and KDEs (type 0xdd, OUI
  00-0F-AC, data type); the GTK KDE (data type 1) is KeyID (bits 0-1), Tx (bit 2), a reserved
  octet, then the GTK.
* s12.7.6, the 4-way handshake: message 1 (ANonce), 2 (SNonce, MIC, RSNE), 3 (ANonce, MIC,
  Install, wrapped GTK), 4 (MIC). The Authenticator checks that an answer carries the Key
  Replay Counter of the request it answers; the Supplicant discards a frame whose counter is
  not larger than that of the last frame whose MIC it verified (s12.7.2, Key Replay Counter).

`Authenticator4Way` and `Supplicant4Way` return ``(frames_to_send, events)``; a malformed,
replayed or forged frame produces an `Event` (``rejected`` or ``failure`` with a reason),
never an exception. Codec functions raise only `ProtocolError`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import Callable

from cryptography.hazmat.primitives import keywrap

from orchestrator.protocols.errors import ProtocolError

__all__ = [
    "ETHERTYPE_EAPOL",
    "PAE_GROUP_ADDRESS",
    "ProtocolError",
    "PacketType",
    "EapolFrame",
    "encode_ethernet",
    "decode_ethernet",
    "EapolKey",
    "decode_eapol_key",
    "prf",
    "Ptk",
    "ptk_seed",
    "derive_ptk",
    "compute_mic",
    "verify_mic",
    "add_mic",
    "aes_key_wrap",
    "aes_key_unwrap",
    "gtk_kde",
    "pad_key_data",
    "KeyData",
    "parse_key_data",
    "Event",
    "HandshakeState",
    "Authenticator4Way",
    "Supplicant4Way",
]

ETHERTYPE_EAPOL = 0x888E
PAE_GROUP_ADDRESS = bytes.fromhex("0180c2000003")  # 802.1X s7.8, nearest non-TPMR bridge group
ETHERNET_HEADER_LENGTH = 14
EAPOL_HEADER_LENGTH = 4

EAPOL_VERSION_2001 = 1
EAPOL_VERSION_2004 = 2
EAPOL_VERSION_2010 = 3


class PacketType(IntEnum):
    """EAPOL Packet Type (802.1X-2004 Table 7-2)."""

    EAP_PACKET = 0
    START = 1
    LOGOFF = 2
    KEY = 3


# --- EAPOL PDU --------------------------------------------------------------------------


@dataclass(frozen=True)
class EapolFrame:
    """One EAPOL PDU (802.1X-2004 s7.5)."""

    version: int
    packet_type: int
    body: bytes = b""

    def encode(self) -> bytes:
        if not 1 <= self.version <= 0xFF:
            raise ProtocolError(f"EAPOL Protocol Version {self.version} out of range")
        if self.packet_type not in PacketType._value2member_map_:
            raise ProtocolError(f"unknown EAPOL Packet Type {self.packet_type}")
        if len(self.body) > 0xFFFF:
            raise ProtocolError("EAPOL Packet Body longer than 65535 octets")
        header = struct.pack("!BBH", self.version, self.packet_type, len(self.body))
        return header + bytes(self.body)

    @classmethod
    def decode(cls, data: bytes) -> EapolFrame:
        data = bytes(data)
        if len(data) < EAPOL_HEADER_LENGTH:
            raise ProtocolError(f"EAPOL header needs 4 octets, got {len(data)}")
        version, packet_type, body_length = struct.unpack_from("!BBH", data)
        if version == 0:
            raise ProtocolError("EAPOL Protocol Version 0 is invalid")
        if packet_type not in PacketType._value2member_map_:
            raise ProtocolError(f"unknown EAPOL Packet Type {packet_type}")
        if EAPOL_HEADER_LENGTH + body_length > len(data):
            raise ProtocolError(
                f"EAPOL Packet Body Length {body_length} exceeds the "
                f"{len(data) - EAPOL_HEADER_LENGTH} octets received")
        body = data[EAPOL_HEADER_LENGTH:EAPOL_HEADER_LENGTH + body_length]
        return cls(version, packet_type, body)


def encode_ethernet(dst: bytes, src: bytes, eapol: bytes) -> bytes:
    """An Ethernet II frame carrying an EAPOL PDU (EtherType 0x888E)."""
    if len(dst) != 6 or len(src) != 6:
        raise ProtocolError("MAC addresses are 6 octets")
    return bytes(dst) + bytes(src) + struct.pack("!H", ETHERTYPE_EAPOL) + bytes(eapol)


def decode_ethernet(frame: bytes) -> tuple[bytes, bytes, bytes]:
    """(destination, source, EAPOL PDU) of an Ethernet II frame with EtherType 0x888E."""
    frame = bytes(frame)
    if len(frame) < ETHERNET_HEADER_LENGTH:
        raise ProtocolError(f"Ethernet header needs 14 octets, got {len(frame)}")
    (ethertype,) = struct.unpack_from("!H", frame, 12)
    if ethertype != ETHERTYPE_EAPOL:
        raise ProtocolError(f"EtherType 0x{ethertype:04x} is not EAPOL")
    return frame[0:6], frame[6:12], frame[ETHERNET_HEADER_LENGTH:]


# --- EAPOL-Key frame (802.11-2016 s12.7.2) ----------------------------------------------

DESCRIPTOR_TYPE_RSN = 2
KEY_DESCRIPTOR_VERSION_HMAC_SHA1_AES = 2

KI_VERSION_MASK = 0x0007
KI_PAIRWISE = 0x0008
KI_INSTALL = 0x0040
KI_ACK = 0x0080
KI_MIC = 0x0100
KI_SECURE = 0x0200
KI_ERROR = 0x0400
KI_REQUEST = 0x0800
KI_ENCRYPTED_KEY_DATA = 0x1000
KI_SMK_MESSAGE = 0x2000

NONCE_LENGTH = 32
IV_LENGTH = 16
RSC_LENGTH = 8
RESERVED_LENGTH = 8
MIC_LENGTH = 16
_FIXED = struct.Struct("!BHHQ32s16s8s8s16sH")  # descriptor type .. Key Data Length
KEY_BODY_FIXED_LENGTH = _FIXED.size  # 95
# EAPOL header, Descriptor Type, Key Information, Key Length, Key Replay Counter, then:
MIC_OFFSET = (EAPOL_HEADER_LENGTH + 1 + 2 + 2 + 8
              + NONCE_LENGTH + IV_LENGTH + RSC_LENGTH + RESERVED_LENGTH)


@dataclass(frozen=True)
class EapolKey:
    """The body of an EAPOL-Key PDU with Descriptor Type 2 (RSN) and a 16-octet MIC."""

    key_info: int
    key_length: int = 0
    replay_counter: int = 0
    nonce: bytes = bytes(NONCE_LENGTH)
    iv: bytes = bytes(IV_LENGTH)
    rsc: bytes = bytes(RSC_LENGTH)
    mic: bytes = bytes(MIC_LENGTH)
    key_data: bytes = b""
    reserved: bytes = bytes(RESERVED_LENGTH)
    descriptor_type: int = DESCRIPTOR_TYPE_RSN

    @property
    def descriptor_version(self) -> int:
        return self.key_info & KI_VERSION_MASK

    def has(self, bit: int) -> bool:
        return bool(self.key_info & bit)

    def encode_body(self) -> bytes:
        _check_fields(self)
        return _FIXED.pack(self.descriptor_type, self.key_info, self.key_length,
                           self.replay_counter, self.nonce, self.iv, self.rsc, self.reserved,
                           self.mic, len(self.key_data)) + bytes(self.key_data)

    def to_eapol(self, version: int = EAPOL_VERSION_2004) -> bytes:
        return EapolFrame(version, PacketType.KEY, self.encode_body()).encode()

    @classmethod
    def decode_body(cls, body: bytes) -> EapolKey:
        body = bytes(body)
        if len(body) < KEY_BODY_FIXED_LENGTH:
            raise ProtocolError(
                f"EAPOL-Key body needs {KEY_BODY_FIXED_LENGTH} octets, got {len(body)}")
        (descriptor_type, key_info, key_length, replay_counter, nonce, iv, rsc, reserved, mic,
         key_data_length) = _FIXED.unpack_from(body)
        if descriptor_type != DESCRIPTOR_TYPE_RSN:
            raise ProtocolError(f"unsupported EAPOL-Key Descriptor Type {descriptor_type}")
        available = len(body) - KEY_BODY_FIXED_LENGTH
        if key_data_length != available:
            raise ProtocolError(
                f"Key Data Length {key_data_length} but {available} octets of Key Data")
        return cls(key_info, key_length, replay_counter, nonce, iv, rsc, mic,
                   body[KEY_BODY_FIXED_LENGTH:], reserved, descriptor_type)


def _check_fields(key: EapolKey) -> None:
    sizes = {"nonce": (key.nonce, NONCE_LENGTH), "iv": (key.iv, IV_LENGTH),
             "rsc": (key.rsc, RSC_LENGTH), "mic": (key.mic, MIC_LENGTH),
             "reserved": (key.reserved, RESERVED_LENGTH)}
    for name, (value, size) in sizes.items():
        if len(value) != size:
            raise ProtocolError(f"EAPOL-Key {name} must be {size} octets, got {len(value)}")
    if not 0 <= key.key_info <= 0xFFFF or not 0 <= key.key_length <= 0xFFFF:
        raise ProtocolError("Key Information and Key Length are 16-bit fields")
    if not 0 <= key.replay_counter < 1 << 64:
        raise ProtocolError("Key Replay Counter is a 64-bit field")
    if len(key.key_data) > 0xFFFF - KEY_BODY_FIXED_LENGTH:
        raise ProtocolError("Key Data too long for one EAPOL PDU")


def decode_eapol_key(data: bytes) -> tuple[EapolFrame, EapolKey]:
    """Decode an EAPOL PDU that must be an EAPOL-Key frame."""
    frame = EapolFrame.decode(data)
    if frame.packet_type != PacketType.KEY:
        raise ProtocolError(f"EAPOL Packet Type {frame.packet_type} is not EAPOL-Key")
    return frame, EapolKey.decode_body(frame.body)


# --- key derivation (802.11-2016 s12.7.1.2, s12.7.1.3) -----------------------------------


def prf(key: bytes, label: bytes | str, data: bytes, bits: int) -> bytes:
    """PRF-n of IEEE 802.11-2016 s12.7.1.2 (HMAC-SHA1 based)."""
    if bits <= 0 or bits % 8:
        raise ValueError("PRF output length must be a positive multiple of 8 bits")
    prefix = label.encode("ascii") if isinstance(label, str) else bytes(label)
    length = bits // 8
    out = b""
    counter = 0
    while len(out) < length:
        block = prefix + b"\x00" + bytes(data) + bytes([counter])
        out += hmac.new(bytes(key), block, hashlib.sha1).digest()
        counter += 1
    return out[:length]


@dataclass(frozen=True)
class Ptk:
    """Pairwise Transient Key split into KCK, KEK and TK (802.11-2016 s12.7.1.3)."""

    kck: bytes
    kek: bytes
    tk: bytes

    @property
    def raw(self) -> bytes:
        return self.kck + self.kek + self.tk


PAIRWISE_KEY_EXPANSION = b"Pairwise key expansion"


def ptk_seed(aa: bytes, spa: bytes, anonce: bytes, snonce: bytes) -> bytes:
    """Min(AA,SPA) || Max(AA,SPA) || Min(ANonce,SNonce) || Max(ANonce,SNonce)."""
    aa, spa, anonce, snonce = bytes(aa), bytes(spa), bytes(anonce), bytes(snonce)
    return min(aa, spa) + max(aa, spa) + min(anonce, snonce) + max(anonce, snonce)


def derive_ptk(pmk: bytes, aa: bytes, spa: bytes, anonce: bytes, snonce: bytes,
               bits: int = 384) -> Ptk:
    """PTK = PRF-bits(PMK, "Pairwise key expansion", ...): 384 for CCMP, 512 for TKIP."""
    if len(aa) != 6 or len(spa) != 6:
        raise ValueError("AA and SPA are 6-octet MAC addresses")
    if bits not in (384, 512):
        raise ValueError("PTK length is 384 (CCMP-128) or 512 (TKIP) bits")
    raw = prf(pmk, PAIRWISE_KEY_EXPANSION, ptk_seed(aa, spa, anonce, snonce), bits)
    return Ptk(kck=raw[0:16], kek=raw[16:32], tk=raw[32:])


# --- MIC (Key Descriptor Version 2) -----------------------------------------------------


def _mic_input(frame: bytes) -> bytes:
    eapol, key = decode_eapol_key(frame)
    if key.descriptor_version != KEY_DESCRIPTOR_VERSION_HMAC_SHA1_AES:
        raise ProtocolError(f"unsupported Key Descriptor Version {key.descriptor_version}")
    pdu = bytes(frame[:EAPOL_HEADER_LENGTH + len(eapol.body)])
    return pdu[:MIC_OFFSET] + bytes(MIC_LENGTH) + pdu[MIC_OFFSET + MIC_LENGTH:]


def compute_mic(kck: bytes, frame: bytes) -> bytes:
    """HMAC-SHA1-128 over the EAPOL PDU with the Key MIC field taken as zero."""
    return hmac.new(bytes(kck), _mic_input(frame), hashlib.sha1).digest()[:MIC_LENGTH]


def verify_mic(kck: bytes, frame: bytes) -> bool:
    received = bytes(frame[MIC_OFFSET:MIC_OFFSET + MIC_LENGTH])
    return hmac.compare_digest(compute_mic(kck, frame), received)


def add_mic(kck: bytes, frame: bytes) -> bytes:
    """The frame with its Key MIC field filled in."""
    mic = compute_mic(kck, frame)
    return bytes(frame[:MIC_OFFSET]) + mic + bytes(frame[MIC_OFFSET + MIC_LENGTH:])


# --- Key Data: AES key wrap, KDEs (802.11-2016 s12.7.2) ----------------------------------


def aes_key_wrap(kek: bytes, plaintext: bytes) -> bytes:
    """RFC 3394 AES key wrap with the default IV."""
    try:
        return keywrap.aes_key_wrap(bytes(kek), bytes(plaintext))
    except ValueError as exc:
        raise ProtocolError(f"AES key wrap: {exc}") from None


def aes_key_unwrap(kek: bytes, wrapped: bytes) -> bytes:
    """RFC 3394 AES key unwrap; an integrity check failure is a `ProtocolError`."""
    try:
        return keywrap.aes_key_unwrap(bytes(kek), bytes(wrapped))
    except keywrap.InvalidUnwrap:
        raise ProtocolError("AES key unwrap integrity check failed") from None
    except ValueError as exc:
        raise ProtocolError(f"AES key unwrap: {exc}") from None


ELEMENT_RSNE = 48
ELEMENT_VENDOR = 0xDD
OUI_IEEE80211 = bytes.fromhex("000fac")
KDE_GTK = 1

# RSNE of WPA2-PSK with CCMP-128 (version 1, group and pairwise 00-0F-AC:4, AKM 00-0F-AC:2).
DEFAULT_RSNE = bytes.fromhex("30140100000fac040100000fac040100000fac020000")


def gtk_kde(gtk: bytes, key_id: int, tx: bool = False) -> bytes:
    """GTK KDE: 0xdd, Length, 00-0F-AC, 1, KeyID/Tx octet, reserved octet, GTK."""
    if not 0 <= key_id <= 3:
        raise ProtocolError(f"GTK KeyID {key_id} out of range 0..3")
    if not gtk or len(gtk) > 255 - 6:
        raise ProtocolError("GTK length out of range")
    flags = key_id | (0x04 if tx else 0)
    body = OUI_IEEE80211 + bytes([KDE_GTK, flags, 0]) + bytes(gtk)
    return bytes([ELEMENT_VENDOR, len(body)]) + body


def pad_key_data(data: bytes) -> bytes:
    """Pad with 0xdd 0x00... to at least 16 octets and a multiple of 8 (for AES key wrap)."""
    data = bytes(data)
    if len(data) >= 16 and len(data) % 8 == 0:
        return data
    target = max(16, -(-(len(data) + 1) // 8) * 8)
    return data + b"\xdd" + bytes(target - len(data) - 1)


@dataclass(frozen=True)
class KeyData:
    """What the 4-way handshake reads from (decrypted) Key Data."""

    rsne: bytes | None = None
    gtk: bytes | None = None
    gtk_key_id: int | None = None
    gtk_tx: bool = False


def parse_key_data(data: bytes) -> KeyData:
    """Parse elements and KDEs up to the 0xdd 0x00... padding."""
    data = bytes(data)
    rsne = gtk = None
    key_id = None
    tx = False
    offset = 0
    while offset < len(data):
        if data[offset] == ELEMENT_VENDOR and not any(data[offset + 1:]):
            break  # padding
        if offset + 2 > len(data):
            raise ProtocolError("Key Data element header truncated")
        element_id, length = data[offset], data[offset + 1]
        body = data[offset + 2:offset + 2 + length]
        if len(body) != length:
            raise ProtocolError(f"Key Data element {element_id} truncated")
        if element_id == ELEMENT_RSNE:
            if rsne is not None:
                raise ProtocolError("duplicate RSNE in Key Data")
            rsne = data[offset:offset + 2 + length]
        elif element_id == ELEMENT_VENDOR and body[:4] == OUI_IEEE80211 + bytes([KDE_GTK]):
            if gtk is not None:
                raise ProtocolError("duplicate GTK KDE in Key Data")
            if length < 7:
                raise ProtocolError("GTK KDE too short")
            key_id, tx, gtk = body[4] & 0x03, bool(body[4] & 0x04), body[6:]
        offset += 2 + length
    return KeyData(rsne, gtk, key_id, tx)


# --- the 4-way handshake (802.11-2016 s12.7.6) -------------------------------------------

Rng = Callable[[int], bytes]


@dataclass(frozen=True)
class Event:
    """Something a state machine reports: ``name`` and, for failures, a ``reason``."""

    name: str
    reason: str = ""


class HandshakeState(str, Enum):
    IDLE = "idle"
    WAIT_MSG1 = "wait-msg1"
    WAIT_MSG2 = "wait-msg2"
    WAIT_MSG3 = "wait-msg3"
    WAIT_MSG4 = "wait-msg4"
    DONE = "done"
    FAILED = "failed"


Result = tuple[list[bytes], list[Event]]
_V2 = KEY_DESCRIPTOR_VERSION_HMAC_SHA1_AES
_BAD_BITS = KI_ERROR | KI_REQUEST | KI_SMK_MESSAGE


def _message_number(key: EapolKey) -> int:
    """1..4 for the messages of the 4-way handshake (by their Key Information), else 0."""
    info = key.key_info
    if not info & KI_PAIRWISE or info & _BAD_BITS or key.descriptor_version != _V2:
        return 0
    ack, mic, install, secure = (bool(info & bit)
                                 for bit in (KI_ACK, KI_MIC, KI_INSTALL, KI_SECURE))
    if ack and not mic and not install:
        return 1
    if not ack and mic and not install:
        return 4 if secure else 2
    if ack and mic and install:
        return 3
    return 0


def _nonce(rng: Rng) -> bytes:
    value = bytes(rng(NONCE_LENGTH))
    if len(value) != NONCE_LENGTH:
        raise ValueError(f"rng returned {len(value)} octets, a nonce is {NONCE_LENGTH}")
    return value


def _rejected(reason: str) -> Result:
    return [], [Event("rejected", reason)]


class _Handshake:
    """What both roles share: keys, addresses, state and failure handling."""

    def __init__(self, pmk: bytes, aa: bytes, spa: bytes, rng: Rng, eapol_version: int):
        if len(aa) != 6 or len(spa) != 6:
            raise ValueError("AA and SPA are 6-octet MAC addresses")
        self._pmk, self.aa, self.spa = bytes(pmk), bytes(aa), bytes(spa)
        self._rng = rng
        self._version = eapol_version
        self._tptk: Ptk | None = None
        self.ptk: Ptk | None = None
        self.anonce: bytes | None = None
        self.snonce: bytes | None = None
        self.state = HandshakeState.IDLE

    def _fail(self, reason: str) -> Result:
        self.state = HandshakeState.FAILED
        self._tptk = None
        return [], [Event("failure", reason)]

    @staticmethod
    def _decode(frame: bytes) -> EapolKey | str:
        """The EAPOL-Key body, or the reason it could not be decoded."""
        try:
            return decode_eapol_key(frame)[1]
        except ProtocolError as exc:
            return exc.reason

    def _unexpected(self, number: int) -> Result:
        return _rejected(f"unexpected EAPOL-Key frame (message {number or '?'}) "
                         f"in state {self.state.value}")

    def _send(self, key: EapolKey, kck: bytes | None = None) -> bytes:
        frame = key.to_eapol(self._version)
        return add_mic(kck, frame) if kck is not None else frame


class Authenticator4Way(_Handshake):
    """The Authenticator (AP) side: msg1 -> expects msg2 -> msg3 -> expects msg4 -> done."""

    def __init__(self, pmk: bytes, aa: bytes, spa: bytes, gtk: bytes, *, gtk_key_id: int = 1,
                 rng: Rng = os.urandom, rsne: bytes = DEFAULT_RSNE, replay_counter: int = 1,
                 key_length: int = 16, eapol_version: int = EAPOL_VERSION_2004,
                 gtk_tx: bool = False, sta_rsne: bytes | None = None):
        super().__init__(pmk, aa, spa, rng, eapol_version)
        self._gtk, self._gtk_key_id, self._gtk_tx = bytes(gtk), gtk_key_id, gtk_tx
        self._rsne = bytes(rsne)
        # RSNE of the STA's (Re)Association Request; message 2 must repeat it (s12.7.6.3)
        self._sta_rsne = None if sta_rsne is None else bytes(sta_rsne)
        self._counter = replay_counter
        self._key_length = key_length

    @property
    def replay_counter(self) -> int:
        """The Key Replay Counter of the last request sent."""
        return self._counter

    def start(self) -> Result:
        if self.state != HandshakeState.IDLE:
            return _rejected("handshake already started")
        self.anonce = _nonce(self._rng)
        msg1 = EapolKey(_V2 | KI_PAIRWISE | KI_ACK, self._key_length, self._counter, self.anonce)
        self.state = HandshakeState.WAIT_MSG2
        return [self._send(msg1)], [Event("msg1_sent")]

    def receive(self, frame: bytes) -> Result:
        key = self._decode(frame)
        if isinstance(key, str):
            return _rejected(key)
        number = _message_number(key)
        if self.state == HandshakeState.WAIT_MSG2 and number == 2:
            return self._on_msg2(frame, key)
        if self.state == HandshakeState.WAIT_MSG4 and number == 4:
            return self._on_msg4(frame, key)
        return self._unexpected(number)

    def _on_msg2(self, frame: bytes, key: EapolKey) -> Result:
        if key.replay_counter != self._counter:
            return _rejected("Key Replay Counter does not match message 1")
        tptk = derive_ptk(self._pmk, self.aa, self.spa, self.anonce, key.nonce)
        if not verify_mic(tptk.kck, frame):
            return self._fail("MIC mismatch")
        if self._sta_rsne is not None and key.key_data != self._sta_rsne:
            return self._fail("message 2 RSNE differs from the association RSNE")
        self._tptk, self.snonce = tptk, key.nonce
        self._counter += 1
        plaintext = pad_key_data(self._rsne + gtk_kde(self._gtk, self._gtk_key_id, self._gtk_tx))
        info = _V2 | KI_PAIRWISE | KI_INSTALL | KI_ACK | KI_MIC | KI_SECURE | KI_ENCRYPTED_KEY_DATA
        msg3 = EapolKey(info, self._key_length, self._counter, self.anonce,
                        key_data=aes_key_wrap(tptk.kek, plaintext))
        self.state = HandshakeState.WAIT_MSG4
        return [self._send(msg3, tptk.kck)], [Event("msg3_sent")]

    def _on_msg4(self, frame: bytes, key: EapolKey) -> Result:
        if key.replay_counter != self._counter:
            return _rejected("Key Replay Counter does not match message 3")
        if not verify_mic(self._tptk.kck, frame):
            return self._fail("MIC mismatch")
        self.ptk, self.state = self._tptk, HandshakeState.DONE
        return [], [Event("ptk_installed"), Event("handshake_complete")]


class Supplicant4Way(_Handshake):
    """The Supplicant (STA) side: expects msg1 -> msg2 -> expects msg3 -> msg4 -> done."""

    def __init__(self, pmk: bytes, aa: bytes, spa: bytes, *, rng: Rng = os.urandom,
                 rsne: bytes = DEFAULT_RSNE, eapol_version: int = EAPOL_VERSION_2004,
                 ap_rsne: bytes | None = None):
        super().__init__(pmk, aa, spa, rng, eapol_version)
        self._rsne = bytes(rsne)
        # RSNE of the AP's Beacon / Probe Response; message 3 must repeat it (s12.7.6.4)
        self._ap_rsne = None if ap_rsne is None else bytes(ap_rsne)
        self._last_counter: int | None = None  # of the last frame whose MIC was verified
        self.gtk: bytes | None = None
        self.gtk_key_id: int | None = None
        self.state = HandshakeState.WAIT_MSG1

    def receive(self, frame: bytes) -> Result:
        key = self._decode(frame)
        if isinstance(key, str):
            return _rejected(key)
        if self._last_counter is not None and key.replay_counter <= self._last_counter:
            return _rejected("replayed Key Replay Counter")
        number = _message_number(key)
        if number == 1 and self.state in (HandshakeState.WAIT_MSG1, HandshakeState.WAIT_MSG3):
            return self._on_msg1(key)
        if number == 3 and self.state == HandshakeState.WAIT_MSG3:
            return self._on_msg3(frame, key)
        return self._unexpected(number)

    def _on_msg1(self, key: EapolKey) -> Result:
        """Message 2 for a message 1. One SNonce per handshake: a message 1 the AP sent again
        (no message 2 reached it in time) gets a message 2 with the same SNonce, so whichever
        message 2 the AP answers, message 3 carries the MIC of the PTK the STA holds (as
        wpa_supplicant, which renews the SNonce only for a new handshake; a fresh SNonce per
        message 1 failed 3 of 50 handshakes run at once with "MIC mismatch", issue 17)."""
        if self.snonce is None:
            self.snonce = _nonce(self._rng)
        self.anonce = key.nonce
        self._tptk = derive_ptk(self._pmk, self.aa, self.spa, self.anonce, self.snonce)
        msg2 = EapolKey(_V2 | KI_PAIRWISE | KI_MIC, 0, key.replay_counter, self.snonce,
                        key_data=self._rsne)
        self.state = HandshakeState.WAIT_MSG3
        return [self._send(msg2, self._tptk.kck)], [Event("msg2_sent")]

    def _on_msg3(self, frame: bytes, key: EapolKey) -> Result:
        if key.nonce != self.anonce:
            return _rejected("ANonce differs from message 1")
        if not verify_mic(self._tptk.kck, frame):
            return self._fail("MIC mismatch")
        self._last_counter = key.replay_counter
        if not key.has(KI_ENCRYPTED_KEY_DATA):
            return self._fail("message 3 Key Data is not encrypted")
        try:
            key_data = parse_key_data(aes_key_unwrap(self._tptk.kek, key.key_data))
        except ProtocolError as exc:
            return self._fail(f"message 3 Key Data: {exc.reason}")
        if self._ap_rsne is not None and key_data.rsne != self._ap_rsne:
            return self._fail("message 3 RSNE differs from the Beacon RSNE")
        msg4 = EapolKey(_V2 | KI_PAIRWISE | KI_MIC | KI_SECURE, 0, key.replay_counter)
        reply = self._send(msg4, self._tptk.kck)
        self.ptk, self.state = self._tptk, HandshakeState.DONE
        events = [Event("msg4_sent"), Event("ptk_installed")]
        if key_data.gtk is not None:
            self.gtk, self.gtk_key_id = key_data.gtk, key_data.gtk_key_id
            events.append(Event("gtk_installed"))
        events.append(Event("handshake_complete"))
        return [reply], events
