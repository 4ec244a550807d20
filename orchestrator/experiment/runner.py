"""The experiment runner: one testbed per configuration, N clean repetitions per scenario,
events -> records, with resume.

A run writes `results/<experiment>/<run-id>/`:
  spec.yaml                the experiment as resolved (every emulated parameter, the seed)
  topologies/<conf>.yaml   each configuration's resolved topology
  testbeds/                each bring-up's run directory (events/, logs/ of every daemon)
  pcaps/<conf>/<node>.pcap captures of the whole configuration (MN, APs, PAA, AAA)
  ladder/<conf>/<scenario>/ events.jsonl, pcaps/, lanes.json, nodes.json of repetition 1
  progress.jsonl           one line per finished repetition (what --resume skips)
  records.jsonl            rows as they are measured; records.csv and records.parquet at the end
  events.jsonl             every event of the run, with its configuration

Nothing here keys on a name the researcher chose: the MN is the configuration's resolved
`mobile_node`, the correspondent the scenario's (or the topology's only one), captures and
ladder lanes are chosen by kind and role. A record row (one per repetition and phase or
metric) carries `configuration`, `base_configuration` (the configuration without its sweep
point), `mobile_node`, `scenario`, `scheme` (the flow), `repetition`, `phase`, `value`,
`unit` (`ms` too for times), `status`, `error`, and every emulated value of its
configuration as tidy columns:

  param:<path>                 an experiment override as written ('40ms')
  emulated:<path>[<unit>]      the effective value of every emulation parameter (model/emulated.py)
  measured:links.<id>.rtt[ms]  the RTT of each delayed link, measured at bring-up
  constant:<name>[<unit>]      the emulation's own constants (experiment/observed.py)
  retransmissions, retransmitted   timers that fired in this repetition (observed.py)
"""
from __future__ import annotations

import json
import select
import subprocess
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import yaml

from ..agents.control import AgentError
from ..events import read_events
from ..model.experiment import INTER_TECHNOLOGY_FLOWS, MEDIA_FLOWS, Experiment, ResolvedConfiguration, load_experiment
from ..model.units import parse_duration
from ..network.build import deploy
from ..testbed import destroy
from ..model.emulated import link_id
from ..model.prerequisites import only_node, paas_of
from .media import (METRICS, MediaError, handover_from_events, media_metrics,
                    read_receiver_log)
from .observed import (constant_columns, emulation_constants, retransmission_columns,
                       retransmissions)
from .phases import PhaseError, handover_times, sip_handover_parts
from . import inter_technology
from .scenarios import FLOWS, Bed, clean_state
from .movement import movement_values, plot_repetition, write_repetition
from .switch_back import switch_back_values

CAPTURE_FILTER = ("ether proto 0x888e or ether proto 0x88c7 or ether proto 0x88b5 or "
                  "udp port 1812 or udp port 716 or udp port 7011 or udp port 7015")
# the layer-2 flows: the MN, APs, PAAs and AAA servers hear everything of Figure 10
CAPTURE_KINDS = ("mobile_node", "access_point", "authentication_agent", "aaa_server")
# the SIP flows: SIP, RTP, DHCP, IKEv2 (and ESP in UDP), the buffering protocol, ARP
MEDIA_FILTER = (CAPTURE_FILTER + " or udp port 5060 or udp port 4000 or udp port 67 or "
                "udp port 68 or udp port 500 or udp port 4500 or udp port 7012 or arp"
                # C.5.2: the cellular data session (PPPoE discovery and session frames)
                " or ether proto 0x8863 or ether proto 0x8864"
                # Mobile IPv6 (issue 14): mobility headers, ip6ip6 tunnels, neighbor
                # discovery; hosts of IPv4-only topologies have IPv6 off
                " or ip6")
MEDIA_KINDS = ("mobile_node", "correspondent_node", "access_router", "configuration_agent",
               "access_point", "aaa_server", "authentication_agent", "home_agent")


@dataclass
class Run:
    experiment: Experiment
    configurations: list[ResolvedConfiguration]
    dir: Path
    done: set = field(default_factory=set)
    inventory: str | None = None     # nodes on machines reached over SSH (deploy/remote.py)

    @property
    def run_id(self) -> str:
        return self.dir.name


