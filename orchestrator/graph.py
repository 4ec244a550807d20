"""`mpa-testbed graph`: a picture of a topology, domains drawn as groups (Graphviz)."""
from __future__ import annotations

import subprocess
from pathlib import Path

from .model import Topology
from .model.topology import BaseStation, MobileNode
from .model.units import format_duration

COLORS = {"mobile_node": "#f4a261", "access_point": "#e9c46a", "access_router": "#2a9d8f",
          "router": "#8ab17d", "aaa_server": "#e76f51", "authentication_agent": "#9b5de5",
          "configuration_agent": "#00bbf9", "correspondent_node": "#adb5bd",
          "information_server": "#ffd6a5", "base_station": "#caffbf"}


def _q(s: str) -> str:
    return '"' + s.replace('"', r"\"") + '"'


def to_dot(t: Topology) -> str:
    lines = [f"graph {_q(t.name)} {{", "  graph [fontname=Helvetica, rankdir=LR, "
             f"label={_q(t.name + ' (RFC 6252 testbed)')}, labelloc=t];",
             "  node [fontname=Helvetica, fontsize=10]; edge [fontname=Helvetica, fontsize=9];"]

    def node_line(name):
        n = t.nodes[name]
        roles = "+".join([n.kind] + list(n.colocated))
        if isinstance(n, MobileNode):
            roles += f" (home: {n.home_domain})"
        return f"    {_q(name)} [shape=box, style=\"rounded,filled\", fillcolor={_q(COLORS[n.kind])}, " \
               f"label={_q(name + chr(10) + roles)}];"

    def net_line(name):
        net = t.networks[name]
        parts = [name] + ([str(net.subnet)] if net.subnet else []) \
            + ([str(net.ipv6.prefix)] if net.ipv6 else [])
        label = "\n".join(parts)
        return f"    {_q(name)} [shape=ellipse, style=dashed, label={_q(label)}];"

    placed = set()
    for dname, dom in t.domains.items():
        lines.append(f"  subgraph {_q('cluster_' + dname)} {{")
        lines.append(f"    label={_q(f'domain {dname} ({dom.realm}, {dom.mobility_protocol})')}; "
                     "style=rounded; color=gray40;")
        for net, spec in t.networks.items():
            if spec.domain == dname:
                lines.append(net_line(net))
                placed.add(net)
        for name, n in t.nodes.items():
            if n.domain == dname:
                lines.append(node_line(name))
                placed.add(name)
        lines.append("  }")
    for net in t.networks:
        if net not in placed:
            lines.append(net_line(net).replace("    ", "  ", 1))
    for name in t.nodes:
        if name not in placed:
            lines.append(node_line(name).replace("    ", "  ", 1))
    for link in t.links:
        a, b = (t.link_endpoint(e)[0] for e in link.endpoints)
        label = []
        if link.delay:
            label.append(format_duration(link.delay))
        if link.bandwidth:
            label.append(f"{link.bandwidth:g} Mbit/s")
        if link.loss:
            label.append(f"loss {link.loss * 100:g}%")
        attrs = f" [label={_q(', '.join(label))}, penwidth=2]" if label else ""
        lines.append(f"  {_q(a)} -- {_q(b)}{attrs};")
    for name, n in t.nodes.items():
        if isinstance(n, BaseStation):
            label = [f"radio, RTT {format_duration(n.link_rtt)}"] + (
                [f"{n.link_bandwidth:g} Mbit/s"] if n.link_bandwidth else [])
            lines.append(f"  {_q(name)} -- {_q(n.network)} [style=dashed, "
                         f"label={_q(', '.join(label))}];")
        for ifname, radio in (n.radios().items() if isinstance(n, MobileNode) else ()):
            peer = radio.associate or radio.attach
            if peer:
                label = "radio" if n.interfaces is None else f"{ifname} ({radio.technology})"
                lines.append(f"  {_q(name)} -- {_q(peer)} [style=dotted, label={_q(label)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(t: Topology, output: str | None = None) -> str:
    out = Path(output or f"results/{t.name}.svg")
    out.parent.mkdir(parents=True, exist_ok=True)
    fmt = out.suffix.lstrip(".") or "svg"
    if fmt == "dot":
        out.write_text(to_dot(t))
        return str(out)
    if fmt not in ("svg", "png", "pdf"):
        raise RuntimeError(f"graph output must end in .svg, .png, .pdf or .dot (got {out.name})")
    r = subprocess.run(["dot", f"-T{fmt}", "-o", str(out)], input=to_dot(t), text=True,
                       capture_output=True)
    if r.returncode != 0:
        raise RuntimeError(f"graphviz failed: {r.stderr.strip()}")
    return str(out)
