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
import threading
import time
from ipaddress import IPv4Address, IPv4Network

from ..events import EventLog
from .udpserver import UdpServer

MAX_DATAGRAM = 65000


def answer(networks: list[dict], request: dict) -> dict:
    """The reply to one decoded query (pure)."""
    rid = request.get("id")
    if request.get("type") != "query":
        return {"type": "error", "id": rid,
                "reason": f"unknown request type {request.get('type')!r}"}
    try:
        here = IPv4Address(request.get("address", "0.0.0.0"))
    except ValueError:
        return {"type": "error", "id": rid, "reason": f"bad address {request.get('address')!r}"}
    ctns = [n for n in networks if here not in IPv4Network(n["subnet"])]
    return {"type": "answer", "id": rid, "ctns": ctns}


class InformationServer(UdpServer):
    name = "info-server"

    def __init__(self, address: str, port: int, networks: list[dict], log: EventLog):
        super().__init__(address, port)
        self.networks, self.log = networks, log

    def datagram(self, data: bytes, peer: tuple[str, int], ancillary: list) -> None:
        try:
            request = json.loads(data)
            if not isinstance(request, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            self.log.emit("discovery_answered", "discovery", error=str(exc))
            return
        reply = answer(self.networks, request)
        self.sock.sendto(json.dumps(reply).encode(), peer)
        self.log.emit("discovery_answered", "discovery", mn=request.get("mn"),
                      address=peer[0], ctns=[c["name"] for c in reply.get("ctns", [])])


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
                    reply = json.loads(s.recv(MAX_DATAGRAM))
                except (OSError, ValueError):
                    continue
                if isinstance(reply, dict) and reply.get("id") == rid:
                    return reply
    raise TimeoutError(f"no answer from the information server {server[0]}:{server[1]} "
                       f"in {timeout:g}s")
