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
    mobile_node: mn                      # optional: default the topology's only mobile node
    reference:                           # optional: which RFC column stands beside which run
      table: rfc6252_fig10
      columns: {non-roaming: non-roaming, roaming: roaming}

Parameter paths address the topology file: `kinds.<kind>.<key>`, `defaults.node.<key>`,
`defaults.link.<key>`, `nodes.<node>.<key>`, `links.<link>.<key>` (a link by its `name:` or
by its endpoints, `links.gw-v--gw-h.delay`). A value that does not fit is reported at the
experiment file's line, not the topology's. What each scenario needs of the topology (a PAA
on the target network, ...) is checked on load too (model/prerequisites.py).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from .errors import ModelError, Problem, suggest
from .emulated import emulated_values
from .load import load_topology_text
from .prerequisites import check_experiment
from .topology import Name, Strict, Topology
from .units import Duration
from .yamlsrc import SourceMap, load_yaml

FLOWS = ("dot11i-post-authentication", "dot11i-pre-authentication", "mpa-l2-pre-authentication",
         "sip-mpa", "sip-non-mpa")
MEDIA_FLOWS = ("sip-mpa", "sip-non-mpa")      # a call with the CN across the handover (C.5.1)


class ExperimentError(ModelError):
    pass


class Scenario(Strict):
    """One handover flow between two APs, repeated `repetitions` times per configuration."""
    name: Name
    flow: Literal[FLOWS]  # type: ignore[valid-type]
    from_ap: Name = Field(alias="from")
    to_ap: Name = Field(alias="to")
    description: str = ""
    buffering: Duration | None = Field(
        None, description="sip-mpa: buffering period at the nAR (s7.6.1); absent: disabled")
    correspondent: Name | None = Field(
        None, description="sip flows: the CN the MN calls; default: the topology's only one")
    stream: Duration = Field(
        0.5, description="sip flows: RTP stream time kept before and after the handover")

    @model_validator(mode="after")
    def _options_fit_the_flow(self):
        if self.buffering is not None and self.flow != "sip-mpa":
            raise ValueError(f"buffering applies to the flow sip-mpa only (not {self.flow}): "
                             "the nAR buffers for an MN that pre-configured with it")
        if self.buffering is not None and self.buffering <= 0:
            raise ValueError("buffering must be a positive period, e.g. '200ms'; leave it "
                             "out to disable buffering")
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
    seed: int = 0
    repetitions: Annotated[int, Field(ge=1, le=10000)] = 10
    parameters: dict[str, object] = Field(default_factory=dict)
    configurations: dict[Name, Configuration]
    sweep: dict[str, Annotated[list[object], Field(min_length=1)]] = Field(default_factory=dict)
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
    try:
        text = path.read_text()
    except OSError as exc:
        raise ExperimentError([Problem(str(path), 1, 1, "", f"cannot read: {exc.strerror}")]) from None
    try:
        data, smap = load_yaml(text, str(path))
    except ModelError as exc:
        raise ExperimentError(exc.problems) from None
    if not isinstance(data, dict):
        raise ExperimentError([smap.problem((), "expected an experiment mapping (name, "
                                            "configurations, scenarios, ...)")])
    try:
        exp = Experiment.model_validate(data)
    except ValidationError as exc:
        raise ExperimentError([_pydantic_problem(e, smap) for e in exc.errors()]) from None
    return exp, resolve(exp, path, smap)


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
        else:
            fields = {}
        names = [f.alias or k for k, f in fields.items()] if fields else []
        return smap.problem(loc, f"unknown key '{loc[-1]}'{suggest(loc[-1], names)}", key=True)
    if err["type"] == "missing":
        return smap.problem(loc[:-1], f"missing required key '{loc[-1]}'")
    if err["type"] == "string_pattern_mismatch":
        return smap.problem(loc, f"invalid name {err['input']!r}: expected lower-case letters, "
                                 "digits and '-', starting with a letter")
    if err["type"] == "literal_error":
        return smap.problem(loc, f"expected one of {err['ctx']['expected']} (got {err['input']!r})"
                                 f"{suggest(str(err['input']), FLOWS)}")
    return smap.problem(loc, err["msg"].removeprefix("Value error, "))


