"""A synthetic run directory, as the experiment runner writes it: records around the RFC's
Figure 10 values (seeded), spec.yaml, events.jsonl, and a ladder directory whose pcaps are
written here byte by byte (pcap format, hand-built Ethernet/IPv4/UDP frames; no tcpdump)."""
from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from orchestrator.analysis.reference import load

RFC = {(r["scheme"], r["roaming"], r["phase"]): r["ms"] for r in load("rfc6252_fig10")}
SCENARIOS = {"post-auth": "dot11i-post-authentication", "preauth": "dot11i-pre-authentication",
             "mpa": "mpa-l2-pre-authentication"}


def records(repetitions: int = 20, seed: int = 1, broken: bool = False,
            sweep: tuple[str, ...] = ()) -> pd.DataFrame:
    """Rows like the runner's. broken=True: no benefit from pre-authentication and no
    difference between roaming and non-roaming (the RFC's structure does not hold).
    Repetition 3 of post-authentication roaming had an EAPOL-Key message 1 retransmitted."""
    rng = np.random.default_rng(seed)
    rows = []
    for roaming in ("non-roaming", "roaming"):
        for lat in (sweep or ("15ms",)):
            conf = roaming + (f"/association_latency={lat}" if sweep else "")
            params = {"param:kinds.access_point.association_latency": lat,
                      "param:links.wan.delay": "25ms" if roaming == "roaming" else None,
                      "emulated:nodes.ap1.association_latency[ms]": float(lat[:-2]),
                      "emulated:nodes.mn.link_down_detection[ms]": 0.0}
            if roaming == "roaming":
                params["emulated:links.wan.delay[ms]"] = 25.0
            shift = float(lat.removesuffix("ms")) - 15.0
            for scenario, scheme in SCENARIOS.items():
                for rep in range(1, repetitions + 1):
                    noise = lambda: 1 + 0.05 * rng.standard_normal()
                    ref_roam = "non-roaming" if broken else roaming
                    tauth = RFC[(scheme, ref_roam, "Tauth")] * noise()
                    a4w = RFC[(scheme, roaming, "Tassoc+4way")] * noise() + shift
                    tconf = RFC[(scheme, roaming, "Tconf")] * noise() if scheme.startswith("mpa") else 0
                    pre = scheme != "dot11i-post-authentication" and not broken
                    phases = {"Tauth": tauth, "Tassoc": 0.6 * a4w, "T4way": 0.4 * a4w,
                              "Tassoc+4way": a4w, "Total": tauth + tconf + a4w,
                              "Time affecting handover": a4w if pre else tauth + a4w}
                    if scheme.startswith("mpa"):
                        phases["Tconf"] = tconf
                    retx = int(scenario == "post-auth" and roaming == "roaming" and rep == 3)
                    for phase, ms in phases.items():
                        rows.append({"experiment": "fig10", "run_id": "20261201-120000",
                                     "configuration": conf, "base_configuration": roaming,
                                     "mobile_node": "mn", "scenario": scenario, "scheme": scheme,
                                     "repetition": rep, "phase": phase, "ms": ms, "value": ms,
                                     "unit": "ms", "status": "ok", "error": "",
                                     "seed": seed + rep, **params, "retransmissions": retx,
                                     "retransmitted": "fourway_retransmitted=1" if retx else ""})
    df = pd.DataFrame(rows)
    failed = df.index[(df["scheme"] == "mpa-l2-pre-authentication") & (df["repetition"] == 1)]
    df.loc[failed, ["status", "ms", "value", "error"]] = ["failed", np.nan, np.nan,
                                                          "mn: no port_open"]
    return df


def _emulated(wan: bool) -> list[dict]:
    out = [{"path": "nodes.ap1.association_latency", "value": 15.0, "unit": "ms",
            "source": "experiment parameters: kinds.access_point.association_latency"},
           {"path": "nodes.ap2.association_latency", "value": 15.0, "unit": "ms",
            "source": "experiment parameters: kinds.access_point.association_latency"},
           {"path": "nodes.mn.link_down_detection", "value": 0.0, "unit": "ms",
            "source": "default"}]
    if wan:
        out += [{"path": "links.wan.delay", "value": 25.0, "unit": "ms",
                 "source": "experiment configurations.roaming.parameters: links.wan.delay"},
                {"path": "links.wan.jitter", "value": 0.0, "unit": "ms", "source": "default"}]
    return out


