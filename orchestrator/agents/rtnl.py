"""A minimal rtnetlink client (standard library only): what a handover changes in a host's
IPv4 configuration, without forking `ip`.

RFC 6252 s6.3 step 6 (post-switching): the MN puts the cached nCoA on its interface, points
its default route at the nAR and installs the neighbour mappings learnt at discovery
(Appendix B); the nAR withdraws the tunnel's route. Forking `ip -batch` costs milliseconds;
the same changes as netlink messages on an open socket cost a fraction of one.

Who does what:
- the module-level functions are pure: they pack the kernel's structures (nlmsghdr,
  ifaddrmsg, rtmsg, ndmsg, fib_rule_hdr, rtattr TLVs aligned to 4 octets) into request
  bytes, and unpack answers (`parse_messages`, `parse_attrs`, `parse_ifaddr`,
  `parse_neigh`, `parse_error`); they are tested byte for byte without root;
- `Rtnl` owns one NETLINK_ROUTE socket in the network namespace of the calling process,
  sends one request at a time with NLM_F_ACK and waits for the kernel's answer; a non-zero
  NLMSG_ERROR becomes an `RtnlError` (an OSError with the errno) naming the operation and
  its arguments, plus the kernel's extended-ack text when there is one.

The requests are those iproute2 6.1 sends for the equivalent commands (checked with strace):
`addr_add` = `ip addr add A/N dev X` (IFA_LOCAL and IFA_ADDRESS, no broadcast unless asked,
like `brd +`), `route_replace` = `ip route replace D [via G] [dev X] [table T]`,
`neigh_replace` = `ip neigh replace A lladdr M dev X nud S`, `neigh_flush` = `ip neigh
flush dev X` for IPv4 (every entry neither PERMANENT nor NOARP), `rule_del` = `ip rule del
from S table T`. Big-endian only where the wire says so (addresses); netlink headers are in
host order.
"""
from __future__ import annotations

import errno as errnos
import ipaddress
import os
import socket
import struct
from typing import NamedTuple

from ..protocols.errors import ProtocolError

# <linux/netlink.h>
NLMSG_NOOP, NLMSG_ERROR, NLMSG_DONE = 1, 2, 3
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_ACK = 0x01, 0x02, 0x04
NLM_F_DUMP = 0x300                                  # NLM_F_ROOT | NLM_F_MATCH
NLM_F_REPLACE, NLM_F_EXCL, NLM_F_CREATE = 0x100, 0x200, 0x400
NLM_F_CAPPED, NLM_F_ACK_TLVS = 0x100, 0x200         # flags of an NLMSG_ERROR
ACKED = NLM_F_REQUEST | NLM_F_ACK                   # every change the client makes
NLMSGERR_ATTR_MSG = 1
SOL_NETLINK, NETLINK_CAP_ACK, NETLINK_EXT_ACK = 270, 10, 11
# <linux/rtnetlink.h>, <linux/if_addr.h>, <linux/neighbour.h>, <linux/fib_rules.h>
RTM_NEWLINK = 16
RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 20, 21, 22
RTM_NEWROUTE, RTM_DELROUTE = 24, 25
RTM_NEWNEIGH, RTM_DELNEIGH, RTM_GETNEIGH = 28, 29, 30
RTM_DELRULE = 33
IFA_ADDRESS, IFA_LOCAL, IFA_BROADCAST = 1, 2, 4
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_TABLE = 1, 4, 5, 15
NDA_DST, NDA_LLADDR, NDA_IFINDEX = 1, 2, 8
FRA_SRC, FRA_TABLE = 2, 15
RT_TABLE_UNSPEC, RT_TABLE_MAIN = 0, 254
RT_SCOPE_UNIVERSE, RT_SCOPE_LINK, RT_SCOPE_HOST, RT_SCOPE_NOWHERE = 0, 253, 254, 255
RTPROT_UNSPEC, RTPROT_BOOT = 0, 3
RTN_UNSPEC, RTN_UNICAST = 0, 1
NUD_NONE, NUD_REACHABLE, NUD_STALE, NUD_NOARP, NUD_PERMANENT = 0x00, 0x02, 0x04, 0x40, 0x80
NUD_STATES = {"reachable": NUD_REACHABLE, "stale": NUD_STALE, "permanent": NUD_PERMANENT}

