"""Pydantic models of a testbed topology (RFC 6252 s3 Figure 1, C.5.3 Figures 8 and 9).

A topology is plain data: administrative domains, networks (subnets, one broadcast domain
each), nodes by kind, and links. Building it is the network layer's job.

Kinds are the RFC's functional elements (s6.2) plus the plumbing around them. A node may
carry further roles with `colocated` (e.g. the PAA co-located on the nAR, RFC 6252 C.5.3).

Types are strict (README "Hostile input"): no boolean or digit string is taken for a count,
no integer for an address; every value that ends up in a command, a file name or a daemon's
configuration matches a strict pattern (names, realms as DNS names, NAIs, SSIDs of at most
32 octets), and emulated quantities stay within what the emulation can do.
"""
from __future__ import annotations

import re
from ipaddress import IPv4Address, IPv4Interface, IPv4Network, IPv6Address, IPv6Interface, IPv6Network
from typing import Annotated, Literal, Union

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic import PrivateAttr

from .counts import MAX_COUNT
from .movement import Length, Position, Power, Radio
from .placement import Placement
from .units import Bandwidth, Duration, Percent, at_least, at_most, format_duration

Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,19}$",
                            description="lower-case letters, digits and '-', at most 20 chars")]
Count = Annotated[int, Field(strict=True)]          # 3, never True, '3' or 3.0
Text = Annotated[str, Field(max_length=2000)]

# Emulation limits (README "Hostile input"): the userspace delay element holds packets in
# memory (MAX_DELAY); tc htb rates (MIN/MAX_BANDWIDTH, Mbit/s); timers of the agents.
MAX_DELAY = 10.0
MIN_BANDWIDTH, MAX_BANDWIDTH = 0.01, 10_000.0
MAX_TIMER = 10.0

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DNS_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\Z")
_NAI_USER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}\Z")
MAX_NAI = 253                       # one RADIUS User-Name attribute (RFC 2865 s5.1)


def _as_text(what: str):
    """Before-validator: the YAML value must be a string (never an integer for an address)."""
    def check(value):
        if not isinstance(value, str):
            raise ValueError(f"expected {what} written as text (got {type(value).__name__} "
                             f"{value!r})")
        return value
    return BeforeValidator(check)


def check_realm(value: str) -> str:
    """A realm: a DNS name (RFC 1035 s2.3.1, lower case; it goes into FreeRADIUS'
    configuration and certificate names)."""
    if len(value) > 253 or not _DNS_NAME.match(value):
        raise ValueError(f"realm {value[:80]!r} is not a DNS name: lower-case labels of "
                         "letters, digits and '-' separated by dots, like 'home.example'")
    return value


def check_nai(value: str) -> str:
    """A Network Access Identifier user@realm (RFC 7542), short enough for RADIUS."""
    user, at, realm = value.partition("@")
    if len(value.encode()) > MAX_NAI:
        raise ValueError(f"identity of {len(value.encode())} octets is longer than a RADIUS "
                         f"User-Name holds ({MAX_NAI})")
    if not at or not _NAI_USER.match(user):
        raise ValueError(f"identity {value[:80]!r} is not a NAI like 'mn@home.example' "
                         "(a user of letters, digits and '._+-', '@', a realm)")
    check_realm(realm)
    return value


def check_ssid(value: str) -> str:
    """An SSID: at most 32 octets (IEEE 802.11-2016 s9.4.2.2), printable."""
    if not value or len(value.encode()) > 32 or not value.isprintable():
        raise ValueError(f"SSID {value[:40]!r} must be 1 to 32 octets of printable text")
    return value


Realm = Annotated[str, AfterValidator(check_realm)]
Subnet = Annotated[IPv4Network, _as_text("an IPv4 subnet like '10.1.0.0/24'")]
Address = Annotated[IPv4Interface, _as_text("an IPv4 address like '10.1.0.1' or '10.1.0.1/24'")]
def _ipv6_prefix(value):
    """Before-validator: an IPv6 prefix as text, with ipaddress' reason when it is not one
    ('... has host bits set')."""
    if isinstance(value, str):
        try:
            IPv6Network(value)
        except ValueError as exc:
            raise ValueError(f"{value[:60]!r} is not an IPv6 prefix like '2001:db8:1::/64': "
                             f"{str(exc)[:120]}") from None
    return value


