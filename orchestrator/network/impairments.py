"""Applying and verifying link emulation (bandwidth, delay, jitter, loss).

Delay/jitter/loss use tc netem where the kernel has it and otherwise the userspace
NFQUEUE element (`delayd`, one per host namespace). The choice is automatic and reported.
A requested delay is never dropped silently: where neither mechanism can apply it (no netem
and no host end on the link), deploy fails. After bring-up every impaired link's RTT is
measured and compared with the configured one (tolerance 10% + 1 ms).

NFQUEUE caveat: only IP packets pass through netfilter, so non-IP frames (ARP, EAPOL,
management frames) cross an NFQUEUE-delayed link undelayed. The report says so. On a
cellular link (RFC 6252 C.5.2) the PPPoE frames of the data session set-up are delayed too,
by the frame delay element at both ends (network/framedelay.py).
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from ..model.plan import End, LinkPlan, NetworkPlan
from .impairment import Impairment, QueueSpec, iptables_rules, netem_available, netem_commands
from .nsexec import median, ping_rtts, run_in
from .state import Journal

TOLERANCE_REL, TOLERANCE_ABS_MS = 0.10, 1.0


def _impairment(lp: LinkPlan) -> Impairment:
    p = lp.params
    return Impairment(delay_s=p.delay, jitter_s=p.jitter, loss=p.loss)


def _root_ifname(journal: Journal, end: End) -> str:
    return f"{journal.switches[end.node]['bridge']}-p{end.port}"


def _run(journal: Journal, end: End, argv: list[str]) -> None:
    if end.is_switch:
        subprocess.run(argv, check=True, capture_output=True, text=True)
    else:
        run_in(journal.nodes[end.node]["netns"], argv)


def apply(plan: NetworkPlan, journal: Journal, progress) -> dict:
    use_netem = netem_available()
    mechanism = "netem" if use_netem else "nfqueue"
    links = []
    queues: dict[str, list[QueueSpec]] = {}
    for lp in plan.links:
        imp = _impairment(lp)
        if lp.params.bandwidth:
            for end in (lp.a, lp.b):
                ifname = _root_ifname(journal, end) if end.is_switch else end.intf
                rate = f"{lp.params.bandwidth:g}mbit"
                _run(journal, end, ["tc", "qdisc", "replace", "dev", ifname, "root", "handle", "1:",
                                    "htb", "default", "1"])
                _run(journal, end, ["tc", "class", "replace", "dev", ifname, "parent", "1:",
                                    "classid", "1:1", "htb", "rate", rate])
        if imp.is_null:
            if lp.params.bandwidth:
                links.append({"link": lp.source, "bandwidth_mbit": lp.params.bandwidth})
            continue
        entry = {"link": lp.source, "ends": [_end_name(e) for e in (lp.a, lp.b)],
                 "delay_ms": imp.delay_s * 1e3, "jitter_ms": imp.jitter_s * 1e3,
                 "loss": imp.loss, "bandwidth_mbit": lp.params.bandwidth, "mechanism": mechanism}
        if use_netem:
            for end in (lp.a, lp.b):
                ifname = _root_ifname(journal, end) if end.is_switch else end.intf
                for argv in netem_commands(ifname, imp):
                    _run(journal, end, argv)
        else:
            host_ends = [e for e in (lp.a, lp.b) if not e.is_switch]
            if not host_ends:
                raise RuntimeError(
                    f"{lp.source}: delay/jitter/loss between two switches ({_end_name(lp.a)} -- "
                    f"{_end_name(lp.b)}) needs tc netem, which this kernel lacks; put the "
                    "impairment on a link with a host (router, server) at one end")
            for end in host_ends:
                dirs = ["egress"] if len(host_ends) == 2 else ["egress", "ingress"]
                for d in dirs:
                    q = queues.setdefault(end.node, [])
                    q.append(QueueSpec(len(q), end.intf, d, imp, seed=hash((lp.source, d)) & 0xFFFF))
            entry["note"] = "IP packets only (NFQUEUE): ARP and other non-IP frames are not delayed"
            cellular = [e for e in host_ends if _technology(plan, e) == "cellular"]
            if cellular and imp.delay_s > 0:
                other = lp.b if cellular[0] is lp.a else lp.a
                entry["frames"] = _start_frame_delay(journal, cellular[0], other, imp.delay_s,
                                                     progress)
                entry["note"] += CELLULAR_NOTE
        links.append(entry)
    for node, specs in queues.items():
        _start_delayd(journal, node, specs, progress)
    return {"mechanism": mechanism, "links": links}


# RFC 6252 C.5.2's radio link: its PPP exchange is delayed by the frame delay element
CELLULAR_NOTE = ("; on this cellular link the PPPoE frames of the data session set-up "
                 "(discovery, LCP, CHAP, IPCP: six round trips, docs/cellular-session.md) are "
                 "delayed as much by the frame delay element (network/framedelay.py: tc "
                 "mirred into a TAP device, held, re-sent past the qdisc) at both ends")


def _start_frame_delay(journal: Journal, host: End, other: End, delay_s: float,
                       progress) -> dict:
    """framedelay at both ends' egress of a cellular link (the mobile's interface in its
    namespace; the switch's end of the veth in the root namespace, or the other host's
    interface): its PPPoE frames take the link's one-way delay like its IP packets."""
    import hashlib
    from .framedelay import PPPOE_ETHERTYPES, tc_commands
    ends = []
    for end in (host, other):
        if end.is_switch:
            ifname, ns = _root_ifname(journal, end), None
        else:
            ifname, ns = end.intf, journal.nodes[end.node]["netns"]
        # a TAP name unique on the machine (the root namespace is shared): <= 15 characters
        tap = "fd" + hashlib.sha1(f"{journal.name}/{end.node}/{ifname}".encode()).hexdigest()[:10]
        who = end.node if not end.is_switch else None
        progress(f"starting the frame delay element on {_end_name(end)} ({ifname})")
        _start_element(journal, "framedelay", tap, ns, who, {
            "interface": ifname, "tap": tap, "delay_s": delay_s,
            "ethertypes": list(PPPOE_ETHERTYPES)})
        for argv in tc_commands(ifname, tap):
            _run(journal, end, argv)
        ends.append({"end": _end_name(end), "interface": ifname, "tap": tap})
    return {"mechanism": "tc mirred into a TAP, held, re-sent past the qdisc "
                         "(network/framedelay.py)",
            "ethertypes": [f"0x{e:04x}" for e in PPPOE_ETHERTYPES],
            "delay_ms": delay_s * 1e3, "ends": ends}


