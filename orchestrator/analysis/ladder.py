"""A ladder (message sequence) diagram of one handover, from its packet captures and events.

The runner keeps, for repetition 1 of every configuration and scenario,
`ladder/<configuration>/<scenario>/`: pcaps/<node>.pcap (captured inside the nodes chosen by
role), events.jsonl (the repetition's events), lanes.json (address -> node) and nodes.json
(each node's kind, roles and domain; which MN moves and its home domain). Lanes are ordered
and titled by role, never by name: MN, AP, PAA, AR, CA, AAA_V (any AAA server outside the
MN's home domain), AAA_H (its home domain's), routers, information server, CN.

The frame decoding (`describe`, `dedupe`, `collapse_rtp`) is pure and takes tshark's field
rows, so it is testable without captures; `read_pcaps` runs tshark.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from orchestrator.analysis.plots import plt, save
from orchestrator.analysis.records import read_events, slug

# --- ladder: one handover from the packet captures

FIELDS = {  # logical name -> tshark field names, first one this tshark knows is used
    "time": ("frame.time_epoch",), "eth_src": ("eth.src",), "eth_dst": ("eth.dst",),
    "eth_type": ("eth.type",), "ip_src": ("ip.src",), "ip_dst": ("ip.dst",), "ip_id": ("ip.id",),
    "sport": ("udp.srcport",), "dport": ("udp.dstport",), "eapol_type": ("eapol.type",),
    "eapol_len": ("eapol.len",), "eap_code": ("eap.code",), "eap_type": ("eap.type",),
    "eap_id": ("eap.id",),
    "key_info": ("eapol.keydes.key_info", "wlan_rsna_eapol.keydes.key_info"),
    "replay": ("eapol.keydes.replay_counter", "wlan_rsna_eapol.keydes.replay_counter"),
    "radius_code": ("radius.code",), "pana_type": ("pana.type",),
    "udp_payload": ("udp.payload",), "data": ("data.data",),
    "sip_method": ("sip.Method",), "sip_status": ("sip.Status-Line",),
    "sip_cseq": ("sip.CSeq.method",), "rtp_seq": ("rtp.seq",),
    "dhcp_type": ("dhcp.option.dhcp", "bootp.option.dhcp"), "arp_op": ("arp.opcode",),
    "arp_src_ip": ("arp.src.proto_ipv4",), "arp_dst_ip": ("arp.dst.proto_ipv4",),
    # IPv6 and Mobile IPv6 (issue 14): the outer header of a tunnelled packet (occurrence=f)
    "ip6_src": ("ipv6.src",), "ip6_dst": ("ipv6.dst",), "ip6_nxt": ("ipv6.nxt",),
    "mip6_type": ("mip6.mhtype",), "icmp6_type": ("icmpv6.type",),
    "nd_target": ("icmpv6.nd.ns.target_address", "icmpv6.nd.na.target_address"),
    "na_flags": ("icmpv6.nd.na.flag.s",),
}
ETH_EAPOL, ETH_PREAUTH, ETH_MGMT, ETH_IP, ETH_ARP = 0x888E, 0x88C7, 0x88B5, 0x0800, 0x0806
# RFC 6275 s6.1 Mobility Header types. Of neighbor discovery (RFC 4861) the ladder draws the
# DAD probes and the MN's unsolicited NA for its nCoA; Router Solicitations and
# Advertisements are left out (the root namespace's ends of the links solicit too, and the
# routers advertise every ra_interval): the MN's `address_request` event marks its RS
MH_TYPES = {0: "BRR", 1: "HoTI", 2: "CoTI", 3: "HoT", 4: "CoT", 5: "BU", 6: "BA", 7: "BE"}
RADIUS_PORTS, PANA_PORT, KEYINSTALL_PORT = (1812, 1813), 716, 7011
SIP_PORT, DHCP_PORTS = 5060, (67, 68)
IKE_PORTS, BUFFERING_PORT = (500, 4500), 7012
BUFFERING_TYPES = {1: "BUFFER_REQUEST", 2: "ATTACHED", 3: "ACK"}   # protocols/buffering.py
DEPARTURE_PORT = 7015               # AP -> PAA (protocols/departure.py, C.2)
DEPARTURE_REASONS = {1: "disassociated", 2: "reassociated", 3: "link lost"}
DHCP_TYPES = {1: "Discover", 2: "Offer", 3: "Request", 4: "Decline", 5: "ACK", 6: "NAK",
              7: "Release", 8: "Inform"}
BURST_GAP_S = 0.1       # RTP packets closer than this (same lanes, nothing between) are one row
EAP_CODES = {1: "Request", 2: "Response", 3: "Success", 4: "Failure"}
EAP_TYPES = {1: "Identity", 2: "Notification", 3: "Nak", 4: "MD5", 13: "TLS", 21: "TTLS", 25: "PEAP"}
RADIUS_CODES = {1: "Access-Request", 2: "Access-Accept", 3: "Access-Reject", 11: "Access-Challenge"}
PANA_TYPES = {1: ("PCI", "PCI"), 2: ("PAR", "PAN"), 3: ("PTR", "PTA"), 4: ("PNR", "PNA")}
MGMT_LABELS = {"assoc_request": "mgmt assoc req", "assoc_response": "mgmt assoc resp",
               "disassoc_request": "mgmt disassoc req", "disassociated": "mgmt disassociated",
               "authorize": "mgmt port authorize", "deauthorize": "mgmt port deauthorize",
               "port_status": "mgmt port status"}
CATEGORY_COLORS = {"eapol": "#1f77b4", "radius": "#ff7f0e", "pana": "#2ca02c",
                   "mgmt": "0.35", "keyinstall": "#9467bd", "sip": "#8c564b", "rtp": "#17becf",
                   "dhcp": "#e377c2", "arp": "#bcbd22", "ipsec": "#7f7f7f",
                   "buffering": "#ff7f0e", "mipv6": "#d62728", "nd": "#bcbd22",
                   "departure": "#9467bd"}
MARKERS = {"preauth_start": "pre-auth start", "preauth_done": "pre-auth done",
           "tconf_done": "tconf_done", "psk_installed": "PSK installed",
           "l2_handoff_start": "handoff start", "associated": "assoc",
           "l2_handoff_done": "assoc resp", "post_auth_start": "post-auth start",
           "post_auth_done": "post-auth done", "fourway_done": "4-way done",
           "port_authorized": "port open",
           # C.5.1 (Figure 7): SIP mobility
           "pht_established": "tunnel up", "binding_update_start": "BU start",
           "binding_update_done": "BU done", "buffering_start": "buffering on",
           "buffering_flushed": "buffer flushed", "address_request": "address request",
           "address_acquired": "address acquired", "dad_start": "DAD start",
           "dad_done": "DAD done", "post_switching_done": "post-switching done"}
MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
DUP_WINDOW_S = 1.0      # a frame seen again at another node within this window is the same frame
SAME_NODE_DUP_S = 0.002  # ... or at the same node (tcpdump -i any sees a bridged frame twice)


@dataclass
class Frame:
    t: float                      # wall clock (pcap), seconds
    src: tuple[str, ...]          # addresses for the lane map, preferred first (IP, then MAC)
    dst: tuple[str, ...]
    category: str
    label: str
    key: tuple                    # content identity for de-duplication
    captured_at: list = field(default_factory=list)
    src_lane: str | None = None
    dst_lane: str | None = None
    seq: int | None = None        # RTP sequence number (collapse_rtp)


@dataclass
class Marker:
    t: float
    lane: str
    label: str


def _int(v: str, base: int = 10) -> int | None:
    try:
        return int(v, 0) if v.startswith("0x") else int(v, base)
    except (ValueError, AttributeError):
        return None


def _eap(code: int | None, typ: int | None) -> str:
    if code is None:
        return ""
    name = f"EAP-{EAP_CODES.get(code, code)}"
    return f"{name}/{EAP_TYPES.get(typ, typ)}" if code in (1, 2) and typ is not None else name


def _eapol_key(key_info: int | None) -> str:
    if key_info is None:
        return "EAPOL-Key"
    if not key_info & 0x0008:
        return "EAPOL-Key group"
    ack, mic, secure = key_info & 0x0080, key_info & 0x0100, key_info & 0x0200
    n = 1 if ack and not mic else 3 if ack else 4 if secure else 2
    return f"EAPOL-Key {n}/4"


def pana_from_payload(payload: bytes) -> tuple[str, str]:
    """(message, embedded EAP) from a PANA UDP payload (RFC 5191 s6.2 header: Reserved 2,
    Length 2, Flags 2, Type 2, Session Id 4, Sequence 4; AVPs: Code 2, Flags 2, Length 2,
    Reserved 2, [Vendor 4], value padded to 4). Works for RFC 5873's E flag, which
    Wireshark 4.0 does not dissect."""
    if len(payload) < 16:
        return "PANA (short)", ""
    flags, typ = int.from_bytes(payload[4:6], "big"), int.from_bytes(payload[6:8], "big")
    req, ans = PANA_TYPES.get(typ, (f"type {typ} request", f"type {typ} answer"))
    name = "PANA " + (req if flags & 0x8000 else ans)
    eap, off = "", 16
    while off + 8 <= len(payload):
        code, aflags, length = (int.from_bytes(payload[off + i:off + i + 2], "big") for i in (0, 2, 4))
        start = off + 8 + (4 if aflags & 0x8000 else 0)
        if code == 2 and length >= 5:              # EAP-Payload AVP
            value = payload[start:start + length]
            eap = _eap(value[0], value[4] if len(value) > 4 else None)
        off = start + length + (-length % 4)
    return name, eap


def sip_label(payload: bytes, method: str = "", status: str = "", cseq: str = "") -> str:
    """'SIP re-INVITE', 'SIP 200 OK (INVITE)' from a SIP message's text (RFC 3261: start
    line, CSeq, a To tag for a request inside a dialog), else from tshark's fields."""
    text = payload.decode("utf-8", "replace") if payload else ""
    lines = text.replace("\r\n", "\n").split("\n")
    first = lines[0].strip() if text else ""
    header = lambda *names: next((ln.split(":", 1)[1].strip() for ln in lines[1:]
                                  if ":" in ln and ln.split(":", 1)[0].strip().lower() in names), "")
    if first:
        cseq = header("cseq").split(" ")[-1] or cseq
        if first.startswith("SIP/2.0"):
            return f"SIP {first[8:]}" + (f" ({cseq})" if cseq else "")
        method = first.split(" ", 1)[0]
        in_dialog = ";tag=" in header("to", "t").replace(" ", "")
        return f"SIP {'re-' if method == 'INVITE' and in_dialog else ''}{method}"
    if status:
        return f"SIP {status.removeprefix('SIP/2.0 ')}" + (f" ({cseq})" if cseq else "")
    return f"SIP {method}" if method else "SIP"


