"""Concurrent handovers (issue 17): many mobile nodes run one scenario's flow in the same
repetition, all at once or as a Poisson arrival stream, each MN's handover one record.

A scenario with `concurrent:` (model/experiment.py `Concurrent`) runs, in each repetition:

  1. the clean state of every MN (C.5.3's "initially connected"): the APs' and PAAs'
     caches flushed once, then each MN reset to the start AP by a full EAP-TLS,
     RESET_WORKERS at a time (setup, not measured);
  2. the arrivals: MN k starts the flow at `arrival_offsets()[k]` seconds after the
     repetition's start, either 0 for all (`simultaneous`) or the running sum of
     exponential gaps of mean 1/rate (`poisson`), drawn from a generator seeded with the
     scenario's seed (default the experiment's), its name and the repetition: the same
     experiment file gives the same arrivals;
  3. each MN's flow in a thread of its own (experiment/scenarios.py FLOWS, the same flows as
     one MN), then every MN's times from the events (experiment/phases.py), the PAA's events
     only those of that MN's station (its `sta` attribute) so that one MN's Tconf is not
     another's.

Records: the phases of one MN's handover (Tauth, Tconf, Tassoc, T4way, ..., Time affecting
handover) with `mobile_node` that MN, plus `Arrival to port open` (from the MN's arrival,
when the runner sent its first command, to its controlled port at the target AP open: what
the crowd costs one commuter, queueing included), and the columns `concurrent:mobile_nodes`,
`concurrent:arrivals`, `concurrent:rate[1/s]`, `concurrent:seed`, `arrival_ms` (planned)
and `started_ms` (actual) offsets, and `constant:tconf_poll[ms]` (how often the runner asks
the PAA whether it installed the MN's keys before moving it; it shapes only Arrival to port
open). An MN whose flow failed is one row with status `failed` and its error.
"""
from __future__ import annotations

import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..agents.control import AgentError
from ..events import read_events
from ..model.prerequisites import concurrent_mobile_nodes, paas_of
from .phases import PhaseError, handover_times
from .scenarios import FLOWS, Bed

RESET_WORKERS = 8           # MNs reset to the start AP at once (setup before the arrivals)
TCONF_POLL = 0.05           # s between the runner's questions to the PAA (100 MNs polling)
ARRIVAL_PHASE = "Arrival to port open"


def arrival_offsets(n: int, arrivals: str, rate: float | None, seed, scenario: str,
                    repetition: int) -> list[float]:
    """Seconds after the repetition's start at which each of `n` MNs starts (pure).
    Poisson: the first MN at the first exponential gap, not at 0 (a stream observed from
    an arbitrary instant)."""
    if arrivals == "simultaneous":
        return [0.0] * n
    if arrivals != "poisson" or not rate or rate <= 0:
        raise ValueError(f"arrivals {arrivals!r} with rate {rate!r}")
    rng = random.Random(f"{seed}/{scenario}/{repetition}")
    out, t = [], 0.0
    for _ in range(n):
        t += rng.expovariate(rate)
        out.append(t)
    return out


def events_of(events: list[dict], mn: str, station: str | None, paa: str | None) -> list[dict]:
    """One MN's view of a concurrent repetition: its own events and those of the PAA about
    its station (key installation); nothing of the other MNs."""
    return [e for e in events if e["node"] == mn or (
        paa is not None and e["node"] == paa
        and (e.get("attrs") or {}).get("sta") == station)]


def _agent_config(journal, node: str) -> dict:
    path = Path(journal.dir) / "nodes" / node / "mpa-agent" / "agent.json"
    return json.loads(path.read_text())


def _one_mn(bed: Bed, mn: str, scenario, start_ns: int, offset: float, out: dict) -> None:
    """Wait for the MN's arrival, then its flow; `out[mn]` = (started_ns, detail, error)."""
    delay = start_ns / 1e9 + offset - time.perf_counter_ns() / 1e9
    if delay > 0:
        time.sleep(delay)
    started = time.perf_counter_ns()
    try:
        detail, err = FLOWS[scenario.flow](bed, mn, scenario), ""
    except (AgentError, LookupError, OSError) as exc:
        detail, err = None, f"{type(exc).__name__}: {exc}"[:300]
    out[mn] = (started, detail, err)


