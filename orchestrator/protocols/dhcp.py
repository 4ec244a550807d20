"""DHCPv4 messages for proactive address acquisition from a remote network (pure).

RFC 6252 s7.3.3: "The mobile node sends a unicast DHCP message to the DHCP relay agent or
DHCP server in the CTN requesting an address, while using the address associated with the
current physical interface as the source address of the request"; the broadcast bit is 0 so
that the answer comes back unicast. A server sends its answers for a client that is not on
its link to a relay agent (giaddr, RFC 2131 s4.1), so the MN acts as its own relay agent:
giaddr = its current address (oCoA), sent from port 67, and the Subnet Selection option
(RFC 3011, option 118) names the CTN's subnet, since giaddr is not in it. The client
identifier (option 61: type 1 + MAC) is the one the MN uses after the move as well (s7.3.3
last paragraph), so the binding stays the same.

Message layout (RFC 2131 s2, network byte order)::

    0 op  1 htype  2 hlen  3 hops  4 xid(4)  8 secs(2)  10 flags(2)
    12 ciaddr  16 yiaddr  20 siaddr  24 giaddr  28 chaddr(16)  44 sname(64)  108 file(128)
    236 magic cookie 99.130.83.99   240 options (code, length, value) ... 255 end

Requests are padded to 300 octets (the BOOTP minimum, RFC 1542 s2.1). Decoding joins
repeated options (RFC 3396) and reads the sname/file fields when Option Overload (52) says
so. Malformed input raises `ProtocolError`.

Without MPA (RFC 6252 C.5.1) the MN obtains its address only after the move, as an ordinary
on-link client (RFC 2131 s4.4.1): `discover_onlink`, `request_onlink` (SELECTING state),
`decline_onlink` after a failed address conflict check, `release_onlink`. Having no address
yet, it sends them from 0.0.0.0:68 to 255.255.255.255:67 in a frame of its own
(`udp_frame`) and reads the answers from frames (`parse_udp_frame`)::

    Ethernet II: dst(6) src(6) type 0x0800
    IPv4 (RFC 791): ver/ihl 0x45, tos, total length, id, flags/fragment, ttl, protocol 17,
                    header checksum, src, dst
    UDP (RFC 768): src port, dst port, length, checksum (over the pseudo-header)
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field, replace
from enum import IntEnum
from ipaddress import IPv4Address, IPv4Network

from .checksum import internet_checksum
from .errors import ProtocolError

__all__ = ["BOOTREQUEST", "BOOTREPLY", "MessageType", "Option", "DhcpMessage", "Lease",
           "encode", "decode", "discover", "request", "release", "lease_from_ack",
           "client_id_for", "discover_onlink", "request_onlink", "decline_onlink",
           "release_onlink", "udp_frame", "parse_udp_frame", "internet_checksum",
           "ProtocolError"]

BOOTREQUEST, BOOTREPLY = 1, 2
MAGIC = b"\x63\x82\x53\x63"
SERVER_PORT, CLIENT_PORT = 67, 68
MIN_LENGTH = 300
_HEAD = struct.Struct("!BBBBIHH4s4s4s4s16s64s128s")    # 236 octets


class MessageType(IntEnum):
    DISCOVER = 1
    OFFER = 2
    REQUEST = 3
    DECLINE = 4
    ACK = 5
    NAK = 6
    RELEASE = 7
    INFORM = 8


class Option(IntEnum):
    PAD = 0
    SUBNET_MASK = 1
    ROUTER = 3
    HOST_NAME = 12
    REQUESTED_IP = 50
    LEASE_TIME = 51
    OVERLOAD = 52
    MESSAGE_TYPE = 53
    SERVER_ID = 54
    PARAMETER_REQUEST_LIST = 55
    RENEWAL_T1 = 58
    REBINDING_T2 = 59
    CLIENT_ID = 61
    SUBNET_SELECTION = 118
    END = 255


@dataclass(frozen=True)
class DhcpMessage:
    op: int
    xid: int
    chaddr: bytes                       # 6 octets (Ethernet)
    options: tuple[tuple[int, bytes], ...] = ()
    hops: int = 0
    secs: int = 0
    flags: int = 0
    ciaddr: IPv4Address = IPv4Address(0)
    yiaddr: IPv4Address = IPv4Address(0)
    siaddr: IPv4Address = IPv4Address(0)
    giaddr: IPv4Address = IPv4Address(0)
    sname: bytes = b""
    file: bytes = b""
    htype: int = 1
    hlen: int = 6

    def option(self, code: int) -> bytes | None:
        """The value of option `code` (repeated instances joined, RFC 3396), or None."""
        parts = [v for c, v in self.options if c == code]
        return b"".join(parts) if parts else None

    @property
    def message_type(self) -> MessageType | None:
        raw = self.option(Option.MESSAGE_TYPE)
        if raw is None or len(raw) != 1:
            return None
        try:
            return MessageType(raw[0])
        except ValueError:
            return None


@dataclass(frozen=True)
class Lease:
    """What an ACK grants: the nCoA and the parameters the MN needs in the CTN."""
    address: IPv4Address
    server_id: IPv4Address | None
    lease_time: int | None
    subnet_mask: IPv4Address | None
    router: IPv4Address | None
    extra: dict = field(default_factory=dict)

    @property
    def network(self) -> IPv4Network | None:
        if self.subnet_mask is None:
            return None
        return IPv4Network(f"{self.address}/{self.subnet_mask}", strict=False)


def client_id_for(mac: bytes) -> bytes:
    """Option 61 for an Ethernet MAC: hardware type 1, then the address (RFC 2132 s9.14)."""
    return b"\x01" + bytes(mac)


def _encode_options(options) -> bytes:
    out = bytearray()
    for code, value in options:
        value = bytes(value)
        if code in (Option.PAD, Option.END):
            raise ProtocolError(f"option {code} is not a TLV")
        if not 0 < code < 255:
            raise ProtocolError(f"option code {code} out of range")
        for i in range(0, max(len(value), 1), 255):      # RFC 3396: split long values
            chunk = value[i:i + 255]
            out += bytes([code, len(chunk)]) + chunk
    out.append(Option.END)
    return bytes(out)


def encode(msg: DhcpMessage, pad_to: int = MIN_LENGTH) -> bytes:
    if len(msg.chaddr) > 16 or len(msg.sname) > 64 or len(msg.file) > 128:
        raise ProtocolError("chaddr, sname or file too long")
    try:
        head = _HEAD.pack(msg.op, msg.htype, msg.hlen, msg.hops, msg.xid, msg.secs, msg.flags,
                          msg.ciaddr.packed, msg.yiaddr.packed, msg.siaddr.packed,
                          msg.giaddr.packed, bytes(msg.chaddr).ljust(16, b"\0"),
                          msg.sname.ljust(64, b"\0"), msg.file.ljust(128, b"\0"))
    except struct.error as exc:
        raise ProtocolError(f"DHCP field out of range: {exc}") from None
    data = head + MAGIC + _encode_options(msg.options)
    return data.ljust(pad_to, b"\0")


def _parse_options(raw: bytes, where: str) -> tuple[list[tuple[int, bytes]], bool]:
    """(options, whether END was seen) of one option area."""
    out, i = [], 0
    while i < len(raw):
        code = raw[i]
        if code == Option.PAD:
            i += 1
            continue
        if code == Option.END:
            return out, True
        if i + 1 >= len(raw):
            raise ProtocolError(f"DHCP option {code} in {where} has no length octet")
        n = raw[i + 1]
        if i + 2 + n > len(raw):
            raise ProtocolError(f"DHCP option {code} in {where}: length {n} runs past the end")
        out.append((code, raw[i + 2:i + 2 + n]))
        i += 2 + n
    return out, False


def decode(data: bytes) -> DhcpMessage:
    data = bytes(data)
    if len(data) < _HEAD.size + len(MAGIC):
        raise ProtocolError(f"DHCP message of {len(data)} octets is shorter than "
                            f"{_HEAD.size + len(MAGIC)}")
    (op, htype, hlen, hops, xid, secs, flags, ciaddr, yiaddr, siaddr, giaddr, chaddr, sname,
     file) = _HEAD.unpack_from(data)
    if op not in (BOOTREQUEST, BOOTREPLY):
        raise ProtocolError(f"DHCP op {op} is neither BOOTREQUEST nor BOOTREPLY")
    if hlen > 16:
        raise ProtocolError(f"DHCP hlen {hlen} exceeds the 16-octet chaddr field")
    if data[_HEAD.size:_HEAD.size + 4] != MAGIC:
        raise ProtocolError("no DHCP magic cookie (a plain BOOTP message)")
    options, ended = _parse_options(data[_HEAD.size + 4:], "options")
    if not ended:
        raise ProtocolError("DHCP options have no END option")
    overload = [v for c, v in options if c == Option.OVERLOAD]
    if overload:
        if len(overload[0]) != 1 or overload[0][0] not in (1, 2, 3):
            raise ProtocolError("malformed Option Overload")
        if overload[0][0] & 1:
            options += _parse_options(file, "file")[0]
        if overload[0][0] & 2:
            options += _parse_options(sname, "sname")[0]
        sname = file = b""
    return DhcpMessage(op, xid, chaddr[:hlen], tuple(options), hops, secs, flags,
                       IPv4Address(ciaddr), IPv4Address(yiaddr), IPv4Address(siaddr),
                       IPv4Address(giaddr), sname.rstrip(b"\0"), file.rstrip(b"\0"), htype,
                       hlen)


PARAMETERS = bytes([Option.SUBNET_MASK, Option.ROUTER, Option.LEASE_TIME, Option.SERVER_ID])


def _client_message(mtype: MessageType, mac: bytes, xid: int, client_id: bytes | None,
                    extra: list, **fields) -> DhcpMessage:
    """A BOOTREQUEST: message type, client identifier, then `extra` options."""
    options = ((Option.MESSAGE_TYPE, bytes([mtype])),
               (Option.CLIENT_ID, client_id or client_id_for(mac)), *extra)
    return DhcpMessage(BOOTREQUEST, xid, bytes(mac), options, **fields)


def _relayed(mtype: MessageType, mac: bytes, xid: int, giaddr: IPv4Address,
             subnet: IPv4Network, client_id: bytes | None, extra: list, hops: int,
             ciaddr: IPv4Address = IPv4Address(0)) -> DhcpMessage:
    return _client_message(mtype, mac, xid, client_id,
                           [*extra, (Option.SUBNET_SELECTION, subnet.network_address.packed)],
                           hops=hops, flags=0, ciaddr=ciaddr, giaddr=IPv4Address(giaddr))


def discover(mac: bytes, xid: int, giaddr: IPv4Address | str, subnet: IPv4Network | str,
             client_id: bytes | None = None, hops: int = 1) -> DhcpMessage:
    """DHCPDISCOVER sent by the MN as its own relay agent (s7.3.3): broadcast bit 0, giaddr =
    oCoA, Subnet Selection = the CTN's subnet."""
    return _relayed(MessageType.DISCOVER, mac, xid, IPv4Address(giaddr), IPv4Network(subnet),
                    client_id, [(Option.PARAMETER_REQUEST_LIST, PARAMETERS)], hops)


