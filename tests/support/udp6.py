"""UDP over IPv6 inside a test namespace (python -m tests.support.udp6).

  echo --bind ADDR --port P --count N     prints 'ready', echoes N datagrams, then prints a
                                          JSON list of the source addresses it saw
  send --bind ADDR --to ADDR --port P --count N [--interval S]
                                          sends N numbered datagrams, prints a JSON object:
                                          {"sent", "received", "rtt_us": [...]}
  sink --bind ADDR --port P               prints 'ready', counts datagrams until 1 s
                                          without any, prints {"received", "first_ns",
                                          "last_ns", "sources"}
  blast --bind ADDR --to ADDR --port P --count N [--size B]
                                          sends N datagrams back to back, prints
                                          {"sent", "elapsed_ns"}
"""
import argparse
import json
import socket
import struct
import sys
import time


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("op", choices=["echo", "send", "sink", "blast"])
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--bind", required=True)
    p.add_argument("--to")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--count", type=int, default=5)
    p.add_argument("--interval", type=float, default=0.02)
    p.add_argument("--timeout", type=float, default=5.0)
    a = p.parse_args()
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    if a.op == "echo":
        s.bind((a.bind, a.port))
        print("ready", flush=True)
        seen = []
        s.settimeout(a.timeout)
        try:
            while len(seen) < a.count:
                data, addr = s.recvfrom(65535)
                seen.append(addr[0])
                s.sendto(data, addr)
        except socket.timeout:
            pass
        print(json.dumps(seen), flush=True)
        return 0
    if a.op == "sink":
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        s.bind((a.bind, a.port))
        print("ready", flush=True)
        s.settimeout(a.timeout)
        received, first, last, sources = 0, 0, 0, set()
        try:
            while True:
                _, addr = s.recvfrom(65535)
                last = time.perf_counter_ns()
                first = first or last
                received += 1
                sources.add(addr[0])
                s.settimeout(1.0)
        except socket.timeout:
            pass
        print(json.dumps({"received": received, "first_ns": first, "last_ns": last,
                          "sources": sorted(sources)}), flush=True)
        return 0
    s.bind((a.bind, 0))
    if a.op == "blast":
        payload, dst = bytes(a.size), (a.to, a.port)
        t0 = time.perf_counter_ns()
        for _ in range(a.count):
            try:
                s.sendto(payload, dst)
            except OSError:                    # ENOBUFS: the qdisc is full; count it sent
                pass
        print(json.dumps({"sent": a.count, "elapsed_ns": time.perf_counter_ns() - t0}),
              flush=True)
        return 0
    s.settimeout(1.0)
    rtts, received = [], 0
    for i in range(a.count):
        t0 = time.perf_counter_ns()
        s.sendto(struct.pack("!IQ", i, t0) + bytes(32), (a.to, a.port))
        try:
            while True:
                data, _ = s.recvfrom(65535)
                if struct.unpack_from("!I", data)[0] == i:
                    break
            rtts.append((time.perf_counter_ns() - t0) // 1000)
            received += 1
        except socket.timeout:
            pass
        time.sleep(a.interval)
    print(json.dumps({"sent": a.count, "received": received, "rtt_us": rtts}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
