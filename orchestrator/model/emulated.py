"""Every emulated value of a resolved topology, and where it was set (pure).

What emulation cannot produce is a YAML parameter (README, "Link emulation"; STYLE: "every
emulated quantity ... is reported beside the results it influenced"). A value can be set in
five places, the most specific winning:

    defaults.node.<key> -> kinds.<kind>.<key> -> nodes.<node>.<key>      (node parameters)
    defaults.link.<key> -> links[i].<key>                                (link parameters)

and an experiment may override any of them (`parameters:`, a configuration's `parameters:`,
`sweep:`). `emulated_values` lists, for one configuration, every emulation parameter of every
node and every impaired link with its effective value and the place it came from:

    EmulatedValue(path="nodes.ap1.association_latency", value=12.0, unit="ms",
                  source="experiment parameters: kinds.access_point.association_latency")
    EmulatedValue(path="links.gw-x--gw-h.delay", value=30.0, unit="ms",
                  source="topology links[12]")

Node parameters are the node kinds' Duration fields (association latency, link-down
detection, DAD probe spacing, RTP interval; a base station's attach and activation latency
and radio link RTT) `dad_probes`, a base station's `link_bandwidth` and a DHCP server's `conflict_check` (1: it pings
an address before offering it, ~3 s in dnsmasq; 0: no-ping); a multi-interface
MN's radios add `nodes.<mn>.interfaces.<ifname>.link_down_detection` (RFC 6252 C.5.2: the
mobile's cellular link is the base station's link_rtt/link_bandwidth, not a `links:` entry);
link parameters are delay,
jitter, loss and bandwidth. A link is named by its `name:` if it has one, else by its two
endpoints' nodes or networks, `a--b` (`link_id`). Links with no impairment at all are not
listed unless a value was set for them explicitly, e.g. a swept delay of 0 ms (the others
are reported as one line, "every other link: none").
"""
from __future__ import annotations

from dataclasses import dataclass

from .topology import NODE_KINDS, Link, LinkParams, Topology
from .units import parse_duration

# node fields that are emulation parameters besides the Duration ones, with their unit
EXTRA_NODE_PARAMETERS = {"dad_probes": "probes", "link_bandwidth": "Mbit/s",
                         "conflict_check": "on/off"}
# link fields: (unit, factor from the model's stored value)
LINK_PARAMETERS = {"delay": ("ms", 1e3), "jitter": ("ms", 1e3), "loss": ("%", 100.0),
                   "bandwidth": ("Mbit/s", 1.0)}


@dataclass(frozen=True)
class EmulatedValue:
    path: str          # nodes.<node>.<key> or links.<link id>.<key>
    value: float | None
    unit: str
    source: str        # where the value was set: "experiment ...", "topology ...", "default"

    def column(self) -> str:
        """The records column: 'emulated:nodes.ap1.association_latency[ms]'."""
        return f"emulated:{self.path}[{self.unit}]"

    def shown(self) -> str:
        """'12 ms', 'off'."""
        if self.unit == "on/off":
            return "on" if self.value else "off"
        return f"{self.value:g} {self.unit}"


def node_parameters(kind: str) -> dict[str, str]:
    """field -> unit of the emulation parameters of a node kind."""
    fields = NODE_KINDS[kind].model_fields
    out = {f: "ms" for f, info in fields.items() if _is_duration(info)}
    out.update({f: u for f, u in EXTRA_NODE_PARAMETERS.items() if f in fields})
    return out


def _is_duration(info) -> bool:
    """A field declared as units.Duration (its validator is parse_duration)."""
    return any(getattr(m, "func", None) is parse_duration for m in info.metadata)


def link_id(t: Topology, index: int) -> str:
    """A link's name, else 'a--b' of its endpoints' nodes or networks ('a--b#2' for a second
    link between the same two)."""
    link = t.links[index]
    if link.name:
        return link.name
    ends = "--".join(t.link_endpoint(e)[0] for e in link.endpoints)
    same = [i for i, other in enumerate(t.links[:index]) if not other.name
            and "--".join(t.link_endpoint(e)[0] for e in other.endpoints) == ends]
    return ends + (f"#{len(same) + 1}" if same else "")


