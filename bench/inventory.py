#!/usr/bin/env python3
"""What reaching nodes over SSH costs (`deploy --inventory`, deploy/remote.py), rehearsed
on the emulator: fig8 brought up and torn down with every node emulated and with the
home AAA and the nAR (PAA, DHCP, IKEv2) on "machines" (their emulated hosts running an
sshd of their own, reached from the correspondent's namespace), alternating, in one run;
then the round trip of one agent command (`health`) to the nAR's agent through its Unix
socket and through the SSH relay channel, and one fetch of the nodes' run directories.

    sudo .venv/bin/python bench/inventory.py [--reps 3] [--calls 200]

Constants that shape the numbers: every command travels one persistent SSH exec channel
(agents/control.py relay, mpa_agent.agent_client); the orchestrator's side of SSH sits in
cn, one switch away from both machines (the emulated core network, no link delay).
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orchestrator.agents.control import AgentClient  # noqa: E402
from orchestrator.deploy.remote import agent_client, fetch  # noqa: E402
from orchestrator.deploy.sshkeys import SshKeys  # noqa: E402
from orchestrator.network.build import deploy  # noqa: E402
from orchestrator.testbed import destroy  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TOPOLOGY = REPO / "topologies/fig8-l2-preauth-nonroaming.yaml"


def inventory(d: Path, workdir: str) -> Path:
    SshKeys.ensure(d / "keys", "bench")
    inv = d / "inventory.yaml"
    inv.write_text("rehearsal: true\n"
                   "defaults: {key: keys/id_ed25519, port: 2222, via: cn, "
                   f"workdir: {workdir}, python: {sys.executable}}}\n"
                   "nodes:\n  aaa-h: {host: 10.0.0.10}\n  nar:   {host: 10.0.0.3}\n")
    return inv


def once(name: str, results: str, inv: Path | None) -> dict:
    t0 = time.monotonic()
    j = deploy(str(TOPOLOGY), name=name, results=results, inventory=str(inv) if inv else None)
    up = time.monotonic() - t0
    t1 = time.monotonic()
    destroy(name)
    return {"up": up, "down": time.monotonic() - t1, "journal": j}


def round_trips(client, calls: int) -> list[float]:
    out = []
    for _ in range(calls):
        t0 = time.perf_counter()
        client.call("health", timeout=10)
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--calls", type=int, default=200)
    args = ap.parse_args()
    d = Path(tempfile.mkdtemp(prefix="mpa-bench-inv-"))
    workdir = f"/tmp/mpa-binv-{os.getpid()}"
    os.makedirs(workdir)
    inv = inventory(d, workdir)
    rows = {"emulated": [], "inventory": []}
    for rep in range(args.reps):
        for kind in rows:
            rows[kind].append(once(f"binv{rep}{kind[0]}", str(d / "results"),
                                   inv if kind == "inventory" else None))
    print(f"fig8 bring-up and teardown, {args.reps} each, alternating (s, median [min-max])")
    print("| nodes | bring-up | teardown |\n|---|---|---|")
    for kind, rs in rows.items():
        label = "all emulated" if kind == "emulated" else "aaa-h, nar over SSH (rehearsal)"
        cells = [f"{statistics.median(v):.2f} [{min(v):.2f}-{max(v):.2f}]"
                 for v in ([r["up"] for r in rs], [r["down"] for r in rs])]
        print(f"| {label} | {cells[0]} | {cells[1]} |")
    # command round trips and one fetch, on a testbed with the inventory
    j = deploy(str(TOPOLOGY), name="binvrt", results=str(d / "results"), inventory=str(inv))
    try:
        ssh = round_trips(agent_client(j, "nar"), args.calls)
        local = round_trips(AgentClient(str(Path(j.dir, "nodes/par/mpa-agent/control.sock"))),
                            args.calls)
        t0 = time.perf_counter()
        files = fetch(j)
        fetched = (time.perf_counter() - t0) * 1e3
    finally:
        destroy("binvrt")
    print(f"\nagent command `health`, {args.calls} calls (ms, median / p90)")
    print("| path | median | p90 |\n|---|---|---|")
    for label, v in (("par's agent, Unix socket", local), ("nar's agent, SSH relay", ssh)):
        print(f"| {label} | {statistics.median(v):.2f} | {statistics.quantiles(v, n=10)[-1]:.2f} |")
    print(f"\nfetch of both nodes' run directories: {len(files)} files in {fetched:.0f} ms")
    os.rmdir(workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
