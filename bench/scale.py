#!/usr/bin/env python3
"""Scale: bring-up, teardown and memory against the number of mobile nodes, and concurrent
802.1X authentications and MPA pre-authentications against one MN alone (issue 17).

The topology is fig9 (RFC 6252 Figure 9, roaming: the home AAA is behind the 25 ms `wan`
link) with N mobile nodes associated with ap0, generated from one `count:` entry. Every
concurrency level uses MNs that have not authenticated yet (no PMKSA, no MPA-SA), so each
per-MN time is a full EAP-TLS run:

  handoff           (re)association with ap0, then 802.1X EAP-TLS through ap0 to AAA_V ->
                    AAA_H and the 4-way handshake (the agent's `handoff ap=ap0`; `connect`
                    alone would wait 802.1X's startPeriod, 1 s: the AP's agent starts after
                    the deploy's initial association, so it never started EAP itself)
  preauthenticate_mpa  PANA + EAP-TLS with the PAA on nar, from network B (the agent's
                    `preauthenticate_mpa paa=nar`), after the MN's port at ap0 is open

Times are wall-clock per command, from the bench's side of the control socket; the ratio is
each level's median against the single MN's, from the same run.

    sudo .venv/bin/python bench/scale.py [--sizes 1,10,25,50] [--levels 1,10,25] [--no-campus]
    sudo .venv/bin/python bench/scale.py --only daemons --sizes 25,100   # without unneeded daemons
"""
import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from orchestrator.agents.control import AgentClient, AgentError  # noqa: E402
from orchestrator.network.build import deploy  # noqa: E402
from orchestrator.testbed import destroy, processes  # noqa: E402

FIG9 = REPO / "topologies" / "fig9-l2-preauth-roaming.yaml"


