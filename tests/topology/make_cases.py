"""Writes the invalid topologies of errors/ from valid/minimal.yaml (kept for reviewers:
each case is one small edit, named after what it breaks). Run: python make_cases.py

An edit is (old, new) text, or a list of them; a `new` given as bytes is spliced into the
encoded file (non-UTF-8, NUL). The cases after "hostile files" are issue 13's: what a new or
hostile user tried, each refused with file:line and YAML path."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.support.golden import write_cases  # noqa: E402

HERE = Path(__file__).parent
BASE = (HERE / "valid" / "minimal.yaml").read_text()
LINK = "  - {endpoints: [aaa, lan], addresses: {aaa: 10.1.0.10}}"
MN = "  mn:  {kind: mobile_node, home_domain: home, associate: ap, address: 10.1.0.100}"

# issue 15: a cellular domain beside the WLAN (RFC 6252 C.5.2): the AR is also the packet data
# gateway of base station bs on network cell; the MN has a WLAN and a cellular interface
CELL_NET = "  lan: {domain: home, subnet: 10.1.0.0/24, gateway: ar}"
CELL_NODES = "  ar:  {kind: access_router, domain: home}"
CELL_LINK = "  - {endpoints: [ar, lan], addresses: {ar: 10.1.0.1}}"
BS = "{kind: base_station, domain: home, network: cell, packet_data_gateway: ar}"
RADIOS = "wlan0: {technology: wlan, associate: ap, address: 10.1.0.100}, cdma0: {technology: cellular, attach: bs}"


def _cellular(radios: str = RADIOS, bs: str = BS, gateway_roles: str = "[packet_data_gateway]",
              extra: tuple = ()) -> list[tuple[str, str]]:
    """The base topology with a base station, its network, its gateway and a two-radio MN."""
    return [(CELL_NET, CELL_NET + "\n  cell: {domain: home, subnet: 10.20.0.0/24, gateway: ar}"),
            (CELL_NODES, "  ar:  {kind: access_router, domain: home, colocated: "
                         + gateway_roles + "}\n  bs:  " + bs),
            (CELL_LINK, CELL_LINK + "\n  - {endpoints: [ar, cell], addresses: {ar: 10.20.0.1}}"),
            (MN, "  mn:  {kind: mobile_node, home_domain: home, interfaces: {" + radios + "}}"),
            *extra]


def _link(extra: str) -> tuple[str, str]:
    """The aaa link with `extra` link settings."""
    return LINK, LINK[:-1] + ", " + extra + "}"

CASES = {
    "unknown-top-level-key": ("name: minimal", "name: minimal\nnodez: {}"),
    "unknown-node-key": ("{kind: access_point, domain: home}",
                         "{kind: access_point, domain: home, asociation_latency: 5ms}"),
    "unknown-kind": ("kind: access_router", "kind: acess_router"),
    "missing-kind": ("ar:  {kind: access_router, domain: home}", "ar:  {domain: home}"),
    "dangling-link-endpoint": ("endpoints: [ar, lan]", "endpoints: [arr, lan]"),
    "duplicate-yaml-key": ("  aaa: {kind: aaa_server, domain: home}",
                           "  aaa: {kind: aaa_server, domain: home}\n  ar: {kind: router}"),
    "duplicate-name-node-network": ("  aaa: {kind: aaa_server, domain: home}",
                                    "  aaa: {kind: aaa_server, domain: home}\n  lan: {kind: router, domain: home}"),
    "overlapping-subnets": ("  lan: {domain: home, subnet: 10.1.0.0/24, gateway: ar}",
                            "  lan: {domain: home, subnet: 10.1.0.0/24, gateway: ar}\n  lan2: {domain: home, subnet: 10.1.0.128/25}"),
    "address-outside-subnet": ("addresses: {ar: 10.1.0.1}", "addresses: {ar: 10.2.0.1}"),
    "mn-without-home-domain": ("{kind: mobile_node, home_domain: home,", "{kind: mobile_node,"),
    "negative-delay": ("{endpoints: [aaa, lan], addresses: {aaa: 10.1.0.10}}",
                       "{endpoints: [aaa, lan], addresses: {aaa: 10.1.0.10}, delay: -5ms}"),
    "malformed-duration-unit": ("{endpoints: [aaa, lan], addresses: {aaa: 10.1.0.10}}",
                                "{endpoints: [aaa, lan], addresses: {aaa: 10.1.0.10}, delay: 5 parsecs}"),
    "bare-number-delay": ("{endpoints: [aaa, lan], addresses: {aaa: 10.1.0.10}}",
                          "{endpoints: [aaa, lan], addresses: {aaa: 10.1.0.10}, delay: 5}"),
    "malformed-bandwidth": ("{endpoints: [aaa, lan], addresses: {aaa: 10.1.0.10}}",
                            "{endpoints: [aaa, lan], addresses: {aaa: 10.1.0.10}, bandwidth: 10 furlongs}"),
    "loss-over-100": ("{endpoints: [aaa, lan], addresses: {aaa: 10.1.0.10}}",
                      "{endpoints: [aaa, lan], addresses: {aaa: 10.1.0.10}, loss: 150%}"),
    "yaml-syntax-error": ("  ar:  {kind: access_router, domain: home}", "  ar:  {kind: access_router, domain: home"),
    "empty-file": (BASE, ""),
    "top-level-list": (BASE, "- just\n- a list\n"),
    "unknown-domain": ("ar:  {kind: access_router, domain: home}", "ar:  {kind: access_router, domain: hom}"),
    "unknown-aaa-server": ("aaa_server: aaa}", "aaa_server: aaa1}"),
    "mobility-protocol-not-implemented": ("aaa_server: aaa}", "aaa_server: aaa, mobility_protocol: pmipv6}"),
    "aaa-server-wrong-kind": ("aaa_server: aaa}", "aaa_server: ar}"),
    "associate-not-an-ap": ("associate: ap,", "associate: ar,"),
    "unknown-associate": ("associate: ap,", "associate: apx,"),
    "mn-address-outside-ap-network": ("address: 10.1.0.100}", "address: 10.9.0.100}"),
    "duplicate-address": ("addresses: {aaa: 10.1.0.10}", "addresses: {aaa: 10.1.0.2}"),
    "invalid-node-name": ("  aaa: {kind: aaa_server, domain: home}", "  AAA_1: {kind: aaa_server, domain: home}"),
    "bad-subnet-host-bits": ("subnet: 10.1.0.0/24", "subnet: 10.1.0.1/24"),
    "ap-without-uplink": ("  - {endpoints: [ap, lan], addresses: {ap: 10.1.0.2}}\n", ""),
    "node-without-link": ("  - {endpoints: [aaa, lan], addresses: {aaa: 10.1.0.10}}\n", ""),
    "link-endpoint-count": ("endpoints: [ar, lan]", "endpoints: [ar, lan, aaa]"),
    "link-to-itself": ("  - {endpoints: [ar, lan], addresses: {ar: 10.1.0.1}}",
                       "  - {endpoints: [ar, lan], addresses: {ar: 10.1.0.1}}\n  - {endpoints: [ar, ar]}"),
    "link-between-networks": [
        ("  - {endpoints: [ar, lan], addresses: {ar: 10.1.0.1}}",
         "  - {endpoints: [ar, lan], addresses: {ar: 10.1.0.1}}\n  - {endpoints: [lan, lan2]}"),
        ("gateway: ar}", "gateway: ar}\n  lan2: {subnet: 10.2.0.0/24}")],
    "mobile-node-in-link": ("  - {endpoints: [ar, lan], addresses: {ar: 10.1.0.1}}",
                            "  - {endpoints: [ar, lan], addresses: {ar: 10.1.0.1}}\n  - {endpoints: [mn, lan]}"),
    "missing-link-address": ("{endpoints: [ar, lan], addresses: {ar: 10.1.0.1}}", "{endpoints: [ar, lan]}"),
    "bad-literal-security": ("{kind: access_point, domain: home}", "{kind: access_point, domain: home, security: wpa9}"),
    "gateway-not-a-router": ("gateway: ar}", "gateway: aaa}"),
    "unknown-key-in-kinds": ("name: minimal", "name: minimal\nkinds:\n  access_point: {latency: 5ms}"),
    "unknown-kind-in-kinds": ("name: minimal", "name: minimal\nkinds:\n  acces_point: {association_latency: 5ms}"),
    "bad-inherited-default": ("name: minimal", "name: minimal\nkinds:\n  access_point: {association_latency: fast}"),
    # -- hostile files (issue 13) --
    "kind-as-list": ("ar:  {kind: access_router,", "ar:  {kind: [access_router],"),
    "kinds-entry-as-string": ("name: minimal", "name: minimal\nkinds:\n  access_point: fast"),
    "non-utf8": ("realm: home.example", b"realm: h\xf6me.example"),
    "nul-byte": ("realm: home.example", b"realm: home\x00.example"),
    "unknown-tag": ("address: 10.1.0.100}", "address: !ip 10.1.0.100}"),
    "binary-tag": ("realm: home.example", "realm: !!binary aG9tZQ=="),
    "alias": [("  ap:  {kind: access_point, domain: home}", "  ap:  &ap {kind: access_point, domain: home}\n  ap2: *ap")],
    "deep-nesting": ("  ar:  {kind: access_router, domain: home}",
                     "  ar:  {kind: access_router, domain: home, description: " + "[" * 25 + "]" * 25 + "}"),
    "multiple-documents": (BASE, BASE + "---\nname: second\n"),
    "interface-name-injection": ("endpoints: [ar, lan]", "endpoints: ['ar:q||touch${IFS}p', lan]"),
    "interface-name-too-long": ("endpoints: [ar, lan]", "endpoints: ['ar:abcdefghijklmnop', lan]"),
    "interface-name-reserved": ("endpoints: [ar, lan]", "endpoints: ['ar:eth0', lan]"),
    "interface-name-with-slash": ("endpoints: [ar, lan]", "endpoints: ['ar:a/b', lan]"),
    "reserved-network-name-air": ("  lan: {domain: home, subnet: 10.1.0.0/24, gateway: ar}",
                                  "  lan: {domain: home, subnet: 10.1.0.0/24, gateway: ar}\n  air: {domain: home, subnet: 10.9.0.0/24}"),
    "reserved-node-name-controller": [("  aaa: {kind: aaa_server, domain: home}",
                                       "  aaa: {kind: aaa_server, domain: home}\n  controller: {kind: router, domain: home}"),
                                      (LINK, LINK + "\n  - {endpoints: [controller, lan], addresses: {controller: 10.1.0.11}}")],
    "two-mobile-nodes-one-address": (MN, MN + "\n" + MN.replace("mn: ", "mn2:")),
    "mn-on-network-address": ("address: 10.1.0.100}", "address: 10.1.0.0}"),
    "mn-on-broadcast-address": ("address: 10.1.0.100}", "address: 10.1.0.255}"),
    "mn-wrong-prefix-length": ("address: 10.1.0.100}", "address: 10.1.0.100/16}"),
    "p2p-subnet-inside-network": (LINK, LINK + "\n  - {endpoints: [ar, aaa], addresses: {ar: 10.1.0.201/30, aaa: 10.1.0.202/30}}"),
    "p2p-subnets-overlap": (LINK, LINK + "\n  - {endpoints: [ar, aaa], addresses: {ar: 10.8.0.1/30, aaa: 10.8.0.2/30}}"
                                  "\n  - {endpoints: [ar, aaa], addresses: {ar: 10.8.0.5/29, aaa: 10.8.0.6/29}}"),
    "p2p-network-address": (LINK, LINK + "\n  - {endpoints: [ar, aaa], addresses: {ar: 10.8.0.0/30, aaa: 10.8.0.2/30}}"),
    "multicast-endpoint": ("addresses: {aaa: 10.1.0.10}", "addresses: {aaa: 224.1.0.10}"),
    "loopback-endpoints": (LINK, LINK + "\n  - {endpoints: [ar, aaa], addresses: {ar: 127.0.0.1/30, aaa: 127.0.0.2/30}}"),
    "link-local-subnet": ("subnet: 10.1.0.0/24", "subnet: 169.254.0.0/24"),
    "subnet-too-small": ("subnet: 10.1.0.0/24", "subnet: 10.1.0.0/31"),
    "integer-as-address": ("addresses: {aaa: 10.1.0.10}", "addresses: {aaa: 167837706}"),
    "integer-as-subnet": ("subnet: 10.1.0.0/24", "subnet: 167837696"),
    "delay-of-a-century": _link("delay: 99999999min"),
    "jitter-larger-than-delay": _link("delay: 5ms, jitter: 10ms"),
    "bandwidth-too-large": _link("bandwidth: 100000Gbit"),
    "bandwidth-too-small": _link("bandwidth: 1kbit"),
    "arabic-indic-digits-in-duration": _link("delay: \u0665ms"),
    "exponent-in-duration": _link("delay: 1e3ms"),
    "realm-with-newline-and-braces": ("realm: home.example", 'realm: "home.example\\n}\\nrealm evil {"'),
    "realm-upper-case-and-space": ("realm: home.example", "realm: Home Example"),
    "ssid-longer-than-32-octets": ("{kind: access_point, domain: home}", "{kind: access_point, domain: home, ssid: " + "x" * 33 + "}"),
    "ssid-with-control-character": ("{kind: access_point, domain: home}", '{kind: access_point, domain: home, ssid: "net\\ta"}'),
    "bool-as-count": ("associate: ap,", "associate: ap, dad_probes: true,"),
    "string-as-count": ("associate: ap,", "associate: ap, dad_probes: '3',"),
    "float-as-count": ("associate: ap,", "associate: ap, dad_probes: 2.5,"),
    "identity-not-a-nai": ("associate: ap,", "associate: ap, identity: 'mn; reboot',"),
    "identity-too-long-for-radius": ("associate: ap,", "associate: ap, identity: " + "u" * 250 + "@home.example,"),
    "association-latency-of-an-hour": ("name: minimal", "name: minimal\nkinds:\n  access_point: {association_latency: 60min}"),
    "dad-interval-zero": ("associate: ap,", "associate: ap, dad_interval: 0ms,"),
    "rtp-interval-zero": [("  aaa: {kind: aaa_server, domain: home}",
                           "  aaa: {kind: aaa_server, domain: home}\n  cn: {kind: correspondent_node, domain: home, rtp_interval: 0ms}"),
                          (LINK, LINK + "\n  - {endpoints: [cn, lan], addresses: {cn: 10.1.0.20}}")],
    "endpoint-name-huge": ("endpoints: [ar, lan]", "endpoints: [" + "a" * 100 + ", lan]"),
    # issue 15: multi-interface MNs and base stations (RFC 6252 s7, C.5.2)
    "cellular-attach-unknown": _cellular(RADIOS.replace("attach: bs", "attach: bs1")),
    "cellular-attach-not-a-base-station": _cellular(RADIOS.replace("attach: bs", "attach: ap")),
    "cellular-without-attach": _cellular(RADIOS.replace(", attach: bs", "")),
    "cellular-with-address": _cellular(RADIOS.replace("attach: bs", "attach: bs, address: 10.20.0.9")),
    "cellular-with-associate": _cellular(RADIOS.replace("attach: bs", "attach: bs, associate: ap")),
    "wlan-with-attach": _cellular(RADIOS.replace("associate: ap,", "associate: ap, attach: bs,")),
    "wlan-starts-down-but-associated": _cellular(RADIOS.replace("associate: ap,", "associate: ap, start: down,")),
    "wlan-interface-not-wlan0": _cellular(RADIOS.replace("wlan0:", "wifi0:")),
    "two-cellular-interfaces": _cellular(RADIOS + ", cdma1: {technology: cellular, attach: bs}"),
    "cellular-interface-reserved-name": _cellular(RADIOS.replace("cdma0:", "eth3:")),
    "unknown-technology": _cellular(RADIOS.replace("technology: cellular", "technology: lte")),
    "interfaces-and-associate": _cellular(
        extra=(("home_domain: home, interfaces:", "home_domain: home, associate: ap, interfaces:"),)),
    "interfaces-empty": _cellular(radios=""),
    "cellular-start-sideways": _cellular(RADIOS.replace("attach: bs", "attach: bs, start: sideways")),
    "interface-link-down-detection-too-long": _cellular(
        RADIOS.replace("attach: bs", "attach: bs, link_down_detection: 11s")),
    "base-station-without-domain": _cellular(bs=BS.replace(" domain: home,", "")),
    "base-station-network-unknown": _cellular(bs=BS.replace("network: cell", "network: cel")),
    "base-station-network-other-domain": _cellular(
        extra=(("  home: {realm: home.example, aaa_server: aaa}",
                "  home: {realm: home.example, aaa_server: aaa}\n  other: {realm: other.example, aaa_server: aaa2}"),
               ("cell: {domain: home", "cell: {domain: other"),
               ("  aaa: {kind: aaa_server, domain: home}",
                "  aaa: {kind: aaa_server, domain: home}\n  aaa2: {kind: aaa_server, domain: other}"),
               (LINK, LINK + "\n  - {endpoints: [aaa2, lan], addresses: {aaa2: 10.1.0.11}}"))),
    "base-station-gateway-without-role": _cellular(gateway_roles="[]"),
    "base-station-gateway-unknown": _cellular(bs=BS.replace("packet_data_gateway: ar", "packet_data_gateway: pdsn")),
    "base-station-gateway-not-on-network": _cellular(
        extra=(("  aaa: {kind: aaa_server, domain: home}",
                "  aaa: {kind: aaa_server, domain: home, colocated: [packet_data_gateway]}"),),
        bs=BS.replace("packet_data_gateway: ar", "packet_data_gateway: aaa")),
    "packet-data-gateway-without-base-station": ("  ar:  {kind: access_router, domain: home}",
                                                 "  ar:  {kind: access_router, domain: home, colocated: [packet_data_gateway]}"),
    "two-base-stations-one-gateway-two-networks": _cellular(extra=(
        ("  bs:  " + BS, "  bs:  " + BS + "\n  bs2: " + BS.replace("network: cell", "network: lan")),)),
    "base-station-in-link": _cellular(extra=((LINK, LINK + "\n  - {endpoints: [bs, cell]}"),)),
    "base-station-link-rtt-of-a-minute": _cellular(bs=BS.replace("}", ", link_rtt: 1min}")),
    "base-station-link-bandwidth-bad-unit": _cellular(bs=BS.replace("}", ", link_bandwidth: 2.4 furlongs}")),
    "base-station-attach-latency-bare-number": _cellular(bs=BS.replace("}", ", attach_latency: 30}")),
    # issue 17: many MNs from one entry (model/counts.py)
    "count-zero": ("associate: ap,", "associate: ap, count: 0,"),
    "count-as-string": ("associate: ap,", "associate: ap, count: '50',"),
    "count-of-a-million": ("associate: ap,", "associate: ap, count: 1000000,"),
    "count-with-one-address-for-all": ("associate: ap,", "associate: ap, count: 3,"),
    "count-pattern-with-expression": ("address: 10.1.0.100", "count: 3, address: '10.1.0.{i*2}'"),
    "count-pattern-unmatched-brace": ("address: 10.1.0.100", "count: 3, address: '10.1.0.{100+i'"),
    "count-pattern-beyond-the-subnet": ("address: 10.1.0.100", "count: 3, address: '10.1.0.{253+i}'"),
    "count-pattern-outside-subnet": ("address: 10.1.0.100", "count: 3, address: '10.1.{i}.100'"),
    "count-identity-without-pattern": ("address: 10.1.0.100", "count: 2, address: '10.1.0.{100+i}', identity: mn@home.example"),
    "count-name-too-long": (MN, "  mobile-node-group-a: {kind: mobile_node, count: 12, home_domain: home, associate: ap, address: '10.1.0.{100+i}'}"),
    "count-makes-an-existing-name": ("address: 10.1.0.100}", "address: '10.1.0.{100+i}', count: 2}\n  mn2: {kind: router, domain: home}"),
    "count-on-an-access-point": ("{kind: access_point, domain: home}", "{kind: access_point, domain: home, count: 3}"),
    "pattern-without-count": ("address: 10.1.0.100", "address: '10.1.0.{100+i}'"),
}


def _ipv6(lan_ipv6: str = "{prefix: 2001:db8:1::/64}", extra: tuple = ()) -> list[tuple]:
    """The base topology with lan dual stack and the AR's IPv6 address on it."""
    lan = "  lan: {domain: home, subnet: 10.1.0.0/24, gateway: ar}"
    ar_link = "  - {endpoints: [ar, lan], addresses: {ar: 10.1.0.1}}"
    return [(lan, lan[:-1] + ", ipv6: " + lan_ipv6 + "}"),
            (ar_link, ar_link[:-1] + ", addresses6: {ar: '2001:db8:1::1'}}"), *extra]


