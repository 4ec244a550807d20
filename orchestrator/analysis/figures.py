"""Records -> figures (matplotlib, Agg; PNG and SVG): RFC 6252 Figure 10 measured beside the
RFC, the distribution over repetitions, and a ladder diagram of one handover drawn from its
packet captures and events (RFC 6252 Appendix C.5.3); for Figure 7 (C.5.1) the RTP arrivals
around a handover and the handover delay per scenario, from data `fig7` prepares.

`tables` computes, this module draws; the ladder's frame decoding (`describe`, `dedupe`) is
pure and takes tshark's field rows, so it is testable without captures.
"""
from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from orchestrator.analysis import tables  # noqa: E402

plt.rcParams.update({"font.size": 11, "axes.titlesize": 12, "figure.titlesize": 13,
                     "svg.fonttype": "none"})
SCHEME_SHORT = {"dot11i-post-authentication": "802.11i post-auth",
                "dot11i-pre-authentication": "802.11i pre-auth",
                "mpa-l2-pre-authentication": "MPA L2 pre-auth"}
COLORS = {"dot11i-post-authentication": "#d62728", "dot11i-pre-authentication": "#1f77b4",
          "mpa-l2-pre-authentication": "#2ca02c"}


def _save(fig, out: str | Path) -> list[Path]:
    """out.png and out.svg (any suffix of `out` is replaced)."""
    out = Path(out)
    stem = out.with_suffix("") if out.suffix in (".png", ".svg") else out
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_name(stem.name + ".png"), stem.with_name(stem.name + ".svg")]
    fig.savefig(paths[0], dpi=150 if fig.get_figheight() < 30 else 80, bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight")
    plt.close(fig)
    return paths


def _caption(fig, df: pd.DataFrame) -> None:
    text = "\n".join(textwrap.wrap(tables.caption(df), 150))
    fig.text(0.01, -0.01, text, fontsize=9, va="top", ha="left", color="0.25")


# --- Figure 10 beside the RFC

def fig10_bars(df: pd.DataFrame, out: str | Path) -> list[Path]:
    """Grouped bars per phase and scheme: measured median with p5-p95 error bars (solid)
    beside the RFC's value (hatched, lighter); one panel per roaming case."""
    ok = df[df["status"] == "ok"]
    ref = {(r.scheme, r.roaming, r.phase): r.rfc_ms for r in tables.rfc_values().itertuples()}
    fig, axes = plt.subplots(1, 2, figsize=(15, 5.8), sharey=True)
    width = 0.8 / (2 * len(tables.SCHEMES))
    for ax, roaming in zip(axes, tables.ROAMING):
        for i, phase in enumerate(tables.FIG10_PHASES):
            for j, scheme in enumerate(tables.SCHEMES):
                x = i - 0.4 + width * (2 * j + 0.5)
                s = tables.stats(ok.loc[(ok["scheme"] == scheme) & (ok["roaming"] == roaming)
                                        & (ok["phase"] == phase), "ms"])
                color = COLORS[scheme]
                if s["n"]:
                    err = [[s["median"] - s["p5"]], [s["p95"] - s["median"]]]
                    ax.bar(x, s["median"], width, color=color, yerr=err, capsize=2,
                           error_kw={"lw": 1, "ecolor": "0.15"})
                rfc = ref.get((scheme, roaming, phase))
                if rfc is not None and not math.isnan(rfc):
                    ax.bar(x + width, rfc, width, color=color, alpha=0.35, hatch="//",
                           edgecolor=color, lw=0.8)
        ax.set_xticks(range(len(tables.FIG10_PHASES)))
        ax.set_xticklabels([p.replace("Time affecting handover", "Time affecting\nhandover")
                            for p in tables.FIG10_PHASES])
        ax.set_yscale("log")
        ax.set_title(roaming)
        ax.grid(axis="y", which="both", alpha=0.3)
    axes[0].set_ylabel("ms (log scale)")
    axes[0].set_ylim(1, max([1.0, *ok["ms"].astype(float).dropna()] + [r for r in ref.values()
                                                                    if not math.isnan(r)]) * 1.6)
    handles = [Patch(color=COLORS[s], label=SCHEME_SHORT[s]) for s in tables.SCHEMES]
    handles += [Patch(facecolor="0.4", label="measured: median, p5-p95"),
                Patch(facecolor="0.85", hatch="//", edgecolor="0.4", label="RFC 6252 Figure 10")]
    fig.legend(handles=handles, loc="upper center", ncol=5, bbox_to_anchor=(0.5, 0.95),
               frameon=False, fontsize=10)
    fig.suptitle("RFC 6252 Figure 10: measured (solid) beside the RFC (hatched)", y=0.99)
    fig.tight_layout(rect=(0, 0, 1, 0.91))
    _caption(fig, df)
    return _save(fig, out)


def fig10_distribution(df: pd.DataFrame, out: str | Path) -> list[Path]:
    """Box and strip plot over repetitions of 'Time affecting handover' and Tauth per scheme
    and roaming case, with the RFC's value as a black bar."""
    ok = df[df["status"] == "ok"]
    ref = {(r.scheme, r.roaming, r.phase): r.rfc_ms for r in tables.rfc_values().itertuples()}
    cats = [(s, r) for s in tables.SCHEMES for r in tables.ROAMING]
    rng = np.random.default_rng(0)           # jitter only; deterministic figures
    fig, axes = plt.subplots(1, 2, figsize=(15, 5.6))
    for ax, phase in zip(axes, (tables.TAH, "Tauth")):
        for k, (scheme, roaming) in enumerate(cats):
            v = ok.loc[(ok["scheme"] == scheme) & (ok["roaming"] == roaming)
                       & (ok["phase"] == phase), "ms"].astype(float).to_numpy()
            if v.size:
                ax.boxplot([v], positions=[k], widths=0.55, showfliers=False,
                           medianprops={"color": "black"},
                           boxprops={"color": COLORS[scheme]}, whiskerprops={"color": COLORS[scheme]},
                           capprops={"color": COLORS[scheme]})
                ax.scatter(k + rng.uniform(-0.18, 0.18, v.size), v, s=12, alpha=0.6,
                           color=COLORS[scheme], zorder=3)
            rfc = ref.get((scheme, roaming, phase))
            if rfc is not None and not math.isnan(rfc):
                ax.plot([k - 0.32, k + 0.32], [rfc, rfc], color="black", lw=2.5, zorder=4)
        ax.set_xticks(range(len(cats)))
        ax.set_xticklabels([SCHEME_SHORT[s].replace(" ", "\n", 1) + "\n" + r for s, r in cats],
                           fontsize=9)
        ax.set_xlim(-0.6, len(cats) - 0.4)
        ax.set_yscale("log")
        ax.set_ylabel("ms (log scale)")
        ax.set_title(phase)
        ax.grid(axis="y", which="both", alpha=0.3)
    fig.suptitle("RFC 6252 Figure 10: distribution over repetitions (points, box: quartiles); "
                 "black bar: RFC value")
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    _caption(fig, df)
    return _save(fig, out)


# --- Figure 7 (C.5.1): packet arrivals around the handover, handover delay per scenario

ADDRESS_COLORS = {"oCoA": "#1f77b4", "nCoA": "#d62728", "other": "#7f7f7f"}
FIG7_COLORS = {True: "#2ca02c", False: "#d62728"}     # MPA, non-MPA


@dataclass
class ArrivalPanel:
    """One repetition's RTP arrivals (media.arrival_series: t_ms from the layer-2 handoff
    start, extended seq, receiving address) and the handover around them."""
    title: str
    series: list[dict]
    new_address: str | None
    l2_done_ms: float
    delay_ms: float | None = None           # handoff start -> first packet on the nCoA
    lost: int | None = None
    buffering_ms: float | None = None       # the configured period; None: no buffering
    buffered_packets: int | None = None
    buffering_span_ms: tuple[float, float] | None = None   # measured, if the run logged it
    repetition: int | None = None


@dataclass
class DelayGroup:
    title: str
    mpa: bool
    delays_ms: list[float]
    lost: list[float]
    rfc_delay_ms: float | None = None
    rfc_lost: float | None = None


def _roles(series: list[dict], ncoa: str | None) -> dict[str, str]:
    """address -> 'nCoA' / 'oCoA' / 'other': the nCoA as given (else the last address to
    receive), the address that received the first packet is the oCoA."""
    addrs = list(dict.fromkeys(p["address"] for p in series))
    ncoa = ncoa if ncoa in addrs else (series[-1]["address"] if series else None)
    first = next((a for a in addrs if a != ncoa), None)
    return {a: "nCoA" if a == ncoa else "oCoA" if a == first else "other" for a in addrs}


def _lost_points(series: list[dict], interval: float) -> list[tuple[float, int]]:
    """(when it was due, seq) of each missing sequence number: the last packet received
    before it plus one interval per sequence number."""
    got = sorted({p["seq"]: p["t_ms"] for p in reversed(series)}.items())
    out = []
    for (s0, t0), (s1, _) in zip(got, got[1:]):
        out += [(t0 + (s - s0) * interval, s) for s in range(s0 + 1, s1)]
    return out


def fig7_arrivals(panels: list[ArrivalPanel], df: pd.DataFrame, out: str | Path,
                  title: str = "", seconds: bool = False) -> list[Path]:
    """RTP sequence number against arrival time around the handover, one panel per scenario:
    colour by receiving address (oCoA, nCoA), flushed packets outlined, lost packets as x at
    the time they were due, the layer-2 handoff start/done and the first packet on the nCoA
    as vertical lines, the buffering period shaded. `seconds`: a wider axis in s (non-MPA)."""
    fig, axes = plt.subplots(1, len(panels), figsize=(7.0 * len(panels), 5.4), squeeze=False)
    unit = 1e-3 if seconds else 1.0
    for ax, p in zip(axes[0], panels):
        times = [q["t_ms"] for q in p.series]
        interval = float(np.median(np.diff(times))) if len(times) > 2 else 16.0
        end = max(p.delay_ms if p.delay_ms is not None else p.l2_done_ms, p.l2_done_ms)
        lo, hi = (-500.0, end + 700.0) if seconds else (-8 * interval, end + 10 * interval)
        roles = _roles(p.series, p.new_address)
        inside = [q for q in p.series if lo <= q["t_ms"] <= hi]
        for role in ("oCoA", "nCoA", "other"):
            pts = [q for q in inside if roles[q["address"]] == role]
            if pts:
                addrs = ", ".join(sorted({q["address"] for q in pts}))
                ax.scatter([q["t_ms"] * unit for q in pts], [q["seq"] for q in pts], s=14,
                           color=ADDRESS_COLORS[role], label=f"{role} {addrs}", zorder=3)
        if p.buffered_packets and p.delay_ms is not None:
            new = [q for q in p.series if roles[q["address"]] == "nCoA"
                   and q["t_ms"] >= p.delay_ms][:p.buffered_packets]
            ax.scatter([q["t_ms"] * unit for q in new], [q["seq"] for q in new], s=60,
                       facecolors="none", edgecolors="black", lw=1.2, zorder=4,
                       label=f"flushed by the nAR ({p.buffered_packets})")
        lost = [(t, s) for t, s in _lost_points(p.series, interval) if lo <= t <= hi]
        if lost:
            n = p.lost if p.lost is not None else len(lost)
            ax.scatter([t * unit for t, _ in lost], [s for _, s in lost], marker="x", s=22,
                       color="0.45", zorder=2, label=f"lost, when due ({n})")
        ax.axvline(0, color="black", lw=1.2, label="L2 handoff start")
        ax.axvline(p.l2_done_ms * unit, color="black", lw=1.2, ls="--",
                   label=f"L2 handoff done ({p.l2_done_ms:.1f} ms)")
        if p.delay_ms is not None:
            ax.axvline(p.delay_ms * unit, color=ADDRESS_COLORS["nCoA"], lw=1, ls=":",
                       label=f"first packet on the nCoA ({p.delay_ms:.1f} ms)")
        if p.buffering_span_ms:
            ax.axvspan(p.buffering_span_ms[0] * unit, p.buffering_span_ms[1] * unit, color="#ffbf00",
                       alpha=0.25, label="nAR buffering: tunnel deleted -> flush")
        elif p.buffering_ms and p.delay_ms is not None:
            ax.axvspan((p.delay_ms - p.buffering_ms) * unit, p.delay_ms * unit, color="#ffbf00",
                       alpha=0.25, label=f"buffering period {p.buffering_ms:g} ms (configured;\n"
                                         "drawn ending at the flush)")
        ax.set_xlim(lo * unit, hi * unit)
        if inside or lost:
            seqs = [q["seq"] for q in inside] + [s for _, s in lost]
            ax.set_ylim(min(seqs) - 1, max(seqs) + 1)
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.set_xlabel(f"arrival time from the L2 handoff start ({'s' if seconds else 'ms'})")
        ax.set_ylabel("RTP sequence number (extended)")
        ax.set_title(p.title
                     + (f"\nhandover delay {p.delay_ms:.1f} ms" if p.delay_ms is not None else "")
                     + (f", {p.lost} lost" if p.lost is not None else ""))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle("RFC 6252 C.5.1 (Figure 7): RTP arrivals around the handover"
                 + (f": {title}" if title else "")
                 + "\nthe repetition with the median handover delay of each scenario")
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    _caption(fig, df)
    return _save(fig, out)


def fig7_delay(groups: list[DelayGroup], df: pd.DataFrame, out: str | Path) -> list[Path]:
    """Handover delay (log axis) and packets lost (symlog) per scenario over repetitions:
    box (quartiles) and points, the RFC's value as a black bar (MPA delay: its L2 + L3)."""
    rng = np.random.default_rng(0)
    fig, axes = plt.subplots(1, 2, figsize=(max(10.0, 3.2 * len(groups) + 4), 5.4))
    for ax, what in zip(axes, ("delay", "lost")):
        for k, g in enumerate(groups):
            v = np.asarray(g.delays_ms if what == "delay" else g.lost, dtype=float)
            color = FIG7_COLORS[g.mpa]
            if v.size:
                ax.boxplot([v], positions=[k], widths=0.55, showfliers=False,
                           medianprops={"color": "black"}, boxprops={"color": color},
                           whiskerprops={"color": color}, capprops={"color": color})
                ax.scatter(k + rng.uniform(-0.18, 0.18, v.size), v, s=14, alpha=0.65,
                           color=color, zorder=3)
            rfc = g.rfc_delay_ms if what == "delay" else g.rfc_lost
            if rfc is not None and not math.isnan(rfc):
                ax.plot([k - 0.32, k + 0.32], [rfc, rfc], color="black", lw=2.5, zorder=4)
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels([g.title.replace(", ", "\n", 1) for g in groups], fontsize=9)
        ax.set_xlim(-0.6, len(groups) - 0.4)
        if what == "delay":
            ax.set_yscale("log")
            ax.set_ylabel("handover delay (ms, log scale)")
            ax.set_title("L2 handoff start -> first packet on the nCoA")
        else:
            ax.set_yscale("symlog", linthresh=1)
            ax.set_ylim(bottom=-0.2)
            ax.set_ylabel("packets lost per handover (symlog)")
            ax.set_title("packets lost")
        ax.grid(axis="y", which="both", alpha=0.3)
    handles = [Patch(color=FIG7_COLORS[True], label="MPA"),
               Patch(color=FIG7_COLORS[False], label="non-MPA"),
               Patch(color="black", label="RFC (MPA delay: its L2 + L3 handoff)")]
    fig.legend(handles=handles, loc="upper center", ncol=3, bbox_to_anchor=(0.5, 0.95),
               frameon=False, fontsize=10)
    fig.suptitle("RFC 6252 C.5.1: handover delay and loss over repetitions (points, box: quartiles)",
                 y=0.99)
    fig.tight_layout(rect=(0, 0, 1, 0.91))
    _caption(fig, df)
    return _save(fig, out)


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
}
ETH_EAPOL, ETH_PREAUTH, ETH_MGMT, ETH_IP, ETH_ARP = 0x888E, 0x88C7, 0x88B5, 0x0800, 0x0806
RADIUS_PORTS, PANA_PORT, KEYINSTALL_PORT = (1812, 1813), 716, 7011
SIP_PORT, DHCP_PORTS = 5060, (67, 68)
IKE_PORTS, BUFFERING_PORT = (500, 4500), 7012
BUFFERING_TYPES = {1: "BUFFER_REQUEST", 2: "ATTACHED", 3: "ACK"}   # protocols/buffering.py
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
                   "buffering": "#ff7f0e"}
