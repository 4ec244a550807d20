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
    difference between roaming and non-roaming (the RFC's structure does not hold)."""
    rng = np.random.default_rng(seed)
    rows = []
    for roaming in ("non-roaming", "roaming"):
        for lat in (sweep or ("15ms",)):
            conf = roaming + (f"/association_latency={lat}" if sweep else "")
            params = {"param:kinds.access_point.association_latency": lat,
                      "param:links.wan.delay": "25ms" if roaming == "roaming" else None}
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
                    for phase, ms in phases.items():
                        rows.append({"experiment": "fig10", "run_id": "20261201-120000",
                                     "configuration": conf, "roaming": roaming,
                                     "scenario": scenario, "scheme": scheme, "repetition": rep,
                                     "phase": phase, "ms": ms, "status": "ok", "seed": seed + rep,
                                     **params, "association_latency_ms": float(lat[:-2]),
                                     "wan_delay_ms": 25.0 if roaming == "roaming" else 0.0,
                                     "link_down_detection_ms": 0.0})
    df = pd.DataFrame(rows)
    failed = df.index[(df["scheme"] == "mpa-l2-pre-authentication") & (df["repetition"] == 1)]
    df.loc[failed, ["status", "ms"]] = ["failed", np.nan]
    return df


SPEC = {"name": "fig10", "seed": 1, "repetitions": 20,
        "parameters": {"kinds.access_point.association_latency": "15ms"},
        "configurations": {
            "non-roaming": {"topology": "../topologies/fig8-l2-preauth-nonroaming.yaml"},
            "roaming": {"topology": "../topologies/fig9-l2-preauth-roaming.yaml",
                        "parameters": {"links.wan.delay": "25ms"}}},
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
    events = [
        ("mn", "mobile-node", "preauth_start", "pre-authentication", -1.0, {"paa": "nar"}),
        ("nar", "paa", "tconf_done", "pre-configuration", 100.0, {"sta": "mn", "elapsed_ms": 16}),
        ("mn", "station", "l2_handoff_start", "switching", 499.0, {"bssid": AP_MAC, "mac": MN_MAC}),
        ("controller", "controller", "associated", "switching", 515.0, {"sta": "mn", "ap": "ap1"}),
        ("controller", "controller", "port_authorized", "switching", 575.0, {"sta": "mn", "ap": "ap1"}),
    ]
    with open(path / "events.jsonl", "w") as fh:
        for node, role, event, phase, ms, attrs in events:
            fh.write(json.dumps({"node": node, "role": role, "event": event, "phase": phase,
                                 "mono_ns": int(1e12 + ms * 1e6), "wall": at(ms),
                                 "attrs": attrs}) + "\n")
    return path


def run_dir(root: Path, df: pd.DataFrame | None = None, parquet: bool = True) -> Path:
    """results/fig10/<run-id>/ with records, spec.yaml, events.jsonl and one ladder dir."""
    df = records() if df is None else df
    run = root / "fig10" / "20261201-120000"
    run.mkdir(parents=True, exist_ok=True)
    df.to_csv(run / "records.csv", index=False)
    if parquet:
        df.to_parquet(run / "records.parquet", index=False)
    (run / "spec.yaml").write_text(yaml.safe_dump(SPEC, sort_keys=False))
    (run / "events.jsonl").write_text("")
    ladder_dir(run / "ladder" / "roaming" / "mpa")
    return run