# a home network with a home agent, the MN away from home on lan
HOME = ("  lan: {domain: home, subnet: 10.1.0.0/24, gateway: ar}",
        "  lan: {domain: home, subnet: 10.1.0.0/24, gateway: ar, ipv6: {prefix: 2001:db8:1::/64}}\n"
        "  homenet: {domain: home, subnet: 10.3.0.0/24, ipv6: {prefix: 2001:db8:3::/64}}")
HA_LINK = (LINK, LINK + "\n  - {endpoints: [aaa, homenet], addresses: {aaa: 10.3.0.1}, "
                        "addresses6: {aaa: '2001:db8:3::1'}}")
HA_ROLE = ("  aaa: {kind: aaa_server, domain: home}",
           "  aaa: {kind: aaa_server, domain: home, colocated: [home_agent]}")
AR6 = ("  - {endpoints: [ar, lan], addresses: {ar: 10.1.0.1}}",
       "  - {endpoints: [ar, lan], addresses: {ar: 10.1.0.1}, addresses6: {ar: '2001:db8:1::1'}}")


def _mipv6(mipv6: str = "{home_address: '2001:db8:3::100', home_agent: aaa}",
           address6: str = ", address6: '2001:db8:1::100'", roles=(HA_ROLE,)) -> list[tuple]:
    return [HOME, HA_LINK, AR6, *roles,
            ("address: 10.1.0.100}", "address: 10.1.0.100" + address6 + ", mipv6: " + mipv6 + "}")]


