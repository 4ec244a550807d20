"""A delayed Ethernet link in user space: every frame, of any EtherType, held `delay` ms.

    ip netns exec LINK python -m tests.support.framedelay --a IF_A --b IF_B --delay-ms D

The kernel here has no netem, and the NFQUEUE delay (orchestrator/network/delayd.py) only
sees IP packets: PPPoE frames would cross undelayed. This relay sits in a namespace of its
own between two veth ends and forwards each frame from one to the other after `delay` ms
(one way), in arrival order, on CLOCK_MONOTONIC. It prints `ready` once both sockets are
bound, and on SIGTERM a JSON line of frames forwarded per direction.
"""
from __future__ import annotations

import argparse
import heapq
import json
import select
import signal
import socket
import sys
import time

ETH_P_ALL = 0x0003


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--a", required=True)
    ap.add_argument("--b", required=True)
    ap.add_argument("--delay-ms", type=float, required=True)
    args = ap.parse_args(argv)
    socks = {}
    for name in (args.a, args.b):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.bind((name, ETH_P_ALL))
        socks[name] = s
    other = {args.a: socks[args.b], args.b: socks[args.a]}
    delay_ns = int(args.delay_ms * 1e6)
    held: list[tuple[int, int, str, bytes]] = []
    counts = {f"{args.a}->{args.b}": 0, f"{args.b}->{args.a}": 0}
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    print("ready", flush=True)
    seq = 0
    by_fd = {s.fileno(): name for name, s in socks.items()}
    while not stop:
        now = time.perf_counter_ns()
        while held and held[0][0] <= now:
            _, _, src, frame = heapq.heappop(held)
            other[src].send(frame)
            counts[f"{src}->{args.b if src == args.a else args.a}"] += 1
        timeout = max(0.0, (held[0][0] - now) / 1e9) if held else 0.5
        try:
            ready, _, _ = select.select(list(socks.values()), [], [], timeout)
        except InterruptedError:
            continue
        for s in ready:
            frame, addr = s.recvfrom(65535)
            if addr[2] == socket.PACKET_OUTGOING:
                continue
            seq += 1
            heapq.heappush(held, (time.perf_counter_ns() + delay_ns, seq, by_fd[s.fileno()],
                                  frame))
    print(json.dumps(counts), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
