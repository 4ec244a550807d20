"""delayd end to end between two throwaway network namespaces (needs root).

Each test makes its own namespaces ``mpadt-<hex>`` (A, B) joined by a veth pair
(10.250.x.1/30 in A, .2/30 in B), starts delayd inside A, installs the NFQUEUE rules in A,
and measures with a small raw-socket ICMP prober run inside A (iputils ping is not installed
on this machine kind). Teardown deletes the rules, stops delayd by its PID and deletes only
the two namespaces it made. IPv6 is disabled in the namespaces so that only the prober's
packets reach the queues (ARP never does: it is not IP).
"""

import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrator.network.impairment import Impairment, QueueSpec, iptables_rules

REPO = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.root,
    pytest.mark.timeout(120),
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces, iptables)"),
    pytest.mark.skipif(not all(shutil.which(t) for t in ("ip", "iptables", "ip6tables")),
                       reason="needs iproute2 and iptables"),
]

PROBER = r"""
import json, os, select, socket, struct, sys, time
dst, count, interval, wait = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
def csum(b):
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    t = (t >> 16) + (t & 0xFFFF); t += t >> 16
    return ~t & 0xFFFF
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
ident, payload = os.getpid() & 0xFFFF, b"mpa-delayd-probe" * 4
sent, rtt, seq = {}, {}, 0
next_send = time.perf_counter()
deadline = None
while deadline is None or (len(rtt) < count and time.perf_counter() < deadline):
    now = time.perf_counter()
    if seq < count and now >= next_send:
        hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
        pkt = struct.pack("!BBHHH", 8, 0, csum(hdr + payload), ident, seq) + payload
        sent[seq] = time.perf_counter_ns()
        s.sendto(pkt, (dst, 0))
        seq += 1
        next_send += interval
        if seq == count:
            deadline = time.perf_counter() + wait
            sys.stderr.write("sent\n"); sys.stderr.flush()
        continue
    until = next_send if seq < count else deadline
    if select.select([s], [], [], max(0.0, until - now))[0]:
        data, t = s.recv(4096), time.perf_counter_ns()
        ihl = (data[0] & 0x0F) * 4
        typ, _, _, rid, rseq = struct.unpack("!BBHHH", data[ihl:ihl + 8])
        if typ == 0 and rid == ident and rseq in sent and rseq not in rtt:
            rtt[rseq] = (t - sent[rseq]) / 1e6
print(json.dumps([rtt.get(i) for i in range(count)]))
"""


def sh(*argv, check=True):
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=30)


class NsPair:
    """Two namespaces A, B with veth0 (A) <-> veth1 (B); records what it made, removes only that."""

    def __init__(self, tmp: Path):
        tag = secrets.token_hex(4)
        self.a, self.b = f"mpadt-{tag}a", f"mpadt-{tag}b"
        x = secrets.randbelow(256)
        self.ip_a, self.ip_b = f"10.250.{x}.1", f"10.250.{x}.2"
        self.tmp = tmp
        self.procs: list[subprocess.Popen] = []
        self.rules: list[list[str]] = []
        self.made: list[str] = []

    def up(self):
        for ns in (self.a, self.b):
            sh("ip", "netns", "add", ns)
            self.made.append(ns)
            for key in ("default", "all"):
                sh("ip", "netns", "exec", ns, "sysctl", "-qw", f"net.ipv6.conf.{key}.disable_ipv6=1")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", self.a, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1",
           "netns", self.b)
        for ns, dev, ip in ((self.a, "veth0", self.ip_a), (self.b, "veth1", self.ip_b)):
            sh("ip", "-n", ns, "addr", "add", f"{ip}/30", "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")

    def start_delayd(self, specs: list[QueueSpec], name="delayd"):
        cfg = {
            "queues": [s.to_config() for s in specs],
            "ready_file": str(self.tmp / f"{name}.ready"),
            "stats_file": str(self.tmp / f"{name}.stats"),
        }
        for stale in ("ready_file", "stats_file"):
            Path(cfg[stale]).unlink(missing_ok=True)
        cfg_path = self.tmp / f"{name}.json"
        cfg_path.write_text(json.dumps(cfg))
        err = open(self.tmp / f"{name}.err", "w")
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.a, sys.executable, "-m", "orchestrator.network.delayd",
             str(cfg_path)], cwd=REPO, stdout=subprocess.DEVNULL, stderr=err)
        self.procs.append(proc)
        ready = Path(cfg["ready_file"])
        deadline = time.monotonic() + 15
        while not ready.exists():
            assert proc.poll() is None, (self.tmp / f"{name}.err").read_text()
            assert time.monotonic() < deadline, "delayd never became ready"
            time.sleep(0.02)
        info = json.loads(ready.read_text())
        assert info["pid"] == proc.pid  # `ip netns exec` execs, so the PID is delayd's own
        return proc, Path(cfg["stats_file"])

    def add_rules(self, specs: list[QueueSpec]):
        for spec in specs:
            for argv in iptables_rules(spec, "-A"):
                sh("ip", "netns", "exec", self.a, *argv)
                self.rules.append(argv)

    def delete_rules(self, check=True):
        while self.rules:
            argv = self.rules.pop()
            delete = [*argv[:3], "-D", *argv[4:]]
            sh("ip", "netns", "exec", self.a, *delete, check=check)

    def ping(self, count, interval, wait=2.0, background=False):
        argv = ["ip", "netns", "exec", self.a, sys.executable, "-c", PROBER,
                self.ip_b, str(count), str(interval), str(wait)]
        if background:
            return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60)
        return json.loads(out.stdout)

    def down(self):
        try:
            self.delete_rules(check=False)
        finally:
            for proc in self.procs:
                if proc.poll() is None:
                    os.kill(proc.pid, signal.SIGTERM)
                    try:
                        proc.wait(timeout=5)
                    except subprocess.TimeoutExpired:
                        os.kill(proc.pid, signal.SIGKILL)
                        proc.wait(timeout=5)
            while self.made:
                sh("ip", "netns", "del", self.made.pop(), check=False)


