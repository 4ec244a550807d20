"""Pydantic models of a testbed topology (RFC 6252 s3 Figure 1, C.5.3 Figures 8 and 9).

A topology is plain data: administrative domains, networks (subnets, one broadcast domain
each), nodes by kind, and links. Building it is the network layer's job.

Kinds are the RFC's functional elements (s6.2) plus the plumbing around them. A node may
carry further roles with `colocated` (e.g. the PAA co-located on the nAR, RFC 6252 C.5.3).
"""
from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

from .units import Bandwidth, Duration, Percent

Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,19}$",
                            description="lower-case letters, digits and '-', at most 20 chars")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


RoleName = Literal["authentication_agent", "configuration_agent", "access_router",
                   "aaa_server", "information_server"]


class Domain(Strict):
    """An administrative domain (RFC 6252 s3): authenticates and authorizes MNs."""
    realm: str = Field(description="NAI realm of the domain, e.g. 'a.example'")
    aaa_server: Name = Field(description="the domain's AAA server node")
    mobility_protocol: Literal["sip", "mipv6", "pmipv6", "none"] = "sip"
    description: str = ""


class Network(Strict):
    """One subnet / broadcast domain, built as one layer-2 switch."""
    subnet: IPv4Network
    domain: Name | None = Field(None, description="owning domain; none for inter-domain links")
    gateway: Name | None = Field(None, description="default router for hosts on this network")
    description: str = ""


class LinkParams(Strict):
    """Emulated link properties; applied in both directions."""
    bandwidth: Bandwidth | None = None
    delay: Duration = 0.0
    jitter: Duration = 0.0
    loss: Percent = 0.0


class Link(LinkParams):
    """A link between two node interfaces, or a node and a network.

    Endpoints are 'node', 'node:ifname' or a network name. `addresses` gives the address
    of each node endpoint (prefix length from the network's subnet when omitted).
    """
    endpoints: Annotated[list[str], Field(min_length=2, max_length=2)]
    addresses: dict[str, IPv4Interface] = Field(default_factory=dict)
    name: Name | None = Field(None, description="a name experiments can refer to (links.NAME.delay)")
    description: str = ""


class NodeBase(Strict):
    domain: Name | None = None
    colocated: list[RoleName] = Field(default_factory=list,
                                      description="further roles this node carries")
    description: str = ""


class MobileNode(NodeBase):
    """The MN (RFC 6252 s6.3): one radio interface, attached to at most one AP."""
    kind: Literal["mobile_node"]
    home_domain: Name
    identity: str | None = Field(None, description="NAI user@realm; default mn-name@home realm")
    associate: Name | None = Field(None, description="access point associated at start")
    address: IPv4Interface | None = Field(
        None, description="address on the radio interface in the start AP's network")
    link_down_detection: Duration = Field(
        0.0, description="time the MN takes to notice its radio link is gone")
    dad_probes: int = Field(
        0, ge=0, le=10, description="ARP probes of the MN's own DAD (RFC 5227) after an on-link DHCP "
                       "acquisition (non-MPA handover); 0: only the DHCP server's check")
    dad_interval: Duration = Field(1.0, description="spacing of those ARP probes")
    eap_fragment_size: int = Field(
        1398, ge=64, le=65525,
        description="TLS octets per EAP-TLS message the MN sends (RFC 5216 s2.1.5); 1398 is "
                    "wpa_supplicant's default, which keeps EAP-TLS at its round trips")


class AccessPoint(NodeBase):
    """A layer-2 point of attachment with an 802.1X controlled port (C.5.3: AP0, AP1, AP2)."""
    kind: Literal["access_point"]
    ssid: str | None = None
    security: Literal["ieee8021x", "open"] = "ieee8021x"
    association_latency: Duration = Field(
        0.0, description="emulated radio (re)association latency; reported with results")


class CorrespondentNode(NodeBase):
    """The CN (RFC 6252 s7.5): a SIP user agent that streams RTP to the MN's address."""
    kind: Literal["correspondent_node"]
    rtp_interval: Duration = Field(
        0.016, description="RTP packet interval of the CN's stream (C.5.1 measured 16 ms)")


class AccessRouter(NodeBase):
    """An AR (RFC 6252 s6.2): routes, terminates proactive handover tunnels."""
    kind: Literal["access_router"]


class Router(NodeBase):
    kind: Literal["router"]


class AuthenticationAgent(NodeBase):
    """The AA / PAA (RFC 6252 s6.2)."""
    kind: Literal["authentication_agent"]


class ConfigurationAgent(NodeBase):
    """The CA, e.g. a DHCP server (RFC 6252 s6.2)."""
    kind: Literal["configuration_agent"]


class AaaServer(NodeBase):
    """A AAA server, home (AAA_H) or visited (AAA_V) for a realm."""
    kind: Literal["aaa_server"]


class InformationServer(NodeBase):
    """An 802.21-style information server for discovery (RFC 6252 s7.1)."""
    kind: Literal["information_server"]


NODE_KINDS: dict[str, type[NodeBase]] = {
    cls.model_fields["kind"].annotation.__args__[0]: cls  # type: ignore[union-attr]
    for cls in (MobileNode, AccessPoint, CorrespondentNode, AccessRouter, Router,
                AuthenticationAgent, ConfigurationAgent, AaaServer, InformationServer)
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
    description: str = ""
    defaults: Defaults = Field(default_factory=Defaults)
    kinds: dict[str, dict[str, object]] = Field(
        default_factory=dict, description="per-kind settings, between defaults and the node")
    domains: dict[Name, Domain]
    networks: dict[Name, Network] = Field(default_factory=dict)
    nodes: dict[Name, Node]
    links: list[Link] = Field(default_factory=list)

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
