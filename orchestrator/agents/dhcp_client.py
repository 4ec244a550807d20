"""The mobile node's ordinary on-link DHCPv4 client, for the handover without MPA.

RFC 6252 C.5.1: without MPA the MN moves first, authenticates, then obtains its nCoA by DHCP
on the new link ("with DAD as configured") and only then sends the binding update; "IP
address acquisitions via DHCP incur the longest delay. This is due to the detection of
duplicate IP addresses in the network before the DHCP request completes." Appendix A puts
that detection at 4 to 15 s. Both halves of it are measured here:

- the server's check (dnsmasq pings an address before it offers it) is inside `offer_ms`;
- the client's check, RFC 5227 ARP probing of the ACKed address (`tunnel.ArpPort.dad`,
  `dad_probes` probes `dad_interval` s apart; 0 probes: none), is `dad_ms`. On a conflict
  the client sends a DHCPDECLINE (RFC 2131 s3.1 step 5) and fails.

Who does what: `OnLinkDhcpClient.acquire` runs DISCOVER/OFFER/REQUEST/ACK (RFC 2131 s4.4.1)
in raw Ethernet frames on an AF_PACKET socket bound to the interface, which has no IPv4
address yet (from 0.0.0.0:68 to 255.255.255.255:67, `protocols.dhcp.udp_frame`); it reads
the answers from the same socket, broadcast or unicast to the offered address and the MN's
MAC alike, keeping those to port 68 with its xid and MAC. It retransmits after 4 s, 8 s, ...
up to 64 s (s4.1; without the +-1 s randomization, so that runs repeat), never past
`timeout`. It does not configure the address: the caller assigns it (and may then announce
it, `ArpPort.announce`) and sends the binding update. `release` sends a DHCPRELEASE from the
leased address, so the address must still be configured on the interface.

Events (phase "post-switching"): address_request, dad_start, dad_done | dad_conflict,
address_acquired | address_failed. `release` emits none (its caller says why it releases).
"""
from __future__ import annotations

import os
import select
import socket
import time
from ipaddress import IPv4Address

from ..events import EventLog
from ..protocols import arp, dhcp
from .control import CommandError
from .tunnel import ArpPort

PHASE = "post-switching"
METHOD = "dhcp-on-link"
FIRST_RETRANSMISSION, LAST_RETRANSMISSION = 4.0, 64.0      # RFC 2131 s4.1
PACKET_OUTGOING = 4                     # linux/if_packet.h: a frame this host sent
MESSAGE = 56                            # RFC 2132 s9.9: the server's reason, in a DHCPNAK


def reply_for(frame: bytes, xid: int, mac: bytes) -> dhcp.DhcpMessage | None:
    """The DHCP reply in `frame` if it is one for this client (UDP to port 68, BOOTREPLY,
    our xid and MAC), else None."""
    try:
        port, payload = dhcp.parse_udp_frame(frame)
        if port != dhcp.CLIENT_PORT:
            return None
        msg = dhcp.decode(payload)
    except dhcp.ProtocolError:
        return None
    if msg.op != dhcp.BOOTREPLY or msg.xid != xid or msg.chaddr != mac:
        return None
    return msg