NLMSGHDR = struct.Struct("=IHHII")      # len, type, flags, seq, pid
IFADDRMSG = struct.Struct("=BBBBI")     # family, prefixlen, flags, scope, index
IFINFOMSG = struct.Struct("=BxHiII")    # family, type, index, flags, change
IFF_UP = 0x1
RTMSG = struct.Struct("=BBBBBBBBI")     # family, dst_len, src_len, tos, table, protocol,
                                        # scope, type, flags
NDMSG = struct.Struct("=BxxxiHBB")      # family, (pad), ifindex, state, flags, type
FIB_RULE_HDR = struct.Struct("=BBBBBBBBI")  # family, dst_len, src_len, tos, table, res1,
                                            # res2, action, flags
RTATTR = struct.Struct("=HH")           # len, type
ERRNO = struct.Struct("=i")
U32 = struct.Struct("=I")


class RtnlError(OSError):
    """The kernel refused a request (or the interface does not exist): errno + what was asked."""


class Message(NamedTuple):
    type: int
    flags: int
    seq: int
    pid: int
    body: bytes


# -- pure: building ---------------------------------------------------------------------------
def align(n: int) -> int:
    """NLMSG_ALIGN / RTA_ALIGN: round up to 4 octets."""
    return (n + 3) & ~3


def rtattr(kind: int, data: bytes) -> bytes:
    """One attribute: header, payload, zero padding to 4 octets (rta_len excludes it)."""
    length = RTATTR.size + len(data)
    return RTATTR.pack(length, kind) + data + bytes(align(length) - length)


def nlmsg(kind: int, flags: int, seq: int, body: bytes, pid: int = 0) -> bytes:
    """A netlink message: nlmsghdr + `body` (already aligned by its parts)."""
    return NLMSGHDR.pack(NLMSGHDR.size + len(body), kind, flags, seq, pid) + body


def ipv4(address: str) -> bytes:
    return ipaddress.IPv4Address(address).packed


def prefix(cidr: str) -> tuple[bytes, int]:
    """'a.b.c.d/len' (len defaults to 32) -> (address octets, len), host bits kept as given
    so that the kernel, like with `ip`, decides what it accepts."""
    iface = ipaddress.IPv4Interface(cidr)
    return iface.ip.packed, iface.network.prefixlen


def lladdr(mac: str) -> bytes:
    octets = bytes.fromhex(mac.replace(":", "").replace("-", ""))
    if len(octets) != 6:
        raise ValueError(f"not a MAC address: {mac!r}")
    return octets


def link_request(seq: int, index: int, up: bool) -> bytes:
    """RTM_NEWLINK as `ip link set dev X up|down` sends it: only IFF_UP changes."""
    body = IFINFOMSG.pack(socket.AF_UNSPEC, 0, index, IFF_UP if up else 0, IFF_UP)
    return nlmsg(RTM_NEWLINK, ACKED, seq, body)


def addr_request(kind: int, flags: int, seq: int, index: int, cidr: str,
                 broadcast: bool = False) -> bytes:
    """RTM_NEWADDR / RTM_DELADDR for an IPv4 address as `ip addr add|del CIDR dev X` sends it:
    IFA_LOCAL and IFA_ADDRESS both the address; IFA_BROADCAST (the prefix's last address,
    for prefixes shorter than /31) only with `broadcast` (`brd +`). Scope host for
    127.0.0.0/8, global otherwise (iproute2's default_scope)."""
    local, plen = prefix(cidr)
    scope = RT_SCOPE_HOST if local[0] == 127 else RT_SCOPE_UNIVERSE
    body = IFADDRMSG.pack(socket.AF_INET, plen, 0, scope, index)
    body += rtattr(IFA_LOCAL, local) + rtattr(IFA_ADDRESS, local)
    if broadcast and plen < 31:
        net = ipaddress.IPv4Interface(cidr).network
        body += rtattr(IFA_BROADCAST, net.broadcast_address.packed)
    return nlmsg(kind, flags, seq, body)