def dhcp_type(payload: bytes) -> int | None:
    """Option 53 (DHCP message type) of a BOOTP payload (RFC 2131: options after the
    236-octet header and the magic cookie)."""
    off = 240
    if len(payload) < off or payload[236:240] != b"\x63\x82\x53\x63":
        return None
    while off < len(payload) and payload[off] != 255:
        if payload[off] == 0:
            off += 1
            continue
        if off + 2 > len(payload):
            break
        code, length = payload[off], payload[off + 1]
        if code == 53 and length >= 1 and off + 2 < len(payload):
            return payload[off + 2]
        off += 2 + length
    return None


def rtp_seq(payload: bytes) -> int | None:
    """The sequence number of an RTP packet (RFC 3550 s5.1: version 2, not an RTCP type),
    None if the payload does not look like one."""
    if len(payload) < 12 or payload[0] >> 6 != 2 or 72 <= payload[1] & 0x7F <= 76:
        return None
    return int.from_bytes(payload[2:4], "big")


def describe(row: dict) -> tuple[str, str] | None:
    """(category, label) of one tshark row (logical field names), or None for a frame the
    ladder does not draw."""
    et = _int(row.get("eth_type", ""), 16)
    if et == ETH_ARP:          # only address probes and announcements (DAD, RFC 5227)
        src, dst = row.get("arp_src_ip", ""), row.get("arp_dst_ip", "")
        if src == "0.0.0.0" and dst:
            return "arp", f"ARP probe {dst} (DAD)"
        if src and src == dst:
            return "arp", f"ARP announce {src}"
        return None
    if et in (ETH_EAPOL, ETH_PREAUTH):
        typ = _int(row.get("eapol_type", ""))
        if typ == 0:
            label = _eap(_int(row.get("eap_code", "")), _int(row.get("eap_type", ""))) or "EAP"
        elif typ == 3:
            label = _eapol_key(_int(row.get("key_info", ""), 16))
        else:
            label = {1: "EAPOL-Start", 2: "EAPOL-Logoff"}.get(typ, f"EAPOL type {typ}")
        return "eapol", label + (" (pre-auth)" if et == ETH_PREAUTH else "")
    if et == ETH_MGMT:
        try:
            body = json.loads(bytes.fromhex(row.get("data", "")).rstrip(b"\x00"))
            return "mgmt", MGMT_LABELS.get(body.get("type"), f"mgmt {body.get('type')}")
        except (ValueError, AttributeError):
            return "mgmt", "mgmt"
    ipv6 = _ipv6(row)
    if ipv6 is not None:
        return ipv6
    ports = {_int(row.get("sport", "")), _int(row.get("dport", ""))}
    payload = bytes.fromhex(row.get("udp_payload", "") or row.get("data", "") or "")
    if ports & set(RADIUS_PORTS) or row.get("radius_code"):
        code = _int(row.get("radius_code", "")) or (payload[0] if payload else None)
        eap = _eap(_int(row.get("eap_code", "")), _int(row.get("eap_type", "")))
        return "radius", f"RADIUS {RADIUS_CODES.get(code, code)}" + (f" [{eap}]" if eap else "")
    if PANA_PORT in ports:
        name, eap = pana_from_payload(payload)
        return "pana", name + (f" [{eap}]" if eap else "")
    if KEYINSTALL_PORT in ports and len(payload) >= 3:
        what = {1: "PSK_ap", 2: "MN-AR key"}.get(payload[2], "key")
        return "keyinstall", f"Key-Install {'Request' if payload[1] == 1 else 'Answer'} ({what})"
    if ports & set(IKE_PORTS):
        # UDP 4500 carries IKE behind four zero octets (RFC 3948), else ESP: what the
        # proactive handover tunnel carries (re-INVITE, RTP, buffering signals) is encrypted
        if 4500 in ports and payload[:4] != b"\0\0\0\0":
            return "ipsec", "ESP (tunnel)"
        return "ipsec", "IKEv2"
    if DEPARTURE_PORT in ports and len(payload) >= 3:
        why = DEPARTURE_REASONS.get(payload[2], payload[2])
        return "departure", ("Departure-Notice" if payload[1] == 1 else "Departure-Notice Ack") \
            + f" ({why})"
    if BUFFERING_PORT in ports and len(payload) >= 2:
        return "buffering", f"Buffering {BUFFERING_TYPES.get(payload[1], payload[1])}"
    if SIP_PORT in ports or row.get("sip_method") or row.get("sip_status"):
        return "sip", sip_label(payload, row.get("sip_method", ""), row.get("sip_status", ""),
                                row.get("sip_cseq", ""))
    if ports & set(DHCP_PORTS):
        typ = dhcp_type(payload) or _int(row.get("dhcp_type", ""))
        return "dhcp", f"DHCP {DHCP_TYPES.get(typ, typ or '')}".strip()
    seq = _int(row.get("rtp_seq", "")) if row.get("rtp_seq") else rtp_seq(payload)
    if seq is not None and (row.get("ip_src") or row.get("ip6_src")):
        return "rtp", f"RTP seq {seq}" + (" (tunnelled)" if _tunnelled(row) else "")
    return None


