"""Emulated 802.11 management frames between stations, APs and the controller.

The radio is emulated by the controller (there is no mac80211_hwsim here), so the frames
that would be 802.11 management frames (association request/response, disassociation) and
the authenticator's port-control primitive (IEEE 802.1X "authorize / unauthorize the
controlled port") travel as Ethernet frames with the IEEE 802 Local Experimental EtherType
0x88B5 and a small JSON body. They cross the emulated wire like any frame, so captures
show them, and the OpenFlow switches send them to the controller.

Pure: bytes in, dataclass out; anything malformed (not JSON, nested deeper than an
`attrs` mapping, a field of the wrong type, a station or BSSID that is not a MAC address)
raises `MgmtError`, a `ProtocolError`.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field

from . import jsonmsg
from .errors import ProtocolError

ETH_P_MGMT = 0x88B5
ETH_P_EAPOL = 0x888E
ETH_P_PREAUTH = 0x88C7
BROADCAST = "ff:ff:ff:ff:ff:ff"

TYPES = ("assoc_request", "assoc_response", "disassoc_request", "disassociated",
         "authorize", "deauthorize", "port_status",
         # controller -> the AP's authenticator (the MAC's events): a station associated,
         # or left (status: station_request | reassociation | link_lost; attrs.new_bssid)
         "sta_associated", "sta_disassociated")


class MgmtError(ProtocolError):
    pass


_MAC = re.compile(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}\Z")
# field -> the JSON types it may have (bool is an int to isinstance: excluded by _typed)
_FIELDS = {"type": str, "sta": str, "bssid": str, "seq": int, "status": str, "attrs": dict}
MAX_SEQ = (1 << 32) - 1


@dataclass
class Mgmt:
    type: str
    sta: str                     # station MAC
    bssid: str = ""              # AP identity (its BSSID)
    seq: int = 0
    status: str = "ok"
    attrs: dict = field(default_factory=dict)


def mac_bytes(mac: str) -> bytes:
    if not isinstance(mac, str) or not _MAC.match(mac):
        raise MgmtError(f"bad MAC {str(mac)[:40]!r}")
    return bytes.fromhex(mac.replace(":", ""))


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
        data = jsonmsg.loads(body, "management frame", max_depth=3)
    except ProtocolError as exc:
        raise MgmtError(exc.reason) from None
    if not isinstance(data, dict):
        raise MgmtError("management frame body is not a JSON object")
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise MgmtError(f"unknown management frame field(s) {', '.join(unknown)[:80]}")
    for name, kind in _FIELDS.items():
        if name in data and (not isinstance(data[name], kind) or isinstance(data[name], bool)):
            raise MgmtError(f"management frame field {name!r} is not a {kind.__name__}")
    if "type" not in data or "sta" not in data:
        raise MgmtError("management frame without 'type' and 'sta'")
    msg = Mgmt(**data)
    if msg.type not in TYPES:
        raise MgmtError(f"unknown management frame type {msg.type[:40]!r}")
    mac_bytes(msg.sta)
    if msg.bssid:
        mac_bytes(msg.bssid)
    if not 0 <= msg.seq <= MAX_SEQ:
        raise MgmtError(f"management frame seq {msg.seq} is not a 32-bit number")
    return mac_str(frame[0:6]), mac_str(frame[6:12]), msg
