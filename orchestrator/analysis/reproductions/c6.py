"""RFC 6252 Appendix C.6, "Guidelines for Handover Preparation": MPA success against the
mobile node's velocity, for runs whose experiment declares `reference: {table: rfc6252_c6,
columns: {pre-authentication: [<scenarios>], pre-configuration: [<scenarios>]}}` (the two
MPA depths of C.6; each scenario is a movement at one speed).

    2RTT + Tpsk < D/v               (pre-authentication)
    2RTT + Tpsk + Tconf < D/v       (pre-authentication and pre-configuration)

The RFC only states this on paper. Here each run moves the MN at real speed across the
border of two networks (experiment/movement.py) and records whether MPA had finished when
its policy handed over (`mpa_completed`), the handover delay, the phase times it measured
(Tdisc, Tauth, Tpsk, Tconf) and the distance D it travelled from the start of MPA to the
handover. The predicted limit is D / (Tdisc + Tauth + Tpsk (+ Tconf)) from the medians of
the times measured *in the same run* (`mobility/c6.py`; the measured PANA pre-authentication
stands in for the RFC's 2RTT: EAP-TLS takes several round trips), drawn over the measured
success rate; the RFC's worked example is recomputed beside it.

Cell size (C.6's D): an experiment whose configurations lay the cells out at several
sizes (experiments/c6.yaml: AP spacing 20, 40, 80 m, the radio scaled with it) gives one
limit per cell size, each from the D and the phase times measured in that configuration;
`cells` puts them side by side, and `v_over_d` every run on one axis, v/D, where the
formula predicts one boundary for all sizes: v/D = 1 / budget.

Registers:
  tables   c6_success.csv (per scenario: depth, speed, n, success rate, delays, phase
           times, D), c6_limits.csv and c6.md (predicted and observed limits per depth and
           cell size, the RFC's example recomputed), c6_cells.csv (per depth and cell size:
           D, budget, the predicted limit and the observed transition, also as v/D)
  checks   (a) below the predicted limit MPA finishes, (b) well above it it does not,
           (c) pre-configuration lowers the limit, (d) the worked example recomputed,
           (e) with several cell sizes: the observed limit grows with D
  figures  c6_success (success rate and handover delay against velocity, predicted limits),
           c6_cells (success against v/D for every cell size; limits against D)
  readme   the limits, the table, the discussion; summary: the limits

Pure functions of the run's records and spec, except the figure function.
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from orchestrator.analysis import reference
from orchestrator.analysis.plots import caption, plt, save
from orchestrator.analysis.records import RunData, ok, stats, values
from orchestrator.analysis.reproduction import Reproduction, check, checks_section, verdicts
from orchestrator.mobility import c6 as formula
from orchestrator.mobility.geometry import to_feet

TABLE = "rfc6252_c6"
C6 = Reproduction(TABLE, "RFC 6252 C.6: MPA success against velocity, beside the predicted limit")
DEPTHS = {"pre-authentication": formula.PRE_AUTHENTICATION,
          "pre-configuration": formula.PRE_CONFIGURATION}
TITLES = {"pre-authentication": "pre-authentication only",
          "pre-configuration": "pre-authentication + pre-configuration"}
COLOURS = {"pre-authentication": "#1f77b4", "pre-configuration": "#2ca02c"}
MARGIN = 1.25            # "well below / above" the predicted limit, for the checks
# check (e) compares cell sizes: configurations whose D differ by less than this are one size
CELL_RATIO = 1.25


def rfc_example() -> dict:
    """The worked example as the RFC states it and as its formula gives it (ft/s)."""
    rows = reference.load(TABLE)
    val = {(r["quantity"], r["depth"]): float(r["value"]) for r in rows}
    d, rtt, tpsk = val[("D", "")], val[("RTT", "")] / 1e3, val[("Tpsk", "")] / 1e3
    tconf = val[("Tconf", "pre-configuration")] / 1e3
    return {"D_ft": d, "RTT_ms": rtt * 1e3, "Tpsk_ms": tpsk * 1e3, "Tconf_ms": tconf * 1e3,
            "pre-authentication": {"rfc": val[("limit", "pre-authentication")],
                                   "computed": formula.velocity_limit(d, rtt, tpsk)},
            "pre-configuration": {"rfc": val[("limit", "pre-configuration")],
                                  "computed": formula.velocity_limit(d, rtt, tpsk, tconf)}}


def depth_of(run: RunData) -> dict[str, str]:
    """Scenario -> the RFC column (MPA depth) the experiment maps it onto."""
    ref = run.reference
    if ref is None:
        return {}
    return {s: col for col, names in ref.columns.items() for s in names}


def _value(rows: pd.DataFrame, phase: str) -> pd.Series:
    return values(rows[rows["phase"] == phase])


def success(run: RunData) -> pd.DataFrame:
    """One row per (configuration, scenario): depth, speed, runs, MPA finished in time,
    median handover delay, measured phase times and D."""
    df, depths = ok(run.records), depth_of(run)
    out = []
    for (conf, scen), rows in df.groupby(["configuration", "scenario"], sort=False):
        if scen not in depths:
            continue
        done = _value(rows, "mpa_completed").dropna()
        row = {"configuration": conf, "scenario": scen, "depth": depths[scen],
               "speed_mps": stats(_value(rows, "speed"))["median"], "n": int(done.size),
               "completed": int(done.sum()),
               "success_rate": float(done.mean()) if done.size else math.nan}
        for phase, col in (("handover_delay", "handover_delay_ms"), ("Tdisc", "Tdisc_ms"),
                           ("Tauth", "Tauth_ms"), ("Tpsk", "Tpsk_ms"), ("Tconf", "Tconf_ms"),
                           ("D", "D_m"), ("window", "window_ms")):
            row[col] = stats(_value(rows, phase))["median"]
        row["speed_fps"] = to_feet(row["speed_mps"])
        out.append(row)
    cols = ["configuration", "scenario", "depth", "speed_mps", "speed_fps", "n", "completed",
            "success_rate", "handover_delay_ms", "Tdisc_ms", "Tauth_ms", "Tpsk_ms", "Tconf_ms",
            "D_m", "window_ms"]
    return pd.DataFrame(out, columns=cols).sort_values(["configuration", "depth", "speed_mps"])


def limits(run: RunData) -> pd.DataFrame:
    """Per configuration and depth: the phase times measured in this run (medians over its
    runs of that depth), D, the predicted limit D / budget, and the observed transition:
    the fastest speed at which every run finished MPA and the slowest at which one did not."""
    df, depths = ok(run.records), depth_of(run)
    out = []
    table = success(run)
    for conf, rows in df.groupby("configuration", sort=False):
        for depth in DEPTHS:
            scen = [s for s, d in depths.items() if d == depth]
            sub = rows[rows["scenario"].isin(scen)]
            if sub.empty:
                continue
            med = {p: stats(_value(sub, p))["median"] for p in ("Tdisc", "Tauth", "Tpsk", "Tconf", "D")}
            times = formula.PhaseTimes(tauth=_s(med["Tauth"]), tpsk=_s(med["Tpsk"]),
                                       tconf=_s(med["Tconf"]), discovery=_s(med["Tdisc"]))
            budget = times.budget(DEPTHS[depth])
            predicted = med["D"] / budget if budget > 0 and not math.isnan(med["D"]) else math.nan
            t = table[(table["configuration"] == conf) & (table["depth"] == depth)]
            some_fail = t[t["success_rate"] < 1.0]["speed_mps"]
            first_fail = some_fail.min() if len(some_fail) else math.inf
            all_ok = t[(t["success_rate"] == 1.0) & (t["speed_mps"] < first_fail)]["speed_mps"]
            out.append({"configuration": conf, "depth": depth, **{f"{k}_ms": v for k, v in med.items() if k != "D"},
                        "D_m": med["D"], "budget_ms": budget * 1e3,
                        "predicted_limit_mps": predicted,
                        "predicted_limit_fps": to_feet(predicted),
                        "fastest_all_completed_mps": all_ok.max() if len(all_ok) else math.nan,
                        "slowest_not_completed_mps": some_fail.min() if len(some_fail) else math.nan})
    return pd.DataFrame(out)


def _s(ms: float) -> float:
    return 0.0 if ms is None or math.isnan(ms) else ms / 1e3


def _observed_limit(fastest_ok: float, slowest_failed: float) -> float:
    """The observed transition as one speed: the geometric mean of the fastest speed at
    which every run finished MPA and the slowest at which one did not (NaN unless both)."""
    if any(v is None or math.isnan(v) for v in (fastest_ok, slowest_failed)):
        return math.nan
    return math.sqrt(fastest_ok * slowest_failed)


def cells(run: RunData) -> pd.DataFrame:
    """Per depth and configuration (cell size), ordered by D: D, the budget measured there,
    the predicted limit D/budget, the observed transition, and both as v/D (1/s): the
    formula's boundary is v/D = 1/budget whatever the cell size."""
    lim = limits(run)
    if lim.empty:
        return pd.DataFrame(columns=["depth", "configuration", "D_m", "budget_ms",
                                     "predicted_limit_mps", "observed_limit_mps",
                                     "fastest_all_completed_mps", "slowest_not_completed_mps",
                                     "predicted_v_over_D", "observed_v_over_D"])
    out = lim[["depth", "configuration", "D_m", "budget_ms", "predicted_limit_mps",
               "fastest_all_completed_mps", "slowest_not_completed_mps"]].copy()
    out["observed_limit_mps"] = [_observed_limit(a, b) for a, b in zip(
        out["fastest_all_completed_mps"], out["slowest_not_completed_mps"])]
    out["predicted_v_over_D"] = 1e3 / out["budget_ms"]
    out["observed_v_over_D"] = out["observed_limit_mps"] / out["D_m"]
    return out.sort_values(["depth", "D_m"]).reset_index(drop=True)