def _selecting(offer: DhcpMessage) -> list:
    """Requested IP Address and Server Identifier of a SELECTING-state DHCPREQUEST."""
    server = offer.option(Option.SERVER_ID)
    if server is None or len(server) != 4:
        raise ProtocolError("the OFFER has no Server Identifier")
    return [(Option.REQUESTED_IP, offer.yiaddr.packed), (Option.SERVER_ID, server)]


def request(offer: DhcpMessage, mac: bytes, giaddr: IPv4Address | str,
            subnet: IPv4Network | str, client_id: bytes | None = None,
            hops: int = 1) -> DhcpMessage:
    """DHCPREQUEST (SELECTING state, RFC 2131 s4.3.2) for the address an OFFER made."""
    extra = [*_selecting(offer), (Option.PARAMETER_REQUEST_LIST, PARAMETERS)]
    return _relayed(MessageType.REQUEST, mac, offer.xid, IPv4Address(giaddr),
                    IPv4Network(subnet), client_id, extra, hops)


def release(lease: Lease, mac: bytes, xid: int, giaddr: IPv4Address | str,
            subnet: IPv4Network | str, client_id: bytes | None = None,
            hops: int = 1) -> DhcpMessage:
    """DHCPRELEASE of a proactively acquired address (ciaddr = the nCoA, RFC 2131 s4.4.6)."""
    extra = [(Option.SERVER_ID, lease.server_id.packed)] if lease.server_id else []
    return _relayed(MessageType.RELEASE, mac, xid, IPv4Address(giaddr), IPv4Network(subnet),
                    client_id, extra, hops, ciaddr=lease.address)