def route_request(kind: int, flags: int, seq: int, dst: str, gateway: str | None = None,
                  oif: int | None = None, table: int = RT_TABLE_MAIN) -> bytes:
    """RTM_NEWROUTE / RTM_DELROUTE for an IPv4 unicast route ('default' = 0.0.0.0/0).
    New: protocol boot, type unicast, scope universe with a gateway, link without.
    Delete: protocol, type unspecified and scope nowhere (match any), as iproute2 does.
    Tables above 255 go in RTA_TABLE with rtm_table RT_TABLE_UNSPEC."""
    address, plen = (bytes(4), 0) if dst == "default" else prefix(dst)
    if kind == RTM_DELROUTE:
        protocol, scope, rtype = RTPROT_UNSPEC, RT_SCOPE_NOWHERE, RTN_UNSPEC
    else:
        protocol, rtype = RTPROT_BOOT, RTN_UNICAST
        scope = RT_SCOPE_UNIVERSE if gateway else RT_SCOPE_LINK
    body = RTMSG.pack(socket.AF_INET, plen, 0, 0, table if table < 256 else RT_TABLE_UNSPEC,
                      protocol, scope, rtype, 0)
    if table >= 256:
        body += rtattr(RTA_TABLE, U32.pack(table))
    if plen:
        body += rtattr(RTA_DST, address)
    if gateway:
        body += rtattr(RTA_GATEWAY, ipv4(gateway))
    if oif is not None:
        body += rtattr(RTA_OIF, U32.pack(oif))
    return nlmsg(kind, flags, seq, body)


def neigh_request(kind: int, flags: int, seq: int, index: int, address: bytes,
                  state: int = NUD_NONE, mac: bytes | None = None, ntf: int = 0,
                  ntype: int = RTN_UNSPEC) -> bytes:
    """RTM_NEWNEIGH / RTM_DELNEIGH for an IPv4 neighbour: NDA_DST (+ NDA_LLADDR)."""
    body = NDMSG.pack(socket.AF_INET, index, state, ntf, ntype) + rtattr(NDA_DST, address)
    if mac is not None:
        body += rtattr(NDA_LLADDR, mac)
    return nlmsg(kind, flags, seq, body)


def rule_request(kind: int, flags: int, seq: int, src: str, table: int) -> bytes:
    """RTM_NEWRULE / RTM_DELRULE `from SRC table T` (action unspecified: any)."""
    address, plen = prefix(src)
    body = FIB_RULE_HDR.pack(socket.AF_INET, 0, plen, 0,
                             table if table < 256 else RT_TABLE_UNSPEC, 0, 0, 0, 0)
    body += rtattr(FRA_SRC, address) + rtattr(FRA_TABLE, U32.pack(table))
    return nlmsg(kind, flags, seq, body)


def dump_request(kind: int, seq: int, index: int = 0) -> bytes:
    """RTM_GETADDR / RTM_GETNEIGH dump of the IPv4 family. For neighbours NDA_IFINDEX asks
    the kernel to filter by interface (as `ip neigh` does); callers filter again."""
    if kind == RTM_GETADDR:
        body = IFADDRMSG.pack(socket.AF_INET, 0, 0, 0, 0)
    elif kind == RTM_GETNEIGH:
        body = NDMSG.pack(socket.AF_INET, 0, 0, 0, 0)
        if index:
            body += rtattr(NDA_IFINDEX, U32.pack(index))
    else:
        raise ValueError(f"no dump request for message type {kind}")
    return nlmsg(kind, NLM_F_REQUEST | NLM_F_DUMP, seq, body)


# -- pure: parsing ----------------------------------------------------------------------------
def parse_messages(data: bytes) -> list[Message]:
    """Split a datagram into netlink messages (stops at a truncated or malformed one)."""
    out, at = [], 0
    while at + NLMSGHDR.size <= len(data):
        length, kind, flags, seq, pid = NLMSGHDR.unpack_from(data, at)
        if length < NLMSGHDR.size or at + length > len(data):
            break
        out.append(Message(kind, flags, seq, pid, data[at + NLMSGHDR.size:at + length]))
        at += align(length)
    return out


