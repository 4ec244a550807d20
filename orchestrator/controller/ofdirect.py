"""The controller's fast path for flow changes: OpenFlow 1.3 over a bridge's own management
socket, written by hand, answered synchronously.

Every association and every port opening changes flows that the very next frame depends on,
so the change must be confirmed (a barrier) and the datapath brought in line (datapath.py)
before the controller answers. Through os-ken that costs ~0.1 ms per flow-mod built by its
parser classes plus ~0.7 ms for a barrier reply dispatched through its event loop (measured
here, PLATFORM.md): more than the 802.11 events emulated. So the controller keeps os-ken for
what it is good at (switch connections, packet-ins, the static flows) and sends these
changes itself: pre-encoded OpenFlow 1.3 messages on a kept connection to
`/var/run/openvswitch/<bridge>.mgmt` (the socket `ovs-ofctl` uses), a barrier on the same
connection, and a blocking read of its reply in the calling thread. Open vSwitch applies the
messages of one connection in order, so the barrier reply means every flow-mod before it is
in the table.

Pure encoders (`flow_mod`, `delete_cookie`, `barrier`, `packet_out`) are cross-checked against
os-ken's serializer in tests/controller/test_ofdirect.py.
"""
from __future__ import annotations

import os
import socket
import struct
import threading
from pathlib import Path

OFP_VERSION = 0x04
OFPT_HELLO, OFPT_ERROR, OFPT_ECHO_REQUEST, OFPT_ECHO_REPLY = 0, 1, 2, 3
OFPT_PACKET_OUT, OFPT_FLOW_MOD = 13, 14
OFPT_BARRIER_REQUEST, OFPT_BARRIER_REPLY = 20, 21
OFPFC_ADD, OFPFC_DELETE = 0, 3
OFPTT_ALL = 0xFF
OFPP_ANY, OFPP_CONTROLLER, OFPP_IN_PORT = 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFF8
OFPG_ANY = 0xFFFFFFFF
OFP_NO_BUFFER = 0xFFFFFFFF
OFPCML_NO_BUFFER = 0xFFFF
OFPIT_APPLY_ACTIONS = 4
OFPAT_OUTPUT = 0

# OXM (OpenFlow basic class 0x8000): field number, payload length
_OXM = {"in_port": (0, 4), "eth_dst": (3, 6), "eth_src": (4, 6), "eth_type": (5, 2)}
_MASKED = 1


class OpenFlowError(RuntimeError):
    pass


def _oxm_value(name: str, value) -> tuple[bytes, bytes | None]:
    """(value bytes, mask bytes or None) of one match field."""
    field, length = _OXM[name]
    if name in ("eth_dst", "eth_src"):
        if isinstance(value, tuple):
            return _mac(value[0]), _mac(value[1])
        return _mac(value), None
    return int(value).to_bytes(length, "big"), None


def _mac(text: str) -> bytes:
    parts = text.split(":")
    if len(parts) != 6:
        raise ValueError(f"bad MAC {text!r}")
    return bytes(int(p, 16) for p in parts)


def match(fields: dict) -> bytes:
    """ofp_match (type OXM), padded to 8 octets. Fields in OXM order, as os-ken writes them."""
    oxms = b""
    for name in sorted(fields, key=lambda n: _OXM[n][0]):
        val, mask = _oxm_value(name, fields[name])
        field, _ = _OXM[name]
        body = val + (mask or b"")
        oxms += struct.pack("!HBB", 0x8000, (field << 1) | (_MASKED if mask else 0), len(body)) + body
    length = 4 + len(oxms)
    return struct.pack("!HH", 1, length) + oxms + bytes((8 - length % 8) % 8)


def _header(msg_type: int, length: int, xid: int) -> bytes:
    return struct.pack("!BBHI", OFP_VERSION, msg_type, length, xid)


def _outputs(ports) -> bytes:
    return b"".join(struct.pack("!HHIH6x", OFPAT_OUTPUT, 16, p, OFPCML_NO_BUFFER) for p in ports)


def flow_mod(xid: int, priority: int, fields: dict, out_ports, cookie: int = 0) -> bytes:
    """OFPFC_ADD in table 0 with one apply-actions instruction of output actions."""
    actions = _outputs(out_ports)
    inst = struct.pack("!HH4x", OFPIT_APPLY_ACTIONS, 8 + len(actions)) + actions
    body = struct.pack("!QQBBHHHIIIH2x", cookie, 0, 0, OFPFC_ADD, 0, 0, priority,
                       OFP_NO_BUFFER, 0, 0, 0) + match(fields) + inst      # out_port/group unused
    return _header(OFPT_FLOW_MOD, 8 + len(body), xid) + body


def delete_cookie(xid: int, cookie: int) -> bytes:
    """OFPFC_DELETE of every flow with exactly this cookie, in all tables."""
    body = struct.pack("!QQBBHHHIIIH2x", cookie, (1 << 64) - 1, OFPTT_ALL, OFPFC_DELETE, 0, 0,
                       0x8000,                                   # unused by a non-strict delete
                       OFP_NO_BUFFER, OFPP_ANY, OFPG_ANY, 0) + match({})
    return _header(OFPT_FLOW_MOD, 8 + len(body), xid) + body