def _technology(plan: NetworkPlan, end: End) -> str | None:
    """A host end's radio technology (a mobile's interface), else None."""
    if end.is_switch:
        return None
    return next((i.technology for i in plan.hosts[end.node].interfaces if i.name == end.intf),
                None)


def _end_name(end: End) -> str:
    return f"{end.node}:{end.intf}" if not end.is_switch else f"{end.node}[port {end.port}]"


def _start_delayd(journal: Journal, node: str, specs: list[QueueSpec], progress) -> None:
    ns = journal.nodes[node]["netns"]
    progress(f"starting NFQUEUE delay element in {node} ({len(specs)} queues)")
    _start_element(journal, "delayd", node, ns, node,
                   {"queues": [s.to_config() for s in specs]})
    for spec in specs:
        for argv in iptables_rules(spec):
            run_in(ns, argv)


def _start_element(journal: Journal, module: str, tag: str, ns: str | None, node: str | None,
                   config: dict) -> None:
    """Run orchestrator.network.<module> with `config` (plus its ready and stats files) in
    namespace `ns` (None: the root namespace), recorded in the journal, until it is ready."""
    cfg_path = journal.dir / f"{module}-{tag}.json"
    ready = journal.dir / f"{module}-{tag}.ready"
    ready.unlink(missing_ok=True)
    logs = Path(journal.run_dir, "logs")
    cfg_path.write_text(json.dumps({**config, "ready_file": str(ready),
                                    "stats_file": str(logs / f"{module}-{tag}.stats.json")}))
    log = open(logs / f"{module}-{tag}.log", "ab")
    argv = [sys.executable, "-m", f"orchestrator.network.{module}", str(cfg_path)]
    proc = subprocess.Popen((["ip", "netns", "exec", ns] if ns else []) + argv,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                            cwd=Path(__file__).resolve().parents[2])
    journal.started(proc.pid, module, node)
    deadline = time.monotonic() + 10
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{module} ({tag}) did not start; see {logs}/{module}-{tag}.log")
        time.sleep(0.02)