class OnLinkDhcpClient:
    """DHCPv4 on the MN's new link after the move (see the module docstring)."""

    def __init__(self, iface: str, mac: str, log: EventLog, broadcast: bool = True):
        """`mac`: the interface's MAC (chaddr, client identifier type 1 + MAC, the address
        unicast answers go to). `broadcast`: ask the server to broadcast its answers (RFC
        2131 s4.1); either way they are read."""
        self.iface, self.mac, self.log, self.broadcast = iface, arp.mac_bytes(mac), log, broadcast
        self.sent = 0

    # -- one exchange ---------------------------------------------------------------------
    def _socket(self) -> socket.socket:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)   # nothing until bound
        try:
            s.bind((self.iface, dhcp.ETH_P_IP))
        except OSError:
            s.close()
            raise
        return s

    def _send(self, s: socket.socket, msg: dhcp.DhcpMessage) -> None:
        s.send(dhcp.udp_frame(dhcp.encode(msg), self.mac))
        self.sent += 1

    def _exchange(self, s: socket.socket, msg: dhcp.DhcpMessage, expect: set,
                  deadline: float) -> dhcp.DhcpMessage:
        """Send `msg`, retransmitting (s4.1), until a reply of a type in `expect` comes."""
        wait = FIRST_RETRANSMISSION
        while (now := time.perf_counter()) < deadline:
            self._send(s, msg)
            until = min(deadline, now + wait)
            while (left := until - time.perf_counter()) > 0:
                if not select.select([s], [], [], left)[0]:
                    break
                frame, addr = s.recvfrom(65535)
                if addr[2] == PACKET_OUTGOING:
                    continue
                reply = reply_for(frame, msg.xid, self.mac)
                if reply is not None and reply.message_type in expect:
                    return reply
            wait = min(wait * 2, LAST_RETRANSMISSION)
        names = "/".join(t.name for t in sorted(expect))
        raise TimeoutError(f"no DHCP{names} on {self.iface} ({self.sent} messages sent)")

    # -- the acquisition ------------------------------------------------------------------
    def acquire(self, timeout: float, dad_probes: int, dad_interval: float) -> dict:
        """An address by DHCP on the link, checked by ARP probing: {address, prefixlen (None
        without a subnet mask option), router, server, lease_time, offer_ms, ack_ms, dad_ms,
        sent}. Raises CommandError (after address_failed) when it gets none."""
        deadline = time.perf_counter() + timeout
        xid = int.from_bytes(os.urandom(4), "big")
        self.sent = 0
        self.log.emit("address_request", PHASE, method=METHOD, iface=self.iface, xid=xid)
        try:
            with self._socket() as s:
                t0 = time.perf_counter()
                offer = self._exchange(s, dhcp.discover_onlink(
                    self.mac, xid, broadcast=self.broadcast), {dhcp.MessageType.OFFER}, deadline)
                t1 = time.perf_counter()
                ack = self._exchange(s, dhcp.request_onlink(
                    offer, self.mac, xid, broadcast=self.broadcast),
                    {dhcp.MessageType.ACK, dhcp.MessageType.NAK}, deadline)
                t2 = time.perf_counter()
                if ack.message_type == dhcp.MessageType.NAK:
                    server = IPv4Address(offer.option(dhcp.Option.SERVER_ID))
                    text = (ack.option(MESSAGE) or b"").decode(errors="replace")
                    raise CommandError(f"DHCPNAK from {server}" + (f": {text}" if text else ""))
                lease = dhcp.lease_from_ack(ack)
                dad_ms = self._dad(s, lease, dad_probes, dad_interval)
        except (TimeoutError, OSError, CommandError, dhcp.ProtocolError) as exc:
            self.log.emit("address_failed", PHASE, method=METHOD, iface=self.iface,
                          reason=str(exc))
            raise CommandError(f"no address by DHCP on {self.iface}: {exc}") from None
        info = {"address": str(lease.address),
                "prefixlen": lease.network.prefixlen if lease.network else None,
                "router": str(lease.router) if lease.router else None,
                "server": str(lease.server_id or IPv4Address(offer.option(
                    dhcp.Option.SERVER_ID))),                   # the ACK should name it too
                "lease_time": lease.lease_time, "offer_ms": (t1 - t0) * 1000,
                "ack_ms": (t2 - t1) * 1000, "dad_ms": dad_ms, "sent": self.sent}
        self.log.emit("address_acquired", PHASE, ncoa=info["address"], router=info["router"],
                      method=METHOD, offer_ms=info["offer_ms"], ack_ms=info["ack_ms"],
                      server=info["server"], lease_time=info["lease_time"], dad_ms=dad_ms,
                      prefixlen=info["prefixlen"], sent=self.sent)
        return info

    def _dad(self, s: socket.socket, lease: dhcp.Lease, probes: int, interval: float) -> float:
        """RFC 5227 probing of the ACKed address (none for 0 probes): milliseconds spent. On a
        conflict: DHCPDECLINE, then CommandError."""
        if probes <= 0:
            return 0.0
        ncoa = str(lease.address)
        self.log.emit("dad_start", PHASE, ncoa=ncoa, probes=probes, interval_s=interval,
                      iface=self.iface)
        t0 = time.perf_counter()
        unique, by = ArpPort(self.iface).dad(ncoa, probes, interval)
        dad_ms = (time.perf_counter() - t0) * 1000
        if unique:
            self.log.emit("dad_done", PHASE, ncoa=ncoa, unique=True, elapsed_ms=dad_ms)
            return dad_ms
        self.log.emit("dad_conflict", PHASE, ncoa=ncoa, by=by, elapsed_ms=dad_ms)
        self._send(s, dhcp.decline_onlink(lease, self.mac, int.from_bytes(os.urandom(4), "big")))
        raise CommandError(f"{ncoa} is in use by {by} (ARP); DHCPDECLINE sent to "
                           f"{lease.server_id}")

    def release(self, lease_info: dict) -> None:
        """DHCPRELEASE (RFC 2131 s4.4.6) of an address `acquire` returned: unicast UDP from
        the address, port 68, to the server's port 67. The address must still be configured
        on the interface (the socket is bound to it), with a route to the server. No answer
        comes (s4.4.6); OSError when the address is gone."""
        lease = dhcp.Lease(IPv4Address(lease_info["address"]),
                           IPv4Address(lease_info["server"]) if lease_info.get("server")
                           else None, None, None, None)
        msg = dhcp.release_onlink(lease, self.mac, int.from_bytes(os.urandom(4), "big"))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, self.iface.encode())
            s.bind((str(lease.address), dhcp.CLIENT_PORT))
            s.sendto(dhcp.encode(msg), (str(lease.server_id), dhcp.SERVER_PORT))
