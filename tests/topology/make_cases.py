"""Writes the invalid topologies of errors/ from valid/minimal.yaml (kept for reviewers:
each case is one small edit, named after what it breaks). Run: python make_cases.py"""
from pathlib import Path

HERE = Path(__file__).parent
BASE = (HERE / "valid" / "minimal.yaml").read_text()

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
    "mobility-protocol-not-implemented": ("aaa_server: aaa}", "aaa_server: aaa, mobility_protocol: mipv6}"),
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
}

if __name__ == "__main__":
    for name, edits in CASES.items():
        text = BASE
        for old, new in edits if isinstance(edits, list) else [edits]:
            assert old in text, name
            text = text.replace(old, new, 1)
        (HERE / "errors" / f"{name}.yaml").write_text(text)
