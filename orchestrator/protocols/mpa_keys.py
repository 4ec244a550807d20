"""The MPA key hierarchy: keys the MN and the authentication agent derive from the MPA-SA.

RFC 6252 s6.3 step 1: a successful pre-authentication creates an MPA-SA between the mobile
node (MN) and the authentication agent (AA, here the PANA PAA), and "two keys are derived
from the MPA-SA, namely an MN-CA key and an MN-AR key", protecting the configuration protocol
(MN <-> configuration agent) and the tunnel management protocol (MN <-> access router).
RFC 6252 s7.7.1 (1)-(2): the AA and the MN also derive a PMK from the MPA-SA, and from the PMK
"distinct TSKs ... for each point of attachment of the CTN"; Appendix C.5.3: the PAA installs
one PSK per AP (PSK_ap1, PSK_ap2) and the MN runs the 802.11 4-way handshake with the PSK of
the AP it attaches to. RFC 6252 leaves the KDF unspecified; this module fixes one.

Choice of the MPA-SA key. The root is the EAP MSK that PANA obtained (RFC 5191 s5.3), bound
to the PANA session by using Session Identifier || Key-Id as the HKDF salt. The
PANA_AUTH_KEY is *not* used: it is dedicated to PANA message integrity (RFC 5191 s5.4) and
key separation forbids reusing it; deriving lower-layer keys from the MSK is also what
RFC 5807 (PaC-EP Master Key) does. A new EAP run (new MSK, new Key-Id) gives new keys.

KDF: HKDF with SHA-256 (RFC 5869), each key with its own ASCII label in ``info``:

==============  ==========  ==========================  ========================  ======
derivation      IKM         salt                        info (label)              octets
==============  ==========  ==========================  ========================  ======
MPA-SA PRK      MSK         Session-Id(4) || Key-Id(4)  -- (HKDF-Extract only)    32
mn_ca_key       MPA-SA PRK  -- (HKDF-Expand only)       "MPA MN-CA key"           32
mn_ar_key       MPA-SA PRK  -- (HKDF-Expand only)       "MPA MN-AR key"           32
pmk             MPA-SA PRK  -- (HKDF-Expand only)       "MPA PMK"                 32
psk_ap(BSSID)   pmk         empty (HashLen zeros)       "MPA PSK-AP" || BSSID(6)  32
pdg_chap_key    MPA-SA PRK  -- (HKDF-Expand only)       "MPA PDG CHAP key" ||     32
 (gateway MAC)                                           gateway MAC(6)
==============  ==========  ==========================  ========================  ======

Labels are ASCII without a terminating NUL; Session-Id and Key-Id are the PANA Session
Identifier and Key-Id AVP value, 4 octets each, big endian; the MSK is at least 64 octets.

``mn_ca_key``, ``mn_ar_key`` and ``pmk`` are HKDF-Expand of the MPA-SA PRK; ``psk_ap`` is a
full HKDF (extract and expand) of the PMK with the AP's 6-octet BSSID in ``info``, so every AP
gets a distinct key that is bound to its MAC address (a PSK leaked by one AP is useless at
another) and the PAA can compute it for each AP of the CTN before the MN moves. ``psk_ap`` is
the PMK of that AP's 4-way handshake (`orchestrator.protocols.eapol`).

``pdg_chap_key`` (our addition for RFC 6252 s7.6.2 / C.5.2: "pre-authentication at the CDMA
network can be performed via the WiFi interface"): the PAA of the cellular domain installs
it in the packet data gateway (the PDSN), bound to the gateway's MAC address on the radio
network; the MN's cellular data session then answers the gateway's CHAP challenge with it
(RFC 1994: MD5(Identifier || secret || Challenge)), which the gateway checks itself, with
no AAA round trip at the handover.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

__all__ = [
    "hkdf_extract",
    "hkdf_expand",
    "hkdf",
    "LABEL_MN_CA",
    "LABEL_MN_AR",
    "LABEL_PMK",
    "LABEL_PSK_AP",
    "LABEL_PDG_CHAP",
    "KEY_LENGTH",
    "MpaKeys",
]

_HASH = hashlib.sha256
_HASH_LENGTH = 32

LABEL_MN_CA = b"MPA MN-CA key"
LABEL_MN_AR = b"MPA MN-AR key"
LABEL_PMK = b"MPA PMK"
LABEL_PSK_AP = b"MPA PSK-AP"
LABEL_PDG_CHAP = b"MPA PDG CHAP key"
KEY_LENGTH = 32
MIN_MSK_LENGTH = 64  # RFC 3748 s7.10: the MSK is at least 64 octets


def hkdf_extract(salt: bytes, ikm: bytes) -> bytes:
    """RFC 5869 s2.2: PRK = HMAC-Hash(salt, IKM); an empty salt means HashLen zeros."""
    return hmac.new(bytes(salt) or bytes(_HASH_LENGTH), bytes(ikm), _HASH).digest()


def hkdf_expand(prk: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 s2.3: T(i) = HMAC-Hash(PRK, T(i-1) | info | i), OKM = first L octets."""
    if not 0 <= length <= 255 * _HASH_LENGTH:
        raise ValueError(f"HKDF-SHA256 cannot produce {length} octets")
    okm, block, counter = b"", b"", 1
    while len(okm) < length:
        block = hmac.new(bytes(prk), block + bytes(info) + bytes([counter]), _HASH).digest()
        okm += block
        counter += 1
    return okm[:length]