# -- the ordinary on-link client (no MPA: RFC 6252 C.5.1) -----------------------------------
BROADCAST_FLAG = 0x8000         # RFC 2131 s2: answer by broadcast, the client has no address yet


def discover_onlink(mac: bytes, xid: int, requested: IPv4Address | str | None = None,
                    client_id: bytes | None = None, broadcast: bool = True) -> DhcpMessage:
    """DHCPDISCOVER of a client on the server's (or a relay's) link (RFC 2131 s4.4.1): ciaddr
    and giaddr 0, optionally the address it would like (option 50, e.g. its last one)."""
    extra = [(Option.REQUESTED_IP, IPv4Address(requested).packed)] if requested else []
    return _client_message(MessageType.DISCOVER, mac, xid, client_id,
                           [*extra, (Option.PARAMETER_REQUEST_LIST, PARAMETERS)],
                           flags=BROADCAST_FLAG if broadcast else 0)


def request_onlink(offer: DhcpMessage, mac: bytes, xid: int, client_id: bytes | None = None,
                   broadcast: bool = True) -> DhcpMessage:
    """DHCPREQUEST in the SELECTING state (RFC 2131 s4.3.2, table 5): ciaddr 0, Requested IP
    Address = the offered yiaddr, Server Identifier = the offering server's, broadcast so that
    the other servers learn their offers were declined."""
    if offer.yiaddr == IPv4Address(0):
        raise ProtocolError("the OFFER offers no address (yiaddr 0.0.0.0)")
    return _client_message(MessageType.REQUEST, mac, xid, client_id,
                           [*_selecting(offer), (Option.PARAMETER_REQUEST_LIST, PARAMETERS)],
                           flags=BROADCAST_FLAG if broadcast else 0)