def _tunnelled(row: dict) -> bool:
    """An IPv6-in-IPv6 packet (the HA's tunnel, MPA's proactive handover tunnel)."""
    return _int(row.get("ip6_nxt", "")) == 41


def _ipv6(row: dict) -> tuple[str, str] | None:
    """Mobility Header messages and the ND messages of the handovers (see MH_TYPES)."""
    if row.get("mip6_type"):
        typ = _int(row["mip6_type"])
        return "mipv6", f"MIPv6 {MH_TYPES.get(typ, typ)}" + (" (tunnelled)" if _tunnelled(row)
                                                              else "")
    icmp6 = _int(row.get("icmp6_type", ""))
    if icmp6 == 135 and row.get("ip6_src") == "::":
        return "nd", f"NS {row.get('nd_target', '')} (DAD)"
    if icmp6 == 136 and row.get("na_flags") in ("0", "False"):
        return "nd", f"unsolicited NA {row.get('nd_target', '')}"
    return None


def _lane_address6(address: str) -> str:
    """An IPv6 address that names a node's lane; "" for the unspecified, link-local and
    multicast ones (a DAD probe, a Router Solicitation): the frame's MACs place those."""
    return "" if address in ("", "::") or address.startswith(("fe80:", "ff0")) else address


def frame_from_row(row: dict, node: str) -> Frame | None:
    d = describe(row)
    if d is None:
        return None
    if not row.get("ip_src") and row.get("ip6_src"):       # IPv6: its addresses make lanes
        row = {**row, "ip_src": _lane_address6(row["ip6_src"]),
               "ip_dst": _lane_address6(row.get("ip6_dst", ""))}
    is_ip = bool(row.get("ip_src"))
    if is_ip:
        key = ("ip", row["ip_src"], row.get("ip_dst"), row.get("ip_id"), row.get("sport"),
               row.get("dport"), row.get("udp_payload"), row.get("mip6_type"),
               row.get("icmp6_type"))
    else:
        key = ("l2", row.get("eth_src"), row.get("eth_dst"), row.get("eth_type"),
               *(row.get(k) for k in ("eapol_type", "eapol_len", "eap_code", "eap_id",
                                      "eap_type", "key_info", "replay", "data")))
    if d[0] == "arp":
        key += (row.get("arp_src_ip"), row.get("arp_dst_ip"))
    addrs = lambda *keys: tuple(row[k].lower() for k in keys if row.get(k))
    seq = int(d[1].split()[2]) if d[0] == "rtp" else None     # "RTP seq N[ (tunnelled)]"
    return Frame(float(row["time"]), addrs("ip_src", "eth_src"), addrs("ip_dst", "eth_dst"),
                 d[0], d[1], key, [node], seq=seq)


