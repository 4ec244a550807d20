"""Every emulated value of a run, for the parameters table and figure captions.

Three kinds of values shape a measured interval without being measured (README, "Link
emulation"; STYLE: "every emulated quantity ... is reported beside the results it
influenced"):

- the configuration's emulation parameters, wherever they were set (defaults, kinds, nodes,
  links, experiment overrides): spec.yaml `configurations.<c>.emulated`, as
  model/emulated.py resolved them, with their source; the records carry the values as
  `emulated:<path>[<unit>]` columns (older runs: only `param:` columns, the overrides);
- the RTT measured across each delayed link at bring-up (`measured:` columns);
- the emulation's own constants, from the `emulation_constants` events of the run's
  events.jsonl (experiment/observed.py), else the records' `constant:` columns.

`table()` gives one row per value and the configurations it applies to; identical values of
nodes of one kind set in one place are one row ("association_latency of ap0, ap1, ap2").
"""
from __future__ import annotations

import math
import re

import pandas as pd

from orchestrator.analysis.records import PARAM, RunData, natural, param_columns, spec_experiment
from orchestrator.experiment.observed import emulation_constants

COLUMNS = ["group", "parameter", "value", "unit", "source", "where"]
_COLUMN = re.compile(r"^(emulated|measured|constant):(.+?)(?:\[(.*)\])?$")


def _fmt(value, unit: str) -> str:
    if isinstance(value, str):
        return f"{value} {unit}".strip()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "none" if unit == "Mbit/s" else "--"
    v = float(value)
    if unit == "on/off":                        # a switch, e.g. a DHCP server's conflict check
        return "on" if v else "off"
    text = f"{v:.0f}" if v.is_integer() else f"{v:.3g}" if abs(v) < 10 else f"{v:.4g}"
    return f"{text} {unit}".strip()


def _per_configuration(run: RunData) -> dict[str, list[dict]]:
    """configuration -> [{group, parameter, value, unit, source}] of everything emulated."""
    df, exp = run.records, run.experiment
    confs = list(dict.fromkeys(df["configuration"])) if "configuration" in df and len(df) else []
    spec_confs = exp.get("configurations") or {}
    if not confs:                      # no records yet: what the experiment set up
        confs = list(spec_confs)
    out: dict[str, list[dict]] = {}
    events = run.events
    for c in confs:
        rows = []
        spec_c = spec_confs.get(c) if isinstance(spec_confs, dict) else None
        emulated = (spec_c or {}).get("emulated") if isinstance(spec_c, dict) else None
        cdf = df[df["configuration"] == c] if "configuration" in df else df
        if emulated:
            for v in emulated:
                rows.append({"group": "emulated", "parameter": str(v.get("path")),
                             "value": v.get("value"), "unit": str(v.get("unit") or ""),
                             "source": str(v.get("source") or "")})
        measured_cols = [col for col in cdf.columns if _COLUMN.match(col)]
        for col in measured_cols:
            kind, path, unit = _COLUMN.match(col).groups()
            unit = unit or ""
            if kind == "emulated" and emulated:
                continue
            if kind == "constant":
                continue
            vals = pd.to_numeric(cdf[col], errors="coerce").dropna()
            if vals.empty:                 # a column of another configuration
                continue
            value = float(vals.median())
            rows.append({"group": kind, "parameter": path, "value": value, "unit": unit,
                         "source": "measured at bring-up (ping)" if kind == "measured"
                         else "records (spec.yaml names no source)"})
        constants = emulation_constants(e for e in events if e.get("configuration", c) == c)
        if constants:
            rows += [{"group": "constant", "parameter": name, "value": v["value"],
                      "unit": v["unit"], "source": v["source"] + (
                          f" ({', '.join(v['nodes'])})" if v.get("nodes") else "")}
                     for name, v in constants.items()]
        else:
            for col in measured_cols:
                kind, name, unit = _COLUMN.match(col).groups()
                vals = cdf[col].dropna()
                if kind == "constant" and len(vals):
                    v = vals.iloc[0]
                    rows.append({"group": "constant", "parameter": name,
                                 "value": v if isinstance(v, str) else float(v),
                                 "unit": unit or "", "source": "records"})
        if not emulated and not [r for r in rows if r["group"] == "emulated"]:
            rows += _legacy(cdf, spec_c)
        out[c] = rows
    return out


