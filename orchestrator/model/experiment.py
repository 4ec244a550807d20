"""Experiment files: which topologies, which scenarios, every emulated parameter, how many
repetitions, sweeps and a seed (RFC 6252 Appendix C reproductions and their extensions).

    name: fig10
    seed: 6252
    repetitions: 10
    parameters:                          # overrides of topology values, by YAML path
      kinds.access_point.association_latency: 15ms
    configurations:                      # one testbed bring-up each (times each sweep point)
      non-roaming: {topology: ../topologies/fig8-l2-preauth-nonroaming.yaml}
      roaming:     {topology: ../topologies/fig9-l2-preauth-roaming.yaml,
                    parameters: {links.wan.delay: 25ms}}
    sweep:                               # a list of values gives one configuration each
      kinds.access_point.association_latency: [5ms, 15ms]
    scenarios:
      - {name: post-auth, flow: dot11i-post-authentication, from: ap0, to: ap1}
      - {name: crowd, flow: mpa-l2-pre-authentication, from: ap0, to: ap1,
         concurrent: {mobile_nodes: 100, arrivals: poisson, rate: 20/s}}
    mobile_node: mn                      # optional: default the topology's only mobile node
    reference:                           # optional: which RFC column stands beside which run
      table: rfc6252_fig10
      columns: {non-roaming: non-roaming, roaming: roaming}

Parameter paths address the topology file: `kinds.<kind>.<key>`, `defaults.node.<key>`,
`defaults.link.<key>`, `nodes.<node>.<key>`, `links.<link>.<key>` (a link by its `name:` or
by its endpoints, `links.gw-v--gw-h.delay`), `radio.<key>` (`radio.shadowing.sigma`). A value that does not fit is reported at the
experiment file's line, not the topology's. What each scenario needs of the topology (a PAA
on the target network, ...) is checked on load too (model/prerequisites.py).

Each configuration's topology file is read and parsed once; every sweep point is its data
with the overrides applied, validated with the topology's own source map (a problem of the
file is reported at its line there, one an override causes at the override's line here).
At most MAX_POINTS configurations x sweep points are accepted (each is a testbed bring-up).
"""
from __future__ import annotations

import copy
import itertools
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from .emulated import emulated_values
from .errors import MAX_PROBLEMS, ModelError, Problem, format_path, suggest, type_message
from .load import topology_from_data
from .movement import MovementSpec
from .prerequisites import INTER_TECHNOLOGY_FLOWS, check_experiment
from .topology import Count, Name, Strict, Topology
from .counts import MAX_COUNT
from .units import Duration, Rate, at_most
from .yamlsrc import SourceMap, load_yaml, paused_gc, read_source

MAX_POINTS = 256                 # configurations x sweep points: bring-ups in one run
_PARAM_PART = re.compile(r"[a-z_][a-z0-9_-]{0,39}\Z")

# INTER_TECHNOLOGY_FLOWS: C.5.2's handovers, from a WLAN AP (`from`) to a base station
# (`to`): reactive (non-optimized), MPA with both interfaces up, MPA with the second
# interface activated only at the handover (experiment/scenarios.py)
FLOWS = ("dot11i-post-authentication", "dot11i-pre-authentication", "mpa-l2-pre-authentication",
         "sip-mpa", "sip-non-mpa", "mipv6-mpa", "mipv6-non-mpa", *INTER_TECHNOLOGY_FLOWS,
         "movement", "switch-back")
# a stream from the CN across the handover (C.5.1, C.5.2): a SIP call, or Mobile IPv6 (issue 14)
MIPV6_FLOWS = ("mipv6-mpa", "mipv6-non-mpa")
MEDIA_FLOWS = ("sip-mpa", "sip-non-mpa", *MIPV6_FLOWS, *INTER_TECHNOLOGY_FLOWS)
BUFFERING_FLOWS = ("sip-mpa", "mipv6-mpa")


class ExperimentError(ModelError):
    pass


ARRIVALS = ("simultaneous", "poisson")
MAX_RATE = 1000.0                # arrivals per second: beyond what one machine's agents serve