def barrier(xid: int) -> bytes:
    return _header(OFPT_BARRIER_REQUEST, 8, xid)


def packet_out(xid: int, port: int, data: bytes) -> bytes:
    actions = _outputs([port])
    body = struct.pack("!IIH6x", OFP_NO_BUFFER, OFPP_CONTROLLER, len(actions)) + actions + data
    return _header(OFPT_PACKET_OUT, 8 + len(body), xid) + body


def port_number(port) -> int:
    """A policy output port (a number, policy.CONTROLLER or policy.IN_PORT) as OpenFlow's."""
    return {"controller": OFPP_CONTROLLER, "in_port": OFPP_IN_PORT}.get(port, port)


def encode_flow(f, xid: int = 0) -> bytes:
    """A policy.Flow as the OFPFC_ADD that installs it."""
    return flow_mod(xid, f.priority, dict(f.match), [port_number(p) for p in f.outputs], f.cookie)


class BridgeConnection:
    """A kept OpenFlow 1.3 connection to one bridge's management socket."""

    def __init__(self, bridge: str, rundir: str | None = None, timeout: float = 2.0):
        rundir = rundir or os.environ.get("OVS_RUNDIR", "/var/run/openvswitch")
        self.path = str(Path(rundir, f"{bridge}.mgmt"))
        self.bridge, self.timeout = bridge, timeout
        self._sock: socket.socket | None = None
        self._buf = b""
        self._xid = 0x4D504100              # "MPA\0": apart from os-ken's xids (other connection)
        self.lock = threading.Lock()

    def next_xid(self) -> int:
        self._xid = (self._xid + 1) & 0xFFFFFFFF
        return self._xid

    def _connect(self) -> socket.socket:
        if self._sock is None:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(self.timeout)
            s.connect(self.path)
            s.sendall(_header(OFPT_HELLO, 8, self.next_xid()))
            self._sock, self._buf = s, b""
            hello = self._read_msg()
            if hello[1] != OFPT_HELLO:
                raise OpenFlowError(f"{self.bridge}: expected HELLO, got type {hello[1]}")
            if hello[0] < OFP_VERSION:
                raise OpenFlowError(f"{self.bridge}: switch speaks OpenFlow version {hello[0]}")
        return self._sock

    def _read_msg(self) -> tuple[int, int, int, bytes]:
        while True:
            if len(self._buf) >= 8:
                version, mtype, length, xid = struct.unpack("!BBHI", self._buf[:8])
                if length < 8:
                    raise OpenFlowError(f"{self.bridge}: bad OpenFlow length {length}")
                if len(self._buf) >= length:
                    body, self._buf = self._buf[8:length], self._buf[length:]
                    return version, mtype, xid, body
            chunk = self._sock.recv(65536)
            if not chunk:
                raise OSError(f"{self.bridge}: management connection closed")
            self._buf += chunk

    def transact(self, messages: list[bytes]) -> None:
        """Send `messages` then a barrier; return when the barrier reply came (every message
        before it applied). Errors from the switch are raised."""
        with self.lock:
            try:
                self._wait(self._begin(messages))
            except OSError:
                self.close()
                self._wait(self._begin(messages))

    def _begin(self, messages: list[bytes]) -> int:
        s = self._connect()
        xid = self.next_xid()
        s.sendall(b"".join(messages) + barrier(xid))
        return xid

    def _wait(self, xid: int) -> None:
        s = self._sock
        while True:
            _v, mtype, rxid, body = self._read_msg()
            if mtype == OFPT_BARRIER_REPLY and rxid == xid:
                return
            if mtype == OFPT_ERROR:
                etype, code = struct.unpack("!HH", body[:4]) if len(body) >= 4 else (0, 0)
                raise OpenFlowError(f"{self.bridge}: OpenFlow error type {etype} code {code}")
            if mtype == OFPT_ECHO_REQUEST:
                s.sendall(_header(OFPT_ECHO_REPLY, 8 + len(body), rxid) + body)

    @staticmethod
    def transact_all(work: list[tuple["BridgeConnection", list[bytes]]]) -> None:
        """`transact` on several bridges at once: every batch is sent before any barrier
        reply is awaited, so the switches apply them in parallel."""
        begun = []
        try:
            for conn, msgs in work:
                conn.lock.acquire()
                begun.append(conn)
                try:
                    xid = conn._begin(msgs)
                except OSError:
                    conn.close()
                    xid = conn._begin(msgs)
                conn._pending_xid = xid
            for conn in begun:
                conn._wait(conn._pending_xid)
        finally:
            for conn in begun:
                conn.lock.release()

    def send(self, messages: list[bytes]) -> None:
        """Send without waiting (packet-outs after a transaction on the same connection are
        applied in order after it)."""
        with self.lock:
            try:
                self._connect().sendall(b"".join(messages))
            except OSError:
                self.close()
                self._connect().sendall(b"".join(messages))

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