Prefix6 = Annotated[IPv6Network, _as_text("an IPv6 prefix like '2001:db8:1::/64'"),
                    BeforeValidator(_ipv6_prefix)]
Address6 = Annotated[IPv6Interface, _as_text("an IPv6 address like '2001:db8:1::1' or "
                                              "'2001:db8:1::1/64'")]
HomeAddress = Annotated[IPv6Address, _as_text("an IPv6 address like '2001:db8:3::100'")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


RoleName = Literal["authentication_agent", "configuration_agent", "access_router",
                   "aaa_server", "information_server", "packet_data_gateway", "home_agent"]


class Domain(Strict):
    """An administrative domain (RFC 6252 s3): authenticates and authorizes MNs."""
    realm: Realm = Field(description="NAI realm of the domain, e.g. 'a.example'")
    aaa_server: Name = Field(description="the domain's AAA server node")
    mobility_protocol: Literal["sip", "mipv6", "pmipv6", "none"] = "sip"
    description: Text = ""


# Router Advertisement interval bounds (RFC 4861 s6.2.1 MaxRtrAdvInterval >= 4 s; RFC 6275
# s7.5 lets a router serving mobile nodes go down to 30 ms)
MIN_RA_INTERVAL, MAX_RA_INTERVAL = 0.03, 1800.0


class Ipv6(Strict):
    """IPv6 on a network (RFC 8200): its on-link prefix and, when asked, Router
    Advertisements from the network's gateway (RFC 4861 s6.2) carrying the prefix with the
    on-link and autonomous flags, so that hosts configure addresses statelessly with the
    kernel's duplicate address detection (RFC 4862 s5.4)."""
    prefix: Prefix6
    router_advertisements: bool = Field(
        False, description="the gateway advertises the prefix (SLAAC needs a /64)")
    ra_interval: Annotated[Duration, at_least(MIN_RA_INTERVAL, "ra_interval"),
                           at_most(MAX_RA_INTERVAL, "ra_interval")] = Field(
        1.0, description="time between unsolicited Router Advertisements (MaxRtrAdvInterval; "
                         "RFC 6275 s7.5 allows 30 ms on links serving mobile nodes)")


class Network(Strict):
    """One subnet / broadcast domain, built as one layer-2 switch: IPv4 (`subnet`), IPv6
    (`ipv6`) or both. Access networks (APs, PAAs, DHCP, AAA: their protocols run over IPv4
    here) need the IPv4 subnet; a home network or a backbone may be IPv6-only."""
    subnet: Subnet | None = Field(None, description="IPv4 subnet, e.g. '10.1.0.0/24'")
    ipv6: Ipv6 | None = Field(None, description="IPv6 prefix of the network and whether its "
                                                "gateway sends Router Advertisements")
    domain: Name | None = Field(None, description="owning domain; none for inter-domain links")
    gateway: Name | None = Field(None, description="default router for hosts on this network")
    description: Text = ""

    @model_validator(mode="after")
    def _a_family(self):
        if self.subnet is None and self.ipv6 is None:
            raise ValueError("a network needs an IPv4 'subnet', an 'ipv6: {prefix: ...}', or "
                             "both")
        return self


class LinkParams(Strict):
    """Emulated link properties; applied in both directions."""
    bandwidth: Annotated[Bandwidth | None, at_least(MIN_BANDWIDTH, "bandwidth", "Mbit"),
                         at_most(MAX_BANDWIDTH, "bandwidth", "Mbit")] = None
    delay: Annotated[Duration, at_most(MAX_DELAY, "delay")] = 0.0
    jitter: Annotated[Duration, at_most(MAX_DELAY, "jitter")] = 0.0
    loss: Percent = 0.0

    @model_validator(mode="after")
    def _jitter_within_delay(self):
        if self.jitter > self.delay:
            raise ValueError(f"jitter {format_duration(self.jitter)} is larger than the delay "
                             f"{format_duration(self.delay)}: packets cannot leave before "
                             "they arrive")
        return self


class Link(LinkParams):
    """A link between two node interfaces, or a node and a network.

    Endpoints are 'node', 'node:ifname' or a network name. `addresses` gives the address
    of each node endpoint (prefix length from the network's subnet when omitted).
    """
    endpoints: Annotated[list[Annotated[str, Field(max_length=64)]],
                         Field(min_length=2, max_length=2)]
    addresses: dict[str, Address] = Field(default_factory=dict)
    addresses6: dict[str, Address6] = Field(
        default_factory=dict, description="IPv6 address of each node endpoint (on a network: "
                                          "inside its ipv6 prefix, prefix length from it)")
    name: Name | None = Field(None, description="a name experiments can refer to (links.NAME.delay)")
    description: Text = ""


class NodeBase(Strict):
    domain: Name | None = None
    colocated: list[RoleName] = Field(default_factory=list,
                                      description="further roles this node carries")
    description: Text = ""


class RadioInterface(Strict):
    """One radio interface of a multi-interface MN (RFC 6252 s7, C.5.2): a WLAN interface
    associated with an access point, or a cellular interface attached to a base station.

    A cellular interface gets its address from its data session (IPCP), never from YAML;
    `start: down` keeps it down until the MN activates it (C.5.2's battery-saving flavour)."""
    technology: Literal["wlan", "cellular"]
    associate: Name | None = Field(None, description="WLAN: access point associated at start")
    address: Address | None = Field(
        None, description="WLAN: address in the start AP's network")
    attach: Name | None = Field(None, description="cellular: the base station it attaches to")
    start: Literal["up", "down"] = Field(
        "up", description="state of the interface when the testbed starts")
    link_down_detection: Annotated[Duration | None,
                                   at_most(MAX_TIMER, "link_down_detection")] = Field(
        None, description="time the MN takes to notice this interface's link is gone; "
                          "default the node's link_down_detection")


class MobileIpv6(Strict):
    """The MN's Mobile IPv6 registration (RFC 6275 s11): its home address on the home link
    of its home agent, and the lifetime it asks for in Binding Updates."""
    home_address: HomeAddress
    home_agent: Name = Field(description="the node with role home_agent on the home link")
    lifetime: Annotated[Duration, at_least(4.0, "lifetime"), at_most(262_140.0, "lifetime")] = Field(
        420.0, description="Binding Update lifetime (units of 4 s on the wire, s6.1.7)")


class MobileNode(NodeBase):
    """The MN (RFC 6252 s6.3): one radio interface attached to at most one AP, or several
    (`interfaces:`, RFC 6252 s7 and C.5.2: a WLAN and a cellular interface)."""
    kind: Literal["mobile_node"]
    count: Count | None = Field(
        None, ge=1, le=MAX_COUNT,
        description="make this many MNs from the entry, named <name>1 ... <name>N; in text "
                    "values {i}, {i+K}, {K+i}, {i-K} become each one's number, e.g. identity "
                    "'mn{i}@home.example', address '10.2.0.{100+i}/24' (model/counts.py)")
    home_domain: Name
    identity: Annotated[str, AfterValidator(check_nai)] | None = Field(
        None, description="NAI user@realm; default mn-name@home realm")
    associate: Name | None = Field(None, description="access point associated at start")
    address: Address | None = Field(
        None, description="address on the radio interface in the start AP's network")
    address6: Address6 | None = Field(
        None, description="IPv6 address on the radio interface in the start AP's network "
                          "(else stateless autoconfiguration where the network advertises)")
    mipv6: MobileIpv6 | None = Field(
        None, description="Mobile IPv6 (RFC 6275): home address and home agent")
    link_down_detection: Annotated[Duration, at_most(MAX_TIMER, "link_down_detection")] = Field(
        0.0, description="time the MN takes to notice its radio link is gone")
    dad_probes: Count = Field(
        0, ge=0, le=10, description="ARP probes of the MN's own DAD (RFC 5227) after an on-link DHCP "
                       "acquisition (non-MPA handover); 0: only the DHCP server's check")
    dad_interval: Annotated[Duration, at_least(0.001, "dad_interval"),
                            at_most(MAX_TIMER, "dad_interval")] = Field(
        1.0, description="spacing of those ARP probes")
    eap_fragment_size: Count = Field(
        1398, ge=64, le=65525,
        description="TLS octets per EAP-TLS message the MN sends (RFC 5216 s2.1.5); 1398 is "
                    "wpa_supplicant's default, which keeps EAP-TLS at its round trips")
    interfaces: dict[Annotated[str, Field(max_length=64)], RadioInterface] | None = Field(
        None, description="radio interfaces by name (instead of associate/address): "
                          "{wlan0: {technology: wlan, associate: ap0}, cdma0: {technology: "
                          "cellular, attach: bs0}}")

    def radios(self) -> dict[str, RadioInterface]:
        """Every radio interface with its effective link-down detection; the single-radio
        form is one WLAN interface, wlan0."""
        if self.interfaces is None:
            return {"wlan0": RadioInterface.model_construct(
                technology="wlan", associate=self.associate, address=self.address, attach=None,
                start="up", link_down_detection=self.link_down_detection)}
        return {name: i if i.link_down_detection is not None else i.model_copy(
                    update={"link_down_detection": self.link_down_detection})
                for name, i in self.interfaces.items()}

    def radio(self, technology: str) -> tuple[str, RadioInterface] | None:
        """The (first) interface of `technology`: (name, interface), or None."""
        return next(((n, i) for n, i in self.radios().items() if i.technology == technology),
                    None)


class AccessPoint(NodeBase):
    """A layer-2 point of attachment with an 802.1X controlled port (C.5.3: AP0, AP1, AP2)."""
    kind: Literal["access_point"]
    ssid: Annotated[str, AfterValidator(check_ssid)] | None = None
    security: Literal["ieee8021x", "open"] = "ieee8021x"
    association_latency: Annotated[Duration, at_most(MAX_TIMER, "association_latency")] = Field(
        0.0, description="emulated radio (re)association latency; reported with results")
    position: Position | None = Field(
        None, description="[x, y] on the map of a movement (model/movement.py), e.g. [0m, 20m]")
    coverage: Length | None = Field(
        None, gt=0, description="radius at which the mean signal falls to the radio's "
                                "sensitivity (sets the transmit power); or tx_power")
    tx_power: Power | None = Field(None, description="default: the radio section's")

    @model_validator(mode="after")
    def _coverage_or_power(self):
        if self.coverage is not None and self.tx_power is not None:
            raise ValueError("give coverage or tx_power, not both: the coverage radius sets "
                             "the transmit power")
        return self


class BaseStation(NodeBase):
    """A cellular point of attachment (RFC 6252 C.5.2: the CDMA 1xEV-DO / 1xRTT base station
    with its radio network and packet data gateway, the PDSN).

    The mobiles attached to it are on `network` (one link each, with the radio link's
    round trip time and bandwidth), where the `packet_data_gateway` (a node with that role,
    e.g. an access router with `colocated: [packet_data_gateway]`) sets up their data
    sessions. What the radio costs that emulation cannot produce is a parameter, reported
    with the results: attach and activation latency, the link's RTT and bandwidth."""
    kind: Literal["base_station"]
    network: Name = Field(description="the network the attached mobiles' interfaces are on")
    packet_data_gateway: Name = Field(
        description="the node (role packet_data_gateway) that sets up the data sessions")
    attach_latency: Annotated[Duration, at_most(MAX_TIMER, "attach_latency")] = Field(
        0.0, description="emulated time from a powered interface asking for a traffic "
                         "channel to the link carrying the data session set-up")
    activation_latency: Annotated[Duration, at_most(MAX_TIMER, "activation_latency")] = Field(
        0.0, description="emulated time to power up a cellular interface that was down "
                         "(acquisition and registration), before the attach")
    link_rtt: Annotated[Duration, at_most(2 * MAX_DELAY, "link_rtt")] = Field(
        0.0, description="round trip time of the radio link (half of it each way on the "
                         "mobile's link to the network); 1xEV-DO-class links: 100-150 ms")
    link_bandwidth: Annotated[Bandwidth | None, at_least(MIN_BANDWIDTH, "link_bandwidth", "Mbit"),
                              at_most(MAX_BANDWIDTH, "link_bandwidth", "Mbit")] = Field(
        None, description="rate of the radio link, both directions (1xEV-DO Rev. 0: 2.4 "
                          "Mbit/s down, 0.15 up; 1xRTT: 0.15)")


class CorrespondentNode(NodeBase):
    """The CN (RFC 6252 s7.5): a SIP user agent that streams RTP to the MN's address."""
    kind: Literal["correspondent_node"]
    rtp_interval: Annotated[Duration, at_least(0.001, "rtp_interval"),
                            at_most(1.0, "rtp_interval")] = Field(
        0.016, description="RTP packet interval of the CN's stream (C.5.1 measured 16 ms)")


ConflictCheck = Annotated[bool, Field(strict=True)]
CONFLICT_CHECK = Field(
    True, description="as a configuration agent (its kind, or colocated on an access router): "
                      "the DHCP server pings an address before offering it (RFC 2131 s4.4.1; "
                      "dnsmasq waits ~3 s for an answer, so an address no lease holds costs "
                      "~3 s of Tconf); false: dnsmasq's 'no-ping', e.g. where the nAR performs "
                      "DAD on the MN's behalf (RFC 6252 Appendix A) and the MN its own after an "
                      "on-link DHCP (dad_probes)")


class AccessRouter(NodeBase):
    """An AR (RFC 6252 s6.2): routes, terminates proactive handover tunnels."""
    kind: Literal["access_router"]
    conflict_check: ConflictCheck = CONFLICT_CHECK


class Router(NodeBase):
    kind: Literal["router"]


class AuthenticationAgent(NodeBase):
    """The AA / PAA (RFC 6252 s6.2)."""
    kind: Literal["authentication_agent"]


class ConfigurationAgent(NodeBase):
    """The CA, e.g. a DHCP server (RFC 6252 s6.2)."""
    kind: Literal["configuration_agent"]
    conflict_check: ConflictCheck = CONFLICT_CHECK


class AaaServer(NodeBase):
    """A AAA server, home (AAA_H) or visited (AAA_V) for a realm."""
    kind: Literal["aaa_server"]


class InformationServer(NodeBase):
    """An 802.21-style information server for discovery (RFC 6252 s7.1)."""
    kind: Literal["information_server"]


NODE_KINDS: dict[str, type[NodeBase]] = {
    cls.model_fields["kind"].annotation.__args__[0]: cls  # type: ignore[union-attr]
    for cls in (MobileNode, AccessPoint, CorrespondentNode, AccessRouter, Router,
                AuthenticationAgent, ConfigurationAgent, AaaServer, InformationServer,
                BaseStation)
}
ROUTING_KINDS = {"access_router", "router"}

Node = Annotated[Union[tuple(NODE_KINDS.values())], Field(discriminator="kind")]


class Defaults(Strict):
    """Settings inherited by every node (where its kind has the field) and every link."""
    node: dict[str, object] = Field(default_factory=dict)
    link: LinkParams = Field(default_factory=LinkParams)


TopologyName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,39}$")]