class Concurrent(Strict):
    """Many mobile nodes hand over in one repetition (issue 17): the first `mobile_nodes`
    MNs of the topology (in its order; `all`: every one), each starting the scenario's flow
    from the same AP, either all at once (`simultaneous`) or as a Poisson arrival stream of
    `rate` (exponential gaps between arrivals, drawn from `seed`, default the experiment's
    seed, and the repetition). Each MN's handover is one record (orchestrator/experiment/
    concurrent.py)."""
    mobile_nodes: Annotated[Count, Field(ge=1, le=MAX_COUNT)] | Literal["all"] = "all"
    arrivals: Literal[ARRIVALS] = "simultaneous"  # type: ignore[valid-type]
    rate: Annotated[Rate, at_most(MAX_RATE, "rate", "/s")] | None = Field(
        None, description="poisson: mean arrivals per time, like '20/s'")
    seed: Count | None = Field(None, description="poisson: default the experiment's seed")

    @model_validator(mode="after")
    def _rate_fits_the_arrivals(self):
        if self.arrivals == "poisson" and self.rate is None:
            raise ValueError("poisson arrivals need a rate, like 'rate: 20/s'")
        if self.arrivals != "poisson" and (self.rate is not None or self.seed is not None):
            raise ValueError(f"rate and seed apply to poisson arrivals only (arrivals is "
                             f"{self.arrivals}): simultaneous MNs all start at once")
        return self