def _peer_on_network(plan: NetworkPlan, host: str, network: str) -> tuple[str, str] | None:
    for h in plan.hosts.values():
        if h.name == host or h.name in plan.stations:
            continue
        for i in h.interfaces:
            address = i.address or i.address6          # an IPv6-only network: IPv6
            if i.network == network and address is not None:
                return h.name, str(address.ip)
    return None


def _link_delay_of(plan: NetworkPlan, host: str, network: str) -> float:
    for lp in plan.links:
        for end in (lp.a, lp.b):
            if end.node == host and not end.is_switch:
                other = lp.b if end is lp.a else lp.a
                if other.is_switch and other.node == network:
                    return lp.params.delay
    return 0.0


def verify(plan: NetworkPlan, journal: Journal, progress) -> list[dict]:
    """Measure the RTT across every delayed link and compare with the configuration."""
    report = []
    for lp in plan.links:
        if lp.params.delay == 0 and lp.params.jitter == 0:
            continue
        src = lp.a if not lp.a.is_switch else lp.b
        if src.is_switch:
            continue
        other = lp.b if src is lp.a else lp.a
        if _technology(plan, src) == "cellular":
            # no address until the data session's IPCP (agents/cellular.py): a ping now would
            # leave through another interface (the RTT through it after the session:
            # tests/integration/test_c52_deploy.py)
            report.append({"link": lp.source, "ok": True, "verified": False,
                           "message": f"{lp.source}: cellular interface {src.node}:{src.intf} "
                                      "has no address before its data session; not pinged "
                                      "(its PPPoE frames: the frame delay element)"})
            continue
        if not other.is_switch:
            iface = next(i for i in plan.hosts[other.node].interfaces if i.name == other.intf)
            address = iface.address or iface.address6
            dst_node, dst_addr = other.node, str(address.ip) if address else None
            expected = 2 * lp.params.delay
        else:
            peer = _peer_on_network(plan, src.node, other.node)
            dst_node, dst_addr = peer if peer else (None, None)
            expected = 2 * (lp.params.delay + (_link_delay_of(plan, dst_node, other.node) if peer else 0))
        name = f"{lp.source} ({_end_name(lp.a)} -- {_end_name(lp.b)})"
        if dst_addr is None:
            report.append({"link": lp.source, "ok": True, "verified": False,
                           "message": f"{name}: no addressed peer to measure against"})
            continue
        progress(f"verifying {lp.source}: ping {src.node} -> {dst_node}")
        count = 10 if lp.params.loss else 5
        rtts = ping_rtts(journal.nodes[src.node]["netns"], dst_addr, count=count, interval=0.1)
        measured = median(rtts)
        exp_ms = expected * 1e3
        tol = TOLERANCE_REL * exp_ms + TOLERANCE_ABS_MS
        ok = bool(rtts) and abs(measured - exp_ms) <= tol
        report.append({
            "link": lp.source, "ok": ok, "verified": True, "from": src.node, "to": dst_node,
            "expected_rtt_ms": round(exp_ms, 3), "measured_rtt_ms": round(measured, 3),
            "replies": len(rtts), "sent": count,
            "message": (f"{name}: configured {lp.params.delay * 1e3:g} ms one-way -> expected RTT "
                        f"{exp_ms:.1f} ms, measured {measured:.1f} ms over {len(rtts)}/{count} "
                        f"pings {src.node} -> {dst_node} (tolerance {tol:.1f} ms)")})
    return report
