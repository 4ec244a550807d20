"""Topology loading: YAML -> inheritance (defaults -> kind -> node) -> pydantic -> checks.

Every problem is reported as `file:line:col: yaml.path: message`, with a suggestion for a
misspelt key, kind or name.
"""
from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from .checks import check_topology
from .counts import expand_counts
from .placement import check_placement
from .errors import MAX_PROBLEMS, Problem, TopologyError, suggest, type_message
from .errors import describe as _describe
from .topology import NODE_KINDS, Link, LinkParams, Topology
from .yamlsrc import ModelError, SourceMap, load_yaml, paused_gc, read_source

TOP_LEVEL = list(Topology.model_fields)


def load_topology(path: str | Path) -> Topology:
    try:
        text = read_source(path)
    except ModelError as exc:
        raise TopologyError(exc.problems) from None
    return load_topology_text(text, str(path))


def load_topology_text(text: str, file: str = "<string>") -> Topology:
    with paused_gc():
        try:
            data, smap = load_yaml(text, file)
        except ModelError as exc:
            raise TopologyError(exc.problems) from None
        return topology_from_data(data, smap)


def topology_from_data(data: object, smap: SourceMap) -> Topology:
    """Validate data loaded by `load_yaml`; problems are placed by `smap` (an experiment
    passes one that places the values it overrides at its own lines)."""
    file = smap.file
    if data is None:
        raise TopologyError([Problem(file, 1, 1, "", "empty file: expected a topology mapping "
                                     "with keys " + ", ".join(f"'{k}'" for k in TOP_LEVEL))])
    if not isinstance(data, dict):
        raise TopologyError([smap.problem((), "expected a mapping at the top level "
                                          f"(keys {', '.join(TOP_LEVEL)}), got a "
                                          f"{type(data).__name__}")])
    groups: dict[str, list[str]] = {}
    if isinstance(data.get("nodes"), dict):
        nodes, groups, problems = expand_counts(data["nodes"], smap)
        if problems:
            raise TopologyError(problems)
        data = {**data, "nodes": nodes}
    merged, origin, problems = _inherit(data, smap)
    if problems:
        raise TopologyError(problems)
    try:
        topo = Topology.model_validate(merged)
    except ValidationError as exc:
        raise TopologyError([_problem(err, smap, origin)
                             for err in exc.errors()[:MAX_PROBLEMS]]) from None
    problems = [smap.problem(path, msg, key=key) for path, msg, key in check_topology(topo)]
    if problems:
        raise TopologyError(problems)
    topo.counted.update(groups)
    problems = [smap.problem(path, msg, key=key) for path, msg, key in check_placement(topo)]
    if problems:
        raise TopologyError(problems)
    return topo


def _fields(kind: str) -> list[str]:
    return [f for f in NODE_KINDS[kind].model_fields if f != "kind"]


def _inherit(data: dict, smap: SourceMap):
    """Merge defaults.node -> kinds[kind] -> node, and defaults.link -> link.

    Returns (merged data, origin, problems); origin maps a merged path to the path in the
    file the value came from.
    """
    problems: list[Problem] = []
    origin: dict[tuple, tuple] = {}
    all_fields = sorted({f for k in NODE_KINDS for f in _fields(k)})
    defaults = data.get("defaults") or {}
    node_defaults = defaults.get("node") or {} if isinstance(defaults, dict) else {}
    if not isinstance(node_defaults, dict):
        node_defaults = {}
    for key in node_defaults:
        if key not in all_fields:
            problems.append(smap.problem(("defaults", "node", key), f"unknown key '{key}': no node "
                                         f"kind has it{suggest(key, all_fields)}", key=True))
    kinds = data.get("kinds") or {}
    if isinstance(kinds, dict):
        for kind, settings in kinds.items():
            if kind not in NODE_KINDS:
                problems.append(smap.problem(("kinds", kind), _unknown_kind(kind), key=True))
            elif not isinstance(settings, dict):
                problems.append(smap.problem(("kinds", kind), "expected a mapping of settings "
                                             f"for kind {kind} (got {_describe(settings)})"))
            else:
                for key in settings:
                    if key not in _fields(kind):
                        problems.append(smap.problem(
                            ("kinds", kind, key), f"unknown key '{key}' for kind {kind}"
                            f"{suggest(key, _fields(kind))}", key=True))
    nodes = data.get("nodes")
    merged = dict(data)
    if isinstance(nodes, dict):
        merged_nodes = {}
        for name, spec in nodes.items():
            if not isinstance(spec, dict):
                merged_nodes[name] = spec
                continue
            kind = spec.get("kind")
            if kind is None:
                problems.append(smap.problem(("nodes", name), "missing required key 'kind': "
                                             f"expected one of {', '.join(NODE_KINDS)}"))
                continue
            if not isinstance(kind, str) or kind not in NODE_KINDS:
                problems.append(smap.problem(("nodes", name, "kind"), _unknown_kind(kind)))
                continue
            node = {}
            for key, value in node_defaults.items():
                if key in _fields(kind):
                    node[key] = value
                    origin[("nodes", name, key)] = ("defaults", "node", key)
            kind_settings = kinds.get(kind) if isinstance(kinds, dict) else None
            for key, value in (kind_settings if isinstance(kind_settings, dict) else {}).items():
                node[key] = value
                origin[("nodes", name, key)] = ("kinds", kind, key)
            for key, value in spec.items():
                node[key] = value
                origin.pop(("nodes", name, key), None)
            merged_nodes[name] = node
        merged["nodes"] = merged_nodes
    links = data.get("links")
    link_defaults = defaults.get("link") if isinstance(defaults, dict) else None
    if isinstance(links, list) and isinstance(link_defaults, dict):
        merged_links = []
        for i, link in enumerate(links):
            if isinstance(link, dict):
                full = dict(link)
                for key, value in link_defaults.items():
                    if key in LinkParams.model_fields and key not in link:
                        full[key] = value
                        origin[("links", i, key)] = ("defaults", "link", key)
                merged_links.append(full)
            else:
                merged_links.append(link)
        merged["links"] = merged_links
    return merged, origin, problems


