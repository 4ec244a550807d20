"""RADIUS client side of an authenticator (AP or PAA): EAP over RADIUS (RFC 3579).

EAP-Message split into 253-octet attributes, Message-Authenticator on every request and
required on every reply, State echoed, MS-MPPE keys of an Access-Accept decrypted into the MSK
(RFC 2548, as FreeRADIUS sends them). Retransmission: pyrad resends the same request (same
Identifier and Authenticator) after `timeout` seconds, `retries` times (RFC 5080 s2.2.1).

Exchanges overlap: each one in progress has a UDP socket (a source port) of its own, taken
from a pool of idle ones, so that its reply cannot be read by another exchange's thread and
its Identifier is unique where the server matches it, on (client address, source port,
Identifier) (RFC 2865 s3, RFC 5080 s2.2.2). Holding one socket under a lock instead made every
authentication through an AP or PAA wait for all the others (issue 17: 19 MNs connecting at
once took 5.5x one alone).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import pyrad.packet
from pyrad.client import Client, Timeout

from ..protocols import radius_keys
from ..protocols.radius_dict import ATTRIBUTE_MAX, NAS_PORT_TYPE_WIRELESS_802_11, dictionary


@dataclass
class RadiusReply:
    code: str                    # "accept" | "challenge" | "reject" | "timeout" | "error"
    eap: bytes = b""
    state: bytes | None = None
    msk: bytes | None = None
    session_timeout: int | None = None
    rtt_s: float = 0.0
    reason: str = ""             # why, for "error" (and "timeout")
    retransmissions: int = 0     # Access-Requests sent again after `timeout` (RFC 5080 s2.2.1)


# RFC 5080 s2.2.1 retransmission of an Access-Request (reported as emulation constants)
TIMEOUT_S, RETRIES = 3.0, 3


def own_port(client: Client) -> int:
    """Bind the client's socket to a source port no other socket has; returns it.

    pyrad sets SO_REUSEADDR on its socket and lets the first sendto pick the port, and Linux
    may then give two such UDP sockets the same ephemeral port (both allow reuse, so neither
    conflicts with the other): the server's replies then reach only one of them, and an
    exchange waits in vain while the other socket's reader drops them (issue 17: 1 of 100
    concurrent pre-authentications, three requests answered and never read). Without
    SO_REUSEADDR at bind time the kernel chooses a port in use by no one."""
    import socket
    client._SocketOpen()                      # pyrad's socket, registered with its poller
    sock = client._socket
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 0)
    sock.bind(("::", 0) if sock.family == socket.AF_INET6 else ("0.0.0.0", 0))
    return sock.getsockname()[1]


class RadiusClient:
    def __init__(self, server: str, port: int, secret: str, nas_identifier: str,
                 timeout: float = TIMEOUT_S, retries: int = RETRIES):
        self.secret = secret.encode()
        self.nas_identifier = nas_identifier
        self.server, self.port = server, port
        self.timeout, self.retries = timeout, retries
        self._idle: list[Client] = []       # clients (one socket each) no exchange is using
        self._lock = threading.Lock()       # guards _idle only, never held during an exchange
        self.sockets = 0                    # how many were opened: the most exchanges at once

    def _take(self) -> Client:
        with self._lock:
            if self._idle:
                return self._idle.pop()
            self.sockets += 1
        # one attempt per SendPacket: the retransmissions are ours, so that they are counted
        client = Client(server=self.server, authport=self.port, secret=self.secret,
                        dict=dictionary(), retries=1, timeout=self.timeout, enforce_ma=True)
        own_port(client)
        return client

    def _give_back(self, client: Client) -> None:
        with self._lock:
            self._idle.append(client)

    def exchange(self, user_name: str, eap_message: bytes, state: bytes | None,
                 calling_station_id: str = "", called_station_id: str = "") -> RadiusReply:
        """One Access-Request and its answer. Never raises: what pyrad refuses (a User-Name
        longer than an attribute holds: 253 octets, an identity that is not text) or a
        reply it cannot read comes back as code "error" with the reason, so that the EAP
        session of the authenticator or PAA ends instead of waiting for ever."""
        try:
            return self._exchange(user_name, eap_message, state, calling_station_id,
                                  called_station_id)
        except Exception as exc:  # noqa: BLE001 -- pyrad's errors are not one type
            return RadiusReply("error", reason=f"RADIUS request not sent or its reply not "
                                               f"readable: {type(exc).__name__}: {exc}"[:300])

    def _exchange(self, user_name: str, eap_message: bytes, state: bytes | None,
                  calling_station_id: str, called_station_id: str) -> RadiusReply:
        client = self._take()
        try:
            return self._send(client, user_name, eap_message, state, calling_station_id,
                              called_station_id)
        finally:
            self._give_back(client)

    def _send(self, client: Client, user_name: str, eap_message: bytes, state: bytes | None,
              calling_station_id: str, called_station_id: str) -> RadiusReply:
        req = client.CreateAuthPacket(code=pyrad.packet.AccessRequest, User_Name=user_name)
        req["NAS-Identifier"] = self.nas_identifier
        req["NAS-Port-Type"] = NAS_PORT_TYPE_WIRELESS_802_11
        req["Framed-MTU"] = 1400
        if calling_station_id:
            req["Calling-Station-Id"] = calling_station_id
        if called_station_id:
            req["Called-Station-Id"] = called_station_id
        for i in range(0, len(eap_message), ATTRIBUTE_MAX):
            req.AddAttribute("EAP-Message", eap_message[i:i + ATTRIBUTE_MAX])
        if state is not None:
            req["State"] = state
        req.add_message_authenticator()
        t0 = time.perf_counter()
        reply, attempt = None, 0
        for attempt in range(max(self.retries, 1)):
            try:              # the same packet again: same Identifier and Authenticator
                reply = client.SendPacket(req)
                break
            except Timeout:
                continue
        if reply is None:
            return RadiusReply("timeout", rtt_s=time.perf_counter() - t0,
                               retransmissions=max(self.retries, 1) - 1,
                               reason="no answer from the RADIUS server")
        rtt = time.perf_counter() - t0
        code = {pyrad.packet.AccessAccept: "accept", pyrad.packet.AccessChallenge: "challenge",
                pyrad.packet.AccessReject: "reject"}.get(reply.code, "reject")
        out = RadiusReply(code, b"".join(reply["EAP-Message"]) if "EAP-Message" in reply else b"",
                          reply["State"][0] if "State" in reply else None, rtt_s=rtt,
                          retransmissions=attempt)
        if "Session-Timeout" in reply:
            out.session_timeout = reply["Session-Timeout"][0]
        if code == "accept" and "MS-MPPE-Recv-Key" in reply and "MS-MPPE-Send-Key" in reply:
            recv, send = (radius_keys.decrypt_mppe_key(reply[name][0], self.secret,
                                                       reply.request_authenticator)
                          for name in ("MS-MPPE-Recv-Key", "MS-MPPE-Send-Key"))
            out.msk = radius_keys.msk_from_mppe_keys(recv, send)
        return out