def v_over_d(run: RunData) -> pd.DataFrame:
    """Every (configuration, scenario) of `success` with its v/D (1/s), D the median
    measured in that configuration at that depth."""
    table, lim = success(run), limits(run)
    if table.empty:
        return table.assign(D_cell_m=[], v_over_D=[])
    d = {(r.configuration, r.depth): r.D_m for r in lim.itertuples()}
    table = table.copy()
    table["D_cell_m"] = [d.get((c, k), math.nan) for c, k in zip(table["configuration"],
                                                                 table["depth"])]
    table["v_over_D"] = table["speed_mps"] / table["D_cell_m"]
    return table


@C6.tables
def tables(run: RunData) -> dict:
    return {"c6_success.csv": success(run), "c6_limits.csv": limits(run),
            "c6_cells.csv": cells(run), "c6.md": "\n".join(markdown(run)) + "\n"}


def markdown(run: RunData) -> list[str]:
    ex = rfc_example()
    lim, table = limits(run), success(run)
    out = [f"{reference.citation(TABLE)}.", "",
           "| depth | Tdisc | Tauth | Tpsk | Tconf | D | predicted limit D/budget | observed: "
           "every run finished MPA up to | first speed where one did not |", "|---|---|---|---|---|---|---|---|---|"]
    for r in lim.itertuples():
        tconf = _ms(r.Tconf_ms) if r.depth == "pre-configuration" else "--"
        out.append(f"| {TITLES[r.depth]} ({r.configuration}) | {_ms(r.Tdisc_ms)} | "
                   f"{_ms(r.Tauth_ms)} | {_ms(r.Tpsk_ms)} | {tconf} | {r.D_m:.2f} m | "
                   f"{r.predicted_limit_mps:.1f} m/s ({r.predicted_limit_fps:.0f} ft/s) | "
                   f"{_speed(r.fastest_all_completed_mps)} | {_speed(r.slowest_not_completed_mps)} |")
    cl = cells(run)
    if cl["configuration"].nunique() > 1:
        out += ["", "Per cell size (D measured in each configuration; the formula's boundary "
                "in v/D is 1/budget whatever D; observed: the geometric mean of the fastest "
                "speed where every run finished and the slowest where one did not):", "",
                "| depth | cell | D | budget | predicted limit | observed limit | predicted "
                "v/D | observed v/D |", "|---|---|---|---|---|---|---|---|"]
        for r in cl.itertuples():
            out.append(f"| {TITLES[r.depth]} | {r.configuration} | {r.D_m:.2f} m | "
                       f"{_ms(r.budget_ms)} | {r.predicted_limit_mps:.1f} m/s | "
                       f"{_speed(r.observed_limit_mps, '.1f')} | {r.predicted_v_over_D:.2f}/s | "
                       + ("--" if math.isnan(r.observed_v_over_D) else f"{r.observed_v_over_D:.2f}/s")
                       + " |")
    out += ["", "Per speed (success = the handover needed no EAP; with pre-configuration, it "
            "was MPA's handover into the pre-configured nCoA):", "",
            "| depth | cell | speed | runs | MPA finished | handover delay (median) |",
            "|---|---|---|---|---|---|"]
    for r in table.itertuples():
        out.append(f"| {TITLES[r.depth]} | {r.configuration} | {r.speed_mps:g} m/s "
                   f"({r.speed_fps:.0f} ft/s) | {r.n} | "
                   f"{r.completed}/{r.n} | {r.handover_delay_ms:.1f} ms |")
    a, b = ex["pre-authentication"], ex["pre-configuration"]
    out += ["", f"The RFC's worked example recomputed: D = {ex['D_ft']:g} ft, RTT = "
            f"{ex['RTT_ms']:g} ms, Tpsk = {ex['Tpsk_ms']:g} ms: {a['computed']:.1f} ft/s (the RFC "
            f"prints ~{a['rfc']:g}); with Tconf = {ex['Tconf_ms']:g} ms: {b['computed']:.1f} ft/s "
            f"(RFC {b['rfc']:g})."]
    return out


