"""Concurrent handovers in a run's report (issue 17): percentiles over mobile nodes and
their CDF, for scenarios with `concurrent:` (experiment/concurrent.py writes one record per
MN and phase, with the `concurrent:*` columns).

- `tables/concurrency.csv`, `.md`: per configuration x scenario x phase: MNs in the
  scenario, how many were measured (ok) and failed, arrivals (simultaneous, or Poisson and
  its rate), p50, p90, p99 (linear interpolation between the order statistics, as pandas'
  quantile), max, over every MN of every repetition;
- `figures/concurrency-cdf.png`: the empirical CDF of each phase over MNs, one line per
  configuration and scenario, with the p50/p90/p99 levels drawn.

Pure functions of the records frame, except `write_tables` and `write_figures`.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from orchestrator.analysis import parameters
from orchestrator.analysis.plots import caption, plt, save
from orchestrator.analysis.records import RunData, num, values

MN_COLUMN = "concurrent:mobile_nodes"
PERCENTILES = (50, 90, 99)
COLUMNS = ["configuration", "scenario", "phase", "arrivals", "mobile_nodes", "ok", "failed",
           *(f"p{p}" for p in PERCENTILES), "max"]
# the phases the CDF shows, in this order, when present
CDF_PHASES = ("Tauth", "Tconf", "Time affecting handover", "Arrival to port open")
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def concurrent_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The records of concurrent scenarios (empty if none)."""
    if MN_COLUMN not in df:
        return df.iloc[0:0]
    return df[pd.to_numeric(df[MN_COLUMN], errors="coerce").notna()]


def _arrivals(g: pd.DataFrame) -> str:
    kind = str(g["concurrent:arrivals"].dropna().iloc[0]) if "concurrent:arrivals" in g else ""
    rate = pd.to_numeric(g.get("concurrent:rate[1/s]"), errors="coerce")
    if kind == "poisson" and rate is not None and rate.notna().any():
        return f"poisson {rate.dropna().iloc[0]:g}/s"
    return kind


def percentiles(df: pd.DataFrame) -> pd.DataFrame:
    """One row per configuration, scenario and phase of the concurrent scenarios (pure)."""
    crowd = concurrent_rows(df)
    rows = []
    for (conf, scen), g in crowd.groupby(["configuration", "scenario"], sort=False):
        n_mns = int(pd.to_numeric(g[MN_COLUMN]).max()) * int(g["repetition"].nunique())
        failed = g[g["status"] != "ok"][["repetition", "mobile_node"]].drop_duplicates()
        ok_ = g[g["status"] == "ok"].assign(v_=values)
        for phase in dict.fromkeys(ok_["phase"]):
            v = ok_.loc[ok_["phase"] == phase, "v_"].dropna()
            q = v.quantile([p / 100 for p in PERCENTILES]) if len(v) else None
            rows.append({"configuration": conf, "scenario": scen, "phase": phase,
                         "arrivals": _arrivals(g), "mobile_nodes": n_mns, "ok": int(v.size),
                         "failed": len(failed),
                         **{f"p{p}": (float(q.iloc[k]) if q is not None else math.nan)
                            for k, p in enumerate(PERCENTILES)},
                         "max": float(v.max()) if len(v) else math.nan})
    return pd.DataFrame(rows, columns=COLUMNS)


def markdown(table: pd.DataFrame) -> str:
    if table.empty:
        return "No concurrent scenarios in this run.\n"
    out = ["Per MN and phase over every MN of every repetition, ms (p50/p90/p99 by linear "
           "interpolation). MNs: in the scenario times repetitions; ok: measured; failed: "
           "MNs whose handover failed (their errors in records).", "",
           "| configuration | scenario | arrivals | phase | MNs | ok | failed | p50 | p90 | p99 | max |",
           "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in table.itertuples(index=False):
        out.append(f"| {r.configuration} | {r.scenario} | {r.arrivals} | {r.phase} | "
                   f"{r.mobile_nodes} | {r.ok} | {r.failed} | {num(r.p50)} | {num(r.p90)} | "
                   f"{num(r.p99)} | {num(r.max)} |")
    return "\n".join(out) + "\n"


def write_tables(run: RunData, out_dir: Path) -> dict[str, Path]:
    table = percentiles(run.records)
    if table.empty:
        return {}
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"concurrency.csv": out_dir / "concurrency.csv",
             "concurrency.md": out_dir / "concurrency.md"}
    table.to_csv(paths["concurrency.csv"], index=False, float_format="%.3f")
    paths["concurrency.md"].write_text(f"# {run.name}: concurrent handovers\n\n" + markdown(table))
    return paths


def cdf(run: RunData, out: Path) -> list[Path]:
    """Empirical CDF over MNs of each phase, one line per configuration and scenario."""
    crowd = concurrent_rows(run.records)
    ok_ = crowd[crowd["status"] == "ok"].assign(v_=values).dropna(subset=["v_"])
    if ok_.empty:
        return []
    present = list(dict.fromkeys(ok_["phase"]))
    names = [p for p in CDF_PHASES if p in present] or present[:4]
    groups = list(dict.fromkeys(zip(ok_["configuration"], ok_["scenario"])))
    multi = len({c for c, _ in groups}) > 1
    fig, axes = plt.subplots(1, len(names), figsize=(4.6 * len(names), 4.2), squeeze=False)
    for ax, phase in zip(axes.flat, names):
        for k, (c, s) in enumerate(groups):
            g = ok_[(ok_["configuration"] == c) & (ok_["scenario"] == s) & (ok_["phase"] == phase)]
            v = np.sort(g["v_"].to_numpy(dtype=float))
            if not v.size:
                continue
            y = np.arange(0, v.size + 1) / v.size          # 0 before the first MN
            ax.step(np.concatenate([v[:1], v]), y, where="post", color=PALETTE[k % len(PALETTE)],
                    label=f"{s} ({c})" if multi else s)
        for p in PERCENTILES:
            ax.axhline(p / 100, color="0.6", lw=0.7, ls=":")
        ax.set_title(phase)
        ax.set_xlabel("ms")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    axes.flat[0].set_ylabel("fraction of MNs (dotted: p50, p90, p99)")
    axes.flat[-1].legend(fontsize=8, loc="lower right")
    n = int(pd.to_numeric(crowd[MN_COLUMN]).max())
    fig.suptitle(f"{run.name}: concurrent handovers, CDF over MNs (up to {n} MNs per repetition)")
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    caption(fig, parameters.caption(run))
    return save(fig, out)


def write_figures(run: RunData, out_dir: Path) -> list[Path]:
    return cdf(run, out_dir / "concurrency-cdf")