def find_link(t: Topology, ident: str) -> int | None:
    """The index of the link named `ident`, or whose endpoints are 'a--b' (either order)."""
    for i, link in enumerate(t.links):
        if link.name == ident or link_id(t, i) == ident:
            return i
    a, sep, b = ident.partition("--")
    if sep:
        for i, link in enumerate(t.links):
            ends = [t.link_endpoint(e)[0] for e in link.endpoints]
            if sorted(ends) == sorted([a, b]):
                return i
    return None


def _impaired(link: Link) -> bool:
    return any(getattr(link, k) not in (None, 0, 0.0) for k in LINK_PARAMETERS)


def emulated_values(t: Topology, original: dict | None = None,
                    overrides: dict[str, str] | None = None) -> list[EmulatedValue]:
    """Every emulation parameter of `t` (a resolved topology: values already effective).

    `original`: the topology file's data before the experiment's overrides (for the
    source); `overrides`: parameter path -> where the experiment set it (e.g.
    "experiment parameters"). Without them every source says "topology or default"."""
    original = original or {}
    overrides = overrides or {}
    out = []
    for name, node in t.nodes.items():
        for key, unit in node_parameters(node.kind).items():
            if key == "conflict_check" and "configuration_agent" not in t.roles(name):
                continue                  # an access router that serves no DHCP
            value = getattr(node, key)
            value = None if value is None else (value * 1e3 if unit == "ms" else float(value))
            levels = [("nodes", name), ("kinds", node.kind), ("defaults", "node")]
            out.append(EmulatedValue(f"nodes.{name}.{key}", value, unit,
                                     _source(levels, key, original, overrides)))
        for ifname, radio in (node.radios().items() if getattr(node, "interfaces", None) else ()):
            levels = [("nodes", name, "interfaces", ifname), ("nodes", name),
                      ("kinds", node.kind), ("defaults", "node")]
            out.append(EmulatedValue(
                f"nodes.{name}.interfaces.{ifname}.link_down_detection",
                radio.link_down_detection * 1e3, "ms",
                _source(levels, "link_down_detection", original, overrides)))
    for i, link in enumerate(t.links):
        sources = {k: _link_source(t, i, k, original, overrides) for k in LINK_PARAMETERS}
        if not _impaired(link) and all(v == "default" for v in sources.values()):
            continue                  # nothing set, nothing emulated: "every other link"
        ident = link_id(t, i)
        for key, (unit, factor) in LINK_PARAMETERS.items():
            value = getattr(link, key)
            value = None if value is None else round(value * factor, 9)
            out.append(EmulatedValue(f"links.{ident}.{key}", value, unit, sources[key]))
    return out


def _get(data, *path):
    for p in path:
        if isinstance(data, dict) and p in data:
            data = data[p]
        elif isinstance(data, list) and isinstance(p, int) and p < len(data):
            data = data[p]
        else:
            return None
    return data


def _source(levels, key, original, overrides) -> str:
    for level in levels:                      # the most specific level that sets it wins
        path = ".".join((*level, key))
        if path in overrides:
            return f"{overrides[path]}: {path}"
        if _get(original, *level, key) is not None:
            return f"topology {'.'.join(level)}"
    return "default"


def _link_source(t: Topology, i: int, key: str, original, overrides) -> str:
    link = t.links[i]
    names = {f"links.{link_id(t, i)}.{key}"} | ({f"links.{link.name}.{key}"} if link.name else set())
    ends = [t.link_endpoint(e)[0] for e in link.endpoints]
    names |= {f"links.{a}--{b}.{key}" for a, b in (ends, ends[::-1])}
    for path in names:
        if path in overrides:
            return f"{overrides[path]}: {path}"
    raw = _get(original, "links", i)
    if isinstance(raw, dict) and raw.get(key) is not None:
        return f"topology links[{i}]"
    if f"defaults.link.{key}" in overrides:
        return f"{overrides[f'defaults.link.{key}']}: defaults.link.{key}"
    if _get(original, "defaults", "link", key) is not None:
        return "topology defaults.link"
    return "default"


def unimpaired_links(t: Topology) -> list[str]:
    """The links with no delay, jitter, loss or bandwidth limit."""
    return [link_id(t, i) for i, link in enumerate(t.links) if not _impaired(link)]


__all__ = ["EmulatedValue", "emulated_values", "link_id", "find_link", "node_parameters",
           "unimpaired_links", "LinkParams"]