def _server_of(lease: Lease) -> bytes:
    if lease.server_id is None:
        raise ProtocolError(f"the lease of {lease.address} names no server (Server Identifier)")
    return lease.server_id.packed


def decline_onlink(lease: Lease, mac: bytes, xid: int,
                   client_id: bytes | None = None) -> DhcpMessage:
    """DHCPDECLINE (RFC 2131 s4.4.1, table 5): the ACKed address is in use by another host
    (RFC 5227 conflict); ciaddr 0, the address in option 50, broadcast on the link."""
    return _client_message(MessageType.DECLINE, mac, xid, client_id,
                           [(Option.REQUESTED_IP, lease.address.packed),
                            (Option.SERVER_ID, _server_of(lease))])


def release_onlink(lease: Lease, mac: bytes, xid: int,
                   client_id: bytes | None = None) -> DhcpMessage:
    """DHCPRELEASE (RFC 2131 s4.4.6): ciaddr = the leased address, unicast to the server."""
    return _client_message(MessageType.RELEASE, mac, xid, client_id,
                           [(Option.SERVER_ID, _server_of(lease))], ciaddr=lease.address)


ETH_P_IP = 0x0800
BROADCAST_MAC = b"\xff" * 6
IPPROTO_UDP = 17
_ETH = struct.Struct("!6s6sH")
_IPV4 = struct.Struct("!BBHHHBBH4s4s")          # 20 octets, no options
_UDP = struct.Struct("!HHHH")


