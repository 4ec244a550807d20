"""Link impairment (delay / jitter / loss): the description and the pure helpers.

RFC 6252 testbed: explicit emulated WAN delay. Who does what:

* ``Impairment`` / ``QueueSpec`` describe what a link direction must suffer.
* On kernels with ``sch_netem`` the caller runs :func:`netem_commands`.
* Without netem (see :func:`netem_available`) the caller starts
  ``python -m orchestrator.network.delayd`` inside the namespace, waits for its
  ready file, then installs :func:`iptables_rules` there; the daemon holds each
  queued packet until :class:`DelayScheduler` says it may leave.

Nothing here runs a command at import time and nothing imports Mininet.
"""

from __future__ import annotations

import functools
import gzip
import random
import shutil
import subprocess
from dataclasses import dataclass
from typing import Literal

Direction = Literal["egress", "ingress"]
_RULE_OPS = ("-A", "-I", "-D", "-C")


@dataclass(frozen=True)
class Impairment:
    """One-way impairment of a link direction: mean delay, jitter (std dev), loss fraction 0..1."""

    delay_s: float = 0.0
    jitter_s: float = 0.0
    loss: float = 0.0

    def __post_init__(self) -> None:
        if self.delay_s < 0 or self.jitter_s < 0:
            raise ValueError(f"delay and jitter must be >= 0: {self}")
        if not 0.0 <= self.loss <= 1.0:
            raise ValueError(f"loss is a fraction in [0, 1]: {self}")

    @property
    def is_null(self) -> bool:
        """True when the impairment changes nothing (no element needs to be installed)."""
        return self.delay_s == 0 and self.jitter_s == 0 and self.loss == 0


@dataclass(frozen=True)
class QueueSpec:
    """One NFQUEUE the delay daemon serves: packets of ``direction`` on ``interface``."""

    queue_num: int
    interface: str
    direction: Direction
    impairment: Impairment
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.queue_num <= 65535:
            raise ValueError(f"queue_num out of range 0..65535: {self.queue_num}")
        if self.direction not in ("egress", "ingress"):
            raise ValueError(f"direction must be 'egress' or 'ingress': {self.direction!r}")
        if not self.interface:
            raise ValueError("interface must not be empty")

    def to_config(self) -> dict:
        """The flat dict one entry of the delayd CONFIG ``queues`` list takes."""
        return {
            "queue_num": self.queue_num,
            "interface": self.interface,
            "direction": self.direction,
            "delay_s": self.impairment.delay_s,
            "jitter_s": self.impairment.jitter_s,
            "loss": self.impairment.loss,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, entry: dict) -> "QueueSpec":
        """Inverse of :meth:`to_config` (missing impairment fields default to 0)."""
        return cls(
            queue_num=int(entry["queue_num"]),
            interface=str(entry["interface"]),
            direction=entry["direction"],
            impairment=Impairment(
                delay_s=float(entry.get("delay_s", 0.0)),
                jitter_s=float(entry.get("jitter_s", 0.0)),
                loss=float(entry.get("loss", 0.0)),
            ),
            seed=int(entry.get("seed", 0)),
        )


def iptables_rules(spec: QueueSpec, op: str = "-A") -> list[list[str]]:
    """argv lists (iptables, then ip6tables; table mangle) steering ``spec``'s packets to its queue.

    Egress uses POSTROUTING ``-o IF``, ingress PREROUTING ``-i IF``. There is deliberately no
    ``--queue-bypass``: if the daemon is dead the kernel drops the packets, so a missing delay
    shows up as loss in verification instead of silently vanishing. ``op="-D"`` gives the
    matching deletion rules (``-I`` / ``-C`` are accepted too).
    """
    if op not in _RULE_OPS:
        raise ValueError(f"op must be one of {_RULE_OPS}: {op!r}")
    if spec.direction == "egress":
        match = ["POSTROUTING", "-o", spec.interface]
    else:
        match = ["PREROUTING", "-i", spec.interface]
    tail = ["-j", "NFQUEUE", "--queue-num", str(spec.queue_num)]
    return [[tool, "-t", "mangle", op, *match, *tail] for tool in ("iptables", "ip6tables")]