def parse_attrs(data: bytes) -> dict[int, bytes]:
    """rtattr TLVs -> {type: payload} (nested/flag bits of the type masked off; last wins)."""
    out, at = {}, 0
    while at + RTATTR.size <= len(data):
        length, kind = RTATTR.unpack_from(data, at)
        if length < RTATTR.size or at + length > len(data):
            break
        out[kind & 0x3FFF] = data[at + RTATTR.size:at + length]
        at += align(length)
    return out


def _short(body: bytes, header: struct.Struct, what: str) -> None:
    if len(body) < header.size:
        raise ProtocolError(f"{what} of {len(body)} octets is shorter than its header")


def parse_ifaddr(body: bytes) -> dict:
    """An RTM_NEWADDR body -> {family, prefixlen, flags, scope, index, attrs, local}."""
    _short(body, IFADDRMSG, "RTM_NEWADDR")
    family, plen, flags, scope, index = IFADDRMSG.unpack_from(body)
    attrs = parse_attrs(body[IFADDRMSG.size:])
    raw = attrs.get(IFA_LOCAL, attrs.get(IFA_ADDRESS))
    if family == socket.AF_INET and raw and len(raw) != 4:
        raise ProtocolError(f"IPv4 IFA_LOCAL of {len(raw)} octets")
    local = str(ipaddress.IPv4Address(raw)) if family == socket.AF_INET and raw else None
    return {"family": family, "prefixlen": plen, "flags": flags, "scope": scope,
            "index": index, "attrs": attrs, "local": local}


def parse_neigh(body: bytes) -> dict:
    """An RTM_NEWNEIGH body -> {family, index, state, flags, type, attrs}."""
    _short(body, NDMSG, "RTM_NEWNEIGH")
    family, index, state, flags, ntype = NDMSG.unpack_from(body)
    return {"family": family, "index": index, "state": state, "flags": flags, "type": ntype,
            "attrs": parse_attrs(body[NDMSG.size:])}


def parse_error(msg: Message) -> tuple[int, str]:
    """An NLMSG_ERROR -> (errno, the kernel's extended-ack text or ''); errno 0 is an ack.
    The error echoes the request's header, and its payload unless NLM_F_CAPPED; extended
    ack attributes follow when NLM_F_ACK_TLVS is set."""
    _short(msg.body, ERRNO, "NLMSG_ERROR")
    (error,) = ERRNO.unpack_from(msg.body)
    at = ERRNO.size + NLMSGHDR.size
    if not msg.flags & NLM_F_CAPPED and len(msg.body) >= at:
        (orig_len,) = U32.unpack_from(msg.body, ERRNO.size)
        at = ERRNO.size + align(orig_len)
    text = ""
    if msg.flags & NLM_F_ACK_TLVS:
        raw = parse_attrs(msg.body[at:]).get(NLMSGERR_ATTR_MSG, b"")
        text = raw.split(b"\0", 1)[0].decode(errors="replace")
    return -error, text