class Scenario(Strict):
    """One handover flow between two APs (or, for the C.5.2 flows, from an AP to a base
    station), repeated `repetitions` times per configuration; or a movement (`flow:
    movement`) from the AP `from`, whose policy chooses the handovers (model/movement.py)."""
    name: Name
    flow: Literal[FLOWS]  # type: ignore[valid-type]
    from_ap: Name = Field(alias="from")
    to_ap: Name | None = Field(None, alias="to", description="the target access point; for the "
                               "c52-* flows the target base station; none for a movement")
    interface: Name | None = Field(
        None, description="c52-* flows: the MN's cellular interface attached to the `to` "
                          "base station; default the only one")
    movement: MovementSpec | None = Field(
        None, description="flow movement: the MN's path, its handover policy, the sample interval")
    switches: Annotated[Count, Field(ge=1, le=100)] | None = Field(
        None, description="flow switch-back: switches after the first handover (default 4)")
    context: Literal["mpa-sa", "none"] | None = Field(
        None, description="flow switch-back: what the networks keep when the MN leaves (C.2: "
                          "'mpa-sa', the default; 'none': a full handover every time)")
    bicasting: Annotated[Duration, at_most(3600.0, "bicasting")] | None = Field(
        None, description="flow switch-back: the CN keeps a copy of its stream going to the "
                          "address the MN left for this long after each move (C.1)")
    mpa_sa_lifetime: Annotated[Duration, at_most(3600.0, "mpa_sa_lifetime")] | None = Field(
        None, description="flow switch-back: how long the PAA keeps an unauthorized MPA-SA "
                          "(default 60s)")
    description: str = ""
    buffering: Annotated[Duration, at_most(10.0, "buffering")] | None = Field(
        None, description="sip-mpa, mipv6-mpa: buffering period at the nAR (s7.6.1); absent: "
                          "disabled")
    correspondent: Name | None = Field(
        None, description="sip flows: the CN the MN calls; default: the topology's only one")
    copy_forward: Annotated[Duration, at_most(10.0, "copy_forward")] | None = Field(
        None, description="c52-mpa-* flows: copy-and-forward (C.5.2) for this long from the "
                          "switch, at the router that served the old path: the tunnel's end "
                          "in the cellular network (binding_update: tunnel) or the WLAN's "
                          "access router (after-switch); absent: off")
    binding_update: Literal["tunnel", "after-switch"] | None = Field(
        None, description="c52-mpa-* flows: where the re-INVITE leaves (RFC 6252 s7.4, s7.5): "
                          "'tunnel' (the default) through the proactive handover tunnel into "
                          "the cellular network, before the switch; 'after-switch' from the "
                          "cellular interface once it is the active one (issue 15's first "
                          "version, kept for comparison)")
    stream: Annotated[Duration, at_most(60.0, "stream")] = Field(
        0.5, description="sip flows: RTP stream time kept before and after the handover")
    concurrent: Concurrent | None = Field(
        None, description="many MNs hand over in each repetition, at once or as a Poisson "
                          "stream (layer-2 flows)")
    route_optimization: bool = Field(
        False, description="mipv6 flows: return routability and a binding with the CN "
                           "(RFC 6275 s11.6-s11.7.2), before the move and after it")

    @model_validator(mode="after")
    def _options_fit_the_flow(self):
        if self.flow == "movement":
            if self.movement is None:
                raise ValueError("flow movement needs 'movement: {path: ..., policy: ...}'")
            if self.to_ap is not None:
                raise ValueError("a movement has no 'to': its policy chooses the handovers "
                                 "from what the MN hears along the path")
        else:
            if self.movement is not None:
                raise ValueError(f"movement applies to the flow movement only (not {self.flow})")
            if self.to_ap is None:
                raise ValueError(f"missing required key 'to': the AP {self.flow} hands over to")
        if self.flow != "switch-back":
            for key in ("switches", "context", "mpa_sa_lifetime", "bicasting"):
                if getattr(self, key) is not None:
                    raise ValueError(f"{key} applies to the flow switch-back only (not {self.flow})")
        if self.buffering is not None and self.flow not in BUFFERING_FLOWS:
            raise ValueError(f"buffering applies to the flows {', '.join(BUFFERING_FLOWS)} "
                             f"only (not {self.flow}): the nAR buffers for an MN that "
                             "pre-configured with it")
        if self.route_optimization and self.flow not in MIPV6_FLOWS:
            raise ValueError(f"route_optimization applies to the flows "
                             f"{', '.join(MIPV6_FLOWS)} only (not {self.flow})")
        if self.interface is not None and self.flow not in INTER_TECHNOLOGY_FLOWS:
            raise ValueError(f"interface applies to the c52-* flows only (not {self.flow}): "
                             "it names the cellular interface the MN hands over to")
        if self.copy_forward is not None and self.flow not in INTER_TECHNOLOGY_FLOWS[1:]:
            raise ValueError(f"copy_forward applies to the c52-mpa-* flows only (not "
                             f"{self.flow}): the previous access router copies packets for "
                             "the MN's old address to the address it prepared")
        if self.binding_update is not None and self.flow not in INTER_TECHNOLOGY_FLOWS[1:]:
            raise ValueError(f"binding_update applies to the c52-mpa-* flows only (not "
                             f"{self.flow}): it says whether the re-INVITE goes through the "
                             "proactive handover tunnel before the switch")
        if self.copy_forward is not None and self.copy_forward <= 0:
            raise ValueError("copy_forward must be a positive duration, e.g. '200ms'; leave "
                             "it out to turn copy-and-forward off")
        if self.buffering is not None and self.buffering <= 0:
            raise ValueError("buffering must be a positive period, e.g. '200ms'; leave it "
                             "out to disable buffering")
        if self.concurrent is not None and self.flow in MEDIA_FLOWS:
            raise ValueError(f"concurrent handovers run the layer-2 flows (not {self.flow}): "
                             "each MN's SIP call would need a correspondent of its own")
        return self


class Configuration(Strict):
    topology: str
    parameters: dict[str, object] = Field(default_factory=dict)
    description: str = ""
    mobile_node: Name | None = Field(None, description="the MN that moves, if not the "
                                     "experiment's mobile_node")


class Reference(Strict):
    """The RFC's table a run is compared with, and which of its columns stand beside which of
    the run's configurations or scenarios (as the table's CSV header says). Without
    `columns`, each RFC column stands beside the configuration or scenario of its name."""
    table: str = Field(description="a table of orchestrator/analysis/reference/, e.g. rfc6252_fig10")
    columns: dict[str, Name | list[Name]] | None = Field(
        None, description="RFC column -> configuration(s) or scenario(s)")


