"""The generic report of any run: what every experiment gets, whatever its topology, its
names and whether it is compared with the RFC at all.

- statistics per configuration x scenario x phase (or metric): median, p5-p95, n, failed
  repetitions, and how many repetitions had a retransmission (`tables/statistics.csv`,
  `.md`);
- every repetition with its status, error and the retransmissions that fired in it, flagged
  (`tables/repetitions.csv`): a repetition in which a timer fired measured the timeout, not
  the exchange (experiment/observed.py);
- the emulated values (analysis/parameters.py, `tables/parameters.md`);
- the distribution over repetitions of every time, repetitions with a retransmission ringed
  (`figures/distribution.png`);
- a ladder per configuration and scenario (analysis/ladder.py); the events and captures are
  linked from the README.

Pure functions of the records frame, except `write_tables` and `write_figures`.
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from orchestrator.analysis import parameters
from orchestrator.analysis.plots import boxes, caption, plt, save
from orchestrator.analysis.records import (RunData, configurations, failed_repetitions, of,
                                           scenario_names, stats, values)
from orchestrator.analysis.records import num as _num
from orchestrator.experiment import media, phases
from orchestrator.experiment.observed import parse_retransmitted

STAT_COLUMNS = ["configuration", "scenario", "phase", "unit", "n", "n_failed",
                "n_retransmitted", "median", "p5", "p95", "mean", "min", "max"]
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
           "#17becf", "#bcbd22", "#7f7f7f")
MAX_PANELS = 9


def phase_order(df: pd.DataFrame) -> list[str]:
    """Phases in a reading order: Figure 10's, the SIP flows' parts, the media metrics, then
    any other in the order the records have them."""
    known = [*phases.PHASES, *phases.SIP_PARTS, *(m.name for m in media.METRICS)]
    present = list(dict.fromkeys(df["phase"].dropna().astype(str))) if "phase" in df else []
    return [p for p in dict.fromkeys(known) if p in present] + [p for p in present if p not in known]


def _retransmitted_reps(df: pd.DataFrame) -> set:
    """(configuration, scenario, repetition) of the repetitions in which one fired."""
    if "retransmissions" not in df:
        return set()
    n = pd.to_numeric(df["retransmissions"], errors="coerce").fillna(0)
    rows = df[n > 0]
    return set(zip(rows["configuration"], rows["scenario"], rows["repetition"]))


def statistics(df: pd.DataFrame, spec: dict | None = None) -> pd.DataFrame:
    """One row per configuration, scenario and phase: unit, n (repetitions with status ok and
    a value), n_failed (repetitions that failed), n_retransmitted (repetitions among the n in
    which a retransmission fired), median, p5, p95, mean, min, max."""
    flagged = _retransmitted_reps(df)
    vals = df.assign(v_=values(df))
    rows = []
    for conf in configurations(df):
        cdf = of(vals, conf)
        for scen in scenario_names(cdf, spec):
            sdf = cdf[cdf["scenario"] == scen]
            failed = failed_repetitions(sdf)
            for phase in phase_order(sdf):
                p = sdf[(sdf["phase"] == phase) & (sdf["status"] == "ok")].dropna(subset=["v_"])
                if p.empty:
                    continue
                unit = str(p["unit"].dropna().iloc[0]) if p["unit"].notna().any() else ""
                s = stats(p["v_"])
                rows.append({"configuration": conf, "scenario": scen, "phase": phase,
                             "unit": unit, "n": s["n"], "n_failed": failed,
                             "n_retransmitted": sum((conf, scen, r) in flagged
                                                    for r in p["repetition"]),
                             **{k: s[k] for k in ("median", "p5", "p95", "mean", "min", "max")}})
    return pd.DataFrame(rows, columns=STAT_COLUMNS)


def repetitions(df: pd.DataFrame) -> pd.DataFrame:
    """One row per configuration, scenario and repetition: status, error, retransmissions
    (total) and retransmitted ('name=count ...'), flagged when any fired."""
    cols = ["configuration", "scenario", "repetition", "status", "error", "retransmissions",
            "retransmitted", "flag"]
    if df.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for (conf, scen, rep), g in df.groupby(["configuration", "scenario", "repetition"], sort=False):
        bad = g[g["status"] != "ok"]
        n = pd.to_numeric(g.get("retransmissions", pd.Series(0, g.index)), errors="coerce").fillna(0)
        text = next((str(t) for t in g.get("retransmitted", pd.Series(dtype=str)).dropna()
                     if str(t).strip() and str(t) != "nan"), "")
        total = int(n.max()) if len(n) else 0
        rows.append({"configuration": conf, "scenario": scen, "repetition": int(rep),
                     "status": "ok" if bad.empty else str(bad["status"].iloc[0]),
                     "error": "" if bad.empty else str(bad["error"].fillna("").iloc[0]),
                     "retransmissions": total, "retransmitted": text,
                     "flag": "retransmission" if total else ""})
    return pd.DataFrame(rows, columns=cols)


def _cell(r) -> str:
    span = "" if r.p5 == r.p95 else f" [{_num(r.p5)}–{_num(r.p95)}]"
    flag = f", {r.n_retransmitted} retx" if r.n_retransmitted else ""
    return f"{_num(r.median)}{span} ({r.n}{flag})"


def statistics_markdown(table: pd.DataFrame, reps: pd.DataFrame, prefix: str = "") -> str:
    """Per configuration: rows phases, columns scenarios, cells 'median [p5–p95] (n)' (',
    k retx': k of the n repetitions had a retransmission); then failed and flagged
    repetitions."""
    if table.empty and reps.empty:
        return "No measurements in the records.\n"
    out = ["Cells: median [p5–p95] (n repetitions with status ok; *k retx*: in k of them a "
           "retransmission fired). Per repetition: "
           f"[tables/statistics.csv]({prefix}statistics.csv), "
           f"[tables/repetitions.csv]({prefix}repetitions.csv).", ""]
    order = phase_order(table)
    confs = list(dict.fromkeys([*table["configuration"], *reps["configuration"]]))
    for conf in confs:
        t = table[table["configuration"] == conf]
        r = reps[reps["configuration"] == conf]
        scen = list(dict.fromkeys([*t["scenario"], *r["scenario"]]))
        if len(confs) > 1:
            out += [f"### {conf}", ""]
        out += ["| phase | unit | " + " | ".join(scen) + " |", "|---|---|" + "---|" * len(scen)]
        cells = {(x.phase, x.scenario): x for x in t.itertuples()}
        for phase in (p for p in order if p in set(t["phase"])):
            unit = t.loc[t["phase"] == phase, "unit"].iloc[0]
            out.append(f"| {phase} | {unit} | " + " | ".join(
                _cell(cells[(phase, s)]) if (phase, s) in cells else "--" for s in scen) + " |")
        counts = lambda s, col: int((r[r["scenario"] == s][col] != "").sum())  # noqa: E731
        out.append("| *repetitions* | | " + " | ".join(
            f"{int((r['scenario'] == s).sum())}, {counts(s, 'error')} failed, "
            f"{counts(s, 'flag')} with a retransmission" for s in scen) + " |")
        out.append("")
        failed = r[r["status"] != "ok"]
        if len(failed):
            out += ["Failed: " + "; ".join(f"{x.scenario} #{x.repetition}: {x.error}"
                                           for x in failed.itertuples()), ""]
        flagged = r[r["flag"] != ""]
        if len(flagged):
            out += ["With a retransmission: " + "; ".join(
                f"{x.scenario} #{x.repetition} ({x.retransmitted})" for x in flagged.itertuples()), ""]
    return "\n".join(out)


def retransmissions_markdown(reps: pd.DataFrame) -> str:
    """Per configuration and scenario: repetitions in which a retransmission fired, and how
    often each timer fired in all of them."""
    if reps.empty:
        return "No repetitions.\n"
    out = ["| configuration | scenario | repetitions | with a retransmission | fired |",
           "|---|---|---|---|---|"]
    for (conf, scen), g in reps.groupby(["configuration", "scenario"], sort=False):
        totals: dict[str, int] = {}
        for text in g["retransmitted"]:
            for name, n in parse_retransmitted(text).items():
                totals[name] = totals.get(name, 0) + n
        flagged = g[g["flag"] != ""]
        which = ", ".join(f"#{x}" for x in flagged["repetition"])
        out.append(f"| {conf} | {scen} | {len(g)} | {len(flagged)}" + (f" ({which})" if which else "")
                   + " | " + (", ".join(f"{k} x{v}" for k, v in totals.items()) or "none") + " |")
    return "\n".join(out) + "\n"


def write_tables(run: RunData, out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    table, reps = statistics(run.records, run.spec), repetitions(run.records)
    paths = {n: out_dir / n for n in ("statistics.csv", "statistics.md", "repetitions.csv",
                                      "parameters.md")}
    table.to_csv(paths["statistics.csv"], index=False, float_format="%.3f")
    reps.to_csv(paths["repetitions.csv"], index=False)
    paths["statistics.md"].write_text(
        f"# {run.name}: every phase per configuration and scenario\n\n"
        + statistics_markdown(table, reps)
        + "\n# Retransmissions\n\n" + retransmissions_markdown(reps))
    paths["parameters.md"].write_text("# Emulated parameters\n\n" + parameters.markdown(run))
    return paths


def distribution(run: RunData, out: Path) -> list[Path]:
    """Box and points over repetitions of every time (ms) per configuration and scenario, one
    panel per phase; repetitions in which a retransmission fired are ringed."""
    df = run.records
    ok_ = df[(df["status"] == "ok") & (df["unit"].fillna("ms") == "ms")].assign(v_=values)
    ok_ = ok_.dropna(subset=["v_"])
    if ok_.empty:
        return []
    names = phase_order(ok_)[:MAX_PANELS]
    groups = [(c, s) for c in configurations(ok_) for s in scenario_names(of(ok_, c), run.spec)]
    flagged = _retransmitted_reps(df)
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    width = max(4.5, 0.9 * len(groups) + 1.5)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, 4.2 * rows), squeeze=False)
    multi = len(configurations(ok_)) > 1
    colour = {s: PALETTE[k % len(PALETTE)] for k, s in enumerate(scenario_names(ok_, run.spec))}
    for ax, phase in zip(axes.flat, names):
        data, rings = [], []
        for c, s in groups:
            g = ok_[(ok_["configuration"] == c) & (ok_["scenario"] == s) & (ok_["phase"] == phase)]
            data.append((f"{s}\n{c}" if multi else s, g["v_"].tolist(), colour[s]))
            rings.append([(c, s, r) in flagged for r in g["repetition"]])
        boxes(ax, data, rings)
        ax.set_xticklabels([d[0] for d in data], fontsize=8, rotation=20 if multi else 0)
        vals = [v for d in data for v in d[1] if v > 0]
        if vals and max(vals) / min(vals) > 30:
            ax.set_yscale("log")
        ax.set_title(phase)
        ax.set_ylabel("ms")
        ax.grid(axis="y", which="both", alpha=0.3)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.suptitle(f"{run.name}: distribution over repetitions (points; box: quartiles; "
                 "ringed: a retransmission fired)")
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    caption(fig, parameters.caption(run))
    return save(fig, out)


def write_figures(run: RunData, out_dir: Path) -> list[Path]:
    from orchestrator.analysis.ladder import write_ladders
    return distribution(run, out_dir / "distribution") + write_ladders(run.dir, out_dir)
