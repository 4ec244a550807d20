"""A netfilter queue client in the standard library only (nfnetlink_queue over AF_NETLINK).

Agents carry nothing but the Python standard library (orchestrator/deploy/mpa_agent.py
zips the package), so the `NetfilterQueue` binding the delay element uses is out of reach
for them. The protocol is small: this module speaks it directly, as libnetfilter_queue
does (<linux/netfilter/nfnetlink_queue.h>):

* configuration messages (NFQNL_MSG_CONFIG): bind a queue number for a protocol family,
  copy mode NFQNL_COPY_PACKET with a copy range and the queue length, and optionally the
  flag NFQA_CFG_F_FAIL_OPEN (packets pass unprocessed when the queue is full);
* packet messages (NFQNL_MSG_PACKET) from the kernel: NFQA_PACKET_HDR (packet id, hardware
  protocol, hook) and NFQA_PAYLOAD (the packet from its network header on);
* verdict messages (NFQNL_MSG_VERDICT): NF_ACCEPT or NF_DROP for a packet id, optionally
  with a new NFQA_PAYLOAD that replaces the packet ("mangling"; the kernel then takes the
  checksum state as CHECKSUM_NONE and, on LOCAL_OUT, routes the packet again when its
  addresses changed).

The pure functions build and parse the messages (tested without root); `NfQueue` owns the
socket inside the network namespace of the calling process.
"""
from __future__ import annotations

import errno
import os
import socket
import struct
from typing import NamedTuple

from .rtnl import NLM_F_ACK, NLM_F_REQUEST, NLMSG_ERROR, parse_attrs, parse_messages, rtattr

__all__ = ["NETLINK_NETFILTER", "NF_DROP", "NF_ACCEPT", "HOOK_PRE_ROUTING", "HOOK_LOCAL_OUT",
           "QueuedPacket", "config_bind", "config_params", "config_flags", "verdict",
           "parse_packet", "NfQueue", "NfQueueError"]

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFNETLINK_V0 = 0
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG = 0, 1, 2
NFQA_PACKET_HDR, NFQA_VERDICT_HDR, NFQA_MARK, NFQA_PAYLOAD = 1, 2, 3, 10
NFQA_CFG_CMD, NFQA_CFG_PARAMS, NFQA_CFG_QUEUE_MAXLEN, NFQA_CFG_MASK, NFQA_CFG_FLAGS = 1, 2, 3, 4, 5
NFQNL_CFG_CMD_BIND, NFQNL_CFG_CMD_UNBIND = 1, 2
NFQNL_COPY_PACKET = 2
NFQA_CFG_F_FAIL_OPEN = 1
NF_DROP, NF_ACCEPT = 0, 1
HOOK_PRE_ROUTING, HOOK_LOCAL_IN, HOOK_FORWARD, HOOK_LOCAL_OUT, HOOK_POST_ROUTING = range(5)
_NFGENMSG = struct.Struct("!BBH")             # family, version, res_id (queue number, BE)
_PACKET_HDR = struct.Struct("!IHB")           # packet id, hw protocol, hook


class NfQueueError(OSError):
    """The kernel refused a configuration request."""


class QueuedPacket(NamedTuple):
    queue: int
    packet_id: int
    hook: int
    payload: bytes
    mark: int


def _message(msg_type: int, queue: int, family: int, attrs: bytes, seq: int,
             flags: int = NLM_F_REQUEST) -> bytes:
    body = _NFGENMSG.pack(family, NFNETLINK_V0, queue) + attrs
    header = struct.pack("=IHHII", 16 + len(body), NFNL_SUBSYS_QUEUE << 8 | msg_type, flags,
                         seq, 0)
    return header + body


def config_bind(queue: int, family: int = socket.AF_INET6, seq: int = 0,
                unbind: bool = False) -> bytes:
    cmd = NFQNL_CFG_CMD_UNBIND if unbind else NFQNL_CFG_CMD_BIND
    return _message(NFQNL_MSG_CONFIG, queue, socket.AF_UNSPEC,
                    rtattr(NFQA_CFG_CMD, struct.pack("!BxH", cmd, family)), seq,
                    NLM_F_REQUEST | NLM_F_ACK)


def config_params(queue: int, copy_range: int = 0xFFFF, seq: int = 0,
                  max_len: int | None = None) -> bytes:
    attrs = rtattr(NFQA_CFG_PARAMS, struct.pack("!IB", copy_range, NFQNL_COPY_PACKET))
    if max_len is not None:
        attrs += rtattr(NFQA_CFG_QUEUE_MAXLEN, struct.pack("!I", max_len))
    return _message(NFQNL_MSG_CONFIG, queue, socket.AF_UNSPEC, attrs, seq,
                    NLM_F_REQUEST | NLM_F_ACK)