class Experiment(Strict):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,39}$")]
    description: str = ""
    reference: Reference | None = Field(
        None, description="RFC table to compare with and its column mapping; a bare table "
                          "name matches columns to configurations or scenarios of the same name")
    mobile_node: Name | None = Field(
        None, description="the MN that moves; default: the topology's only mobile node")
    seed: Count = 0
    repetitions: Annotated[Count, Field(ge=1, le=10000)] = 10
    parameters: dict[str, object] = Field(default_factory=dict)
    configurations: Annotated[dict[Name, Configuration], Field(min_length=1)]
    sweep: dict[str, Annotated[list[object], Field(min_length=1, max_length=MAX_POINTS)]] = \
        Field(default_factory=dict)
    scenarios: Annotated[list[Scenario], Field(min_length=1)]

    @field_validator("reference", mode="before")
    @classmethod
    def _table_name_alone(cls, value):
        """`reference: rfc6252_fig10` is `reference: {table: rfc6252_fig10}`."""
        return {"table": value} if isinstance(value, str) else value


@dataclass
class ResolvedConfiguration:
    """One bring-up: a configuration at one sweep point, with its resolved topology."""
    name: str                       # e.g. "roaming" or "roaming/wan.delay=50ms"
    configuration: str
    topology_file: str
    overrides: dict[str, object]
    sweep_point: dict[str, object]
    topology: Topology
    topology_text: str = field(repr=False, default="")
    mobile_node: str = ""           # the MN that moves (set by prerequisites.check_experiment)
    emulated: list = field(default_factory=list)   # emulated.EmulatedValue, with sources


def load_experiment(path: str | Path) -> tuple[Experiment, list[ResolvedConfiguration]]:
    path = Path(path)
    with paused_gc():
        try:
            data, smap = load_yaml(read_source(path), str(path))
        except ModelError as exc:
            raise ExperimentError(exc.problems) from None
        if not isinstance(data, dict):
            raise ExperimentError([smap.problem((), "expected an experiment mapping (name, "
                                                "configurations, scenarios, ...)")])
        try:
            exp = Experiment.model_validate(data)
        except ValidationError as exc:
            raise ExperimentError([_pydantic_problem(e, smap)
                                   for e in exc.errors()[:MAX_PROBLEMS]]) from None
        problems = list(_experiment_problems(exp, smap))
        if problems:
            raise ExperimentError(problems)
        return exp, resolve(exp, path, smap)


def _experiment_problems(exp: Experiment, smap: SourceMap):
    """What the model's types cannot say: distinct scenario names, a bounded plan."""
    seen: dict[str, int] = {}
    for i, s in enumerate(exp.scenarios):
        if s.name in seen:
            yield smap.problem(("scenarios", i, "name"), f"scenario name '{s.name}' is also the "
                               f"name of scenarios[{seen[s.name]}]: records are kept by name")
        seen.setdefault(s.name, i)
    points = math.prod(len(v) for v in exp.sweep.values())
    if len(exp.configurations) * points > MAX_POINTS:
        yield smap.problem(("sweep",) if exp.sweep else ("configurations",),
                           f"{len(exp.configurations) * points} testbed bring-ups "
                           f"({len(exp.configurations)} configuration(s) x {points} sweep "
                           f"points), more than {MAX_POINTS}: split the experiment", key=True)
    for section, params in [(("parameters",), exp.parameters), (("sweep",), exp.sweep)] + [
            (("configurations", c, "parameters"), conf.parameters)
            for c, conf in exp.configurations.items()]:
        for key in params:
            if not all(_PARAM_PART.match(p) for p in key.split(".")):
                yield smap.problem(section + (key,), f"parameter path '{key[:80]}' is not "
                                   "dot-separated names like kinds.access_point."
                                   "association_latency", key=True)