def _unknown_kind(kind) -> str:
    if not isinstance(kind, str):
        return f"expected one kind, one of {', '.join(NODE_KINDS)} (got {_describe(kind)})"
    return (f"unknown kind '{kind[:40]}'{suggest(kind, NODE_KINDS)}; "
            f"known kinds: {', '.join(NODE_KINDS)}")


def _source_path(loc: tuple, origin: dict) -> tuple:
    """Pydantic's error location -> the YAML path the value came from."""
    loc = tuple(loc)
    if len(loc) > 2 and loc[0] == "nodes" and loc[2] in NODE_KINDS:
        loc = loc[:2] + loc[3:]          # drop the discriminator tag
    for n in range(len(loc), 0, -1):
        if loc[:n] in origin:
            return origin[loc[:n]] + loc[n:]
    return loc


def _allowed(loc: tuple) -> list[str]:
    """Keys allowed at the mapping that holds `loc` (for suggestions)."""
    if len(loc) == 0:
        return TOP_LEVEL
    if loc[0] == "nodes" and len(loc) >= 3 and loc[2] in NODE_KINDS:
        return list(NODE_KINDS[loc[2]].model_fields)
    if loc[0] == "links":
        return list(Link.model_fields)
    if loc[0] == "radio":
        from .movement import Radio, Shadowing
        return list((Shadowing if loc[1:2] == ("shadowing",) else Radio).model_fields)
    if loc[0] == "placement":
        from .placement import Placement, Server
        return list((Server if loc[1:2] == ("servers",) else Placement).model_fields)
    from . import topology as t
    models = {"domains": t.Domain, "networks": t.Network, "defaults": t.Defaults}
    if loc[0] == "defaults" and len(loc) >= 3 and loc[1] == "link":
        return list(LinkParams.model_fields)
    return list(models[loc[0]].model_fields) if loc[0] in models else []


def _problem(err: dict, smap: SourceMap, origin: dict) -> Problem:
    loc = tuple(err["loc"])
    etype = err["type"]
    on_key = "[key]" in loc
    raw_loc = tuple(p for p in loc if p != "[key]")
    path = _source_path(raw_loc, origin)
    value = err.get("input")
    if etype == "extra_forbidden":
        key = raw_loc[-1]
        where = f" for kind {raw_loc[2]}" if raw_loc[0] == "nodes" and len(raw_loc) > 3 else ""
        msg = f"unknown key '{key}'{where}{suggest(key, _allowed(raw_loc[:-1]))}"
        return smap.problem(path, msg, key=True)
    if etype == "missing":
        return smap.problem(path[:-1], f"missing required key '{raw_loc[-1]}'")
    if etype == "string_pattern_mismatch":
        msg = (f"invalid name '{value}': expected lower-case letters, digits and '-', "
               "starting with a letter, at most 20 characters")
        return smap.problem(path, msg, key=on_key)
    if etype == "literal_error":
        expected = err["ctx"]["expected"]
        choices = [c.strip(" '") for c in expected.replace(" or ", ", ").split(",")]
        msg = f"expected one of {expected} (got {value!r}){suggest(str(value), choices)}"
        return smap.problem(path, msg)
    if etype in ("ip_v4_network", "ip_v4_interface", "ip_v4_address"):
        what = {"ip_v4_network": "an IPv4 subnet like '10.1.0.0/24' (no host bits set)",
                "ip_v4_interface": "an IPv4 address like '10.1.0.1' or '10.1.0.1/24'",
                "ip_v4_address": "an IPv4 address like '10.1.0.1'"}[etype]
        return smap.problem(path, f"expected {what} (got {value!r})")
    if etype in ("too_short", "too_long") and raw_loc[-1] == "endpoints":
        return smap.problem(path, f"expected exactly 2 entries (got {len(value)})")
    msg = type_message(err) or err["msg"].removeprefix("Value error, ")
    return smap.problem(path, msg, key=on_key)