def _slug(name: str) -> str:
    return name.replace("/", "_").replace("=", "-")


def new_run(exp_path: str, results: str = "results", repetitions: int | None = None) -> Run:
    exp, confs = load_experiment(exp_path)
    if repetitions is not None:
        exp = exp.model_copy(update={"repetitions": repetitions})
    run_dir = Path(results, exp.name, time.strftime("%Y%m%d-%H%M%S")).resolve()
    run_dir.mkdir(parents=True, exist_ok=False)
    spec = {"experiment": str(Path(exp_path).resolve()), "name": exp.name, "seed": exp.seed,
            "description": exp.description, "repetitions": exp.repetitions,
            "reference": exp.reference.model_dump() if exp.reference else None,
            "parameters": exp.parameters, "sweep": exp.sweep,
            "scenarios": [s.model_dump(by_alias=True, mode="json") for s in exp.scenarios],
            "configurations": {c.name: {"configuration": c.configuration,
                                        "topology": c.topology_file,
                                        "resolved_topology": f"topologies/{_slug(c.name)}.yaml",
                                        "mobile_node": c.mobile_node,
                                        "parameters": c.overrides,
                                        "emulated": [{"path": v.path, "value": v.value,
                                                      "unit": v.unit, "source": v.source}
                                                     for v in c.emulated]} for c in confs}}
    (run_dir / "spec.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    (run_dir / "topologies").mkdir()
    for c in confs:
        (run_dir / "topologies" / f"{_slug(c.name)}.yaml").write_text(
            f"# resolved by the experiment runner from {c.topology_file}\n" + c.topology_text)
    return Run(exp, confs, run_dir)


def resume_run(exp_path: str, results: str = "results") -> Run:
    exp, confs = load_experiment(exp_path)
    runs = sorted(p for p in Path(results, exp.name).glob("*") if (p / "spec.yaml").is_file())
    if not runs:
        raise LookupError(f"no earlier run of '{exp.name}' under {results}/{exp.name} to resume")
    run_dir = runs[-1].resolve()
    spec = yaml.safe_load((run_dir / "spec.yaml").read_text())
    exp = exp.model_copy(update={"repetitions": spec["repetitions"]})
    done = set()
    if (run_dir / "progress.jsonl").exists():
        for line in (run_dir / "progress.jsonl").read_text().splitlines():
            p = json.loads(line)
            done.add((p["configuration"], p["scenario"], p["repetition"]))
    return Run(exp, confs, run_dir, done)


def _param_columns(c: ResolvedConfiguration, journal=None) -> dict:
    """The configuration's emulated values as record columns: the experiment's overrides as
    written, every effective emulation parameter, and (once it is up) the RTT measured on
    each delayed link and the constants its controller and agents reported."""
    cols: dict = {f"param:{k}": str(v) for k, v in c.overrides.items()}
    cols.update({v.column(): v.value for v in c.emulated})
    if journal is not None:
        for r in (journal.emulation or {}).get("verification", []):
            src = str(r.get("link", ""))
            if r.get("verified") and src.startswith("links["):
                ident = link_id(c.topology, int(src[6:-1]))
                cols[f"measured:links.{ident}.rtt[ms]"] = r.get("measured_rtt_ms")
        cols.update(constant_columns(emulation_constants(read_events(journal.run_dir))))
    return cols


class Captures:
    """tcpdump inside testbed hosts, stopped by PID (journaled as the testbed's processes)."""

    def __init__(self, journal, nodes, out_dir: Path, bpf: str = CAPTURE_FILTER,
                 iface: str | None = None):
        self.procs = []
        out_dir.mkdir(parents=True, exist_ok=True)
        for node in nodes:
            info = journal.nodes.get(node)
            if info is None:
                continue
            ifaces = [i["name"] for i in info["interfaces"]]
            # a router hears the MN on one interface and its AAA server on another
            where = iface or (ifaces[0] if len(ifaces) == 1 else "any")
            p = subprocess.Popen(["ip", "netns", "exec", info["netns"], "tcpdump", "-n", "-U", "--immediate-mode",
                                  "-i", where, "-w", str(out_dir / f"{node}.pcap"), bpf],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 start_new_session=True, text=True)
            journal.started(p.pid, "tcpdump", node)
            self.procs.append(p)
        for p in self.procs:            # "listening on ..." once the capture is open
            ready, _, _ = select.select([p.stderr], [], [], 5.0)
            if ready:
                p.stderr.readline()
        time.sleep(0.1)                 # and a little more: it captures shortly after saying so

    def stop(self) -> None:
        time.sleep(0.1)                 # the last frames are still on their way
        for p in self.procs:
            p.send_signal(2)            # SIGINT: tcpdump flushes and closes the file
        for p in self.procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()


def _captured(journal, node: str, kinds: tuple[str, ...], mn: str) -> bool:
    """A node is captured when one of its roles is in `kinds`; of the mobile nodes only the
    one that moves."""
    roles = set(journal.nodes[node].get("roles") or [journal.nodes[node]["kind"]])
    if "mobile_node" in roles:
        return node == mn
    return bool(roles & set(kinds))


def _roles(conf: ResolvedConfiguration, mn: str) -> dict:
    """nodes.json of a ladder: each node's kind, roles and domain, and which MN moves and
    its home domain, so the ladder orders and titles lanes by role (MN, AP, PAA, AR, AAA_V,
    AAA_H, CN), never by name."""
    t = conf.topology
    return {"mobile_node": mn, "home_domain": getattr(t.nodes[mn], "home_domain", None),
            "nodes": {n: {"kind": node.kind, "roles": sorted(t.roles(n)), "domain": node.domain}
                      for n, node in t.nodes.items()}}


def _lanes(journal) -> dict:
    lanes = {}
    for node, info in journal.nodes.items():
        for i in info["interfaces"]:
            lanes[i["mac"]] = node
            for family in ("address", "address6"):
                if i.get(family):
                    lanes[i[family].split("/")[0]] = node
    return lanes


def execute(run: Run, progress: Callable[[str], None] = lambda s: None) -> Path:
    """Run every configuration x scenario x repetition not yet done; returns the run dir.

    All configurations' testbeds are up at once and repetitions are interleaved
    (repetition -> scenario -> configuration), so that a change of load on this shared
    machine falls on every configuration alike: their ratios are measured in one run."""
    from tqdm import tqdm
    exp = run.experiment
    total = len(run.configurations) * len(exp.scenarios) * exp.repetitions
    todo = [(r, s, c) for r in range(1, exp.repetitions + 1) for s in exp.scenarios
            for c in run.configurations if (c.name, s.name, r) not in run.done]
    beds: dict[str, _Testbed] = {}
    bar = tqdm(total=total, initial=len(run.done), desc=exp.name, unit="handover",
               file=sys.stderr, dynamic_ncols=True)
    try:
        for conf in run.configurations:
            if any(c is conf for _, _, c in todo):
                beds[conf.name] = _Testbed.up(run, conf, progress)
        for rep, scenario, conf in todo:
            status, error = beds[conf.name].repetition(run, scenario, rep)
            if status != "ok":
                progress(f"{conf.name} {scenario.name} #{rep} failed: {error}")
            bar.set_postfix_str(f"{scenario.name} {conf.name}")
            bar.update(1)
    finally:
        bar.close()
        for bed in beds.values():
            bed.down(run)
    _finish(run)
    return run.dir


class _Testbed:
    """One configuration's testbed during a run."""

    def __init__(self, conf: ResolvedConfiguration, name: str, journal, caps: Captures):
        self.conf, self.name, self.journal, self.caps = conf, name, journal, caps
        self.bed = Bed(journal, topology=conf.topology)
        self.params = _param_columns(conf, journal)

    @classmethod
    def up(cls, run: Run, conf: ResolvedConfiguration, progress) -> "_Testbed":
        slug = _slug(conf.name)
        name = testbed_name(run.experiment.name, slug)
        progress(f"{conf.name}: bringing up {Path(conf.topology_file).name}")
        journal = deploy(str(run.dir / "topologies" / f"{slug}.yaml"), name=name,
                         results=str(run.dir / "testbeds"),
                         flows={s.flow for s in run.experiment.scenarios},
                         inventory=run.inventory)
        mn = conf.mobile_node
        media = any(s.flow in MEDIA_FLOWS for s in run.experiment.scenarios)
        kinds = MEDIA_KINDS if media else CAPTURE_KINDS
        caps = Captures(journal, [n for n in journal.nodes if _captured(journal, n, kinds, mn)],
                        run.dir / "pcaps" / slug, MEDIA_FILTER if media else CAPTURE_FILTER)
        return cls(conf, name, journal, caps)

    def _ladder_nodes(self, scenario) -> list[str]:
        """Who is captured for the ladder of a scenario, by role: every node of the SIP
        flows' kinds; for the layer-2 flows the MN, both APs, the target network's PAA and
        the AAA servers."""
        j, t, mn = self.journal, self.conf.topology, self.conf.mobile_node
        if scenario.flow in MEDIA_FLOWS:
            return [n for n in j.nodes if _captured(j, n, MEDIA_KINDS, mn)]
        if scenario.to_ap is None:                 # a movement: every AP it may reach
            return [n for n in j.nodes if _captured(j, n, CAPTURE_KINDS, mn)]
        wanted = [mn, scenario.from_ap, scenario.to_ap, *paas_of(t, scenario.to_ap),
                  *t.nodes_of("aaa_server")]
        return [n for n in dict.fromkeys(wanted) if n in j.nodes]

    def repetition(self, run: Run, scenario, rep: int) -> tuple[str, str]:
        if scenario.concurrent is not None:      # many MNs, one record each (issue 17)
            from .concurrent import repetition as concurrent_repetition
            return concurrent_repetition(self, run, scenario, rep)
        conf, journal, mn = self.conf, self.journal, self.conf.mobile_node
        ladder = run.dir / "ladder" / _slug(conf.name) / scenario.name if rep == 1 else None
        if ladder:
            ladder.mkdir(parents=True, exist_ok=True)
        ladder_caps = None
        events: list[dict] = []
        t0 = t1 = time.perf_counter_ns()
        try:
            if scenario.flow in MEDIA_FLOWS:
                cn, err = only_node(conf.topology, "correspondent_node", scenario.correspondent,
                                    "correspondent node", "correspondent")
                if err:
                    raise LookupError(err)
                scenario = scenario.model_copy(update={"correspondent": cn})
            clean_state(self.bed, mn, scenario.from_ap, scenario)
            media_flow = scenario.flow in MEDIA_FLOWS
            if ladder:
                ladder_caps = Captures(journal, self._ladder_nodes(scenario), ladder / "pcaps",
                                       MEDIA_FILTER if media_flow else CAPTURE_FILTER)
            t0 = time.perf_counter_ns()
            detail = FLOWS[scenario.flow](self.bed, mn, scenario)
            t1 = time.perf_counter_ns()
            self.bed.check_health()
            self.bed.fetch_events()
            events = [e for e in read_events(journal.run_dir) if t0 <= e["mono_ns"] <= t1]
            if media_flow:
                values = self._media(run, scenario, rep, events, t0, t1)
            elif scenario.flow == "movement":
                values = movement_values(events, detail, mn)
                written = write_repetition(run.dir / "movement" / _slug(conf.name) /
                                           scenario.name, rep, detail, values)
                if rep == 1:                       # the map of the run (after its timing)
                    plot_repetition(written, written.with_name("map"))
            elif scenario.flow == "switch-back":
                values = switch_back_values(detail)
                out = run.dir / "switch-back" / _slug(conf.name) / scenario.name
                out.mkdir(parents=True, exist_ok=True)
                (out / f"rep{rep}.json").write_text(json.dumps(detail))
            else:
                paa = detail.get("paa") if isinstance(detail, dict) else None
                values = {ph: (v, "ms")
                          for ph, v in handover_times(events, scenario.flow, mn, paa).items()}
            status, error = "ok", ""
        except Exception as exc:         # noqa: BLE001 -- one repetition, not the whole run
            expected = isinstance(exc, (AgentError, PhaseError, LookupError, MediaError))
            values, status = {}, "failed"
            error = str(exc) if expected else f"{type(exc).__name__}: {exc}"
            if not expected:
                traceback.print_exc(file=sys.stderr)
            t1 = time.perf_counter_ns()
            if not events:
                self.bed.fetch_events()
            events = events or [e for e in read_events(journal.run_dir) if t0 <= e["mono_ns"] <= t1]
        finally:
            if ladder_caps:
                ladder_caps.stop()
        if ladder:
            (ladder / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
            lanes = _lanes(journal)
            # addresses that came up during the repetition (the nCoA) belong to their node
            lanes.update({e["attrs"]["ncoa"]: e["node"] for e in events
                          if e["event"] in ("binding_update_start", "ncoa_assigned")
                          and (e.get("attrs") or {}).get("ncoa")})
            # Mobile IPv6: the MN's care-of addresses and its home address
            lanes.update({e["attrs"][k]: e["node"] for e in events if e["node"] == mn
                          for k in ("care_of_address", "ocoa", "inner")
                          if (e.get("attrs") or {}).get(k)})
            home = getattr(getattr(conf.topology.nodes[mn], "mipv6", None), "home_address", None)
            if home is not None:
                lanes[str(home)] = mn
            (ladder / "lanes.json").write_text(json.dumps(lanes, indent=1))
            (ladder / "nodes.json").write_text(json.dumps(_roles(conf, mn), indent=1))
        base = {"experiment": run.experiment.name, "run_id": run.run_id,
                "configuration": conf.name, "base_configuration": conf.configuration,
                "mobile_node": mn, "scenario": scenario.name, "scheme": scenario.flow,
                "repetition": rep, "seed": run.experiment.seed, **self.params,
                **retransmission_columns(retransmissions(events))}
        failed_phase = "handover_delay" if scenario.flow in MEDIA_FLOWS else "Time affecting handover"
        rows = ([{**base, "phase": ph, "ms": _round(v) if unit == "ms" else None,
                  "value": _round(v), "unit": unit, "status": status, "error": ""}
                 for ph, (v, unit) in values.items()] if values else
                [{**base, "phase": failed_phase, "ms": None, "value": None, "unit": "ms",
                  "status": status, "error": error}])
        with open(run.dir / "records.jsonl", "a") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in rows)
        with open(run.dir / "progress.jsonl", "a") as fh:
            fh.write(json.dumps({"configuration": conf.name, "scenario": scenario.name,
                                 "repetition": rep, "status": status, "error": error}) + "\n")
        return status, error

    def _media(self, run: Run, scenario, rep: int, events: list[dict], t0: int,
               t1: int) -> dict[str, tuple[float | None, str]]:
        """Figure 7's metrics from the MN's RTP log of this repetition (experiment/media.py),
        and the parts of the handover from the events; the packets and the handover go to
        media/<conf>/<scenario>/rep<N>.json for the figures."""
        log = Path(self.journal.run_dir) / "media" / f"{self.conf.mobile_node}.rtp.jsonl"
        if not log.exists():
            raise MediaError(f"no RTP receiver log {log}")
        if scenario.flow in INTER_TECHNOLOGY_FLOWS:
            return self._inter_technology(run, scenario, rep, events, log, t0, t1)
        period = None if scenario.buffering is None else scenario.buffering * 1e3
        mn = self.conf.mobile_node
        handover = handover_from_events(events, mn, buffering_period_ms=period)
        # the stream around the handover: from `stream` seconds before the move (the steady
        # state the flow waited for) to the end of the repetition. Not from the call's
        # start: packets an earlier handover left in a router's ARP queue (a non-MPA MN that
        # left its oCoA behind) reach the MN when it is back at the start AP, seconds late.
        lo = max(t0, handover.l2_start_ns - int(scenario.stream * 1e9))
        packets = [p for p in read_receiver_log(log) if lo <= p["mono_ns"] <= t1]
        metrics = media_metrics(packets, handover)
        out_dir = run.dir / "media" / _slug(self.conf.name) / scenario.name
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / f"rep{rep}.json").write_text(json.dumps(
            {"handover": asdict(handover), "metrics": metrics.as_row(), "packets": packets,
             **_buffering_span(events, handover, mn)}))
        values = {m.name: (getattr(metrics, m.field), m.unit) for m in METRICS}
        values.update({part: (ms, "ms") for part, ms in sip_handover_parts(events, mn).items()})
        return values

    def _inter_technology(self, run: Run, scenario, rep: int, events: list[dict], log: Path,
                          t0: int, t1: int) -> dict[str, tuple[float | None, str]]:
        """C.5.2's metrics (experiment/inter_technology.py) from the call of this repetition;
        the packets and the landmarks go to media/<conf>/<scenario>/rep<N>.json."""
        mn = self.conf.mobile_node
        lo = inter_technology.window_start(events, mn, t0, scenario.stream)
        packets = [p for p in read_receiver_log(log) if lo <= p["mono_ns"] <= t1]
        values = inter_technology.handover_metrics(packets, events, mn, t0, t1)
        out_dir = run.dir / "media" / _slug(self.conf.name) / scenario.name
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / f"rep{rep}.json").write_text(json.dumps(
            {"t0_ns": t0, "t1_ns": t1, "packets": packets,
             "metrics": {k: v for k, (v, _) in values.items()},
             **inter_technology.spans(events, mn, t0, t1)}))
        return values

    def down(self, run: Run) -> None:
        try:
            self.caps.stop()
            self.bed.fetch_events()
            events = read_events(self.journal.run_dir)
            with open(run.dir / "events.jsonl", "a") as fh:
                fh.writelines(json.dumps({**e, "configuration": self.conf.name}) + "\n"
                              for e in events)
        finally:
            destroy(self.name)