def _pydantic_problem(err: dict, smap: SourceMap) -> Problem:
    loc = tuple(p for p in err["loc"] if p != "[key]")
    if err["type"] == "extra_forbidden":
        if len(loc) == 1:
            fields = Experiment.model_fields
        elif loc[0] == "scenarios" and len(loc) == 3:
            fields = Scenario.model_fields
        elif loc[0] == "configurations" and len(loc) == 3:
            fields = Configuration.model_fields
        elif loc[0] == "reference" and len(loc) == 2:
            fields = Reference.model_fields
        elif loc[0] == "scenarios" and len(loc) == 4 and loc[2] == "concurrent":
            fields = Concurrent.model_fields
        elif loc[0] == "scenarios" and len(loc) > 3:
            fields = _fields_at(Scenario, loc[2:-1])
        else:
            fields = {}
        names = [f.alias or k for k, f in fields.items()] if fields else []
        return smap.problem(loc, f"unknown key '{loc[-1]}'{suggest(loc[-1], names)}", key=True)
    if err["type"] == "missing":
        return smap.problem(loc[:-1], f"missing required key '{loc[-1]}'")
    if err["type"] == "too_short" and loc in (("configurations",), ("scenarios",)):
        return smap.problem(loc, {"configurations": "an experiment needs at least one "
                                  "configuration, like 'name: {topology: FILE}'",
                                  "scenarios": "an experiment needs at least one scenario, "
                                  "like '- {name: N, flow: F, from: AP, to: AP}'"}[loc[0]])
    if err["type"] == "string_pattern_mismatch":
        return smap.problem(loc, f"invalid name {err['input']!r}: expected lower-case letters, "
                                 "digits and '-', starting with a letter")
    if err["type"] == "literal_error":
        return smap.problem(loc, f"expected one of {err['ctx']['expected']} (got {err['input']!r})"
                                 f"{suggest(str(err['input']), FLOWS)}")
    return smap.problem(loc, type_message(err) or err["msg"].removeprefix("Value error, "))


def _fields_at(model, loc: tuple) -> dict:
    """The fields of the nested model at `loc` under `model` (for suggestions)."""
    import typing
    from pydantic import BaseModel
    for part in loc:
        if isinstance(part, int):
            continue
        fields = {f.alias or k: f for k, f in model.model_fields.items()}
        if part not in fields:
            return {}
        todo, found = [fields[part].annotation], None
        while todo and found is None:
            ann = todo.pop()
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                found = ann
            else:
                todo += list(typing.get_args(ann))
        if found is None:
            return {}
        model = found
    return model.model_fields


def _set_path(data: dict, path: str, value) -> tuple[tuple | None, str | None]:
    """Set `path` in raw topology data: (the topology's YAML path that was set, None) or
    (None, an error message)."""
    parts = path.split(".")
    if parts[0] == "links":
        if len(parts) != 3:
            return None, "expected links.<link name>.<key>"
        by_name = _links_by_name(data)
        if parts[1] not in by_name:
            return None, (f"no link named '{parts[1]}'{suggest(parts[1], by_name)} (give the "
                          "link a 'name:' in the topology, or name it by its endpoints: 'a--b')")
        data["links"][by_name[parts[1]]][parts[2]] = value
        return ("links", by_name[parts[1]], parts[2]), None
    if (parts[0] not in ("kinds", "defaults", "nodes", "domains", "networks", "radio")
            or len(parts) < (2 if parts[0] == "radio" else 3)):
        return None, ("expected kinds.<kind>.<key>, defaults.node.<key>, defaults.link.<key>, "
                      "nodes.<node>.<key>, links.<link name>.<key> or radio.<key>")
    cur = data
    for i, part in enumerate(parts[:-1]):
        if not isinstance(cur.get(part, {}), dict):
            return None, f"'{'.'.join(parts[:i + 1])}' is not a mapping"
        if parts[0] in ("nodes", "domains", "networks") and i == 1 and part not in cur:
            return None, f"no {parts[0][:-1]} named '{part}'{suggest(part, cur)}"
        cur = cur.setdefault(part, {})
    cur[parts[-1]] = value
    return tuple(parts), None


class _Overridden(SourceMap):
    """The topology's source map, except that a problem with a value an experiment set (or
    with the item holding it) is placed at the experiment's line that set it."""

    def __init__(self, base: SourceMap, where: dict[tuple, tuple[SourceMap, tuple]]):
        super().__init__(base.file, base.values, base.keys)
        self.where = where

    def problem(self, path: tuple, message: str, key: bool = False) -> Problem:
        path = tuple(path)
        for set_path, (exp_smap, exp_path) in self.where.items():
            n = min(len(path), len(set_path))
            if path[:n] == set_path[:n] and n >= 2:
                line, col = exp_smap.locate(exp_path)
                return Problem(exp_smap.file, line, col, format_path(exp_path),
                               f"{message} (in {Path(self.file).name} at {format_path(path)})")
        return super().problem(path, message, key)


