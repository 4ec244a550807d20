"""RADIUS client side of an authenticator (AP or PAA): EAP over RADIUS (RFC 3579).

EAP-Message split into 253-octet attributes, Message-Authenticator on every request and
required on every reply, State echoed, MS-MPPE keys of an Access-Accept decrypted into the MSK
(RFC 2548, as FreeRADIUS sends them). Retransmission: pyrad resends the same request (same
Identifier and Authenticator) after `timeout` seconds, `retries` times (RFC 5080 s2.2.1).
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
    code: str                    # "accept" | "challenge" | "reject" | "timeout"
    eap: bytes = b""
    state: bytes | None = None
    msk: bytes | None = None
    session_timeout: int | None = None
    rtt_s: float = 0.0
    retransmissions: int = 0     # Access-Requests sent again after `timeout` (RFC 5080 s2.2.1)


class RadiusClient:
    def __init__(self, server: str, port: int, secret: str, nas_identifier: str,
                 timeout: float = 3.0, retries: int = 3):
        self.secret = secret.encode()
        self.nas_identifier = nas_identifier
        self.timeout, self.retries = timeout, retries
        # one attempt per SendPacket: the retransmissions are ours, so that they are counted
        self._client = Client(server=server, authport=port, secret=self.secret,
                              dict=dictionary(), retries=1, timeout=timeout, enforce_ma=True)
        self._lock = threading.Lock()

    def exchange(self, user_name: str, eap_message: bytes, state: bytes | None,
                 calling_station_id: str = "", called_station_id: str = "") -> RadiusReply:
        req = self._client.CreateAuthPacket(code=pyrad.packet.AccessRequest, User_Name=user_name)
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
        with self._lock:
            for attempt in range(max(self.retries, 1)):
                try:          # the same packet again: same Identifier and Authenticator
                    reply = self._client.SendPacket(req)
                    break
                except Timeout:
                    continue
        if reply is None:
            return RadiusReply("timeout", rtt_s=time.perf_counter() - t0,
                               retransmissions=max(self.retries, 1) - 1)
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