def topology(n: int, out_dir: Path) -> Path:
    """fig9 with its one MN replaced by `n` MNs at ap0 (one `count:` entry), at .10 up, below
    network B's DHCP pool (.100-.199) as far as they fit (n <= 190)."""
    lines = []
    for line in FIG9.read_text().splitlines():
        if line.startswith("name: "):
            line = f"name: scale-{n}"
        elif line.startswith("  mn:"):
            line = (f"  mn:    {{kind: mobile_node, count: {n}, home_domain: home, "
                    f"identity: 'mn{{i}}@home.example', associate: ap0, address: '10.2.0.{{9+i}}/24'}}")
        lines.append(line)
    path = out_dir / f"scale-{n}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def pss_mib(pid: int) -> float:
    """Proportional set size of one process (shared pages split among their users)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def testbed_memory(journal) -> tuple[float, float]:
    """(PSS of every process in the testbed's namespaces and its controller, PSS of those in
    mobile nodes' namespaces), MiB. Open vSwitch's own growth is not in it."""
    total = mn = 0.0
    for p in processes(journal):
        m = pss_mib(p["pid"])
        total += m
        if journal.nodes[p["node"]]["kind"] == "mobile_node":
            mn += m
    return total + pss_mib(journal.controller["pid"]), mn


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(journal, roles: set[str]) -> float:
    """User + system CPU time so far of the processes in nodes with any of `roles` (all
    their threads; /proc/<pid>/stat fields 14 and 15)."""
    total = 0
    for p in processes(journal):
        if not roles & set(journal.nodes[p["node"]]["roles"]):
            continue
        try:
            fields = Path(f"/proc/{p['pid']}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))]


def concurrently(journal, nodes: list[str], cmd: str, args: dict, timeout: float) -> list[tuple[str, float, str]]:
    """Send `cmd` to every node's agent at once; (node, seconds, error or "")."""
    out, start = [], threading.Barrier(len(nodes))

    def one(node):
        sock = Path(journal.dir, "nodes", node, "mpa-agent", "control.sock")
        start.wait()
        t0 = time.perf_counter()
        try:
            AgentClient(str(sock)).request(cmd, args, timeout)
            err = ""
        except (AgentError, OSError) as exc:
            err = str(exc)[:200]
        out.append((node, time.perf_counter() - t0, err))

    threads = [threading.Thread(target=one, args=(n,)) for n in nodes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def bringup(sizes: list[int], work: Path, results: str, campus: bool = True) -> None:
    print("bring-up and teardown against the number of MNs (fig9 + N MNs at ap0, node images "
          "on; last row: topologies/campus.yaml)")
    print(f"{'topology':<9} {'MNs':>4} {'hosts':>6} {'bring-up s':>11} {'x 1 MN':>7} {'teardown s':>11} "
          f"{'PSS MiB':>8} {'MN PSS MiB':>11} {'per MN':>7}")
    base = None
    runs = [(f"fig9+{n}", topology(n, work)) for n in sizes]
    if campus:
        runs.append(("campus", REPO / "topologies" / "campus.yaml"))
    for label, topo in runs:
        name = "scale-" + label.replace("+", "-")
        t0 = time.monotonic()
        try:
            j = deploy(str(topo), name=name, results=results)
        except Exception as exc:  # noqa: BLE001 -- a size that cannot come up is a result
            print(f"{label:<9} deploy failed after {time.monotonic() - t0:.1f}s: {str(exc)[:200]}")
            continue
        up = time.monotonic() - t0
        time.sleep(1.0)
        mem, mn_mem = testbed_memory(j)
        n = sum(1 for i in j.nodes.values() if i["kind"] == "mobile_node")
        t1 = time.monotonic()
        destroy(name)
        down = time.monotonic() - t1
        base = base or up
        print(f"{label:<9} {n:>4} {len(j.nodes):>6} {up:>11.2f} {up / base:>6.2f}x {down:>11.2f} "
              f"{mem:>8.0f} {mn_mem:>11.0f} {mn_mem / n:>7.1f}")
    print("PSS: proportional set size of the processes in the testbed's namespaces and its "
          "controller, 1 s after bring-up (ovs-vswitchd's growth not included); MN PSS: those "
          "in mobile nodes (mpa-agent, charon)")


def daemons(sizes: list[int], work: Path, results: str) -> None:
    """Bring-up of fig9 + N MNs with every image started (a plain `deploy`) and with only
    the images the layer-2 flows need (what the experiment runner deploys for them: no MN
    charon, deploy/lifecycle.py FLOW_IMAGES), alternating, in one run."""
    flows = {"mpa-l2-pre-authentication", "dot11i-post-authentication",
             "dot11i-pre-authentication"}
    print("\nbring-up with every image vs only what the layer-2 flows need (fig9 + N MNs; "
          "no MN charon)")
    print(f"{'MNs':>4} {'all images s':>13} {'needed only s':>14} {'ratio':>6} "
          f"{'MN PSS MiB all':>15} {'needed only':>12}")
    for n in sizes:
        topo = topology(n, work)
        row = {}
        for label, fl in (("all", None), ("needed", flows)):
            name = f"scaled-{n}-{label}"
            t0 = time.monotonic()
            try:
                j = deploy(str(topo), name=name, results=results, flows=fl)
            except Exception as exc:  # noqa: BLE001 -- a size that cannot come up is a result
                print(f"{n:>4} {label}: deploy failed after {time.monotonic() - t0:.1f}s: "
                      f"{str(exc)[:200]}")
                break
            up = time.monotonic() - t0
            time.sleep(1.0)
            row[label] = (up, testbed_memory(j)[1])
            destroy(name)
        if len(row) == 2:
            (a, am), (b, bm) = row["all"], row["needed"]
            print(f"{n:>4} {a:>13.2f} {b:>14.2f} {b / a:>5.2f}x {am:>15.0f} {bm:>12.0f}")


CPU_GROUPS = {"aaa": {"aaa_server"}, "authenticator": {"access_point", "authentication_agent"},
              "mn": {"mobile_node"}}


def concurrency(levels: list[int], work: Path, results: str, alone: int = 3) -> None:
    """Level 1 is `alone` MNs one after the other (the single-MN median); every other level
    is that many MNs at once."""
    total = sum(levels) + (alone - 1 if 1 in levels else 0)
    topo = topology(total, work)
    name = f"scalec{total}"
    j = deploy(str(topo), name=name, results=results)
    try:
        mns = sorted((n for n, i in j.nodes.items() if i["kind"] == "mobile_node"),
                     key=lambda s: (len(s), s))
        rows, cpu = {}, {}
        for cmd, args in (("handoff", {"ap": "ap0", "timeout": 60.0}),
                          ("preauthenticate_mpa", {"paa": "nar", "timeout": 60.0})):
            pool = list(mns)
            for k in levels:
                cpu0 = {g: cpu_seconds(j, r) for g, r in CPU_GROUPS.items()}
                if k == 1:
                    group, pool = pool[:alone], pool[alone:]
                    res = [r for node in group for r in concurrently(j, [node], cmd, args, 90.0)]
                else:
                    group, pool = pool[:k], pool[k:]
                    res = concurrently(j, group, cmd, args, 90.0)
                rows[(cmd, k)] = res
                cpu[(cmd, k)] = {g: (cpu_seconds(j, r) - cpu0[g]) / len(group)
                                 for g, r in CPU_GROUPS.items()}
        print(f"\nconcurrent EAP-TLS runs, fresh MNs at ap0, {total} MNs deployed "
              f"(home AAA behind fig9's 25 ms wan link)")
        print(f"level 1: {alone} MNs one after the other; x alone: median against level 1's median")
        print("CPU ms per MN: CPU time the level cost the AAA servers' processes, the "
              "authenticators' (AP and PAA agents) and the MNs', divided by its MNs (10 ms ticks)")
        print(f"{'command':<21} {'MNs':>4} {'ok':>4} {'p5 s':>7} {'median s':>9} {'p95 s':>7} "
              f"{'max s':>7} {'x alone':>8} {'wall s':>7} {'AAA CPU ms/MN':>14} {'AP+PAA CPU ms/MN':>17} "
              f"{'MN CPU ms/MN':>13}")
        for (cmd, k), res in rows.items():
            ok = [t for _n, t, e in res if not e]
            single = [t for _n, t, e in rows[(cmd, levels[0])] if not e]
            if not ok:
                print(f"{cmd:<21} {k:>4} {0:>4}  every one failed: {res[0][2]}")
                continue
            ratio = statistics.median(ok) / statistics.median(single) if single else float("nan")
            print(f"{cmd:<21} {k:>4} {len(ok):>4} {pct(ok, 5):>7.2f} {statistics.median(ok):>9.2f} "
                  f"{pct(ok, 95):>7.2f} {max(ok):>7.2f} {ratio:>7.2f}x {max(t for _n, t, _e in res):>7.2f} "
                  f"{cpu[(cmd, k)]['aaa'] * 1000:>14.1f} {cpu[(cmd, k)]['authenticator'] * 1000:>17.1f} "
                  f"{cpu[(cmd, k)]['mn'] * 1000:>13.1f}")
            for n, _t, e in res:
                if e:
                    print(f"    {n}: {e}")
    finally:
        destroy(name)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1,10,25,50", help="MNs per bring-up (comma list)")
    ap.add_argument("--levels", default="1,10,25", help="concurrent MNs (comma list)")
    ap.add_argument("--only", choices=["bringup", "concurrency", "daemons"])
    ap.add_argument("--no-campus", action="store_true", help="no campus row in the bring-up table")
    ap.add_argument("--results", default="results/bench")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="mpa-scale-") as tmp:
        sizes = [int(x) for x in args.sizes.split(",")]
        if args.only == "daemons":
            daemons(sizes, Path(tmp), args.results)
            return 0
        if args.only != "concurrency":
            bringup(sizes, Path(tmp), args.results, campus=not args.no_campus)
        if args.only != "bringup":
            concurrency([int(x) for x in args.levels.split(",")], Path(tmp), args.results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
