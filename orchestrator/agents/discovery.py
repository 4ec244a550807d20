"""Discovery (RFC 6252 s7.1): an information server tells the MN about its neighbouring networks.

"When the movement is imminent, the mobile node starts the discovery process by querying a
specific server and obtains the required parameters ... of the neighboring networks. In the
event of multiple networks, it may obtain the required parameters from more than one
neighboring network and keep these in a cache." IEEE 802.21's information service is the
model; the encoding here is ours: one JSON object per UDP datagram on port 4551 (IANA's
MIH port, RFC 5677), no MIH framing.

    query   {"type": "query", "id": 7, "mn": "mn", "address": "10.2.0.100"}
    answer  {"type": "answer", "id": 7, "ctns": [<CTN record>, ...]}
    error   {"type": "error", "id": 7, "reason": "..."}

The CTN records come from the topology (orchestrator/deploy/ctn.py documents them): PAA,
configuration agent, access router (with its IKEv2 identities), APs with their BSSIDs, and
the link-layer addresses of those nodes (Appendix B). The server leaves out the network the
querying address is in: that one is not a candidate target.

`answer` is pure; `InformationServer` is the UDP loop of the information-server role;
`query` is the MN's side.
"""
from __future__ import annotations

import itertools
import json
import select
import socket
import time
from ipaddress import IPv4Address, IPv4Network

from ..events import EventLog
from ..protocols import jsonmsg
from ..protocols.errors import ProtocolError
from .udpserver import UdpServer

MAX_DATAGRAM = 65000
MAX_ID = 64


def decode_query(data: bytes) -> dict:
    """A datagram -> the request object (ProtocolError if it is not one)."""
    request = jsonmsg.loads(data, "discovery request", max_depth=2)
    if not isinstance(request, dict):
        raise ProtocolError("discovery request is not a JSON object")
    rid = request.get("id")
    if not (rid is None or isinstance(rid, (int, str)) and not isinstance(rid, bool)
            and len(str(rid)) <= MAX_ID):
        raise ProtocolError(f"discovery request id is not a number or a string of at most "
                            f"{MAX_ID} characters")
    return request


def answer(networks: list[dict], request: dict) -> dict:
    """The reply to one decoded query (pure)."""
    rid = request.get("id")
    if request.get("type") != "query":
        return {"type": "error", "id": rid,
                "reason": f"unknown request type {str(request.get('type'))[:40]!r}"}
    address = request.get("address", "0.0.0.0")
    try:
        if not isinstance(address, str):
            raise ValueError(address)
        here = IPv4Address(address)
    except ValueError:
        return {"type": "error", "id": rid, "reason": f"bad address {str(address)[:40]!r}"}
    ctns = [n for n in networks if here not in IPv4Network(n["subnet"])]
    return {"type": "answer", "id": rid, "ctns": ctns}


class InformationServer(UdpServer):
    name = "info-server"

    def __init__(self, address: str, port: int, networks: list[dict], log: EventLog):
        super().__init__(address, port, log=log)
        self.networks = networks

    def datagram(self, data: bytes, peer: tuple[str, int], ancillary: list) -> None:
        request = decode_query(data)              # a ProtocolError is counted as malformed
        reply = answer(self.networks, request)
        out = json.dumps(reply).encode()
        if len(out) > MAX_DATAGRAM:
            reply = {"type": "error", "id": reply["id"],
                     "reason": f"the answer ({len(out)} octets) does not fit in a datagram"}
            out = json.dumps(reply).encode()
        self.sock.sendto(out, peer)
        self.log.emit("discovery_answered", "discovery", mn=str(request.get("mn"))[:40],
                      address=peer[0], ctns=[c["name"] for c in reply.get("ctns", [])],
                      error=reply.get("reason"))


_ids = itertools.count(1)


def query(server: tuple[str, int], mn: str, address: str, timeout: float = 2.0,
          attempts: int = 3) -> dict:
    """Ask the information server; the answer (dict) or TimeoutError. Retransmits."""
    rid = next(_ids)
    request = json.dumps({"type": "query", "id": rid, "mn": mn, "address": address}).encode()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(server)
        for _ in range(attempts):
            s.send(request)
            deadline = time.perf_counter() + timeout / attempts
            while (left := deadline - time.perf_counter()) > 0:
                if not select.select([s], [], [], left)[0]:
                    break
                try:
                    reply = jsonmsg.loads(s.recv(MAX_DATAGRAM), "discovery answer", max_depth=8)
                except (OSError, ProtocolError):
                    continue
                if isinstance(reply, dict) and reply.get("id") == rid:
                    return reply
    raise TimeoutError(f"no answer from the information server {server[0]}:{server[1]} "
                       f"in {timeout:g}s")