def run_crowd(bed: Bed, mns: list[str], scenario, offsets: list[float]) -> tuple[int, int, dict]:
    """Every MN's flow at its offset; (start_ns, end_ns, mn -> (started_ns, detail, error))."""
    out: dict = {}
    start_ns = time.perf_counter_ns() + 20_000_000    # the threads are up before the first
    threads = [threading.Thread(target=_one_mn, args=(bed, mn, scenario, start_ns, off, out),
                                daemon=True) for mn, off in zip(mns, offsets)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return start_ns, time.perf_counter_ns(), out


def reset_all(bed: Bed, mns: list[str], start_ap: str) -> None:
    """C.5.3's clean start for every MN: caches flushed, each MN fully authenticated at the
    start AP (RESET_WORKERS at a time)."""
    for node in bed.nodes_with("access_point") + bed.nodes_with("authentication_agent"):
        bed.call(node, "flush")
    with ThreadPoolExecutor(RESET_WORKERS) as pool:
        list(pool.map(lambda mn: bed.call(mn, "reset", ap=start_ap), mns))


def measure(events: list[dict], scenario, mns: list[str], stations: dict[str, str],
            paa: str | None, results: dict) -> dict[str, tuple[dict, str]]:
    """Per MN: (phase -> ms, error) from the repetition's events (pure)."""
    out = {}
    for mn in mns:
        started, _detail, err = results.get(mn, (None, None, "never started"))
        if err:
            out[mn] = ({}, err)
            continue
        mine = events_of(events, mn, stations.get(mn), paa)
        try:
            times = handover_times(mine, scenario.flow, mn, paa)
            move = [e for e in mine if e["node"] == mn and e["event"] == "l2_handoff_start"][-1]
            port = next(e for e in mine if e["node"] == mn and e["event"] == "port_open"
                        and e["mono_ns"] >= move["mono_ns"])
            times[ARRIVAL_PHASE] = (port["mono_ns"] - started) / 1e6
            out[mn] = (times, "")
        except (PhaseError, IndexError, StopIteration) as exc:
            out[mn] = ({}, f"{type(exc).__name__}: {exc}"[:300])
    return out


def repetition(testbed, run, scenario, rep: int) -> tuple[str, str]:
    """One repetition of a concurrent scenario on a deployed testbed (runner._Testbed):
    records of every MN appended to records.jsonl, one progress line."""
    conf, journal = testbed.conf, testbed.journal
    c = scenario.concurrent
    mns, err = concurrent_mobile_nodes(conf.topology, c)
    seed = run.experiment.seed if c.seed is None else c.seed
    offsets = arrival_offsets(len(mns), c.arrivals, c.rate, seed, scenario.name, rep)
    bed = Bed(journal, timeout=testbed.bed.timeout, poll=TCONF_POLL)
    paas = paas_of(conf.topology, scenario.to_ap) if scenario.flow == "mpa-l2-pre-authentication" else []
    paa = paas[0] if paas else None
    stations: dict[str, str] = {}
    results: dict = {}
    t0 = t1 = time.perf_counter_ns()
    failure = err or ""
    if not failure:
        try:
            if paa is not None:
                by_identity = _agent_config(journal, paa).get("stations") or {}
                stations = {mn: by_identity.get(_agent_config(journal, mn)["identity"]) for mn in mns}
            reset_all(bed, mns, scenario.from_ap)
            t0, t1, results = run_crowd(bed, mns, scenario, offsets)
            bed.check_health()
        except (AgentError, LookupError, OSError, ValueError) as exc:
            failure = f"{type(exc).__name__}: {exc}"[:300]
            t1 = time.perf_counter_ns()
    events = [e for e in read_events(journal.run_dir) if t0 <= e["mono_ns"] <= t1]
    per_mn = measure(events, scenario, mns, stations, paa, results) if not failure else {}
    base = {"experiment": run.experiment.name, "run_id": run.run_id,
            "configuration": conf.name, "base_configuration": conf.configuration,
            "scenario": scenario.name, "scheme": scenario.flow, "repetition": rep,
            "seed": run.experiment.seed, **testbed.params,
            "concurrent:mobile_nodes": len(mns), "concurrent:arrivals": c.arrivals,
            "concurrent:rate[1/s]": c.rate, "concurrent:seed": seed if c.rate else None,
            "constant:tconf_poll[ms]": TCONF_POLL * 1e3}
    rows = []
    for k, mn in enumerate(mns):
        started = (results.get(mn) or (None,))[0]
        col = {**base, "mobile_node": mn, "arrival_ms": round(offsets[k] * 1e3, 3),
               "started_ms": None if started is None else round((started - t0) / 1e6, 3)}
        times, why = per_mn.get(mn, ({}, failure or "not measured"))
        if times:
            rows += [{**col, "phase": ph, "ms": round(v, 3), "value": round(v, 3), "unit": "ms",
                      "status": "ok", "error": ""} for ph, v in times.items()]
        else:
            rows.append({**col, "phase": "Time affecting handover", "ms": None, "value": None,
                         "unit": "ms", "status": "failed", "error": why})
    failed = [r for r in rows if r["status"] != "ok"]
    status = "ok" if not failed and not failure else "failed"
    error = "" if status == "ok" else failure if not failed else (f"{len(failed)} of {len(mns)} MNs failed; "
                                   f"{failed[0]['mobile_node']}: {failed[0]['error']}")
    with open(run.dir / "records.jsonl", "a") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows)
    with open(run.dir / "progress.jsonl", "a") as fh:
        fh.write(json.dumps({"configuration": conf.name, "scenario": scenario.name,
                             "repetition": rep, "status": status, "error": error,
                             "mobile_nodes": len(mns), "ok": len(mns) - len(failed)}) + "\n")
    return status, error