def _set_path(data: dict, path: str, value, links_by_name: dict[str, int]) -> str | None:
    """Set `path` in raw topology data; returns an error message or None."""
    parts = path.split(".")
    if parts[0] == "links":
        if len(parts) != 3:
            return "expected links.<link name>.<key>"
        if parts[1] not in links_by_name:
            return (f"no link named '{parts[1]}'{suggest(parts[1], links_by_name)} (give the "
                    "link a 'name:' in the topology, or name it by its endpoints: 'a--b')")
        data["links"][links_by_name[parts[1]]][parts[2]] = value
        return None
    if parts[0] not in ("kinds", "defaults", "nodes", "domains", "networks") or len(parts) < 3:
        return "expected kinds.<kind>.<key>, defaults.node.<key>, defaults.link.<key>, " \
               "nodes.<node>.<key> or links.<link name>.<key>"
    cur = data
    for i, part in enumerate(parts[:-1]):
        if not isinstance(cur.get(part, {}), dict):
            return f"'{'.'.join(parts[:i + 1])}' is not a mapping"
        if parts[0] in ("nodes", "domains", "networks") and i == 1 and part not in cur:
            return f"no {parts[0][:-1]} named '{part}'{suggest(part, cur)}"
        cur = cur.setdefault(part, {})
    cur[parts[-1]] = value
    return None


def resolve(exp: Experiment, exp_path: Path, smap: SourceMap) -> list[ResolvedConfiguration]:
    out, problems = [], []
    keys = list(exp.sweep)
    points = [dict(zip(keys, combo)) for combo in itertools.product(*exp.sweep.values())] or [{}]
    for cname, conf in exp.configurations.items():
        topo_path = (exp_path.parent / conf.topology).resolve()
        try:
            raw_text = topo_path.read_text()
        except OSError as exc:
            problems.append(smap.problem(("configurations", cname, "topology"),
                                         f"cannot read topology {conf.topology}: {exc.strerror}"))
            continue
        for point in points:
            data = yaml.safe_load(raw_text)
            links_by_name = _links_by_name(data)
            sources = {}
            for yaml_path, (key, value) in (
                    [(("parameters", k), (k, v)) for k, v in exp.parameters.items()]
                    + [(("configurations", cname, "parameters", k), (k, v)) for k, v in conf.parameters.items()]
                    + [(("sweep", k), (k, v)) for k, v in point.items()]):
                err = _set_path(data, key, value, links_by_name)
                if err:
                    problems.append(smap.problem(yaml_path, err, key=True))
                sources[key] = yaml_path
            overrides = {**exp.parameters, **conf.parameters, **point}
            text = yaml.safe_dump(data, sort_keys=False)
            try:
                topo = load_topology_text(text, str(topo_path))
            except ModelError as exc:
                problems += [_blame_override(p, sources, smap) for p in exc.problems]
                continue
            label = cname + "".join(f"/{k.split('.', 1)[-1]}={_fmt(v)}" for k, v in point.items())
            emulated = emulated_values(topo, yaml.safe_load(raw_text), {
                k: "experiment " + ".".join(str(x) for x in p[:-1]) for k, p in sources.items()})
            out.append(ResolvedConfiguration(label, cname, str(topo_path), overrides, point, topo,
                                             text, emulated=emulated))
    if problems:
        raise ExperimentError(_unique(problems))
    scen_problems = []
    for rc in out:
        aps = set(rc.topology.nodes_of("access_point"))
        for i, s in enumerate(exp.scenarios):
            for key, ap in (("from", s.from_ap), ("to", s.to_ap)):
                if ap not in aps:
                    scen_problems.append(smap.problem(("scenarios", i, key), f"'{ap}' is not an "
                                                      f"access point of {Path(rc.topology_file).name}"
                                                      f"{suggest(ap, aps)}"))
    if scen_problems:
        raise ExperimentError(_unique(scen_problems))
    needs = check_experiment(exp, out, smap)
    if needs:
        raise ExperimentError(_unique(needs))
    return out


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


def _blame_override(p: Problem, sources: dict, smap: SourceMap) -> Problem:
    """A topology problem caused by an override is reported at the override."""
    for key, yaml_path in sources.items():
        parts = key.split(".")
        if p.path.endswith(parts[-1]) and (parts[1] in p.path or parts[0] == "links"):
            line, col = smap.locate(yaml_path)
            return Problem(smap.file, line, col, ".".join(str(x) for x in yaml_path),
                           f"{p.message} (in {Path(p.file).name} at {p.path})")
    return p


def _unique(problems: list[Problem]) -> list[Problem]:
    seen, out = set(), []
    for p in problems:
        if str(p) not in seen:
            seen.add(str(p))
            out.append(p)
    return out