SPEC = {"name": "fig10", "seed": 1, "repetitions": 20,
        "reference": {"table": "rfc6252_fig10",
                      "columns": {"non-roaming": "non-roaming", "roaming": "roaming"}},
        "parameters": {"kinds.access_point.association_latency": "15ms"},
        "configurations": {
            "non-roaming": {"topology": "../topologies/fig8-l2-preauth-nonroaming.yaml",
                            "mobile_node": "mn", "emulated": _emulated(False)},
            "roaming": {"topology": "../topologies/fig9-l2-preauth-roaming.yaml",
                        "parameters": {"links.wan.delay": "25ms"}, "mobile_node": "mn",
                        "emulated": _emulated(True)}},
        "scenarios": [{"name": n, "flow": f, "from": "ap0", "to": "ap1"} for n, f in SCENARIOS.items()]}


# --- frames and pcaps

MN_MAC, AP_MAC, NAR_MAC, AAA_MAC = "02:00:00:00:00:01", "02:00:00:00:01:01", "02:00:00:00:02:01", "02:00:00:00:03:01"
MN_IP, AP_IP, NAR_IP, AAA_IP = "10.1.0.10", "10.1.0.2", "10.1.0.1", "10.9.0.1"
PAE_GROUP = "01:80:c2:00:00:03"


def _mac(s: str) -> bytes:
    return bytes(int(x, 16) for x in s.split(":"))


def _ip(s: str) -> bytes:
    return bytes(int(x) for x in s.split("."))


def ether(dst: str, src: str, ethertype: int, payload: bytes) -> bytes:
    frame = _mac(dst) + _mac(src) + struct.pack("!H", ethertype) + payload
    return frame + b"\x00" * max(0, 60 - len(frame))


def udp(src_mac, dst_mac, src_ip, dst_ip, sport, dport, payload: bytes, ident: int) -> bytes:
    seg = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(seg), ident, 0, 64, 17, 0,
                      _ip(src_ip), _ip(dst_ip))
    words = struct.unpack("!10H", hdr)
    csum = sum(words)
    while csum >> 16:
        csum = (csum & 0xFFFF) + (csum >> 16)
    hdr = hdr[:10] + struct.pack("!H", ~csum & 0xFFFF) + hdr[12:]
    return ether(dst_mac, src_mac, 0x0800, hdr + seg)


def eapol_start() -> bytes:
    return ether(PAE_GROUP, MN_MAC, 0x888E, bytes([2, 1, 0, 0]))


def eapol_key_msg1() -> bytes:
    body = struct.pack("!BHH8s32s16s8s8s16sH", 2, 0x008A, 16, (1).to_bytes(8, "big"),
                       b"\x11" * 32, b"\x00" * 16, b"\x00" * 8, b"\x00" * 8, b"\x00" * 16, 0)
    return ether(MN_MAC, AP_MAC, 0x888E, bytes([2, 3]) + struct.pack("!H", len(body)) + body)


def mgmt_assoc_request() -> bytes:
    body = json.dumps({"type": "assoc_request", "sta": MN_MAC, "bssid": AP_MAC, "seq": 1,
                       "status": "ok", "attrs": {}}, separators=(",", ":")).encode()
    return ether(AP_MAC, MN_MAC, 0x88B5, body)


def radius(code: int, ident: int, to_server: bool, ip_id: int) -> bytes:
    payload = struct.pack("!BBH16s", code, ident, 20, bytes(range(16)))
    if to_server:
        return udp(AP_MAC, AAA_MAC, AP_IP, AAA_IP, 40000, 1812, payload, ip_id)
    return udp(AAA_MAC, AP_MAC, AAA_IP, AP_IP, 1812, 40000, payload, ip_id)


def pana_par_with_e_flag() -> bytes:
    """PANA-Auth-Request with RFC 5873's E flag (Wireshark 4.0 does not dissect it)."""
    flags = 0x8000 | 0x0200
    payload = struct.pack("!HHHHII", 0, 16, flags, 2, 0x1234, 1)
    return udp(NAR_MAC, MN_MAC, NAR_IP, MN_IP, 716, 716, payload, 7)