def config_flags(queue: int, flags: int, seq: int = 0) -> bytes:
    attrs = (rtattr(NFQA_CFG_MASK, struct.pack("!I", flags))
             + rtattr(NFQA_CFG_FLAGS, struct.pack("!I", flags)))
    return _message(NFQNL_MSG_CONFIG, queue, socket.AF_UNSPEC, attrs, seq,
                    NLM_F_REQUEST | NLM_F_ACK)


def verdict(queue: int, packet_id: int, accept: bool, payload: bytes | None = None,
            seq: int = 0) -> bytes:
    """NF_ACCEPT / NF_DROP for ``packet_id``; a ``payload`` replaces the packet."""
    attrs = rtattr(NFQA_VERDICT_HDR, struct.pack("!II", NF_ACCEPT if accept else NF_DROP,
                                                 packet_id))
    if payload is not None:
        attrs += rtattr(NFQA_PAYLOAD, bytes(payload))
    return _message(NFQNL_MSG_VERDICT, queue, socket.AF_UNSPEC, attrs, seq)


def parse_packet(body: bytes) -> QueuedPacket | None:
    """An NFQNL_MSG_PACKET body (after nlmsghdr); None when it has no header or payload."""
    if len(body) < _NFGENMSG.size:
        return None
    _, _, queue = _NFGENMSG.unpack_from(body)
    attrs = parse_attrs(body[_NFGENMSG.size:])
    hdr, payload = attrs.get(NFQA_PACKET_HDR), attrs.get(NFQA_PAYLOAD)
    if hdr is None or len(hdr) < _PACKET_HDR.size or payload is None:
        return None
    packet_id, _, hook = _PACKET_HDR.unpack_from(hdr)
    mark = struct.unpack("!I", attrs[NFQA_MARK])[0] if len(attrs.get(NFQA_MARK, b"")) == 4 \
        else 0
    return QueuedPacket(queue, packet_id, hook, payload, mark)


class NfQueue:
    """One netlink socket bound to one or more queue numbers (IPv6)."""

    def __init__(self, queues: list[int], *, copy_range: int = 0xFFFF,
                 max_len: int = 4096, rcvbuf: int = 4 << 20, fail_open: bool = False) -> None:
        """``fail_open``: when the queue is full the kernel accepts packets unprocessed
        (NFQA_CFG_F_FAIL_OPEN) instead of dropping them; off by default, since a data
        plane that rewrites packets must not let them through as they are."""
        self.queues = list(queues)
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self.sock.bind((0, 0))
            self.sock.settimeout(5.0)             # configuration answers; then blocking
            self._seq = 0
            for q in self.queues:
                self._request(config_bind(q, seq=self._next()), f"bind queue {q}")
                self._request(config_params(q, copy_range, self._next(), max_len),
                              f"copy mode of queue {q}")
                if fail_open:
                    self._request(config_flags(q, NFQA_CFG_F_FAIL_OPEN, self._next()),
                                  f"flags of queue {q}")
        except BaseException:
            self.sock.close()
            raise
        self.sock.settimeout(None)

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def _request(self, msg: bytes, what: str) -> None:
        seq = struct.unpack_from("=I", msg, 8)[0]
        self.sock.send(msg)
        while True:
            for m in parse_messages(self.sock.recv(65536)):
                if m.type == NLMSG_ERROR and m.seq == seq:
                    code = -struct.unpack_from("=i", m.body)[0]
                    if code:
                        raise NfQueueError(code, f"{what}: {os.strerror(code)}")
                    return

    def fileno(self) -> int:
        return self.sock.fileno()

    def receive(self) -> list[QueuedPacket]:
        """The packets of one netlink datagram (blocking unless the socket is not)."""
        try:
            data = self.sock.recv(1 << 17)
        except OSError as exc:
            if exc.errno == errno.ENOBUFS:      # the kernel dropped messages: go on
                return []
            raise
        out = []
        for m in parse_messages(data):
            if m.type == (NFNL_SUBSYS_QUEUE << 8 | NFQNL_MSG_PACKET):
                pkt = parse_packet(m.body)
                if pkt is not None:
                    out.append(pkt)
        return out

    def verdict(self, pkt: QueuedPacket, accept: bool, payload: bytes | None = None) -> None:
        self.sock.send(verdict(pkt.queue, pkt.packet_id, accept, payload))

    def close(self) -> None:
        for q in self.queues:
            try:
                self.sock.send(config_bind(q, unbind=True))
            except OSError:
                pass
        self.sock.close()