def _ipv6_cases() -> dict:
    return {
        "ipv6-prefix-link-local": _ipv6("{prefix: 'fe80::/64'}"),
        "ipv6-prefix-as-number": _ipv6("{prefix: 42}"),
        "ipv6-prefix-malformed": _ipv6("{prefix: '2001:db8:zz::/64'}"),
        "ipv6-prefix-host-bits": _ipv6("{prefix: '2001:db8:1::5/64'}"),
        "ipv6-prefixes-overlap": _ipv6(extra=(("  lan: {domain: home,", "  lan2: {domain: home, subnet: 10.2.0.0/24, ipv6: {prefix: '2001:db8::/32'}}\n  lan: {domain: home,"),)),
        "ipv6-address-outside-prefix": _ipv6(extra=((LINK, LINK[:-1] + ", addresses6: {aaa: '2001:db8:2::10'}}"),)),
        "ipv6-address-is-subnet-router-anycast": _ipv6(extra=((LINK, LINK[:-1] + ", addresses6: {aaa: '2001:db8:1::'}}"),)),
        "ipv6-address-not-an-endpoint": _ipv6(extra=((LINK, LINK[:-1] + ", addresses6: {ar: '2001:db8:1::10'}}"),)),
        "ipv6-address-duplicate": _ipv6(extra=((LINK, LINK[:-1] + ", addresses6: {aaa: '2001:db8:1::1'}}"),)),
        "ipv6-address-on-ipv4-network": (LINK, LINK[:-1] + ", addresses6: {aaa: '2001:db8:1::10'}}"),
        "ipv6-gateway-without-address": [("gateway: ar}", "gateway: ar, ipv6: {prefix: '2001:db8:1::/64'}}")],
        "ipv6-ra-not-64": _ipv6("{prefix: '2001:db8:1::/56', router_advertisements: true}"),
        "ipv6-ra-interval-too-short": _ipv6("{prefix: '2001:db8:1::/64', router_advertisements: true, ra_interval: 1ms}"),
        "ipv6-ra-from-a-plain-router": _ipv6("{prefix: '2001:db8:1::/64', router_advertisements: true}",
                                             extra=(("  ar:  {kind: access_router", "  ar:  {kind: router"),)),
        "ipv6-mn-address-outside-prefix": _ipv6(extra=(("address: 10.1.0.100}", "address: 10.1.0.100, address6: '2001:db8:9::100'}"),)),
        "mipv6-home-agent-without-role": _mipv6(roles=()),
        "mipv6-unknown-home-agent": _mipv6("{home_address: '2001:db8:3::100', home_agent: hq}"),
        "mipv6-home-address-off-home-link": _mipv6("{home_address: '2001:db8:7::100', home_agent: aaa}"),
        "mipv6-without-care-of-address": _mipv6(address6=""),
        "network-without-subnet-or-prefix": ("  lan: {domain: home, subnet: 10.1.0.0/24, gateway: ar}",
                                             "  lan: {domain: home, subnet: 10.1.0.0/24, gateway: ar}\n  void: {domain: home}"),
        "ipv6-only-network-with-an-access-point": _ipv6(extra=(("subnet: 10.1.0.0/24, ", ""),)),
        "ipv6-only-network-with-an-ipv4-address": [
            (HOME[0], HOME[1].replace("subnet: 10.3.0.0/24, ", "")),
            (LINK, LINK + "\n  - {endpoints: [ar, homenet], addresses: {ar: 10.3.0.1}}"), AR6],
        "ipv6-only-network-without-addresses6": [
            (HOME[0], HOME[1].replace("subnet: 10.3.0.0/24, ", "")),
            (LINK, LINK + "\n  - {endpoints: [ar, homenet]}"), AR6],
        "mipv6-domain-without-mipv6-settings": ("aaa_server: aaa}", "aaa_server: aaa, mobility_protocol: mipv6}"),
        "mipv6-lifetime-bare-number": _mipv6("{home_address: '2001:db8:3::100', home_agent: aaa, lifetime: 420}"),
    }

# issue 14: IPv6 networks and Mobile IPv6 (model/checks6.py)
CASES.update(_ipv6_cases())

# issue 17: one network split across servers (model/placement.py)
PLACED = LINK + "\nplacement:\n  servers:\n    main: {}\n    second: {address: loopback}\n"
CASES.update({
    "placement-unknown-node": (LINK, PLACED + "  nodes: {aab: second}"),
    "placement-unknown-server": (LINK, PLACED + "  nodes: {lan: secnd}"),
    "placement-first-server-with-address": (LINK, PLACED.replace("main: {}", "main: {address: loopback}")),
    "placement-server-without-address": (LINK, PLACED.replace("{address: loopback}", "{port: 2222}")),
    "placement-one-server": (LINK, LINK + "\nplacement:\n  servers: {main: {}}"),
    "placement-misspelt-key": (LINK, PLACED + "  node: {lan: second}"),
    "placement-server-address-with-space": (LINK, PLACED.replace("loopback", "'10.0.0.1; reboot'")),
})

if __name__ == "__main__":
    write_cases(CASES, BASE, HERE / "errors")