def udp_frame(payload: bytes, src_mac: bytes, dst_mac: bytes = BROADCAST_MAC,
              src: IPv4Address | str = "0.0.0.0", dst: IPv4Address | str = "255.255.255.255",
              sport: int = CLIENT_PORT, dport: int = SERVER_PORT, ttl: int = 64,
              ident: int = 0) -> bytes:
    """An Ethernet II + IPv4 + UDP frame; by default a client's DHCP message from
    0.0.0.0:68 to the limited broadcast 255.255.255.255:67 (RFC 2131 s4.1)."""
    src, dst = IPv4Address(src).packed, IPv4Address(dst).packed
    payload = bytes(payload)
    udp_len = _UDP.size + len(payload)
    pseudo = src + dst + struct.pack("!BBH", 0, IPPROTO_UDP, udp_len)
    udp_sum = internet_checksum(pseudo + _UDP.pack(sport, dport, udp_len, 0) + payload)
    udp = _UDP.pack(sport, dport, udp_len, udp_sum or 0xFFFF) + payload   # RFC 768: 0 is "none"
    head = _IPV4.pack(0x45, 0, _IPV4.size + udp_len, ident, 0, ttl, IPPROTO_UDP, 0, src, dst)
    head = head[:10] + struct.pack("!H", internet_checksum(head)) + head[12:]
    return _ETH.pack(bytes(dst_mac), bytes(src_mac), ETH_P_IP) + head + udp


def parse_udp_frame(frame: bytes) -> tuple[int, bytes]:
    """(UDP destination port, UDP payload) of an Ethernet II + IPv4 + UDP frame. The IPv4
    header checksum is checked; the UDP checksum is not (a frame read from a veth before the
    checksum offload filled it in carries a partial one)."""
    frame = bytes(frame)
    if len(frame) < _ETH.size + _IPV4.size + _UDP.size:
        raise ProtocolError(f"frame of {len(frame)} octets is too short for IPv4/UDP")
    if _ETH.unpack_from(frame)[2] != ETH_P_IP:
        raise ProtocolError(f"EtherType 0x{_ETH.unpack_from(frame)[2]:04x} is not IPv4")
    ip = frame[_ETH.size:]
    ver_ihl, _tos, total, _id, frag, _ttl, proto = _IPV4.unpack_from(ip)[:7]
    ihl = (ver_ihl & 0x0F) * 4
    if ver_ihl >> 4 != 4 or ihl < _IPV4.size:
        raise ProtocolError(f"not an IPv4 header (version/IHL octet 0x{ver_ihl:02x})")
    if not ihl + _UDP.size <= total <= len(ip):
        raise ProtocolError(f"IPv4 total length {total} does not fit the {len(ip)}-octet "
                            f"packet with its {ihl}-octet header")
    if internet_checksum(ip[:ihl]) != 0:
        raise ProtocolError("IPv4 header checksum mismatch")
    if frag & 0x3FFF:
        raise ProtocolError("IPv4 fragment")
    if proto != IPPROTO_UDP:
        raise ProtocolError(f"IP protocol {proto} is not UDP")
    _sport, dport, udp_len, _sum = _UDP.unpack_from(ip, ihl)
    if not _UDP.size <= udp_len <= total - ihl:
        raise ProtocolError(f"UDP length {udp_len} does not fit the IPv4 packet")
    return dport, ip[ihl + _UDP.size:ihl + udp_len]


def _addr(raw: bytes | None) -> IPv4Address | None:
    return IPv4Address(raw[:4]) if raw is not None and len(raw) >= 4 else None


def _u32(raw: bytes | None) -> int | None:
    return struct.unpack("!I", raw)[0] if raw is not None and len(raw) == 4 else None


def lease_from_ack(ack: DhcpMessage) -> Lease:
    if ack.message_type != MessageType.ACK:
        raise ProtocolError(f"{ack.message_type!r} is not a DHCPACK")
    if ack.yiaddr == IPv4Address(0):
        raise ProtocolError("the DHCPACK assigns no address (yiaddr 0.0.0.0)")
    mask = _addr(ack.option(Option.SUBNET_MASK))
    if mask is not None:
        bits = int(mask)
        if bits & ((~bits & 0xFFFFFFFF) >> 1):       # a one after a zero: not contiguous
            raise ProtocolError(f"Subnet Mask option {mask} is not a contiguous netmask")
    return Lease(ack.yiaddr, _addr(ack.option(Option.SERVER_ID)),
                 _u32(ack.option(Option.LEASE_TIME)), mask,
                 _addr(ack.option(Option.ROUTER)),
                 {"t1": _u32(ack.option(Option.RENEWAL_T1)),
                  "t2": _u32(ack.option(Option.REBINDING_T2))})


def with_xid(msg: DhcpMessage, xid: int) -> DhcpMessage:
    return replace(msg, xid=xid)