def write_pcap(path: Path, frames: list[tuple[float, bytes]]) -> None:
    """libpcap format, microsecond timestamps, LINKTYPE_ETHERNET."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for t, frame in frames:
        sec = int(t)
        usec = int(round((t - sec) * 1e6))
        out.append(struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame)
    path.write_bytes(b"".join(out))


T0 = 1_795_000_000.0


def ladder_dir(path: Path) -> Path:
    """One handover: PANA PAR (pre-authentication), association, EAPOL-Start, RADIUS
    Access-Request/Accept, EAPOL-Key 1/4. Frames seen by sender and receiver appear in both
    pcaps (the receiver's copy 0.2 ms later)."""
    (path / "pcaps").mkdir(parents=True, exist_ok=True)
    at = lambda ms: T0 + ms / 1000
    par = pana_par_with_e_flag()
    assoc, start, key1 = mgmt_assoc_request(), eapol_start(), eapol_key_msg1()
    req, acc = radius(1, 5, True, 100), radius(2, 5, False, 200)
    write_pcap(path / "pcaps" / "nar.pcap", [(at(0.0), par)])
    write_pcap(path / "pcaps" / "mn.pcap", [(at(0.3), par), (at(500.0), assoc),
                                            (at(520.0), start), (at(560.4), key1)])
    write_pcap(path / "pcaps" / "ap1.pcap", [(at(500.2), assoc), (at(520.2), start),
                                             (at(521.0), req), (at(560.0), key1),
                                             (at(550.3), acc)])
    write_pcap(path / "pcaps" / "aaa-v.pcap", [(at(521.3), req), (at(550.0), acc)])
    lanes = {MN_MAC: "mn", MN_IP: "mn", AP_MAC: "ap1", AP_IP: "ap1", NAR_MAC: "nar",
             NAR_IP: "nar", AAA_MAC: "aaa-v", AAA_IP: "aaa-v"}
    (path / "lanes.json").write_text(json.dumps(lanes, indent=1))
    write_nodes(path, "mn", "home", {
        "mn": ("mobile_node", [], None), "ap1": ("access_point", [], "visited"),
        "nar": ("access_router", ["authentication_agent"], "visited"),
        "aaa-v": ("aaa_server", [], "visited"), "aaa-h": ("aaa_server", [], "home")})
    events = [
        ("mn", "mobile-node", "preauth_start", "pre-authentication", -1.0, {"paa": "nar"}),
        ("nar", "paa", "tconf_done", "pre-configuration", 100.0, {"sta": "mn", "elapsed_ms": 16}),
        ("mn", "station", "l2_handoff_start", "switching", 499.0, {"bssid": AP_MAC, "mac": MN_MAC}),
        ("controller", "controller", "associated", "switching", 515.0, {"sta": "mn", "ap": "ap1"}),
        ("controller", "controller", "port_authorized", "switching", 575.0, {"sta": "mn", "ap": "ap1"}),
    ]
    write_events(path / "events.jsonl", events, at)
    return path


def write_nodes(path: Path, mn: str, home: str, nodes: dict[str, tuple]) -> None:
    """nodes.json as the runner writes it: {node: (kind, colocated roles, domain)}."""
    (path / "nodes.json").write_text(json.dumps({
        "mobile_node": mn, "home_domain": home,
        "nodes": {n: {"kind": k, "roles": sorted({k, *extra}), "domain": d}
                  for n, (k, extra, d) in nodes.items()}}, indent=1))


def write_events(path: Path, events: list[tuple], at) -> None:
    """(node, role, event, phase, ms, attrs) rows -> an events.jsonl, ms after a fixed
    monotonic origin; `at(ms)` gives the wall time."""
    with open(path, "w") as fh:
        for node, role, event, phase, ms, attrs in events:
            fh.write(json.dumps({"node": node, "role": role, "event": event, "phase": phase,
                                 "mono_ns": int(1e12 + ms * 1e6), "wall": at(ms),
                                 "attrs": attrs}) + "\n")


def run_dir(root: Path, df: pd.DataFrame | None = None, parquet: bool = True,
            spec: dict | None = None, name: str = "fig10") -> Path:
    """results/<name>/<run-id>/ with records, spec.yaml, events.jsonl and one ladder dir."""
    df = records() if df is None else df
    run = root / name / "20261201-120000"
    run.mkdir(parents=True, exist_ok=True)
    df.to_csv(run / "records.csv", index=False)
    if parquet:
        df.to_parquet(run / "records.parquet", index=False)
    (run / "spec.yaml").write_text(yaml.safe_dump(spec or SPEC, sort_keys=False))
    (run / "events.jsonl").write_text("")
    ladder_dir(run / "ladder" / "roaming" / "mpa")
    return run


# --- RFC 6252 C.5.1 (Figure 7): a SIP call across the handover, as the runner writes it

OCOA, NCOA, CN_IP, CN_MAC = "10.2.0.100", "10.1.0.100", "10.0.0.20", "02:00:00:00:04:01"
FIG7_CONF = "intra-domain"
FIG7_SCENARIOS = {"buffering-disabled": ("sip-mpa", None), "buffering-enabled": ("sip-mpa", "20ms"),
                  "non-mpa": ("sip-non-mpa", None)}
INTERVAL_MS, OWD_MS, SEQ0 = 16.0, 1.0, 65500        # sequence numbers wrap during the call


def _rtp(k: int, t_ms: float, address: str) -> dict:
    return {"mono_ns": int(1e12 + t_ms * 1e6), "seq": (SEQ0 + k) % 65536,
            "rtp_ts": (1000 + 160 * k) % (1 << 32), "ssrc": 0x1234, "src": f"{CN_IP}:4000",
            "dst": f"{address}:4000", "len": 172}


def fig7_handover(scenario: str, rng, lost_when_buffering: int = 0) -> tuple[dict, dict]:
    """One handover: ({"handover", "packets"} as media/<...>/rep<N>.json holds it, the phase
    durations in ms). MPA: the stream reaches the nCoA through the tunnel before the move;
    packets due at the MN from 14 ms before the switch until 3 ms after it are lost
    (buffering disabled) or held by the nAR and flushed 1 ms after the switch (enabled;
    `lost_when_buffering` of them are dropped instead). non-MPA: EAP-TLS, DHCP and the MN's
    DAD on the new link, then the re-INVITE; the stream goes to the oCoA until the CN has it."""
    start = 2000.0 + rng.uniform(0, INTERVAL_MS)
    l2 = 4.0 + rng.uniform(-0.3, 1.0)
    done = start + l2
    held, packets, phases = [], [], {"Tassoc": l2}
    if scenario == "non-mpa":
        # as agents/handover.py nests them: Tpostsw holds Taddr, which holds the DAD
        teap, tdad, tbu = 30 + rng.uniform(0, 5), rng.normal(3000, 10), 2.6
        taddr = 20 + rng.uniform(0, 5) + tdad
        phases.update({"Teap": teap, "Tassoc+4way": l2 + teap + 6.0, "Taddr": taddr, "Tdad": tdad,
                       "Tpostsw": taddr + 2.0, "Tbu": tbu})
        bu_start = start + phases["Tassoc+4way"] + 0.5 + phases["Tpostsw"] + 0.5
        switch, end = bu_start + OWD_MS + 0.2, bu_start + 800
    else:
        phases.update({"Tauth": rng.normal(120, 5), "Taddr": rng.normal(12, 1), "Tbu": 3.0 + rng.uniform(0, 1),
                       "Tpresw": 0.8 + rng.uniform(0, 0.4)})
        switch, end = start - 600.0, start + 600
    k = 0
    while (sent := k * INTERVAL_MS) < end:
        to_new = sent >= switch
        arrival = sent + OWD_MS + (0.5 if to_new and scenario != "non-mpa" else 0) + rng.uniform(0, 0.05)
        if scenario == "non-mpa":
            if to_new or arrival < start:
                packets.append(_rtp(k, arrival, NCOA if to_new else OCOA))
        elif start - 14 <= arrival <= done + 3:
            held.append(k)
        else:
            packets.append(_rtp(k, arrival, NCOA if to_new else OCOA))
        k += 1
    flushed = 0
    if scenario == "buffering-enabled":
        for i, seq in enumerate(held[lost_when_buffering:]):
            packets.append(_rtp(seq, done + 1.0 + 0.2 * i, NCOA))
            flushed += 1
    packets.sort(key=lambda p: p["mono_ns"])
    handover = {"l2_start_ns": int(1e12 + start * 1e6), "l2_done_ns": int(1e12 + done * 1e6),
                "new_address": NCOA,
                "buffering_period_ms": 20.0 if scenario == "buffering-enabled" else None,
                "buffered_packets": flushed if scenario == "buffering-enabled" else None}
    return {"handover": handover, "packets": packets}, phases


def fig7_run_dir(root: Path, repetitions: int = 6, seed: int = 7, lost_when_buffering: int = 0,
                 parquet: bool = True, ladder: bool = True) -> Path:
    """results/fig7/<run-id>/: spec.yaml, records (metrics from media.media_metrics of the
    synthetic logs, so the two agree), media/<conf>/<scenario>/rep<N>.json and a ladder.
    The last repetition of buffering-disabled failed. `lost_when_buffering` packets are lost
    in repetition 1 of buffering-enabled."""
    from orchestrator.experiment import media
    rng = np.random.default_rng(seed)
    run = root / "fig7" / "20261201-130000"
    run.mkdir(parents=True, exist_ok=True)
    params = {"param:kinds.access_point.association_latency": "4ms",
              "emulated:nodes.ap-a.association_latency[ms]": 4.0,
              "emulated:nodes.mn.link_down_detection[ms]": 1.0,
              "retransmissions": 0, "retransmitted": ""}
    rows = []
    for rep in range(1, repetitions + 1):
        for scenario, (flow, _) in FIG7_SCENARIOS.items():
            base = {"experiment": "fig7", "run_id": run.name, "configuration": FIG7_CONF,
                    "base_configuration": FIG7_CONF, "mobile_node": "mn",
                    "scenario": scenario, "scheme": flow,
                    "repetition": rep, "seed": seed + rep, **params}
            if scenario == "buffering-disabled" and rep == repetitions:
                rows.append({**base, "phase": "handover_delay", "value": None, "unit": "ms",
                             "ms": None, "status": "failed",
                             "error": "mn: binding update: no 200 OK to the re-INVITE"})
                continue
            data, phases = fig7_handover(scenario, rng, lost_when_buffering if rep == 1 else 0)
            path = run / "media" / FIG7_CONF / scenario / f"rep{rep}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(data))
            m = media.media_metrics(data["packets"], media.Handover(**data["handover"]))
            for metric in media.METRICS:
                v = getattr(m, metric.field)
                rows.append({**base, "phase": metric.name, "value": v, "unit": metric.unit,
                             "ms": v if metric.unit == "ms" else None, "status": "ok", "error": ""})
            rows += [{**base, "phase": p, "value": round(v, 3), "unit": "ms", "ms": round(v, 3),
                      "status": "ok", "error": ""} for p, v in phases.items()]
    df = pd.DataFrame(rows)
    df.to_csv(run / "records.csv", index=False)
    if parquet:
        df.to_parquet(run / "records.parquet", index=False)
    spec = {"experiment": "/work/experiments/fig7.yaml", "name": "fig7", "seed": seed,
            "repetitions": repetitions,
            "reference": {"table": "rfc6252_fig7", "columns": {c: c for c in FIG7_SCENARIOS}},
            "description": "RFC 6252 C.5.1 Figure 7 and the non-MPA baseline",
            "parameters": {"kinds.access_point.association_latency": "4ms"},
            "configurations": {FIG7_CONF: {"configuration": FIG7_CONF,
                                           "topology": "../topologies/c51-sip-intra-domain.yaml",
                                           "parameters": {}}},
            "scenarios": [{"name": n, "flow": f, "from": "ap-b", "to": "ap-a", "buffering": b}
                          for n, (f, b) in FIG7_SCENARIOS.items()]}
    (run / "spec.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    (run / "events.jsonl").write_text("")
    if ladder:
        fig7_ladder_dir(run / "ladder" / FIG7_CONF / "buffering-enabled")
    return run


def rtp_frame(k: int, dst_ip: str, ident: int) -> bytes:
    payload = struct.pack("!BBHII", 0x80, 0, (SEQ0 + k) % 65536, 1000 + 160 * k, 0x1234) + b"\xff" * 160
    return udp(CN_MAC, NAR_MAC, CN_IP, dst_ip, 4000, 4000, payload, ident)


def sip_frame(text: str, to_cn: bool, ident: int) -> bytes:
    payload = text.replace("\n", "\r\n").encode()
    if to_cn:
        return udp(MN_MAC, CN_MAC, NCOA, CN_IP, 5060, 5060, payload, ident)
    return udp(CN_MAC, MN_MAC, CN_IP, NCOA, 5060, 5060, payload, ident)


REINVITE = """INVITE sip:cn@10.0.0.20:5060 SIP/2.0
Via: SIP/2.0/UDP 10.1.0.100:5060;branch=z9hG4bK1
From: <sip:mn@home.example>;tag=a1
To: <sip:cn@home.example>;tag=b2
Call-ID: c1
CSeq: 2 INVITE
Content-Length: 0

"""
OK_INVITE = """SIP/2.0 200 OK
Via: SIP/2.0/UDP 10.1.0.100:5060;branch=z9hG4bK1
From: <sip:mn@home.example>;tag=a1
To: <sip:cn@home.example>;tag=b2
Call-ID: c1
CSeq: 2 INVITE
Content-Length: 0

"""


def dhcp_discover() -> bytes:
    bootp = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, 0x1234, 0, 0x8000, bytes(4),
                        bytes(4), bytes(4), bytes(4), _mac(MN_MAC) + bytes(10), bytes(64), bytes(128))
    payload = bootp + b"\x63\x82\x53\x63" + bytes([53, 1, 1, 255])
    return udp(MN_MAC, "ff:ff:ff:ff:ff:ff", "0.0.0.0", "255.255.255.255", 68, 67, payload, 9)


def arp_probe(target: str) -> bytes:
    body = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, _mac(MN_MAC), bytes(4), bytes(6),
                       _ip(target))
    return ether("ff:ff:ff:ff:ff:ff", MN_MAC, 0x0806, body)