def dedupe(frames: list[Frame]) -> list[Frame]:
    """One frame per transmission: the same content seen at several nodes (sender and
    receiver) within DUP_WINDOW_S is kept once, at its earliest time, with every node that
    captured it. The same layer-2 content at the same node later is a retransmission and
    kept; an IP packet's key holds its IP identification, which a retransmission changes, so
    the same IP packet at the same node again is one forwarded (a router captures it on the
    way in and on the way out), however long the router held it."""
    kept: list[Frame] = []
    last: dict[tuple, Frame] = {}
    for f in sorted(frames, key=lambda f: f.t):
        k = last.get(f.key)
        if k is not None and f.t - k.t <= DUP_WINDOW_S and (
                f.captured_at[0] not in k.captured_at or f.t - k.t <= SAME_NODE_DUP_S
                or f.key[0] == "ip"):
            k.captured_at += [n for n in f.captured_at if n not in k.captured_at]
            continue
        last[f.key] = f
        kept.append(f)
    return kept


def _stream(f: Frame) -> bool:
    """Frames of the media stream: RTP in the clear, or ESP of the tunnel carrying it."""
    return f.category == "rtp" or f.label == "ESP (tunnel)"


def collapse_rtp(frames: list[Frame], breaks: list[float] = (),
                 gap_s: float = BURST_GAP_S) -> list[Frame]:
    """One row per burst of the media stream: RTP frames (or ESP frames of the tunnel)
    between the same two lanes, with no other frame and no time of `breaks` (events) among
    them, each less than `gap_s` after the one before, become one frame labelled
    'RTP x N, seq a-b, T ms' at the burst's first time. Bursts on different lanes may
    interleave (the CN -> nAR RTP and the nAR -> MN ESP carrying it)."""
    out: list[Frame] = []
    runs: dict[tuple, list[Frame]] = {}
    cuts = sorted(breaks)

    def emit(run: list[Frame]) -> None:
        if len(run) == 1:
            out.append(run[0])
            return
        first, last = run[0], run[-1]
        nodes = list(dict.fromkeys(n for f in run for n in f.captured_at))
        span = f"{(last.t - first.t) * 1000:.0f} ms"
        label = (f"RTP x{len(run)}, seq {first.seq}-{last.seq}, {span}"
                 if first.category == "rtp" else f"{first.label} x{len(run)}, {span}")
        out.append(Frame(first.t, first.src, first.dst, first.category, label,
                         ("burst", first.key), nodes, first.src_lane, first.dst_lane,
                         first.seq))

    def flush_all() -> None:
        for run in sorted(runs.values(), key=lambda r: r[0].t):
            emit(run)
        runs.clear()

    for f in sorted(frames, key=lambda f: f.t):
        if not _stream(f):
            flush_all()
            out.append(f)
            continue
        if any(r[-1].t < c <= f.t for r in runs.values() for c in cuts):
            flush_all()
        key = (f.src_lane, f.dst_lane, f.category)
        run = runs.get(key)
        if run and f.t - run[-1].t > gap_s:
            emit(runs.pop(key))
            run = None
        runs.setdefault(key, []).append(f)
    flush_all()
    return sorted(out, key=lambda f: f.t)


