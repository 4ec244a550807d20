"""Send or receive raw Ethernet frames inside a test host (python -m tests.support.rawframes).

  recv --iface IF --ethertype 0x888E --timeout S     prints 'ready', then a JSON list of
                                                     {"src", "dst", "ethertype"} received
  send --iface IF --dst MAC --ethertype 0x888E [--payload HEX]
"""
import argparse
import json
import socket
import sys
import time


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("op", choices=["send", "recv"])
    p.add_argument("--iface", required=True)
    p.add_argument("--ethertype", type=lambda s: int(s, 0), required=True)
    p.add_argument("--dst")
    p.add_argument("--payload", default="00" * 46)
    p.add_argument("--timeout", type=float, default=3.0)
    a = p.parse_args()
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(a.ethertype))
    s.bind((a.iface, a.ethertype))
    if a.op == "send":
        src = open(f"/sys/class/net/{a.iface}/address").read().strip()
        mac = lambda m: bytes(int(x, 16) for x in m.split(":"))
        s.send(mac(a.dst) + mac(src) + a.ethertype.to_bytes(2, "big") + bytes.fromhex(a.payload))
        return 0
    print("ready", flush=True)
    got, deadline = [], time.monotonic() + a.timeout
    while (left := deadline - time.monotonic()) > 0:
        s.settimeout(left)
        try:
            data, addr = s.recvfrom(65535)
        except socket.timeout:
            break
        if addr[2] == socket.PACKET_OUTGOING:
            continue
        hx = lambda b: ":".join(f"{x:02x}" for x in b)
        got.append({"dst": hx(data[0:6]), "src": hx(data[6:12]),
                    "ethertype": int.from_bytes(data[12:14], "big")})
    print(json.dumps(got), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