def fig7_ladder_dir(path: Path) -> Path:
    """A SIP handover seen by the MN and the CN: RTP to the oCoA (5 packets), a DHCP Discover
    and an ARP probe, the re-INVITE and its 200 OK, RTP to the nCoA (6, then 4 after the
    handoff start event)."""
    (path / "pcaps").mkdir(parents=True, exist_ok=True)
    at = lambda ms: T0 + ms / 1000
    mn, cn = [], []
    for k in range(5):
        f = rtp_frame(k, OCOA, 300 + k)
        cn.append((at(16 * k), f))
        mn.append((at(16 * k + 1), f))
    mn += [(at(90), dhcp_discover()), (at(95), arp_probe(NCOA))]
    inv, ok = sip_frame(REINVITE, True, 400), sip_frame(OK_INVITE, False, 401)
    mn += [(at(100), inv), (at(103), ok)]
    cn += [(at(101), inv), (at(102), ok)]
    for k in range(10, 20):
        f = rtp_frame(k, NCOA, 300 + k)
        cn.append((at(16 * k), f))
        mn.append((at(16 * k + 1), f))
    write_pcap(path / "pcaps" / "mn.pcap", sorted(mn))
    write_pcap(path / "pcaps" / "cn.pcap", sorted(cn))
    lanes = {MN_MAC: "mn", OCOA: "mn", NCOA: "mn", CN_MAC: "cn", CN_IP: "cn"}
    (path / "lanes.json").write_text(json.dumps(lanes, indent=1))
    write_nodes(path, "mn", "home", {"mn": ("mobile_node", [], None),
                                      "cn": ("correspondent_node", [], "home")})
    events = [("mn", "mobile-node", "binding_update_start", "binding-update", 100.0, {}),
              ("mn", "mobile-node", "binding_update_done", "binding-update", 103.5, {}),
              ("mn", "mobile-node", "l2_handoff_start", "switching", 16 * 15.5, {}),
              ("cn", "correspondent", "call_established", "setup", -50.0, {})]
    write_events(path / "events.jsonl", events, at)
    return path


def write_run(run_dir: Path, experiment: str, scheme: str, values: dict, spec: dict) -> None:
    """A minimal run directory: records.csv from {(scenario, repetition): {phase: (value,
    unit)}} (configuration 'rtt', MN 'walker', every row ok) and spec.yaml. A key
    (configuration, scenario, repetition) names the configuration."""
    keys = {key: (key if len(key) == 3 else ("rtt", *key)) for key in values}
    rows = [{"experiment": experiment, "run_id": "x", "configuration": keys[key][0],
             "base_configuration": keys[key][0], "mobile_node": "walker",
             "scenario": keys[key][1], "scheme": scheme, "repetition": keys[key][2],
             "phase": phase, "value": v, "unit": unit,
             "ms": v if unit == "ms" else None, "status": "ok", "error": ""}
            for key, phases in values.items() for phase, (v, unit) in phases.items()]
    pd.DataFrame(rows).to_csv(run_dir / "records.csv", index=False)
    (run_dir / "spec.yaml").write_text(yaml.safe_dump(spec))
