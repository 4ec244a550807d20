#!/usr/bin/env python3
"""Time of each pre-configuration step (RFC 6252 s6.3 step 2, s7.1-s7.4), per method.

    sudo .venv/bin/python bench/preconfig.py [--n 5] [--topology topologies/fig1-inter-domain.yaml]

Deploys the topology, authorizes the MN at its current AP, then repeats for each method
(`ikev2`: IKEv2-assisted, s7.3.2; `dhcp`: DHCPv4 only, s7.3.3): discovery (Tdisc), PANA
pre-authentication (Tauth) and the PAA's key installation (Tconf), nCoA acquisition (Taddr),
tunnel set-up (Ttunnel) with their sub-steps, the nAR's DAD and proxy ARP, and the release.
All times come from the agents' CLOCK_MONOTONIC events (orchestrator.events.phase_durations)
and the MN's own measurements.

The first acquisition of an address includes the configuration agent's address conflict
check (dnsmasq pings an address before offering it: network-side DAD ahead of time,
Appendix A; ~3 s here, its ping timeout); dnsmasq skips the check for an address it checked
shortly before, so later repetitions show the protocol exchanges alone. Both are reported.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orchestrator.agents.control import AgentClient, AgentError  # noqa: E402
from orchestrator.events import phase_durations, read_events  # noqa: E402
from orchestrator.network.build import deploy  # noqa: E402
from orchestrator.testbed import destroy  # noqa: E402

NAME = "bench-preconf"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=5, help="repetitions per method")
    ap.add_argument("--topology", default="topologies/fig1-inter-domain.yaml")
    ap.add_argument("--ctn", default="acc-a")
    ap.add_argument("--current-ap", default="ap-b")
    args = ap.parse_args()
    j = deploy(args.topology, name=NAME, results="results/bench")
    rows: dict[str, list[dict]] = {"ikev2": [], "dhcp": []}
    try:
        def agent(node):
            return AgentClient(str(j.dir / "nodes" / node / "mpa-agent" / "control.sock"))

        def mn(cmd, **a):
            return agent("mn").request(cmd, a, 60)

        mn("connect", ap=args.current_ap)
        ctn = next(c for c in mn("discover")["ctns"] if c["name"] == args.ctn)
        paa, ar = ctn["paas"][0]["node"], ctn["ars"][0]["node"]
        for k in range(args.n):
            for method in rows:
                rows[method].append(one(j, mn, agent, args.ctn, paa, ar, method))
                print(f"{method} #{k + 1}: " + ", ".join(
                    f"{s} {v:.1f}" for s, v in rows[method][-1].items() if v is not None),
                    flush=True)
    finally:
        destroy(NAME)
    print(f"\n{args.topology}: MN -> CTN {args.ctn}; times in ms; "
          f"first = first repetition, rest = median (min-max) of the other {args.n - 1}")
    for method, reps in rows.items():
        what = "s7.3.2 IKEv2-assisted" if method == "ikev2" else "s7.3.3 DHCPv4 only"
        print(f"\nmethod {method} ({what})")
        for step in reps[0]:
            first = reps[0][step]
            rest = [r[step] for r in reps[1:] if r.get(step) is not None]
            tail = (f"{statistics.median(rest):9.2f} ({min(rest):.2f}-{max(rest):.2f})"
                    if rest else "")
            print(f"  {step:34s} {first if first is None else f'{first:9.2f}'}   {tail}")
    return 0


def wait_for(events_fn, pred, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hit = [e for e in events_fn() if pred(e)]
        if hit:
            return hit[-1]
        time.sleep(0.02)
    return None


def one(j, mn, agent, ctn, paa, ar, method) -> dict:
    mn("flush")
    t0 = time.perf_counter_ns()
    ev = lambda: [e for e in read_events(j.run_dir) if e["mono_ns"] >= t0]  # noqa: E731
    mn("discover")
    mn("preauthenticate_mpa", paa=paa)
    wait_for(ev, lambda e: e["node"] == paa and e["event"] == "tconf_done")
    r = mn("preconfigure", ctn=ctn, method=method)
    ready = wait_for(ev, lambda e: e["node"] == ar and e["event"] == "pht_established")
    t1 = time.perf_counter()
    mn("release", ctn=ctn)
    release_ms = (time.perf_counter() - t1) * 1000
    d = {row["interval"]: row["duration_ms"] for row in phase_durations(ev())
         if row["status"] == "ok" and row["interval"] in ("Tdisc", "Tauth", "Tconf", "Taddr",
                                                        "Ttunnel")}
    t = r["times_ms"]
    out = {"Tdisc (discovery)": d.get("Tdisc"), "Tauth (PANA pre-authentication)": d.get("Tauth"),
           "Tconf (PAA key installation)": d.get("Tconf"), "Taddr (nCoA)": d.get("Taddr")}
    if method == "dhcp":
        out |= {"  DISCOVER -> OFFER": t.get("offer_ms"), "  REQUEST -> ACK": t.get("ack_ms")}
    else:
        out |= {"  IKE_SA_INIT": t.get("ike_sa_init_done"),
                "  IKE_AUTH (incl. DHCP via nAR relay)":
                    t["ike_auth_done"] - t["ike_sa_init_done"] if "ike_auth_done" in t else None}
    out |= {"Ttunnel (PHT)": d.get("Ttunnel"),
            "  IKE_SA_INIT+IKE_AUTH+CHILD_SA": t.get("child_sa_up"),
            "  echo through the tunnel": t.get("probe_rtt_ms"),
            "nAR: DAD for the nCoA (App. A)": ready["attrs"]["dad_ms"] if ready else None,
            "nAR: CHILD_SA up -> proxy ARP": ready["attrs"]["since_child_up_ms"] if ready else None,
            "release (tunnel + address)": release_ms}
    return out


if __name__ == "__main__":
    try:
        sys.exit(main())
    except AgentError as exc:
        sys.exit(f"bench/preconfig.py: {exc}")