def _shown(path: Path) -> str:
    """A topology path as the user would write it: relative to the working directory."""
    return os.path.relpath(path)


def resolve(exp: Experiment, exp_path: Path, smap: SourceMap) -> list[ResolvedConfiguration]:
    out, problems = [], []
    keys = list(exp.sweep)
    points = [dict(zip(keys, combo)) for combo in itertools.product(*exp.sweep.values())] or [{}]
    for cname, conf in exp.configurations.items():
        topo_path = (exp_path.parent / conf.topology).resolve()
        where_conf = ("configurations", cname, "topology")
        try:
            os.stat(topo_path)
        except OSError as exc:
            problems.append(smap.problem(where_conf, f"cannot read topology {conf.topology}: "
                                                     f"{exc.strerror}"))
            continue
        try:
            raw, topo_smap = load_yaml(read_source(_shown(topo_path)), _shown(topo_path))
        except ModelError as exc:
            problems.append(smap.problem(where_conf, f"topology {conf.topology} cannot be read "
                                                     "(its problem is reported at its own "
                                                     "line)"))
            problems += exc.problems
            continue
        if not isinstance(raw, dict):
            problems.append(smap.problem(("configurations", cname, "topology"),
                                         f"topology {conf.topology} is not a topology mapping"))
            continue
        for point in points:
            data = copy.deepcopy(raw)
            where: dict[tuple, tuple[SourceMap, tuple]] = {}
            sources: dict[str, tuple] = {}
            for yaml_path, (key, value) in (
                    [(("parameters", k), (k, v)) for k, v in exp.parameters.items()]
                    + [(("configurations", cname, "parameters", k), (k, v)) for k, v in conf.parameters.items()]
                    + [(("sweep", k), (k, v)) for k, v in point.items()]):
                set_path, err = _set_path(data, key, value)
                if err:
                    problems.append(smap.problem(yaml_path, err, key=True))
                else:
                    where[set_path] = (smap, yaml_path)
                sources[key] = yaml_path
            overrides = {**exp.parameters, **conf.parameters, **point}
            try:
                topo = topology_from_data(data, _Overridden(topo_smap, where))
            except ModelError as exc:
                problems += exc.problems
                continue
            label = cname + "".join(f"/{k.split('.', 1)[-1]}={_fmt(v)}" for k, v in point.items())
            text = yaml.safe_dump(data, sort_keys=False)
            emulated = emulated_values(topo, raw, {
                k: "experiment " + ".".join(str(x) for x in p[:-1]) for k, p in sources.items()})
            out.append(ResolvedConfiguration(label, cname, str(topo_path), overrides, point, topo,
                                             text, emulated=emulated))
        if len(problems) >= MAX_PROBLEMS:
            break
    if problems:
        raise ExperimentError(_unique(problems)[:MAX_PROBLEMS])
    scen_problems = []
    for rc in out:
        aps = set(rc.topology.nodes_of("access_point"))
        stations = set(rc.topology.nodes_of("base_station"))
        for i, s in enumerate(exp.scenarios):
            for key, ap in (("from", s.from_ap), ("to", s.to_ap)):
                if key == "to" and s.flow in INTER_TECHNOLOGY_FLOWS:
                    if ap not in stations:
                        scen_problems.append(smap.problem(("scenarios", i, key), f"'{ap}' is "
                                             f"not a base station of {Path(rc.topology_file).name}"
                                             f"{suggest(ap, stations)}: {s.flow} hands over "
                                             "to a cellular interface attached to one (its "
                                             f"base stations: {', '.join(sorted(stations)) or 'none'})"))
                elif ap is not None and ap not in aps:
                    scen_problems.append(smap.problem(("scenarios", i, key), f"'{ap}' is not an "
                                                      f"access point of {Path(rc.topology_file).name}"
                                                      f"{suggest(ap, aps)}"))
    if scen_problems:
        raise ExperimentError(_unique(scen_problems))
    needs = check_experiment(exp, out, smap)
    if needs:
        raise ExperimentError(_unique(needs))
    return out