def _ms(v) -> str:
    return "--" if v is None or math.isnan(v) else f"{v:.1f} ms"


def _speed(v, fmt: str = "g") -> str:
    return "--" if v is None or math.isnan(v) else f"{v:{fmt}} m/s"


@C6.checks
def checks(run: RunData) -> list[dict]:
    out = []
    lim, table = limits(run), success(run)
    for r in lim.itertuples():
        t = table[(table["configuration"] == r.configuration) & (table["depth"] == r.depth)]
        slow = t[t["speed_mps"] < r.predicted_limit_mps / MARGIN]
        fast = t[t["speed_mps"] > r.predicted_limit_mps * MARGIN]
        rate_slow = slow["completed"].sum() / slow["n"].sum() if slow["n"].sum() else math.nan
        rate_fast = fast["completed"].sum() / fast["n"].sum() if fast["n"].sum() else math.nan
        where = f"{TITLES[r.depth]}, {r.configuration}"
        out.append(check("a", f"below the predicted limit ({r.predicted_limit_mps:.1f} m/s / "
                         f"{MARGIN:g}) MPA finishes before the handover [{where}]", rate_slow,
                         1.0, None if math.isnan(rate_slow) else rate_slow == 1.0,
                         "share of runs slower than the limit / 1.25 whose handover needed no EAP"))
        out.append(check("b", f"above the predicted limit (x {MARGIN:g}) it does not [{where}]",
                         rate_fast, 0.0, None if math.isnan(rate_fast) else rate_fast == 0.0,
                         "share of runs faster than the limit x 1.25 that still finished MPA"))
    for conf, g in lim.groupby("configuration", sort=False):
        by = {r.depth: r for r in g.itertuples()}
        if set(by) == set(DEPTHS):
            a, b = by["pre-authentication"], by["pre-configuration"]
            out.append(check("c", f"pre-configuration lowers the limit [{conf}]",
                             b.predicted_limit_mps / a.predicted_limit_mps, None,
                             b.predicted_limit_mps < a.predicted_limit_mps,
                             "predicted limit with pre-configuration / without (C.6: 250/500)"))
    cl = cells(run)
    for depth, g in cl.groupby("depth", sort=False):
        g = g.dropna(subset=["observed_limit_mps", "D_m"])
        if len(g) < 2 or g["D_m"].max() < CELL_RATIO * g["D_m"].min():
            continue                  # one cell size (e.g. configurations that vary the RTT)
        grows = bool((g["observed_limit_mps"].diff().dropna() >= 0).all())
        ratio = g["observed_limit_mps"].iloc[-1] / g["observed_limit_mps"].iloc[0]
        out.append(check("e", f"the observed limit grows with the cell size [{TITLES[depth]}]",
                         ratio, g["D_m"].iloc[-1] / g["D_m"].iloc[0], grows,
                         "observed limit of the largest cell / the smallest (measured) beside "
                         "D largest / smallest (the formula: equal); verdict: the observed "
                         "limit never falls as D grows ("
                         + ", ".join(f"{r.D_m:.1f} m: {r.observed_limit_mps:.1f} m/s"
                                     for r in g.itertuples()) + ")"))
    ex = rfc_example()
    for depth in DEPTHS:
        e = ex[depth]
        out.append(check("d", f"the worked example recomputed, {TITLES[depth]} (ft/s)",
                         e["computed"], e["rfc"], abs(e["computed"] / e["rfc"] - 1) <= 0.05,
                         "D / (2RTT + Tpsk (+ Tconf)) with the RFC's numbers; the RFC rounds "
                         "476 to ~500"))
    return out