MARKERS = {"preauth_start": "pre-auth start", "preauth_done": "pre-auth done",
           "tconf_done": "tconf_done", "psk_installed": "PSK installed",
           "l2_handoff_start": "handoff start", "associated": "assoc",
           "l2_handoff_done": "assoc resp", "post_auth_start": "post-auth start",
           "post_auth_done": "post-auth done", "fourway_done": "4-way done",
           "port_authorized": "port open",
           # C.5.1 (Figure 7): SIP mobility
           "pht_established": "tunnel up", "binding_update_start": "BU (re-INVITE) start",
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
    if BUFFERING_PORT in ports and len(payload) >= 2:
        return "buffering", f"Buffering {BUFFERING_TYPES.get(payload[1], payload[1])}"
    if SIP_PORT in ports or row.get("sip_method") or row.get("sip_status"):
        return "sip", sip_label(payload, row.get("sip_method", ""), row.get("sip_status", ""),
                                row.get("sip_cseq", ""))
    if ports & set(DHCP_PORTS):
        typ = dhcp_type(payload) or _int(row.get("dhcp_type", ""))
        return "dhcp", f"DHCP {DHCP_TYPES.get(typ, typ or '')}".strip()
    seq = _int(row.get("rtp_seq", "")) if row.get("rtp_seq") else rtp_seq(payload)
    if seq is not None and row.get("ip_src"):
        return "rtp", f"RTP seq {seq}"
    return None


def frame_from_row(row: dict, node: str) -> Frame | None:
    d = describe(row)
    if d is None:
        return None
    is_ip = bool(row.get("ip_src"))
    if is_ip:
        key = ("ip", row["ip_src"], row.get("ip_dst"), row.get("ip_id"), row.get("sport"),
               row.get("dport"), row.get("udp_payload"))
    else:
        key = ("l2", row.get("eth_src"), row.get("eth_dst"), row.get("eth_type"),
               *(row.get(k) for k in ("eapol_type", "eapol_len", "eap_code", "eap_id",
                                      "eap_type", "key_info", "replay", "data")))
    if d[0] == "arp":
        key += (row.get("arp_src_ip"), row.get("arp_dst_ip"))
    addrs = lambda *keys: tuple(row[k].lower() for k in keys if row.get(k))
    seq = int(d[1].rsplit(" ", 1)[1]) if d[0] == "rtp" else None
    return Frame(float(row["time"]), addrs("ip_src", "eth_src"), addrs("ip_dst", "eth_dst"),
                 d[0], d[1], key, [node], seq=seq)


def dedupe(frames: list[Frame]) -> list[Frame]:
    """One frame per transmission: the same content seen at several nodes (sender and
    receiver) within DUP_WINDOW_S is kept once, at its earliest time, with every node that
    captured it. The same content at the same node later is a retransmission and kept."""
    kept: list[Frame] = []
    last: dict[tuple, Frame] = {}
    for f in sorted(frames, key=lambda f: f.t):
        k = last.get(f.key)
        if k is not None and f.t - k.t <= DUP_WINDOW_S and (
                f.captured_at[0] not in k.captured_at or f.t - k.t <= SAME_NODE_DUP_S):
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


def read_events(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]


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
            out.append(Marker(float(e["wall"]), lane, MARKERS[e["event"]]))
    return out


_SUFFIX = r"(\d+|-[a-z0-9]+)?$"       # ap0, ap-a


def _lane_key(node: str, role: str) -> tuple:
    roles = set(role.split(","))
    if roles & {"mobile-node", "station"} or re.match(r"^(mn|sta)\d*$", node):
        return (0, 0, node)
    if roles & {"access-point", "authenticator"} or re.match(r"^ap" + _SUFFIX, node):
        return (1, 0, node)
    if "paa" in roles or node in ("nar", "paa") or re.match(r"^aa" + _SUFFIX, node):
        return (2, 0, node)
    if "access-router" in roles or node.endswith("ar") or re.match(r"^ar" + _SUFFIX, node):
        return (3, 0, node)
    if roles & {"configuration-agent", "dhcp-server"} or re.match(r"^ca" + _SUFFIX, node):
        return (3, 1, node)
    if node.startswith("aaa") or role.startswith("aaa"):
        return (4, {"v": 0, "h": 1}.get(node[-1:], 2), node)
    if "correspondent" in roles or re.match(r"^cn\d*$", node):
        return (6, 0, node)
    return (5, 0, node)


def _lane_title(node: str, key: tuple) -> str:
    title = {0: "MN", 1: "AP", 2: "PAA", 3: "AR" if key[1] == 0 else "CA", 6: "CN"}.get(key[0])
    if key[0] == 4:
        title = {0: "AAA_V", 1: "AAA_H"}.get(key[1], "AAA")
    return f"{title}\n({node})" if title else node


def ladder(ladder_dir: str | Path, out: str | Path, lanes: dict | None = None,
           title: str = "", figure: str = "Figure 10") -> list[Path]:
    """A message sequence diagram of one handover: lanes MN, AP(s), PAA, AR, AAA_V, AAA_H,
    CN; each captured frame an arrow at its time (ms from the first frame), an RTP burst
    one arrow (collapse_rtp), events as diamonds."""
    ladder_dir = Path(ladder_dir)
    events = read_events(ladder_dir / "events.jsonl")
    if shutil.which("tshark"):
        frames = ladder_frames(ladder_dir, lanes)
    else:
        print(f"warning: tshark not found; {ladder_dir} drawn from events only", file=sys.stderr)
        frames = []
    roles: dict[str, str] = {}
    for e in events:
        roles.setdefault(e.get("node", ""), e.get("role", ""))
    used = {f.src_lane for f in frames} | {f.dst_lane for f in frames if f.dst_lane}
    used |= {p.stem for p in (ladder_dir / "pcaps").glob("*.pcap")}
    used |= {e["node"] for e in events if e.get("event") in MARKERS and e.get("node") != "controller"}
    markers = ladder_markers(events, used)
    frames = collapse_rtp(frames, [m.t for m in markers])
    order = sorted(used, key=lambda n: _lane_key(n, roles.get(n, "")))
    x = {n: i for i, n in enumerate(order)}
    rows = sorted([(f.t, 0, f) for f in frames] + [(m.t, 1, m) for m in markers],
                  key=lambda r: (r[0], r[1]))
    t0 = frames[0].t if frames else (rows[0][0] if rows else 0.0)
    n = max(len(rows), 1)
    fig, ax = plt.subplots(figsize=(max(8.0, 2.5 * len(order) + 3.0), max(4.0, 0.32 * n + 2.2)))
    for node, i in x.items():
        ax.plot([i, i], [-0.6, n - 0.4], color="0.6", lw=1, zorder=1)
        ax.text(i, -0.8, _lane_title(node, _lane_key(node, roles.get(node, ""))), ha="center",
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
    ax.set_title(f"RFC 6252 {figure} handover ladder{': ' + title if title else ''}\n"
                 "one row per frame or event in time order (not to scale), time in ms from the "
                 "first captured frame;\na frame captured at several nodes is drawn once, at "
                 "its earliest capture" + ("; RTP: one row per burst" if rtp else ""),
                 fontsize=11, pad=14)
    return _save(fig, out)


# --- everything of a run

def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.=_-]+", "_", text).strip("_")


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


def write_ladders(run_dir: Path, out_dir: Path, figure: str = "Figure 10") -> list[Path]:
    """ladder/<configuration>--<scenario> (PNG, SVG) per ladder directory of the run."""
    paths: list[Path] = []
    for conf, scenario, d in ladder_dirs(run_dir):
        try:
            paths += ladder(d, out_dir / "ladder" / f"{_slug(conf)}--{_slug(scenario)}",
                            title=f"{conf} / {scenario} (repetition 1)", figure=figure)
        except (RuntimeError, OSError, ValueError, KeyError) as exc:
            print(f"warning: no ladder for {d}: {exc}", file=sys.stderr)
    return paths


def write_figures(run_dir: str | Path) -> dict[str, Path]:
    """<run>/figures/: fig10_bars and fig10_distribution (one pair per sweep point), and
    ladder/<configuration>--<scenario> per ladder directory; PNG and SVG each. A Figure 7
    run (fig7.is_fig7) gets fig7.write_figures instead."""
    from orchestrator.analysis import fig7
    run_dir = Path(run_dir)
    out_dir = run_dir / "figures"
    df = tables.load_records(run_dir)
    if fig7.is_fig7(tables.read_spec(run_dir), df):
        return fig7.write_figures(run_dir)
    paths: list[Path] = []
    for point, rows in tables.sweep_points(df):
        suffix = ("-" + _slug(tables.point_label(point))) if point else ""
        paths += fig10_bars(rows, out_dir / f"fig10_bars{suffix}")
        paths += fig10_distribution(rows, out_dir / f"fig10_distribution{suffix}")
    paths += write_ladders(run_dir, out_dir)
    return {str(p.relative_to(out_dir)): p for p in paths}
