"""network/framedelay.py (the link emulation's delay for a cellular link's PPPoE frames, RFC
6252 C.5.2) between two throwaway network namespaces (needs root): a PPPoE discovery frame
sent into the element's interface is held for the delay; a frame of another EtherType sent
after it is not held and overtakes it; the stats count what was held. The namespaces
(``mpaft-<hex>``) and the element's PID are the test's own; nothing else is touched."""
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrator.network.framedelay import PPPOE_ETHERTYPES, ethertype, tc_commands

REPO = Path(__file__).resolve().parents[2]
DELAY_S = 0.08

RECEIVER = r"""
import json, socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((sys.argv[1], 0)); s.settimeout(5)
print("ready", flush=True)
got = []
try:
    while len(got) < 2:
        f = s.recv(2000)
        if f[12:14] in (b"\x88\x63", b"\x88\xb5") and f[14:18] == b"TEST":
            got.append({"ethertype": f[12:14].hex(), "at": time.perf_counter_ns()})
except socket.timeout:
    pass
print(json.dumps(got), flush=True)
"""

SENDER = r"""
import json, socket, sys, time
iface = sys.argv[1]
mac = bytes.fromhex(open(f"/sys/class/net/{iface}/address").read().strip().replace(":", ""))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind((iface, 0))
sent = {}
for et in (0x8863, 0x88b5):                      # PPPoE discovery first, then another type
    sent[f"{et:04x}"] = time.perf_counter_ns()
    s.send(b"\xff" * 6 + mac + et.to_bytes(2, "big") + b"TEST" + b"\0" * 42)
print(json.dumps(sent), flush=True)
"""


def test_pure_parts():
    assert ethertype(b"\0" * 12 + b"\x88\x63" + b"x") == 0x8863
    assert ethertype(b"\0" * 12 + b"\x81\x00\x00\x05\x88\x64") == 0x8864     # 802.1Q tag
    assert ethertype(b"\0" * 13) is None
    cmds = tc_commands("cdma0", "fdtap")
    assert cmds[0] == ["tc", "qdisc", "replace", "dev", "cdma0", "clsact"]
    assert [c[7] for c in cmds[1:]] == [f"0x{e:04x}" for e in PPPOE_ETHERTYPES]
    assert all(c[-3:] == ["redirect", "dev", "fdtap"] for c in cmds[1:])


@pytest.fixture
def pair():
    if os.geteuid() != 0:
        pytest.skip("needs root")
    tag = secrets.token_hex(3)
    a, b = f"mpaft-{tag}-a", f"mpaft-{tag}-b"
    for ns in (a, b):
        subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(["ip", "link", "add", f"fta{tag}", "netns", a, "type", "veth", "peer",
                        "name", f"ftb{tag}", "netns", b], check=True)
        for ns, ifname in ((a, f"fta{tag}"), (b, f"ftb{tag}")):
            subprocess.run(["ip", "-n", ns, "link", "set", ifname, "up"], check=True)
            subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw",
                            "net.ipv6.conf.all.disable_ipv6=1"], check=True)
        yield a, b, f"fta{tag}", f"ftb{tag}", tag
    finally:
        for ns in (a, b):
            subprocess.run(["ip", "netns", "del", ns], check=False)


@pytest.mark.root
@pytest.mark.timeout(60)
def test_pppoe_frames_take_the_delay_others_do_not(pair, tmp_path):
    a, b, ifa, ifb, tag = pair
    ready, stats = tmp_path / "ready", tmp_path / "stats.json"
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"interface": ifa, "tap": f"fd{tag}", "delay_s": DELAY_S,
                               "ready_file": str(ready), "stats_file": str(stats)}))
    element = subprocess.Popen(["ip", "netns", "exec", a, sys.executable, "-m",
                                "orchestrator.network.framedelay", str(cfg)], cwd=REPO)
    try:
        deadline = time.monotonic() + 10
        while not ready.exists():
            assert element.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        for argv in tc_commands(ifa, f"fd{tag}"):
            subprocess.run(["ip", "netns", "exec", a, *argv], check=True)
        receiver = subprocess.Popen(["ip", "netns", "exec", b, sys.executable, "-c", RECEIVER,
                                     ifb], stdout=subprocess.PIPE, text=True)
        assert receiver.stdout.readline().strip() == "ready"
        sent = json.loads(subprocess.run(["ip", "netns", "exec", a, sys.executable, "-c",
                                          SENDER, ifa], capture_output=True, text=True,
                                         check=True).stdout)
        got = json.loads(receiver.communicate(timeout=10)[0])
    finally:
        element.send_signal(signal.SIGTERM)
        element.wait(10)
    assert [g["ethertype"] for g in got] == ["88b5", "8863"]     # the other type overtook it
    held = (got[1]["at"] - sent["8863"]) / 1e6
    assert held >= DELAY_S * 1e3                                  # the configured delay
    st = json.loads(stats.read_text())
    assert st["frames"] == 1 and st["unsent"] == 0 and st["delay_ms"] == DELAY_S * 1e3