def hkdf(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    return hkdf_expand(hkdf_extract(salt, ikm), info, length)


@dataclass(frozen=True)
class MpaKeys:
    """Keys of one MPA-SA; both the MN and the authentication agent compute the same ones."""

    msk: bytes
    session_id: int
    key_id: int

    def __post_init__(self) -> None:
        if len(self.msk) < MIN_MSK_LENGTH:
            raise ValueError(f"the MSK is at least {MIN_MSK_LENGTH} octets, got {len(self.msk)}")
        for name, value in (("session_id", self.session_id), ("key_id", self.key_id)):
            if not 0 <= value < 1 << 32:
                raise ValueError(f"{name} is a 32-bit PANA field")

    @property
    def mpa_sa_prk(self) -> bytes:
        salt = self.session_id.to_bytes(4, "big") + self.key_id.to_bytes(4, "big")
        return hkdf_extract(salt, self.msk)

    def mn_ca_key(self) -> bytes:
        """Protects the configuration protocol between the MN and the configuration agent."""
        return hkdf_expand(self.mpa_sa_prk, LABEL_MN_CA, KEY_LENGTH)

    def mn_ar_key(self) -> bytes:
        """Protects the tunnel management protocol between the MN and the access router."""
        return hkdf_expand(self.mpa_sa_prk, LABEL_MN_AR, KEY_LENGTH)

    def pmk(self) -> bytes:
        """The PMK of RFC 6252 s7.7.1 (1), root of the per-AP keys."""
        return hkdf_expand(self.mpa_sa_prk, LABEL_PMK, KEY_LENGTH)

    def psk_ap(self, ap_bssid: bytes) -> bytes:
        """PSK_ap of Appendix C.5.3: the 4-way handshake PMK for the AP with this BSSID."""
        ap_bssid = bytes(ap_bssid)
        if len(ap_bssid) != 6:
            raise ValueError(f"a BSSID is 6 octets, got {len(ap_bssid)}")
        return hkdf(self.pmk(), b"", LABEL_PSK_AP + ap_bssid, KEY_LENGTH)

    def pdg_chap_key(self, gateway_mac: bytes) -> bytes:
        """The CHAP secret of the cellular data session with the packet data gateway whose
        MAC address on the radio network is `gateway_mac` (module docstring)."""
        gateway_mac = bytes(gateway_mac)
        if len(gateway_mac) != 6:
            raise ValueError(f"a MAC address is 6 octets, got {len(gateway_mac)}")
        return hkdf_expand(self.mpa_sa_prk, LABEL_PDG_CHAP + gateway_mac, KEY_LENGTH)