# -- the client -------------------------------------------------------------------------------
class Rtnl:
    """One NETLINK_ROUTE socket in the caller's network namespace; one request at a time."""

    BUFSIZE = 1 << 16

    def __init__(self, timeout: float = 5.0):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                                  socket.NETLINK_ROUTE)
        try:
            for opt in (NETLINK_CAP_ACK, NETLINK_EXT_ACK):
                try:
                    self.sock.setsockopt(SOL_NETLINK, opt, 1)
                except OSError:
                    pass                       # old kernels: plain acks are enough
            self.sock.bind((0, 0))
            self.sock.settimeout(timeout)
            self.pid = self.sock.getsockname()[0]
        except BaseException:
            self.sock.close()
            raise
        self.seq = int.from_bytes(os.urandom(3), "little")

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Rtnl:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- transport ----------------------------------------------------------------------------
    def _next_seq(self) -> int:
        self.seq = (self.seq + 1) & 0xFFFFFFFF
        return self.seq

    def _answers(self, request: bytes, seq: int, what: str):
        """Send `request`; yield the answers carrying its sequence number."""
        try:
            self.sock.sendto(request, (0, 0))
            while True:
                for msg in parse_messages(self.sock.recv(self.BUFSIZE)):
                    if msg.seq == seq and msg.pid == self.pid:
                        yield msg
        except socket.timeout:
            raise RtnlError(errnos.ETIMEDOUT, f"{what}: no answer from the kernel") from None
        except OSError as exc:
            raise RtnlError(exc.errno, f"{what}: {exc.strerror}") from None

    @staticmethod
    def _error(code: int, text: str, what: str) -> RtnlError:
        reason = os.strerror(code) + (f" ({text})" if text else "")
        return RtnlError(code, f"{what}: {reason}")

    def _request(self, build, what: str) -> None:
        """Send `build(seq)` (a request with NLM_F_ACK); wait for its ack."""
        seq = self._next_seq()
        for msg in self._answers(build(seq), seq, what):
            if msg.type == NLMSG_ERROR:
                code, text = parse_error(msg)
                if code:
                    raise self._error(code, text, what)
                return

    def _dump(self, kind: int, what: str, index: int = 0) -> list[Message]:
        """All the messages of a dump, up to NLMSG_DONE (which may carry an error)."""
        seq = self._next_seq()
        out = []
        for msg in self._answers(dump_request(kind, seq, index), seq, what):
            if msg.type == NLMSG_DONE:
                (code,) = ERRNO.unpack_from(msg.body) if len(msg.body) >= 4 else (0,)
                if code:
                    raise self._error(-code, "", what)
                return out
            if msg.type == NLMSG_ERROR:
                code, text = parse_error(msg)
                raise self._error(code or errnos.EPROTO, text, what)
            out.append(msg)
        return out

    # -- interfaces and addresses -------------------------------------------------------------
    def ifindex(self, name: str) -> int:
        try:
            return socket.if_nametoindex(name)
        except OSError as exc:
            code = exc.errno or errnos.ENODEV
            raise RtnlError(code, f"ifindex({name!r}): {os.strerror(code)}") from None

    def link_set(self, ifname: str, up: bool) -> None:
        """`ip link set dev IFNAME up|down`."""
        what = f"link_set({ifname!r}, {'up' if up else 'down'})"
        index = self._index(ifname, what)
        self._request(lambda seq: link_request(seq, index, up), what)

    def addr_add(self, ifname: str, cidr: str, broadcast: bool = False) -> None:
        """`ip addr add CIDR dev IFNAME` (`brd +` with `broadcast`)."""
        what = f"addr_add({ifname!r}, {cidr!r})"
        index = self._index(ifname, what)
        self._request(lambda seq: addr_request(
            RTM_NEWADDR, ACKED | NLM_F_CREATE | NLM_F_EXCL, seq, index, cidr,
            broadcast), what)

    def addr_del(self, ifname: str, cidr: str) -> None:
        what = f"addr_del({ifname!r}, {cidr!r})"
        index = self._index(ifname, what)
        self._request(lambda seq: addr_request(RTM_DELADDR, ACKED, seq, index, cidr),
                      what)

    def _ifaddrs(self, ifname: str, what: str) -> list[dict]:
        index = self._index(ifname, what)
        found = (parse_ifaddr(m.body) for m in self._dump(RTM_GETADDR, what)
                 if m.type == RTM_NEWADDR)
        return [a for a in found if a["index"] == index and a["family"] == socket.AF_INET]

    def addrs(self, ifname: str) -> list[str]:
        """The interface's IPv4 addresses, 'a.b.c.d/len', in the kernel's order."""
        return [f"{a['local']}/{a['prefixlen']}"
                for a in self._ifaddrs(ifname, f"addrs({ifname!r})")]

    def addr_flush(self, ifname: str) -> None:
        """Delete every IPv4 address of the interface. Secondaries go first (the kernel's
        order is primaries first); one already gone with its primary is not an error."""
        what = f"addr_flush({ifname!r})"
        for a in reversed(self._ifaddrs(ifname, what)):
            def build(seq, a=a):
                body = IFADDRMSG.pack(socket.AF_INET, a["prefixlen"], 0, a["scope"],
                                      a["index"])
                body += b"".join(rtattr(k, a["attrs"][k]) for k in (IFA_LOCAL, IFA_ADDRESS)
                                 if k in a["attrs"])
                return nlmsg(RTM_DELADDR, ACKED, seq, body)
            try:
                self._request(build, f"{what} deleting {a['local']}/{a['prefixlen']}")
            except RtnlError as exc:
                if exc.errno != errnos.EADDRNOTAVAIL:
                    raise

    # -- routes, neighbours, rules ------------------------------------------------------------
    def route_replace(self, dst: str, gateway: str | None = None, ifname: str | None = None,
                      table: int = RT_TABLE_MAIN) -> None:
        """`ip route replace DST [via GATEWAY] [dev IFNAME] [table TABLE]`."""
        what = (f"route_replace({dst!r}, gateway={gateway!r}, ifname={ifname!r}, "
                f"table={table})")
        oif = self._index(ifname, what) if ifname else None
        self._request(lambda seq: route_request(
            RTM_NEWROUTE, ACKED | NLM_F_CREATE | NLM_F_REPLACE, seq, dst, gateway,
            oif, table), what)

    def route_del(self, dst: str, table: int = RT_TABLE_MAIN,
                  ifname: str | None = None) -> None:
        """`ip route del DST [dev IFNAME] [table TABLE]`."""
        what = f"route_del({dst!r}, table={table}, ifname={ifname!r})"
        oif = self._index(ifname, what) if ifname else None
        self._request(lambda seq: route_request(RTM_DELROUTE, ACKED, seq, dst,
                                                None, oif, table), what)

    def neigh_replace(self, ifname: str, ip: str, mac: str, state: str = "stale") -> None:
        """`ip neigh replace IP lladdr MAC dev IFNAME nud STATE`."""
        what = f"neigh_replace({ifname!r}, {ip!r}, {mac!r}, state={state!r})"
        if state not in NUD_STATES:
            raise ValueError(f"{what}: state must be one of {', '.join(NUD_STATES)}")
        index = self._index(ifname, what)
        self._request(lambda seq: neigh_request(
            RTM_NEWNEIGH, ACKED | NLM_F_CREATE | NLM_F_REPLACE, seq, index, ipv4(ip),
            NUD_STATES[state], lladdr(mac)), what)

    def neigh_del(self, ifname: str, ip: str) -> None:
        """`ip neigh del IP dev IFNAME` (also a PERMANENT entry)."""
        what = f"neigh_del({ifname!r}, {ip!r})"
        index = self._index(ifname, what)
        self._request(lambda seq: neigh_request(RTM_DELNEIGH, ACKED, seq, index, ipv4(ip)), what)

    def neigh_flush(self, ifname: str) -> None:
        """`ip -4 neigh flush dev IFNAME`: delete the entries that are neither PERMANENT nor
        NOARP (proxy entries are not in the dump). One gone meanwhile is not an error."""
        what = f"neigh_flush({ifname!r})"
        index = self._index(ifname, what)
        for m in self._dump(RTM_GETNEIGH, what, index):
            n = parse_neigh(m.body)
            if (m.type != RTM_NEWNEIGH or n["index"] != index or n["family"] != socket.AF_INET
                    or n["state"] & (NUD_PERMANENT | NUD_NOARP) or NDA_DST not in n["attrs"]):
                continue
            dst = n["attrs"][NDA_DST]
            try:
                self._request(lambda seq: neigh_request(RTM_DELNEIGH, ACKED, seq, index, dst),
                              f"{what} deleting {ipaddress.IPv4Address(dst)}")
            except RtnlError as exc:
                if exc.errno != errnos.ENOENT:
                    raise

    def rule_del(self, src: str, table: int) -> None:
        """`ip rule del from SRC table TABLE`."""
        what = f"rule_del({src!r}, {table})"
        self._request(lambda seq: rule_request(RTM_DELRULE, ACKED, seq, src, table),
                      what)

    def _index(self, ifname: str, what: str) -> int:
        try:
            return self.ifindex(ifname)
        except RtnlError as exc:
            raise RtnlError(exc.errno, f"{what}: no interface {ifname!r}") from None

