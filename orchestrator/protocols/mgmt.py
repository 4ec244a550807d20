"""Emulated 802.11 management frames between stations, APs and the controller.

The radio is emulated by the controller (there is no mac80211_hwsim here), so the frames
that would be 802.11 management frames (association request/response, disassociation) and
the authenticator's port-control primitive (IEEE 802.1X "authorize / unauthorize the
controlled port") travel as Ethernet frames with the IEEE 802 Local Experimental EtherType
0x88B5 and a small JSON body. They cross the emulated wire like any frame, so captures
show them, and the OpenFlow switches send them to the controller.

Pure: bytes in, dataclass out.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

ETH_P_MGMT = 0x88B5
ETH_P_EAPOL = 0x888E
ETH_P_PREAUTH = 0x88C7
BROADCAST = "ff:ff:ff:ff:ff:ff"

TYPES = ("assoc_request", "assoc_response", "disassoc_request", "disassociated",
         "authorize", "deauthorize", "port_status",
         "sta_associated")          # controller -> the AP's authenticator (the MAC's event)


class MgmtError(ValueError):
    pass


@dataclass
class Mgmt:
    type: str
    sta: str                     # station MAC
    bssid: str = ""              # AP identity (its BSSID)
    seq: int = 0
    status: str = "ok"
    attrs: dict = field(default_factory=dict)


def mac_bytes(mac: str) -> bytes:
    parts = mac.split(":")
    if len(parts) != 6:
        raise MgmtError(f"bad MAC {mac!r}")
    return bytes(int(p, 16) for p in parts)


def mac_str(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def encode(dst: str, src: str, msg: Mgmt) -> bytes:
    if msg.type not in TYPES:
        raise MgmtError(f"unknown management frame type {msg.type!r}")
    body = json.dumps(asdict(msg), separators=(",", ":")).encode()
    return mac_bytes(dst) + mac_bytes(src) + ETH_P_MGMT.to_bytes(2, "big") + body


def decode(frame: bytes) -> tuple[str, str, Mgmt]:
    """-> (dst, src, message). Raises MgmtError on anything malformed."""
    if len(frame) < 15 or int.from_bytes(frame[12:14], "big") != ETH_P_MGMT:
        raise MgmtError("not a management frame")
    body = frame[14:].rstrip(b"\x00")            # Ethernet padding
    try:
        data = json.loads(body)
        msg = Mgmt(**data)
    except (ValueError, TypeError) as exc:
        raise MgmtError(f"malformed management frame: {exc}") from None
    if msg.type not in TYPES:
        raise MgmtError(f"unknown management frame type {msg.type!r}")
    return mac_str(frame[0:6]), mac_str(frame[6:12]), msg