@C6.figures
def figures(run: RunData, out_dir: Path) -> list[Path]:
    table, lim = success(run), limits(run)
    if table.empty:
        return []
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    for (conf, depth), t in table.groupby(["configuration", "depth"], sort=False):
        label = TITLES[depth] + (f" ({conf})" if table["configuration"].nunique() > 1 else "")
        ax1.plot(t["speed_mps"], t["success_rate"], "o-", color=COLOURS[depth], label=label)
        ax2.plot(t["speed_mps"], t["handover_delay_ms"], "o-", color=COLOURS[depth], label=label)
    for r in lim.itertuples():
        for ax in (ax1, ax2):
            ax.axvline(r.predicted_limit_mps, color=COLOURS[r.depth], ls="--", lw=1)
        ax1.text(r.predicted_limit_mps, 0.5, f" D/budget = {r.predicted_limit_mps:.1f} m/s",
                 color=COLOURS[r.depth], rotation=90, va="center", fontsize=8)
    for ax in (ax1, ax2):
        ax.set_xscale("log")
        ax.set_xlabel("MN velocity (m/s)")
        ax.grid(alpha=0.3)
    ax1.set_ylabel("MPA finished before the handover (share of runs)")
    ax1.set_ylim(-0.05, 1.05)
    ax2.set_ylabel("handover delay (ms, median)")
    ax1.legend(fontsize=8, loc="lower left")
    ax1.set_title("MPA finished in time; dashed: D / measured budget", fontsize=11)
    ax2.set_title("handover delay (EAP after the move if MPA did not finish)", fontsize=11)
    fig.suptitle("RFC 6252 C.6: MPA against the MN's velocity")
    notes = "; ".join(f"{TITLES[r.depth]}: D = {r.D_m:.2f} m, Tdisc {_ms(r.Tdisc_ms)} + Tauth "
                      f"{_ms(r.Tauth_ms)} + Tpsk {_ms(r.Tpsk_ms)}"
                      + (f" + Tconf {_ms(r.Tconf_ms)}" if r.depth == "pre-configuration" else "")
                      for r in lim.itertuples())
    caption(fig, "Measured in this run (medians): " + notes + ". RFC's example: "
            f"{rfc_example()['pre-authentication']['computed']:.0f} and "
            f"{rfc_example()['pre-configuration']['computed']:.0f} ft/s.")
    return save(fig, out_dir / "c6_success")


