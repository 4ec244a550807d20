"""delayd: userspace delay / jitter / loss for kernels without tc netem.

RFC 6252 testbed: explicit emulated WAN delay. Who does what:

* The caller writes CONFIG.json and runs, inside the node's network namespace,
  ``python -m orchestrator.network.delayd CONFIG.json`` (``ip netns exec NS ...`` / nsenter).
* delayd binds one NetfilterQueue per entry of ``queues``, then writes ``ready_file``
  (JSON ``{"pid": ..., "queues": [...]}``). It never touches iptables.
* The caller then installs :func:`orchestrator.network.impairment.iptables_rules` in the
  same namespace, and on teardown deletes them and sends SIGTERM to the pid.
* On SIGTERM / SIGINT delayd accepts every packet it still holds, writes ``stats_file``
  (per queue: packets, accepted, dropped, mean / max added delay in ms), unbinds, exits 0.

CONFIG: ``{"queues": [{queue_num, interface, direction, delay_s, jitter_s, loss, seed}, ...],
"ready_file": PATH, "stats_file": PATH, "max_len": 4096 (optional)}``.

One thread, one ``select`` loop over the queues' netlink fds (``select`` because its timeout has
microsecond resolution; poll/epoll round to milliseconds). Held packets sit in a heap of
(release_ns, seq, ...) on ``time.perf_counter_ns()`` (CLOCK_MONOTONIC); the select timeout is
the time to the next release, so an idle daemon sleeps. Queues are bound in COPY_META mode:
a verdict needs only the packet id, so the payload is never copied to userspace and holding
the ``Packet`` object is enough (no ``retain()``).
"""

from __future__ import annotations

import heapq
import json
import os
import select
import signal
import sys
import time
from dataclasses import dataclass, field

from netfilterqueue import COPY_META, NetfilterQueue

from orchestrator.network.impairment import DelayScheduler, QueueSpec

DEFAULT_MAX_LEN = 4096


@dataclass
class _Queue:
    spec: QueueSpec
    scheduler: DelayScheduler
    nfq: NetfilterQueue = field(default_factory=NetfilterQueue)
    packets: int = 0
    accepted: int = 0
    dropped: int = 0
    delay_sum_ns: int = 0
    delay_max_ns: int = 0

    def stats(self) -> dict:
        mean = self.delay_sum_ns / self.accepted / 1e6 if self.accepted else 0.0
        return {
            "queue_num": self.spec.queue_num,
            "interface": self.spec.interface,
            "direction": self.spec.direction,
            "packets": self.packets,
            "accepted": self.accepted,
            "dropped": self.dropped,
            "mean_delay_ms": round(mean, 4),
            "max_delay_ms": round(self.delay_max_ns / 1e6, 4),
        }


class Delayd:
    """Holds queued packets until their release time; see the module docstring."""

    def __init__(self, specs: list[QueueSpec], max_len: int = DEFAULT_MAX_LEN) -> None:
        self.queues = [_Queue(s, DelayScheduler(s.impairment, s.seed)) for s in specs]
        self.max_len = max_len
        self._heap: list[tuple[int, int, int, _Queue, object]] = []
        self._seq = 0
        self._stop = False
        self._stopping = False

    def bind(self) -> None:
        for q in self.queues:
            q.nfq.bind(q.spec.queue_num, self._callback(q), max_len=self.max_len, mode=COPY_META)

    def stop(self, *_args) -> None:
        self._stop = True

    def _callback(self, q: _Queue):
        def on_packet(pkt) -> None:
            now = time.perf_counter_ns()
            q.packets += 1
            if self._stopping:  # draining at shutdown: let it through at once
                self._accept(q, pkt, now, now)
                return
            release = q.scheduler.schedule(now)
            if release is None:
                pkt.drop()
                q.dropped += 1
                return
            self._seq += 1
            heapq.heappush(self._heap, (release, self._seq, now, q, pkt))
        return on_packet

    @staticmethod
    def _accept(q: _Queue, pkt, arrival_ns: int, now: int) -> None:
        pkt.accept()
        q.accepted += 1
        held = now - arrival_ns
        q.delay_sum_ns += held
        q.delay_max_ns = max(q.delay_max_ns, held)

    def _release(self, until_ns: int | None) -> None:
        heap = self._heap
        now = time.perf_counter_ns()
        while heap and (until_ns is None or heap[0][0] <= until_ns):
            _, _, arrival, q, pkt = heapq.heappop(heap)
            self._accept(q, pkt, arrival, now)

    def run(self, wake_fd: int | None = None) -> None:
        """Serve the queues until :meth:`stop` is called, then release all and unbind."""
        by_fd = {q.nfq.get_fd(): q for q in self.queues}
        rlist = list(by_fd) + ([wake_fd] if wake_fd is not None else [])
        while not self._stop:
            self._release(time.perf_counter_ns())
            timeout = None
            if self._heap:
                timeout = max(0.0, (self._heap[0][0] - time.perf_counter_ns()) / 1e9)
            ready, _, _ = select.select(rlist, [], [], timeout)
            for fd in ready:
                if fd == wake_fd:
                    _drain(fd)
                else:
                    by_fd[fd].nfq.run(block=False)
        self._stopping = True
        self._release(None)
        for q in self.queues:  # packets already in the socket buffer go through undelayed
            q.nfq.run(block=False)
            q.nfq.unbind()

    def stats(self) -> dict:
        return {"queues": [q.stats() for q in self.queues]}


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass


def _write_json(path: str, data: dict) -> None:
    """Write atomically (tmp + rename) so a poller never reads half a file."""
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m orchestrator.network.delayd CONFIG.json", file=sys.stderr)
        return 2
    with open(argv[0]) as f:
        config = json.load(f)
    specs = [QueueSpec.from_config(e) for e in config["queues"]]
    daemon = Delayd(specs, int(config.get("max_len", DEFAULT_MAX_LEN)))

    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGTERM, daemon.stop)
    signal.signal(signal.SIGINT, daemon.stop)

    daemon.bind()
    _write_json(config["ready_file"], {"pid": os.getpid(), "queues": [s.queue_num for s in specs]})
    daemon.run(wake_r)
    if config.get("stats_file"):
        _write_json(config["stats_file"], daemon.stats())
    return 0


if __name__ == "__main__":
    sys.exit(main())