class Topology(Strict):
    """A whole testbed: domains, networks, nodes, links."""
    name: TopologyName
    description: Text = ""
    defaults: Defaults = Field(default_factory=Defaults)
    kinds: dict[str, dict[str, object]] = Field(
        default_factory=dict, description="per-kind settings, between defaults and the node")
    domains: dict[Name, Domain]
    networks: dict[Name, Network] = Field(default_factory=dict)
    nodes: dict[Name, Node]
    links: list[Link] = Field(default_factory=list)
    radio: Radio | None = Field(None, description="propagation model for movements "
                                "(model/movement.py); default log-distance, n = 3, no shadowing")
    placement: Placement | None = Field(
        None, description="split the network across servers (model/placement.py); default: "
                          "everything on this machine")
    # entry name -> the nodes its `count:` made (model/counts.py); not part of the file's schema
    _counted: dict[str, list[str]] = PrivateAttr(default_factory=dict)

    @property
    def counted(self) -> dict[str, list[str]]:
        return self._counted

    # -- queries used by later layers -------------------------------------------------
    def roles(self, node: str) -> set[str]:
        n = self.nodes[node]
        return {n.kind, *n.colocated}

    def nodes_of(self, kind: str) -> list[str]:
        return [name for name in self.nodes if kind in self.roles(name)]

    def link_endpoint(self, endpoint: str) -> tuple[str, str | None]:
        """'nar:eth1' -> ('nar', 'eth1'); 'net-a' -> ('net-a', None)."""
        node, _, ifname = endpoint.partition(":")
        return node, ifname or None

    def ap_network(self, ap: str) -> str | None:
        """The network an access point's distribution-system uplink attaches to."""
        for link in self.links:
            names = [self.link_endpoint(e)[0] for e in link.endpoints]
            if ap in names:
                other = names[1] if names[0] == ap else names[0]
                if other in self.networks:
                    return other
        return None

    def identity(self, mn: str) -> str:
        node = self.nodes[mn]
        assert isinstance(node, MobileNode)
        return node.identity or f"{mn}@{self.domains[node.home_domain].realm}"


def topology_json_schema() -> dict:
    """JSON Schema for editors (`mpa-testbed schema`)."""
    schema = Topology.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "mpa-testbed topology"
    return schema
