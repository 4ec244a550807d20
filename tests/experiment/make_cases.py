"""Writes the invalid experiments of errors/ from valid/minimal.yaml (issue 13; kept for
reviewers: each case is one small edit, named after what it breaks). Run: python make_cases.py

An edit is (old, new) text, or a list of them; a `new` given as bytes is spliced into the
encoded file. The topologies the cases point at are in topologies/."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.support.golden import write_cases  # noqa: E402

HERE = Path(__file__).parent
BASE = (HERE / "valid" / "minimal.yaml").read_text()
PARAM = "  kinds.access_point.association_latency: 5ms"
CONF = "  base: {topology: ../topologies/two-aps.yaml}"
SCEN = "  - {name: post-auth, flow: dot11i-post-authentication, from: ap0, to: ap1}"


def _param(line: str) -> tuple[str, str]:
    return PARAM, PARAM + "\n  " + line


C52_SCEN = "  - {name: both-up, flow: c52-mpa-both-up, from: ap-w, to: bs}"


def _c52() -> tuple[str, str]:
    """The C.5.2 topology of the repository (a WLAN AP, a base station, a two-radio MN)."""
    return CONF, "  base: {topology: ../../../topologies/c52-wlan-cellular.yaml}"


def _topology(name: str) -> tuple[str, str]:
    return "../topologies/two-aps.yaml", f"../topologies/{name}"


CASES = {
    # the file itself
    "empty-file": (BASE, ""),
    "top-level-list": (BASE, "- name: minimal\n"),
    "yaml-syntax-error": (SCEN, SCEN[:-1]),
    "duplicate-key": ("seed: 1", "seed: 1\nseed: 2"),
    "non-utf8": ("seed: 1", b"seed: 1\ndescription: caf\xe9"),
    "alias": [("seed: 1", "seed: &s 1\nrepetitions: *s"), ("repetitions: 2\n", "")],
    "tag": ("seed: 1", "seed: !!int 1"),
    "unknown-top-level-key": ("seed: 1", "seed: 1\nscenario: x"),
    "invalid-name": ("name: minimal", "name: My Experiment"),
    # types, no coercion
    "repetitions-true": ("repetitions: 2", "repetitions: true"),
    "repetitions-digit-string": ("repetitions: 2", "repetitions: '3'"),
    "repetitions-zero": ("repetitions: 2", "repetitions: 0"),
    "seed-float": ("seed: 1", "seed: 1.5"),
    "configurations-empty": ("configurations:\n" + CONF, "configurations: {}"),
    "configurations-as-list": ("configurations:\n" + CONF, "configurations:\n  - " + CONF.strip()),
    "topology-as-number": ("{topology: ../topologies/two-aps.yaml}", "{topology: 5}"),
    "parameters-as-list": ("parameters:\n" + PARAM, "parameters: [a, b]"),
    "scenarios-empty": ("scenarios:\n" + SCEN, "scenarios: []"),
    "duplicate-scenario-names": (SCEN, SCEN + "\n" + SCEN.replace("post-authentication", "pre-authentication")),
    "sweep-empty-list": (CONF, CONF + "\nsweep:\n  kinds.access_point.association_latency: []"),
    "huge-sweep": (CONF, CONF + "\nsweep:\n  kinds.access_point.association_latency: ["
                   + ", ".join(f"{i}ms" for i in range(30)) + "]\n  links.aaa-link.delay: ["
                   + ", ".join(f"{i}ms" for i in range(30)) + "]"),
    # parameter paths
    "one-part-parameter-key": _param("wan: 25ms"),
    "unknown-parameter-root": _param("hosts.mn.address: 10.1.0.5"),
    "parameter-path-with-shell": _param("'kinds.access_point.association_latency;reboot': 5ms"),
    "unknown-link-name": _param("links.aaa-lnk.delay: 5ms"),
    "link-path-too-long": _param("links.aaa-link.delay.max: 5ms"),
    "unknown-node-in-parameter": _param("nodes.mnn.address: 10.1.0.5"),
    "parameter-into-a-scalar": _param("domains.home.realm.x: 1"),
    # overrides reported at the experiment's line
    "override-bad-duration": (PARAM, "  kinds.access_point.association_latency: fast"),
    "override-beyond-limit": _param("links.aaa-link.delay: 1000s"),
    "override-address-outside-subnet": _param("nodes.mn.address: 10.9.0.1"),
    "override-jitter-without-delay": (CONF, "  base:\n    topology: ../topologies/two-aps.yaml\n"
                                            "    parameters: {links.aaa-link.jitter: 5ms}"),
    "override-unknown-key": _param("kinds.access_point.latency: 5ms"),
    "sweep-bad-value": (CONF, CONF + "\nsweep:\n  kinds.access_point.association_latency: [5ms, 5]"),
    "override-integer-address": _param("nodes.mn.address: 167837797"),
    # the topologies it names
    "missing-topology": _topology("nope.yaml"),
    "topology-not-a-mapping": _topology("broken.yaml"),
    "topology-with-an-error": _topology("bad-realm.yaml"),
    "topology-not-utf8": _topology("latin1.yaml"),
    "topology-is-a-directory": _topology(""),
    # scenarios
    "scenario-unknown-ap": (SCEN, SCEN.replace("to: ap1", "to: ap9")),
    "scenario-unknown-flow": (SCEN, SCEN.replace("dot11i-post-authentication", "dot11i-post-auth")),
    "buffering-beyond-limit": (SCEN, SCEN.replace("dot11i-post-authentication", "sip-mpa")[:-1]
                               + ", buffering: 1min}"),
    # C.5.2's flows: `to` a base station, `interface` the MN's cellular interface (issue 15)
    "c52-to-an-access-point": [_c52(), (SCEN, C52_SCEN.replace("to: bs", "to: ap-w"))],
    "c52-to-unknown-base-station": [_c52(), (SCEN, C52_SCEN.replace("to: bs", "to: bss"))],
    "c52-to-without-base-stations": (SCEN, SCEN.replace("dot11i-post-authentication",
                                                        "c52-mpa-both-up")),
    "c52-from-a-base-station": [_c52(), (SCEN, C52_SCEN.replace("from: ap-w", "from: bs"))],
    "c52-interface-unknown": [_c52(), (SCEN, C52_SCEN[:-1] + ", interface: cdma1}")],
    "c52-interface-not-cellular": [_c52(), (SCEN, C52_SCEN[:-1] + ", interface: wlan0}")],
    "interface-on-a-wlan-flow": (SCEN, SCEN[:-1] + ", interface: cdma0}"),
    "copy-forward-on-the-reactive-flow": [_c52(), (SCEN, C52_SCEN.replace(
        "c52-mpa-both-up", "c52-reactive")[:-1] + ", copy_forward: 200ms}")],
    "copy-forward-zero": [_c52(), (SCEN, C52_SCEN[:-1] + ", copy_forward: 0ms}")],
    "copy-forward-beyond-limit": [_c52(), (SCEN, C52_SCEN[:-1] + ", copy_forward: 1min}")],
    "binding-update-on-the-reactive-flow": [_c52(), (SCEN, C52_SCEN.replace(
        "c52-mpa-both-up", "c52-reactive")[:-1] + ", binding_update: tunnel}")],
    "binding-update-unknown": [_c52(), (SCEN, C52_SCEN[:-1] + ", binding_update: before}")],
}


if __name__ == "__main__":
    write_cases(CASES, BASE, HERE / "errors")