def _legacy(cdf: pd.DataFrame, spec_c) -> list[dict]:
    """Runs made before every emulated value was recorded: the experiment's overrides."""
    rows = [{"group": "parameter", "parameter": col.removeprefix(PARAM),
             "value": ", ".join(sorted({str(v) for v in cdf[col].dropna()}, key=natural)),
             "unit": "", "source": "experiment override"} for col in param_columns(cdf)]
    known = {r["parameter"] for r in rows}
    params = (spec_c or {}).get("parameters") if isinstance(spec_c, dict) else None
    for k, v in (params or {}).items():
        if k not in known:
            rows.append({"group": "parameter", "parameter": k, "value": str(v), "unit": "",
                         "source": "experiment override"})
    return rows


def _merge_nodes(rows: list[dict]) -> list[dict]:
    """nodes.<n>.<key> rows with the same key, value and source -> one row naming the nodes."""
    out, index = [], {}
    for r in rows:
        m = re.match(r"^nodes\.([^.]+)\.(.+)$", r["parameter"]) if r["group"] == "emulated" else None
        if not m:
            out.append(dict(r))
            continue
        key = (m.group(2), repr(r["value"]), r["unit"], r["source"])
        if key in index:
            index[key]["nodes"].append(m.group(1))
        else:
            row = {**r, "nodes": [m.group(1)], "key": m.group(2)}
            index[key] = row
            out.append(row)
    for r in out:
        if "nodes" in r:
            r["parameter"] = f"{r.pop('key')} of {', '.join(r.pop('nodes'))}"
    return out


def _shown(r: dict) -> bool:
    """A link property nobody set and that emulates nothing (0 ms jitter, no loss, no
    bandwidth limit) is left out; every node parameter and every set value is shown."""
    if r["group"] == "emulated" and r["parameter"].startswith("links.") and r["source"] == "default":
        return r["value"] not in (None, 0, 0.0) and not (
            isinstance(r["value"], float) and math.isnan(r["value"]))
    return True


def table(run: RunData) -> pd.DataFrame:
    """One row per emulated value: group (emulated, measured, constant, parameter),
    parameter, value (text with unit), source, where (which configurations)."""
    per = {c: [r for r in _merge_nodes(rows) if _shown(r)]
           for c, rows in _per_configuration(run).items()}
    order: dict[tuple, list[str]] = {}
    first: dict[tuple, dict] = {}
    for c, rows in per.items():
        for r in rows:
            text = r["value"] if isinstance(r["value"], str) else _fmt(r["value"], r["unit"])
            key = (r["group"], r["parameter"], text, r["source"])
            order.setdefault(key, []).append(c)
            first.setdefault(key, r)
    confs = list(per)
    rows = []
    for (group, parameter, text, source), where in order.items():
        rows.append({"group": group, "parameter": parameter, "value": text,
                     "unit": first[(group, parameter, text, source)]["unit"], "source": source,
                     "where": _where(where, confs)})
    rank = {"emulated": 0, "parameter": 0, "measured": 1, "constant": 2}
    rows.sort(key=lambda r: (rank.get(r["group"], 3), r["parameter"].startswith("links."),
                             r["parameter"], natural(r["value"])))
    return pd.DataFrame(rows, columns=COLUMNS)


def _where(confs: list[str], every: list[str]) -> str:
    """'all configurations', else the configurations (a base configuration stands for all of
    its sweep points when it holds every one of them)."""
    if set(confs) == set(every):
        return "all configurations"
    bases: dict[str, list[str]] = {}
    for c in every:
        bases.setdefault(c.split("/")[0], []).append(c)
    names = []
    for base, members in bases.items():
        if set(members) <= set(confs) and len(members) > 1:
            names.append(f"{base} (every sweep point)")
        else:
            names += [c for c in members if c in confs]
    return ", ".join(names)


