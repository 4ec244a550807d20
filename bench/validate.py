#!/usr/bin/env python3
"""How `mpa-testbed validate` scales with the size of a topology (issue 13: the pairwise
subnet check took 5 s for 3000 networks). Generates topologies of N networks, each with an
access router link and an AP, and times load_topology on them (median of 3).

    .venv/bin/python bench/validate.py [N ...]      (default 100 1000 3000 10000)
"""
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orchestrator.model import load_topology  # noqa: E402


def topology(n: int) -> str:
    lines = ["name: big", "domains:", "  home: {realm: home.example, aaa_server: aaa}",
             "networks:"]
    lines += [f"  n{i}: {{domain: home, subnet: 10.{i // 256}.{i % 256}.0/24}}" for i in range(n)]
    lines += ["nodes:", "  aaa: {kind: aaa_server, domain: home}",
              "  r: {kind: router, domain: home}"]
    lines += [f"  ap{i}: {{kind: access_point, domain: home}}" for i in range(n)]
    lines += ["links:", "  - {endpoints: [aaa, n0], addresses: {aaa: 10.0.0.10}}"]
    for i in range(n):
        lines.append(f"  - {{endpoints: [r, n{i}], addresses: {{r: 10.{i // 256}.{i % 256}.1}}}}")
        lines.append(f"  - {{endpoints: [ap{i}, n{i}], addresses: {{ap{i}: 10.{i // 256}.{i % 256}.2}}}}")
    return "\n".join(lines) + "\n"


def main() -> int:
    sizes = [int(a) for a in sys.argv[1:]] or [100, 1000, 3000, 10000]
    print(f"{'networks':>8} {'nodes':>6} {'links':>6} {'bytes':>9} {'validate':>10} {'per network':>12}")
    with tempfile.TemporaryDirectory() as d:
        for n in sizes:
            path = Path(d, f"big{n}.yaml")
            path.write_text(topology(n))
            times = []
            for _ in range(3):
                t0 = time.perf_counter()
                try:
                    topo = load_topology(path)
                except Exception as exc:  # noqa: BLE001 -- e.g. the size limit
                    print(f"{n:>8} refused: {str(exc).splitlines()[0]}")
                    break
                times.append(time.perf_counter() - t0)
            else:
                med = statistics.median(times)
                print(f"{n:>8} {len(topo.nodes):>6} {len(topo.links):>6} {path.stat().st_size:>9,} "
                      f"{med:>9.2f}s {med / n * 1e3:>10.3f}ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