MARKERS = "osD^v<>ph"


@C6.figures
def cell_figures(run: RunData, out_dir: Path) -> list[Path]:
    """Success against v/D, every cell size on one axis (the formula: one boundary,
    1/budget); and per cell size, the predicted limit D/budget against the observed one."""
    table, cl = v_over_d(run), cells(run)
    if table.empty or table["configuration"].nunique() < 2:
        return []
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    confs = list(dict.fromkeys(cl.sort_values("D_m")["configuration"]))
    for (conf, depth), t in table.groupby(["configuration", "depth"], sort=False):
        d = t["D_cell_m"].iloc[0]
        ax1.plot(t["v_over_D"], t["success_rate"], MARKERS[confs.index(conf) % len(MARKERS)]
                 + "-", color=COLOURS[depth], alpha=0.8, ms=6,
                 label=f"{TITLES[depth]}, D = {d:.1f} m ({conf})")
    for depth, g in cl.groupby("depth", sort=False):
        lo, hi = g["predicted_v_over_D"].min(), g["predicted_v_over_D"].max()
        ax1.axvspan(lo, hi if hi > lo else lo * 1.01, color=COLOURS[depth], alpha=0.15)
        ax1.axvline(g["predicted_v_over_D"].median(), color=COLOURS[depth], ls="--", lw=1)
        ax2.plot(g["D_m"], g["predicted_limit_mps"], "--", color=COLOURS[depth],
                 label=f"{TITLES[depth]}: predicted D / budget")
        ax2.plot(g["D_m"], g["observed_limit_mps"], "o-", color=COLOURS[depth],
                 label=f"{TITLES[depth]}: observed")
        ax2.vlines(g["D_m"], g["fastest_all_completed_mps"], g["slowest_not_completed_mps"],
                   color=COLOURS[depth], alpha=0.4, lw=4)
    ax1.set_xscale("log")
    ax1.set_xlabel("v / D (1/s): the MN's velocity over the distance it has for MPA")
    ax1.set_ylabel("MPA finished before the handover (share of runs)")
    ax1.set_ylim(-0.05, 1.05)
    ax1.set_title("every cell size on one axis; dashed: 1 / measured budget", fontsize=11)
    ax1.legend(fontsize=7, loc="center left")
    ax2.set_xlabel("D (m), measured per cell size")
    ax2.set_ylabel("velocity limit (m/s)")
    ax2.set_title("limit against the cell size (bars: fastest all-finished to first "
                  "failure)", fontsize=10)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    ax2.legend(fontsize=7)
    fig.suptitle("RFC 6252 C.6: MPA against the velocity and the cell size")
    caption(fig, "Budget per cell size: Tdisc + Tauth + Tpsk (+ Tconf), medians measured in "
            "that configuration; shaded: their range over the cell sizes. " + "; ".join(
                f"{TITLES[r.depth]}, D = {r.D_m:.1f} m: {_ms(r.budget_ms)}"
                for r in cl.itertuples()))
    return save(fig, out_dir / "c6_cells")


@C6.readme
def readme(run: RunData, checks_: list[dict]) -> list[str]:
    return ["## RFC 6252 C.6: MPA success against velocity", "", *markdown(run), "",
            *checks_section(checks_)]


@C6.summary
def summary(run: RunData, checks_: list[dict]) -> list[str]:
    lim = limits(run)
    parts = [f"{TITLES[r.depth]} {r.predicted_limit_mps:.1f} m/s (observed: all finished at "
             f"{_speed(r.fastest_all_completed_mps)}, not all at {_speed(r.slowest_not_completed_mps)})"
             for r in lim.itertuples()]
    return [f"RFC 6252 C.6: predicted limits from measured times: {'; '.join(parts)}. "
            f"Checks: {verdicts(checks_)}.", "", "[C.6 table](tables/c6.md)"]
