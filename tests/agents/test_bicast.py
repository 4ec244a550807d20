"""Bicasting at the CN (RFC 6252 C.1; agents/sip_ua.py RtpSender): after a move of the
stream the address left keeps getting a copy of every packet for the bicasting period, then
only the new one does; without a period nothing is copied."""
import socket
import time

from orchestrator.agents.sip_ua import RtpSender
from orchestrator.protocols import rtp


def _sink() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(0.05)
    return s


def _drain(s: socket.socket) -> list[int]:
    seqs = []
    while True:
        try:
            seqs.append(rtp.decode(s.recv(2048)).sequence)
        except (socket.timeout, BlockingIOError):
            return seqs


def run(bicast: float) -> tuple[list[int], list[int]]:
    a, b = _sink(), _sink()
    sender = RtpSender(("127.0.0.1", 0), interval=0.01)
    sender.bicast = bicast
    try:
        sender.move(a.getsockname())
        time.sleep(0.1)
        sender.move(b.getsockname())
        time.sleep(0.5)
    finally:
        sender.stop()
    return _drain(a), _drain(b)


def test_the_address_left_gets_copies_for_the_period_only():
    on_a, on_b = run(bicast=0.2)
    after_move = [q for q in on_a if q >= min(on_b)]
    assert after_move, (on_a, on_b)                       # copies after the move ...
    assert set(after_move) <= set(on_b)                   # ... of the packets B got
    assert max(on_b) > max(on_a)                          # then B alone: the copies stopped


def test_without_bicasting_nothing_is_copied():
    on_a, on_b = run(bicast=0.0)
    assert not set(on_a) & set(on_b)