def _describe_concurrent(c: Concurrent | None, seed: int) -> str | None:
    if c is None:
        return None
    who = "every MN" if c.mobile_nodes == "all" else f"{c.mobile_nodes} MNs"
    if c.arrivals == "poisson":
        return f"{who}, Poisson arrivals {c.rate:g}/s (seed {seed if c.seed is None else c.seed})"
    return f"{who} at once"


def _links_by_name(data: dict) -> dict[str, int]:
    """links.<x> in a parameter path: a link's `name:`, or its endpoints 'a--b' (nodes or
    networks, either order) when that names one link."""
    links = [l if isinstance(l, dict) else {} for l in (data.get("links") or [])]
    out = {l["name"]: i for i, l in enumerate(links) if l.get("name")}
    ends: dict[str, list[int]] = {}
    for i, l in enumerate(links):
        nodes = [str(e).partition(":")[0] for e in l.get("endpoints") or []]
        if len(nodes) == 2:
            for a, b in (nodes, nodes[::-1]):
                ends.setdefault(f"{a}--{b}", []).append(i)
    out.update({k: v[0] for k, v in ends.items() if len(v) == 1 and k not in out})
    return out


def _fmt(v) -> str:
    return str(v).replace(" ", "")


def _unique(problems: list[Problem]) -> list[Problem]:
    seen, out = set(), []
    for p in problems:
        if str(p) not in seen:
            seen.add(str(p))
            out.append(p)
    return out


def describe_plan(exp: Experiment, confs: list[ResolvedConfiguration]) -> list[str]:
    """What `run` would do, without root: bring-ups, scenarios, repetitions, and every
    emulated parameter of each configuration with where it was set (model/emulated.py;
    those the experiment sets marked *)."""
    from .prerequisites import concurrent_mobile_nodes
    total = exp.repetitions * sum(len(concurrent_mobile_nodes(c.topology, s.concurrent)[0])
                                  if s.concurrent else 1 for c in confs for s in exp.scenarios)
    crowd = " (a concurrent scenario: one per MN)" if any(s.concurrent for s in exp.scenarios) else ""
    lines = [f"plan: {len(confs)} configuration(s) x {len(exp.scenarios)} scenario(s) x "
             f"{exp.repetitions} repetition(s) = {total} handovers{crowd}, seed {exp.seed}"]
    for c in confs:
        lines.append(f"  configuration {c.name}: {_shown(Path(c.topology_file))} "
                     f"({len(c.topology.nodes)} nodes, {len(c.topology.links)} links), mobile "
                     f"node {c.mobile_node}")
        for v in c.emulated:
            mark = "*" if v.source.startswith("experiment") else " "
            value = "-" if v.value is None else v.shown()
            lines.append(f"    {mark} {v.path} = {value}  ({v.source})")
    for s in exp.scenarios:
        extra = "".join(f", {k} {v}" for k, v in (
            ("buffering", None if s.buffering is None else f"{s.buffering * 1e3:g}ms"),
            ("copy-and-forward", None if s.copy_forward is None
             else f"{s.copy_forward * 1e3:g}ms"),
            ("binding update", s.binding_update),
            ("stream", f"{s.stream * 1e3:g}ms" if s.flow in MEDIA_FLOWS else None),
            ("route optimization", "on" if s.route_optimization else None),
            ("concurrent", _describe_concurrent(s.concurrent, exp.seed))) if v)
        if s.movement is not None and s.movement.path.across is not None:
            a = s.movement.path.across
            extra += (f", path across {a.aps[0]} -> {a.aps[1]} from {a.part[0]:g} to "
                      f"{a.part[1]:g} of the way at {s.movement.path.speed:g} m/s, a scan every "
                      f"{s.movement.sample_interval * 1e3:g}ms")
        elif s.movement is not None:
            path = s.movement.path.to_path()
            extra += (f", path {path.length:.1f} m in {path.duration:.1f} s, a scan every "
                      f"{s.movement.sample_interval * 1e3:g}ms")
        via = f" ({s.interface})" if s.interface else ""
        to = s.to_ap or "(the policy's choice)"
        lines.append(f"  scenario {s.name}: {s.flow} {s.from_ap} -> {to}{via}{extra}")
    lines.append("  (* set by the experiment)")
    return lines