def markdown(run: RunData) -> str:
    """The experiment's facts, then the table of every emulated value."""
    exp = run.experiment
    df = run.records
    lines, facts = [], []
    for key in ("name", "seed", "repetitions"):
        if key in exp:
            facts.append(f"{key} {exp[key]}")
    if "run_id" in df.columns and len(df):
        facts.append(f"run {df['run_id'].iloc[0]}")
    if facts:
        lines.append("Experiment: " + ", ".join(facts) + ".")
    confs = exp.get("configurations") or {}
    if isinstance(confs, dict) and confs:
        by_base: dict[str, dict] = {}          # one line per configuration, not sweep point
        for c, v in confs.items():
            if isinstance(v, dict):
                by_base.setdefault(str(v.get("configuration") or c.split("/")[0]), v)
        lines.append("Topologies: " + "; ".join(
            f"{c} -> `{v.get('topology', '?')}`" + (f" (mobile node {v['mobile_node']})"
                                                   if v.get("mobile_node") else "")
            for c, v in by_base.items()) + ".")
    sweep = exp.get("sweep") or {}
    if isinstance(sweep, dict) and sweep:
        lines.append("Sweep: " + "; ".join(f"`{k}` in {v}" for k, v in sweep.items()) + ".")
    t = table(run)
    lines += ["", "| emulated value | value | set in | configurations |", "|---|---|---|---|"]
    titles = {"measured": " (measured)", "constant": " (emulation constant)"}
    lines += [f"| `{r.parameter}`{titles.get(r.group, '')} | {r.value} | {r.source} | {r.where} |"
              for r in t.itertuples()]
    if t.empty:
        lines.append("| (none recorded) | | | |")
    lines += ["", "Links not listed have no delay, jitter, loss or bandwidth limit. Constants "
              "are what the controller and agents reported at start (`emulation_constants`)"
              + ("" if (t["group"] == "constant").any() else ": none in this run's events")
              + "."]
    return "\n".join(lines).strip() + "\n"


def caption(run: RunData, configurations: list[str] | None = None) -> str:
    """One line naming every emulated value (of the given configurations), for figures."""
    t = table(run)
    parts = []
    for r in t.itertuples():
        if configurations is not None and r.where != "all configurations" and not any(
                c in r.where for c in configurations):
            continue
        where = "" if r.where == "all configurations" else f" [{r.where}]"
        label = {"measured": " measured", "constant": ""}.get(r.group, "")
        parts.append(f"{r.parameter}{label} {r.value}{where}")
    return "Emulated: " + ("; ".join(numbered_ranges(parts)) if parts else "no values recorded")


_NUMBERED = re.compile(r"^(.*?[a-z-])(\d+)$")
RANGE_MIN = 5               # fewer numbered names are listed as they are


def _ranges(names: list[str]) -> list[str]:
    """['mn1', ..., 'mn5', 'ap0'] -> ['mn1-mn5', 'ap0']: runs of RANGE_MIN or more
    consecutive numbers of one prefix (`count:` groups) as one range, the rest as they are."""
    out, groups = [], {}
    for n in names:
        m = _NUMBERED.match(n)
        if m:
            groups.setdefault(m.group(1), []).append(int(m.group(2)))
        else:
            out.append(n)
    for prefix, nums in groups.items():
        nums, run = sorted(set(nums)), []
        for k in nums + [None]:
            if run and (k is None or k != run[-1] + 1):
                out += ([f"{prefix}{run[0]}-{prefix}{run[-1]}"] if len(run) >= RANGE_MIN
                        else [f"{prefix}{x}" for x in run])
                run = []
            if k is not None:
                run.append(k)
    return out


def numbered_ranges(parts: list[str]) -> list[str]:
    """Caption parts with many MNs (issue 17) in ranges: 'x of mn1, mn2, ..., mn100 1 ms'
    -> 'x of mn1-mn100 1 ms', and 'x.mn1 1 ms; ...; x.mn100 1 ms' -> 'x.mn1-mn100 1 ms'."""
    listed = re.compile(r"(?<= of )([a-z][a-z0-9-]*(?:, [a-z][a-z0-9-]*){2,})(?= )")
    parts = [listed.sub(lambda m: ", ".join(_ranges(m.group(1).split(", "))), p) for p in parts]
    per_node = re.compile(r"^([a-z_]+)\.([a-z][a-z0-9-]*?\d+) (.*)$")
    out, grouped = [], {}
    for p in parts:
        m = per_node.match(p)
        if m:
            key = (m.group(1), m.group(3))
            if key not in grouped:
                grouped[key] = []
                out.append(key)
            grouped[key].append(m.group(2))
        else:
            out.append(p)
    flat = []
    for p in out:
        if isinstance(p, str):
            flat.append(p)
        elif len(grouped[p]) >= RANGE_MIN:
            flat.append(f"{p[0]}.{', '.join(_ranges(grouped[p]))} {p[1]}")
        else:
            flat += [f"{p[0]}.{n} {p[1]}" for n in grouped[p]]
    return flat


__all__ = ["table", "markdown", "caption", "spec_experiment"]