@lru_cache(maxsize=1)
def _tshark_fields() -> tuple[tuple[str, str], ...]:
    known = subprocess.run(["tshark", "-G", "fields"], capture_output=True, text=True).stdout
    names = {ln.split("\t")[2] for ln in known.splitlines() if ln.startswith("F\t")}
    return tuple((logical, next(c for c in cands if c in names))
                 for logical, cands in FIELDS.items() if any(c in names for c in cands))


def read_pcaps(paths: list[Path]) -> dict[Path, list[dict]]:
    """tshark's field rows of each capture, keyed by FIELDS' logical names (one tshark per
    capture, run in parallel: its start-up dominates)."""
    fields = _tshark_fields()
    cmd = ["tshark", "-n", "-d", f"udp.port=={PANA_PORT},pana", "-T", "fields",
           "-E", "separator=\t", "-E", "occurrence=f"]
    for _, name in fields:
        cmd += ["-e", name]
    procs = {p: subprocess.Popen(cmd + ["-r", str(p)], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for p in paths}
    out = {}
    for path, proc in procs.items():
        stdout, stderr = proc.communicate()
        if proc.returncode != 0:
            problem = " ".join(ln for ln in stderr.splitlines() if "Running as user" not in ln)
            if not stdout.strip():
                raise RuntimeError(f"tshark could not read {path}: {problem}")
            # a capture cut short (tcpdump stopped mid-write) still yields its whole frames
            print(f"warning: {path}: {problem}", file=sys.stderr)
        out[path] = [dict(zip((lg for lg, _ in fields), ln.split("\t")))
                     for ln in stdout.splitlines() if ln.strip()]
    return out


def lane_map(ladder_dir: Path, events: list[dict], lanes: dict | None = None) -> dict[str, str]:
    """{address: node}: lanes.json (written by the runner), then what the events tell (the
    MN's MAC in its attrs, BSSIDs of associations), overridden by an explicit `lanes`."""
    out: dict[str, str] = {}
    mns = {e["node"] for e in events if e.get("role") in ("mobile-node", "station")}
    for e in events:
        attrs = e.get("attrs") or {}
        if e.get("node") in mns:
            for k in ("mac", "wlan0_mac", "mn_mac", "sta_mac", "hwaddr"):
                if isinstance(attrs.get(k), str) and MAC_RE.match(attrs[k].lower()):
                    out[attrs[k].lower()] = e["node"]
        if e.get("event") == "associated" and attrs.get("bssid") and attrs.get("ap"):
            out[str(attrs["bssid"]).lower()] = attrs["ap"]
    path = Path(ladder_dir) / "lanes.json"
    if path.exists():
        out.update({k.lower(): v for k, v in json.loads(path.read_text()).items()})
    out.update({k.lower(): v for k, v in (lanes or {}).items()})
    return out


def ladder_frames(ladder_dir: str | Path, lanes: dict | None = None) -> list[Frame]:
    """The handover's frames from <ladder_dir>/pcaps/<node>.pcap, de-duplicated, with sender
    and receiver lanes (a multicast or unknown receiver is the other node that captured it)."""
    ladder_dir = Path(ladder_dir)
    amap = lane_map(ladder_dir, read_events(ladder_dir / "events.jsonl"), lanes)
    frames = []
    for pcap, rows in read_pcaps(sorted((ladder_dir / "pcaps").glob("*.pcap"))).items():
        frames += [f for row in rows if (f := frame_from_row(row, pcap.stem))]
    frames = dedupe(frames)
    lane = lambda addrs: next((amap[a] for a in addrs if a in amap), None)
    for f in frames:
        f.src_lane = lane(f.src) or (f.src[0] if f.src else "?")
        f.dst_lane = lane(f.dst)
        if f.dst_lane is None:
            others = [n for n in f.captured_at if n != f.src_lane]
            f.dst_lane = others[0] if others else None
    return frames


def ladder_markers(events: list[dict], lanes: set[str]) -> list[Marker]:
    out = []
    for e in events:
        if e.get("event") not in MARKERS or "wall" not in e:
            continue
        attrs = e.get("attrs") or {}
        lane = next((c for c in (e.get("node"), attrs.get("ap"), attrs.get("mn"), attrs.get("sta"))
                     if c in lanes), None)
        if lane:
            out.append(Marker(float(e["wall"]), lane, _marker_label(e["event"], attrs)))
    return out


# a binding update's marker names its message by the mobility protocol of its event: s7.5
# SIP's re-INVITE, RFC 6275's BU to the home agent or to a correspondent
def _marker_label(event: str, attrs: dict) -> str:
    if event == "binding_update_start":
        mobility = attrs.get("mobility", "sip")
        peer = attrs.get("peer")
        if mobility == "mipv6":
            if not isinstance(peer, str):
                return "BU start"
            return "BU to HA start" if peer == "home_agent" else "BU to CN start"
        if mobility == "sip":
            return "BU (re-INVITE) start"
    return MARKERS[event]


# lanes from left to right by role (a node with several roles: its first), with the RFC's
# names for the functional elements (s6.2) as lane titles
LANE_ORDER = (("mobile_node", "MN"), ("access_point", "AP"), ("authentication_agent", "PAA"),
              ("access_router", "AR"), ("configuration_agent", "CA"), ("aaa_server", "AAA"),
              ("router", "router"), ("information_server", "IS"), ("correspondent_node", "CN"))
# the agents' role names (events' `role`), for ladders written before nodes.json
AGENT_ROLES = {"mobile-node": "mobile_node", "station": "mobile_node",
               "access-point": "access_point", "authenticator": "access_point",
               "paa": "authentication_agent", "access-router": "access_router",
               "configuration-agent": "configuration_agent", "dhcp-server": "configuration_agent",
               "aaa": "aaa_server", "correspondent": "correspondent_node",
               "information-server": "information_server"}


@dataclass
class Lanes:
    """Each node's roles and domain (nodes.json, else the events' roles), and the home
    domain of the MN that moves."""
    roles: dict[str, list[str]]
    domains: dict[str, str | None] = field(default_factory=dict)
    home_domain: str | None = None

    @classmethod
    def read(cls, ladder_dir: Path, events: list[dict]) -> "Lanes":
        path = Path(ladder_dir) / "nodes.json"
        if path.exists():
            info = json.loads(path.read_text())
            nodes = info.get("nodes") or {}
            return cls({n: list(v.get("roles") or [v.get("kind")]) for n, v in nodes.items()},
                       {n: v.get("domain") for n, v in nodes.items()}, info.get("home_domain"))
        roles: dict[str, list[str]] = {}
        for e in events:
            for r in str(e.get("role", "")).split(","):
                if r.strip() in AGENT_ROLES:
                    roles.setdefault(e.get("node", ""), []).append(AGENT_ROLES[r.strip()])
        return cls(roles)

    def key(self, node: str) -> tuple:
        roles = self.roles.get(node, [])
        for rank, (role, _) in enumerate(LANE_ORDER):
            if role in roles:
                home = role == "aaa_server" and self.home_domain is not None and \
                    self.domains.get(node) == self.home_domain
                return (rank, int(home), node)
        return (len(LANE_ORDER), 0, node)

    def title(self, node: str) -> str:
        roles = self.roles.get(node, [])
        titles = []
        for role, title in LANE_ORDER:
            if role in roles:
                if role == "aaa_server" and self.home_domain is not None:
                    title = "AAA_H" if self.domains.get(node) == self.home_domain else "AAA_V"
                titles.append(title)
        return f"{'+'.join(titles)}\n({node})" if titles else node


def ladder(ladder_dir: str | Path, out: str | Path, lanes: dict | None = None,
           title: str = "") -> list[Path]:
    """A message sequence diagram of one handover: lanes by role (MN, AP(s), PAA, AR, AAA_V,
    AAA_H, CN, ...); each captured frame an arrow at its time (ms from the first frame), an
    RTP burst one arrow (collapse_rtp), events as diamonds."""
    ladder_dir = Path(ladder_dir)
    events = read_events(ladder_dir / "events.jsonl")
    if shutil.which("tshark"):
        frames = ladder_frames(ladder_dir, lanes)
    else:
        print(f"warning: tshark not found; {ladder_dir} drawn from events only", file=sys.stderr)
        frames = []
    roles = Lanes.read(ladder_dir, events)
    used = {f.src_lane for f in frames} | {f.dst_lane for f in frames if f.dst_lane}
    used |= {p.stem for p in (ladder_dir / "pcaps").glob("*.pcap")}
    used |= {e["node"] for e in events if e.get("event") in MARKERS and e.get("node") != "controller"}
    markers = ladder_markers(events, used)
    frames = collapse_rtp(frames, [m.t for m in markers])
    order = sorted(used, key=roles.key)
    x = {n: i for i, n in enumerate(order)}
    rows = sorted([(f.t, 0, f) for f in frames] + [(m.t, 1, m) for m in markers],
                  key=lambda r: (r[0], r[1]))
    t0 = frames[0].t if frames else (rows[0][0] if rows else 0.0)
    n = max(len(rows), 1)
    fig, ax = plt.subplots(figsize=(max(8.0, 2.5 * len(order) + 3.0), max(4.0, 0.32 * n + 2.2)))
    for node, i in x.items():
        ax.plot([i, i], [-0.6, n - 0.4], color="0.6", lw=1, zorder=1)
        ax.text(i, -0.8, roles.title(node), ha="center",
                va="bottom", fontweight="bold", fontsize=10)
    prev = None
    for y, (t, _, item) in enumerate(rows):
        ms = (t - t0) * 1000
        ax.text(-0.35, y, f"{ms:9.1f} ms", ha="right", va="center", fontsize=8, family="monospace")
        if prev is not None and t - prev > 0.2:
            ax.axhline(y - 0.5, color="0.75", ls=":", lw=1)
            ax.text(len(order) - 0.4, y - 0.55, f"gap {(t - prev) * 1000:.0f} ms", fontsize=7,
                    color="0.5", va="bottom", ha="right")
        prev = t
        if isinstance(item, Marker):
            ax.plot(x[item.lane], y, marker="D", color="black", ms=5, zorder=3)
            ax.text(x[item.lane] + 0.08, y, item.label, fontsize=8, style="italic", va="center",
                    ha="left", bbox={"fc": "white", "ec": "none", "pad": 0.5}, zorder=2)
            continue
        xs = x[item.src_lane]
        xd = x[item.dst_lane] if item.dst_lane in x else xs + 0.45
        color = CATEGORY_COLORS[item.category]
        ax.annotate("", xy=(xd, y), xytext=(xs, y), zorder=2,
                    arrowprops={"arrowstyle": "-|>", "color": color, "lw": 1.3,
                                "shrinkA": 0, "shrinkB": 0})
        ax.text((xs + xd) / 2, y - 0.1, item.label + ("" if item.dst_lane in x else " ->?"),
                ha="center", va="bottom", fontsize=7.5, color=color,
                bbox={"fc": "white", "ec": "none", "pad": 0.3, "alpha": 0.85})
    ax.set_xlim(-1.25, len(order) - 0.3)
    ax.set_ylim(n - 0.3, -1.6)
    ax.axis("off")
    rtp = any(f.category == "rtp" for f in frames)
    ax.set_title(f"Handover ladder{': ' + title if title else ''}\n"
                 "one row per frame or event in time order (not to scale), time in ms from the "
                 "first captured frame;\na frame captured at several nodes is drawn once, at "
                 "its earliest capture" + ("; RTP: one row per burst" if rtp else ""),
                 fontsize=11, pad=14)
    return save(fig, out)


# --- everything of a run

def ladder_dirs(run_dir: Path) -> list[tuple[str, str, Path]]:
    """[(configuration, scenario, dir)] under <run>/ladder/<configuration>/<scenario>/ (a
    configuration name may itself contain '/', e.g. 'roaming/wan.delay=50ms')."""
    root = run_dir / "ladder"
    found = {p.parent for p in root.rglob("events.jsonl")} | {p.parent for p in root.rglob("pcaps") if p.is_dir()}
    out = []
    for d in sorted(found):
        parts = d.relative_to(root).parts
        if len(parts) >= 2:
            out.append(("/".join(parts[:-1]), parts[-1], d))
    return sorted(out, key=lambda c: c[:2])


def write_ladders(run_dir: Path, out_dir: Path) -> list[Path]:
    """ladder/<configuration>--<scenario> (PNG, SVG) per ladder directory of the run."""
    paths: list[Path] = []
    for conf, scenario, d in ladder_dirs(run_dir):
        try:
            paths += ladder(d, out_dir / "ladder" / f"{slug(conf)}--{slug(scenario)}",
                            title=f"{conf} / {scenario} (repetition 1)")
        except (RuntimeError, OSError, ValueError, KeyError) as exc:
            print(f"warning: no ladder for {d}: {exc}", file=sys.stderr)
    return paths