@pytest.fixture
def nspair(tmp_path):
    pytest.importorskip("netfilterqueue")
    pair = NsPair(tmp_path)
    try:
        pair.up()
        yield pair
    finally:
        pair.down()


def test_50ms_each_way_gives_100ms_rtt(nspair):
    specs = [QueueSpec(10, "veth0", "egress", Impairment(delay_s=0.05), seed=1),
             QueueSpec(11, "veth0", "ingress", Impairment(delay_s=0.05), seed=2)]
    proc, stats_path = nspair.start_delayd(specs)
    nspair.add_rules(specs)

    rtts = nspair.ping(30, 0.05)
    assert None not in rtts, f"lost replies: {rtts}"
    median = statistics.median(rtts)
    assert 95.0 <= median <= 105.0, rtts

    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    stats = {q["queue_num"]: q for q in json.loads(stats_path.read_text())["queues"]}
    for num in (10, 11):
        assert stats[num]["packets"] == 30 and stats[num]["dropped"] == 0
        assert 49.9 <= stats[num]["mean_delay_ms"] <= 52.0, stats


def test_30pct_loss_one_way(nspair):
    specs = [QueueSpec(20, "veth0", "egress", Impairment(loss=0.3), seed=7)]
    proc, stats_path = nspair.start_delayd(specs)
    nspair.add_rules(specs)

    rtts = nspair.ping(200, 0.01, wait=1.0)
    lost = sum(r is None for r in rtts)
    assert 0.18 <= lost / 200 <= 0.42, f"measured loss {lost / 200:.3f}"

    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    (q,) = json.loads(stats_path.read_text())["queues"]
    assert q["packets"] == 200
    assert q["dropped"] == lost  # only the prober's packets reach the queue (no IPv6, ARP is not IP)


def test_stop_releases_held_then_dead_daemon_drops_and_rules_remove_cleanly(nspair):
    specs = [QueueSpec(30, "veth0", "egress", Impairment(delay_s=0.3), seed=3)]
    proc, stats_path = nspair.start_delayd(specs)
    nspair.add_rules(specs)

    # SIGTERM while three echo requests are held: shutdown must release them early
    prober = nspair.ping(3, 0.02, wait=2.0, background=True)
    assert prober.stderr.readline().strip() == "sent"
    time.sleep(0.05)
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    out, _ = prober.communicate(timeout=30)
    rtts = json.loads(out)
    assert None not in rtts and max(rtts) < 290, rtts
    assert json.loads(stats_path.read_text())["queues"][0]["accepted"] == 3

    # rules still in place and no daemon: packets are dropped (no --queue-bypass)
    assert nspair.ping(3, 0.02, wait=0.5) == [None] * 3

    nspair.delete_rules(check=True)
    for tool in ("iptables", "ip6tables"):
        listing = sh("ip", "netns", "exec", nspair.a, f"{tool}-save", "-t", "mangle").stdout
        assert "NFQUEUE" not in listing
    rtts = nspair.ping(5, 0.02)
    assert None not in rtts and max(rtts) < 20, rtts

    names = (nspair.a, nspair.b)
    nspair.down()
    listed = sh("ip", "netns", "list").stdout
    assert not any(n in listed for n in names)
    assert not any(os.path.exists(f"/run/netns/{n}") for n in names)