def _num(value: float, decimals: int) -> str:
    text = f"{value:.{decimals}f}".rstrip("0").rstrip(".")
    return text or "0"


def netem_commands(interface: str, impairment: Impairment) -> list[list[str]]:
    """tc argv for kernels that have netem: ``tc qdisc replace dev IF root netem delay Xms [Yms] [loss Z%]``.

    Jitter and loss are only written when non-zero. Note netem reorders packets when jitter is
    large relative to the packet spacing; the userspace daemon (delayd) keeps FIFO order.
    """
    argv = ["tc", "qdisc", "replace", "dev", interface, "root", "netem",
            "delay", _num(impairment.delay_s * 1e3, 3) + "ms"]
    if impairment.jitter_s > 0:
        argv.append(_num(impairment.jitter_s * 1e3, 3) + "ms")
    if impairment.loss > 0:
        argv += ["loss", _num(impairment.loss * 100, 4) + "%"]
    return [argv]


def _netem_in_kernel_config() -> bool | None:
    """CONFIG_NET_SCH_NETEM from /proc/config.gz: True (=y, or =m and loaded), False, None if unreadable."""
    try:
        with gzip.open("/proc/config.gz", "rt") as f:
            config = f.read()
    except OSError:
        return None
    if "CONFIG_NET_SCH_NETEM=y" in config:
        return True
    if "CONFIG_NET_SCH_NETEM=m" in config:
        try:
            with open("/proc/modules") as f:
                return any(line.split()[0] == "sch_netem" for line in f)
        except OSError:
            return None
    return False


@functools.lru_cache(maxsize=1)
def netem_available() -> bool:
    """True only if the running kernel can create a netem qdisc.

    Probes with ``unshare -n tc qdisc add dev lo root netem delay 1ms``: the qdisc goes on the
    loopback of a throwaway network namespace that vanishes with the command, so no existing
    interface is touched. If the probe cannot run (no root, no unshare/tc), /proc/config.gz
    decides. The answer is cached for the life of the process.
    """
    unshare, tc = shutil.which("unshare"), shutil.which("tc")
    if unshare and tc:
        try:
            proc = subprocess.run(
                [unshare, "-n", tc, "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"],
                capture_output=True, text=True, timeout=10,
            )
        except (OSError, subprocess.TimeoutExpired):
            proc = None
        if proc is not None:
            if proc.returncode == 0:
                return True
            if "unknown" in proc.stderr.lower():  # "Specified qdisc kind is unknown."
                return False
    return bool(_netem_in_kernel_config())


class DelayScheduler:
    """Pure, seeded release-time calculator for one queue (one link direction).

    ``schedule(arrival_ns)`` returns the release time in ns, or ``None`` if the packet is lost.
    The per-packet delay is drawn from normal(delay, jitter) and clipped at 0. Ordering choice:
    packets always leave in arrival order (FIFO): release = max(arrival + sample, previous
    release). netem by default reorders packets under jitter; we do not, because reordering
    would look like a network fault to TCP and to the MPA signalling being measured, and a
    real WAN path of one route rarely reorders. The price is that jitter on a busy link adds
    a little extra mean delay (a packet can wait behind a slower predecessor).
    """

    def __init__(self, impairment: Impairment, seed: int = 0) -> None:
        self.impairment = impairment
        self._rng = random.Random(seed)
        self._delay_ns = round(impairment.delay_s * 1e9)
        self._last_release_ns: int | None = None

    def schedule(self, arrival_ns: int) -> int | None:
        imp = self.impairment
        # Draws happen only for non-zero parameters, so e.g. adding loss does not change
        # the delay sequence of a config without jitter.
        if imp.loss > 0 and self._rng.random() < imp.loss:
            return None
        if imp.jitter_s > 0:
            delay_ns = max(0, round(self._rng.gauss(imp.delay_s, imp.jitter_s) * 1e9))
        else:
            delay_ns = self._delay_ns
        release = arrival_ns + delay_ns
        if self._last_release_ns is not None and release < self._last_release_ns:
            release = self._last_release_ns
        self._last_release_ns = release
        return release
