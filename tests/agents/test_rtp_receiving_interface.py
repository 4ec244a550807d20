"""The RTP receiver's log names the interface each packet came in on (issue 15, C.5.2: the
cellular address reaches the MN through the proactive handover tunnel over the WLAN before
the switch and on the cellular interface after it; only the interface tells them apart).
Loopback only."""
from __future__ import annotations

import json
import os
import random
import socket
import time

from orchestrator.agents.copy_forward import CopyForward
from orchestrator.agents.sip_ua import RtpReceiver
from orchestrator.protocols import rtp

import pytest


def _wait_lines(path, n, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= n:
            return [json.loads(line) for line in lines]
        time.sleep(0.01)
    raise AssertionError(f"{n} lines expected in {path}")


def test_every_logged_packet_names_its_interface_and_any_input_is_survived(tmp_path):
    log = tmp_path / "rtp.jsonl"
    rx = RtpReceiver(("127.0.0.1", 0), log)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            good = rtp.encode(rtp.RtpPacket(payload_type=0, sequence=7, timestamp=1120,
                                            ssrc=9, payload=b"\0" * 160))
            tx.sendto(good, rx.address)
            rng = random.Random(15)
            junk = [os.urandom(rng.randrange(0, 300)) for _ in range(200)]
            for data in junk:
                tx.sendto(data, rx.address)
            tx.sendto(good, rx.address)
        lines = _wait_lines(log, 202)
        assert rx._ifname(2 ** 31 - 1) == str(2 ** 31 - 1)    # an interface gone: its index
    finally:
        rx.stop()
    assert all(r["iface"] == "lo" for r in lines)
    assert lines[0]["seq"] == 7 and lines[0]["dst"] == f"127.0.0.1:{rx.address[1]}"
    assert lines[-1]["seq"] == 7                 # still receiving after 200 random datagrams


def test_copies_to_the_same_address_need_another_interface():
    """Copy-and-forward through the tunnel (pht_to_link) copies packets for the MN's
    cellular address to that same address: only what leaves on one interface, sent out of
    another, or it would copy its own copies."""
    for leaving, via in ((None, None), ("eth0", None), (None, "ipsec0"), ("eth0", "eth0")):
        with pytest.raises(ValueError, match="another interface"):
            CopyForward("mn", "10.20.0.2", "10.20.0.2", 0.2, None, leaving=leaving, via=via)
    with pytest.raises(ValueError, match="duration"):
        CopyForward("mn", "10.1.0.100", "10.20.0.2", 0.0, None)