def _buffering_span(events: list[dict], handover, mn: str) -> dict:
    """When the nAR buffered for the MN: from the moment its tunnel stopped carrying new
    packets (disabled, else deleted: they fall into the buffer from then on) to the flush
    (events of the nAR)."""
    flush = [e for e in events if e["event"] == "buffering_flushed"
             and (e.get("attrs") or {}).get("mn") == mn]
    if not flush:
        return {}
    end = flush[-1]
    ncoa = end["attrs"].get("ncoa")
    down = [e for e in events if e["node"] == end["node"] and e["mono_ns"] <= end["mono_ns"]
            and (e.get("attrs") or {}).get("ncoa") == ncoa
            and e["event"] in ("pht_disabled", "pht_released")]
    down = sorted(down, key=lambda e: (e["event"] != "pht_disabled", -e["mono_ns"]))
    start = (down[0]["mono_ns"] if down else
             end["mono_ns"] - int(float(end["attrs"].get("held_ms") or 0) * 1e6))
    return {"buffering_start_ns": start, "buffering_end_ns": end["mono_ns"]}


def testbed_name(experiment: str, slug: str, limit: int = 40) -> str:
    """The testbed of one configuration: '<experiment>-<configuration>', cut to `limit`
    characters with a digest of the whole name, so that sweep points whose names differ
    only at the end (…cn-link.delay=0ms / =50ms) do not collide."""
    import hashlib
    name = f"{experiment}-{slug}"
    if len(name) <= limit:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:6]
    head, tail = 12, limit - 12 - len(digest) - 2          # the sweep point is at the end
    return f"{name[:head]}-{digest}-{name[-tail:]}"


def _round(v):
    return None if v is None else round(float(v), 3)


def _finish(run: Run) -> None:
    import pandas as pd
    path = run.dir / "records.jsonl"
    if not path.exists():
        return
    df = pd.read_json(path, lines=True)
    df.to_csv(run.dir / "records.csv", index=False)
    # a column that holds numbers in some rows and texts in others (a constant that one
    # configuration reports as a number, another as a text) is text for parquet
    for col in df.columns[df.dtypes == object]:
        kinds = {type(v) for v in df[col].dropna()}
        if len(kinds) > 1:
            df[col] = df[col].map(lambda v: v if v is None or isinstance(v, float) and v != v
                                  else str(v))
    df.to_parquet(run.dir / "records.parquet", index=False)


__all__ = ["new_run", "resume_run", "execute", "parse_duration"]
