"""Running commands inside the testbed's network namespaces (named, under /run/netns).

Commands are argument vectors, never strings for a shell: a value from YAML (an interface
name, an address) is one argument whatever characters it holds.
"""
from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys

# runs inside the namespace: each argument vector in turn, stops at the first failure
_BATCH = """import json, subprocess, sys
for argv in json.loads(sys.argv[1]):
    r = subprocess.run(argv, capture_output=True, text=True)
    if r.returncode:
        sys.stderr.write(" ".join(argv) + " failed (" + str(r.returncode) + "): "
                         + (r.stderr or r.stdout).strip())
        sys.exit(1)
"""


def netns_argv(netns: str, argv: list[str]) -> list[str]:
    return ["ip", "netns", "exec", netns, *argv]


def run_in(netns: str, argv: list[str], timeout: float = 60, check: bool = True,
           **kw) -> subprocess.CompletedProcess:
    r = subprocess.run(netns_argv(netns, argv), capture_output=True, text=True,
                       timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise RuntimeError(f"in {netns}: {' '.join(argv)} failed ({r.returncode}): "
                           f"{(r.stderr or r.stdout).strip()}")
    return r


def run_all_in(netns: str, commands: list[list[str]], timeout: float = 60) -> None:
    """Run several argument vectors in `netns` with one process entering it (a shell script
    did this before, and joined YAML values into its text). RuntimeError on a failure."""
    r = subprocess.run(netns_argv(netns, [sys.executable, "-c", _BATCH, json.dumps(commands)]),
                       capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"in {netns}: {(r.stderr or r.stdout).strip()}")


_TIME = re.compile(r"time=([\d.]+) ms")


def ping_rtts(netns: str, address: str, count: int = 5, interval: float = 0.2,
              timeout: float = 2.0) -> list[float]:
    """RTTs in ms of the replies that came back (ICMP echo, iputils ping), user to user
    (`-U`): by default ping times a reply by the kernel's receive timestamp, taken before
    the host's own ingress delay element (NFQUEUE in PREROUTING) holds it, so a delay on a
    host-switch link would count one way only."""
    r = run_in(netns, ["ping", "-n", "-U", "-c", str(count), "-i", str(interval), "-W",
                       str(timeout), address],
               timeout=count * (interval + timeout) + 5, check=False)
    return [float(x) for x in _TIME.findall(r.stdout)]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
