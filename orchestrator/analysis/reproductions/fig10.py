"""RFC 6252 Appendix C.5.3, Figure 10: "Results of MPA-Assisted Layer 2 Pre- and
Post-Authentication", for runs whose experiment declares `reference: {table: rfc6252_fig10,
columns: {<RFC column>: <configuration(s)>}}`.

The RFC's columns are its roaming cases (non-roaming: Figure 8, roaming: Figure 9); each
is compared with the configurations the experiment maps onto it, and within those with
every scenario whose flow is one of the RFC's schemes (the flow is the scheme). Nothing is
compared that the mapping does not name.

Registers:
  tables   fig10_beside_rfc.csv and .md: per sweep point, mapped configuration and scenario,
           Figure 10's rows measured (median, p5-p95, n) beside the RFC's value
  checks   the RFC's structure (C.5.3: "When pre-authentication is used, only the factor
           Tassoc+4way affects the handoff time ..."), within each mapped column and, where
           both are mapped, between roaming and non-roaming; with a swept link delay, the
           post-authentication handover grows with it
  figures  fig10_bars, fig10_distribution (per sweep point); fig10_sweep: the time
           affecting handover against the RTT of each swept link delay, with the RFC's point
  readme   the table and the checks; summary: the checks' verdicts
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from matplotlib.patches import Patch

from orchestrator.analysis import parameters, reference
from orchestrator.analysis.plots import boxes, caption, plt, save
from orchestrator.analysis.records import (PARAM, RunData, failed_repetitions, ok, point_label,
                                           scenario_names, slug, stats, sweep_params,
                                           sweep_points, values)
from orchestrator.analysis.reproduction import Reproduction, check, checks_section, verdicts
from orchestrator.model.units import parse_duration

TABLE = "rfc6252_fig10"
FIG10 = Reproduction(TABLE, "RFC 6252 Figure 10 (C.5.3)",
                     intro="Ratios of medians of the repetitions with status ok (RFC: the same "
                           "ratio of Figure 10's values).")

SCHEMES = ("dot11i-post-authentication", "dot11i-pre-authentication", "mpa-l2-pre-authentication")
SCHEME_TITLES = {"dot11i-post-authentication": "802.11i post-authentication",
                 "dot11i-pre-authentication": "802.11i pre-authentication",
                 "mpa-l2-pre-authentication": "MPA-assisted L2 pre-authentication"}
SCHEME_SHORT = {"dot11i-post-authentication": "802.11i post-auth",
                "dot11i-pre-authentication": "802.11i pre-auth",
                "mpa-l2-pre-authentication": "MPA L2 pre-auth"}
COLORS = {"dot11i-post-authentication": "#d62728", "dot11i-pre-authentication": "#1f77b4",
          "mpa-l2-pre-authentication": "#2ca02c"}
RFC_COLUMNS = ("non-roaming", "roaming")
TAH = "Time affecting handover"
FIG10_PHASES = ("Tauth", "Tconf", "Tassoc+4way", "Total", TAH)   # the rows of Figure 10
TOLERANCE = 0.20      # "about equal" in the structure checks: within 20%
POST, PRE, MPA = SCHEMES


def rfc_values() -> dict[tuple[str, str, str], float]:
    """(scheme, RFC column, phase) -> ms, as Figure 10 prints them."""
    return {(r["scheme"], r["roaming"], r["phase"]): r["ms"] for r in reference.load(TABLE)}


@dataclass(frozen=True)
class Column:
    """One measured column beside the RFC's: a scenario of a configuration, and the RFC
    column the experiment maps that configuration onto."""
    rfc: str
    configuration: str
    scenario: str
    scheme: str
    named: bool = field(default=False, compare=False)   # several scenarios of one scheme

    @property
    def title(self) -> str:
        where = self.configuration + ("" if self.configuration == self.rfc else f" (RFC {self.rfc})")
        return f"{SCHEME_TITLES[self.scheme]}, {where}" + (f" [{self.scenario}]" if self.named else "")


def columns(run: RunData, df: pd.DataFrame | None = None) -> list[Column]:
    """The measured columns, in Figure 10's order (scheme, then the RFC's column)."""
    df = run.records if df is None else df
    if run.reference is None:
        return []
    out = []
    for rfc_col in RFC_COLUMNS:
        for base in run.reference.columns.get(rfc_col, ()):
            rows = df[df["base_configuration"] == base]
            for scen in scenario_names(rows, run.spec):
                scheme = str(rows.loc[rows["scenario"] == scen, "scheme"].iloc[0])
                if scheme in SCHEMES:
                    out.append(Column(rfc_col, base, scen, scheme))
    twice = {(c.configuration, c.scheme) for c in out
             if sum((x.configuration, x.scheme) == (c.configuration, c.scheme) for x in out) > 1}
    out = [Column(c.rfc, c.configuration, c.scenario, c.scheme,
                  (c.configuration, c.scheme) in twice) for c in out]
    return sorted(out, key=lambda c: (SCHEMES.index(c.scheme), RFC_COLUMNS.index(c.rfc)))


def _rows(df: pd.DataFrame, c: Column) -> pd.DataFrame:
    return df[(df["base_configuration"] == c.configuration) & (df["scenario"] == c.scenario)]


def _median(df: pd.DataFrame, c: Column, phase: str) -> float:
    rows = ok(_rows(df, c))
    return stats(values(rows[rows["phase"] == phase]))["median"]


def beside_rfc(run: RunData) -> pd.DataFrame:
    """Each Figure 10 cell of each mapped column (per sweep point): the measured median with
    p5-p95 and n beside the RFC's value, and the ratio measured/RFC. Cells the RFC leaves
    "--" (Tconf of 802.11i) keep NaN rfc_ms."""
    ref = rfc_values()
    df = run.records
    sweeps = sweep_params(df)
    out = []
    for point, rows in sweep_points(df):
        for c in columns(run, rows):
            sub = _rows(rows, c)
            for phase in FIG10_PHASES:
                s = stats(values(ok(sub)[ok(sub)["phase"] == phase]))
                rfc = ref.get((c.scheme, c.rfc, phase), math.nan)
                if s["n"] == 0 and math.isnan(rfc):
                    continue
                out.append({"rfc_column": c.rfc, "configuration": c.configuration,
                            "scenario": c.scenario, "scheme": c.scheme, "phase": phase,
                            **point, "n": s["n"], "n_failed": failed_repetitions(sub),
                            "median_ms": s["median"], "p5_ms": s["p5"], "p95_ms": s["p95"],
                            "rfc_ms": rfc, "ratio": s["median"] / rfc if rfc else math.nan})
    return pd.DataFrame(out, columns=["rfc_column", "configuration", "scenario", "scheme",
                                      "phase", *sweeps, "n", "n_failed", "median_ms", "p5_ms",
                                      "p95_ms", "rfc_ms", "ratio"])


def _cell_ms(v, rfc: bool = False) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "--"
    if rfc:
        return f"{v:g}"
    return f"{v:.1f}" if abs(v) < 100 else f"{v:.0f}"


def fig10_markdown(run: RunData, table: pd.DataFrame) -> str:
    """beside_rfc() laid out like Figure 10: rows Tauth ... time affecting handover, one
    column per mapped configuration and scenario, cells 'measured median (RFC value)' in ms."""
    if table.empty:
        return ("No configuration of this run is mapped onto Figure 10's columns "
                "(`reference: {table: rfc6252_fig10, columns: {roaming: <configuration>}}`).\n")
    sweeps = [c for c in table.columns if c.startswith(PARAM)]
    groups = [({}, table)] if not sweeps else [
        (dict(zip(sweeps, k if isinstance(k, tuple) else (k,))), g)
        for k, g in table.groupby(sweeps, dropna=False, sort=False)]
    reps = _flagged(run)
    out = []
    for point, g in groups:
        if point:
            out += [f"### {point_label(point)}", ""]
        keys = {(r.configuration, r.scenario) for r in g.itertuples()}
        cols = [c for c in columns(run) if (c.configuration, c.scenario) in keys]
        cell = {(r.configuration, r.scenario, r.phase): (r.median_ms, r.rfc_ms) for r in g.itertuples()}
        out.append("| Operation | " + " | ".join(c.title for c in cols) + " |")
        out.append("|---|" + "---|" * len(cols))
        for phase in FIG10_PHASES:
            cells = []
            for c in cols:
                med, rfc = cell.get((c.configuration, c.scenario, phase), (math.nan, math.nan))
                cells.append(f"{_cell_ms(med)} ({_cell_ms(rfc, rfc=True)})")
            out.append(f"| {phase} | " + " | ".join(cells) + " |")
        failed = g.groupby(["configuration", "scenario"], sort=False)["n_failed"].max()
        failed = failed[failed > 0]
        if len(failed):
            out += ["", "Failed repetitions (not in the medians): " + ", ".join(
                f"{s} {c}: {int(n)}" for (c, s), n in failed.items()) + "."]
        out.append("")
    if reps:
        out += ["Repetitions in which a retransmission fired (their times include the "
                "timeout): " + "; ".join(reps) + ".", ""]
    return "\n".join(out)


def _flagged(run: RunData) -> list[str]:
    df = run.records
    if "retransmissions" not in df:
        return []
    names = {c.configuration for c in columns(run)}
    n = pd.to_numeric(df["retransmissions"], errors="coerce").fillna(0)
    rows = df[(n > 0) & df["base_configuration"].isin(names)]
    return [f"{c} {s} #{r} ({t})" for (c, s, r), t in
            rows.groupby(["configuration", "scenario", "repetition"], sort=False)["retransmitted"].first().items()]


# --- the RFC's structure as checks

def _ratio(num, den) -> float:
    if num is None or den is None or math.isnan(num) or math.isnan(den) or den == 0:
        return math.nan
    return num / den


def _fmt_ms(v) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.1f} ms"


def _checks_at(df: pd.DataFrame, cols: list[Column], suffix: str, emulated: str) -> list[dict]:
    ref = rfc_values()
    f = lambda s, r, p: ref.get((s, r, p), math.nan)       # noqa: E731
    out = []
    for c in cols:
        m = lambda p: _median(df, c, p)                     # noqa: E731
        rf = lambda p: f(c.scheme, c.rfc, p)                # noqa: E731
        if c.scheme in (PRE, MPA):
            r = _ratio(m(TAH), m("Tassoc+4way"))
            out.append(check("", f"{c.title}: time affecting handover = Tassoc+4way (within "
                             f"20%){suffix}", r, _ratio(rf(TAH), rf("Tassoc+4way")),
                             abs(r - 1) <= TOLERANCE,
                             f"median time affecting handover {_fmt_ms(m(TAH))} / median "
                             f"Tassoc+4way {_fmt_ms(m('Tassoc+4way'))}: with pre-authentication "
                             "only the association and 4-way handshake remain in the handover"))
        else:
            parts = m("Tauth") + m("Tassoc+4way")
            r = _ratio(m(TAH), parts)
            out.append(check("", f"{c.title}: time affecting handover = Tauth + Tassoc+4way "
                             f"(within 20%){suffix}", r,
                             _ratio(rf(TAH), rf("Tauth") + rf("Tassoc+4way")),
                             abs(r - 1) <= TOLERANCE,
                             f"median time affecting handover {_fmt_ms(m(TAH))} / (median Tauth "
                             f"{_fmt_ms(m('Tauth'))} + median Tassoc+4way "
                             f"{_fmt_ms(m('Tassoc+4way'))}): without pre-authentication the "
                             "full EAP-TLS runs inside the handover"))
    by = {}
    for c in cols:
        by.setdefault((c.scheme, c.rfc), c)
    for scheme in SCHEMES:
        home, away = by.get((scheme, "non-roaming")), by.get((scheme, "roaming"))
        if not home or not away:
            continue
        r = _ratio(_median(df, away, TAH), _median(df, home, TAH))
        rfc = _ratio(f(scheme, "roaming", TAH), f(scheme, "non-roaming", TAH))
        if scheme == POST:
            out.append(check("", f"{SCHEME_TITLES[scheme]}: {away.configuration} > "
                             f"{home.configuration} (distance to the home AAA){suffix}",
                             r, rfc, r > 1 + TOLERANCE,
                             f"roaming {_fmt_ms(_median(df, away, TAH))} / non-roaming "
                             f"{_fmt_ms(_median(df, home, TAH))}; ok when the roaming handover "
                             f"is longer by more than 20%: every EAP round trip crosses to "
                             f"AAA_H{emulated}"))
        else:
            out.append(check("", f"{SCHEME_TITLES[scheme]}: {away.configuration} = "
                             f"{home.configuration} time affecting handover (within 20%){suffix}",
                             r, rfc, abs(r - 1) <= TOLERANCE,
                             f"roaming {_fmt_ms(_median(df, away, TAH))} / non-roaming "
                             f"{_fmt_ms(_median(df, home, TAH))}: the home AAA is no longer "
                             "contacted during the handover, so its distance does not matter"))
    for c in cols:
        mpa = next((x for x in cols if x.scheme == MPA and x.configuration == c.configuration), None)
        if c.scheme != POST or mpa is None:
            continue
        r = _ratio(_median(df, c, TAH), _median(df, mpa, TAH))
        rfc = _ratio(f(POST, c.rfc, TAH), f(MPA, c.rfc, TAH))
        out.append(check("", f"post-authentication / MPA, {c.configuration}: time affecting "
                         f"handover{suffix}", r, rfc, r > 1 + TOLERANCE,
                         f"post-authentication {_fmt_ms(_median(df, c, TAH))} / MPA "
                         f"{_fmt_ms(_median(df, mpa, TAH))}. The RFC's "
                         f"{f(POST, c.rfc, TAH):g}/{f(MPA, c.rfc, TAH):g} = {rfc:.1f} reflects "
                         "its own distance to AAA_H; the magnitude here follows the emulated "
                         f"values{emulated}. ok when MPA shortens the handover by more than 20%"))
    return out


def _emulated_note(run: RunData, df: pd.DataFrame) -> str:
    """' (emulated: links.wan.delay 40 ms, ...)': the delayed links of these rows."""
    cols = [c for c in df.columns if c.startswith("emulated:links.") and ".delay[" in c]
    vals = []
    for c in cols:
        v = pd.to_numeric(df[c], errors="coerce").dropna().unique()
        if len(v) == 1 and v[0] > 0:
            vals.append(f"{c.removeprefix('emulated:').split('[')[0]} {v[0]:g} ms")
    if not vals:
        vals = [f"{c.removeprefix(PARAM)}={v}" for c in df.columns
                if c.startswith(f"{PARAM}links.") and c.endswith(".delay")
                for v in df[c].dropna().unique()]
    return f" (emulated: {', '.join(sorted(set(vals)))})" if vals else ""


def delay_sweeps(df: pd.DataFrame) -> list[str]:
    """The swept parameters that are link delays (param:links.<link>.delay)."""
    return [c for c in sweep_params(df) if c.startswith(f"{PARAM}links.") and c.endswith(".delay")]


def _one_way_ms(value) -> float:
    try:
        return parse_duration(str(value)) * 1e3
    except ValueError:
        return math.nan


def _sweep_growth(run: RunData) -> list[dict]:
    """With a swept link delay: post-authentication grows with it (C.5.3: the home AAA
    "located far away")."""
    out = []
    df = run.records
    for param in delay_sweeps(df):
        for c in columns(run):
            if c.scheme != POST:
                continue
            rows = ok(_rows(df, c))
            rows = rows[rows["phase"] == TAH].assign(d_=lambda x: x[param].map(_one_way_ms),
                                                     v_=values)
            med = rows.groupby("d_")["v_"].median().sort_index()
            if len(med) < 2:
                continue
            slope = float((med.iloc[-1] - med.iloc[0]) / (med.index[-1] - med.index[0]))
            pts = ", ".join(f"{d:g} ms -> {v:.1f} ms" for d, v in med.items())
            out.append(check("", f"{c.title}: grows with {param.removeprefix(PARAM)} (sweep)",
                             slope, math.nan, bool((med.diff().dropna() > 0).all()),
                             f"median time affecting handover per one-way delay: {pts}; "
                             "measured is the slope (ms of handover per ms of one-way delay); "
                             "ok when strictly increasing"))
    return out


@FIG10.checks
def structure_checks(run: RunData) -> list[dict]:
    """The RFC's structure (C.5.3) as checks; measured and rfc are ratios of medians (a slope
    for a sweep); ok None when not measured."""
    out = []
    for point, rows in sweep_points(run.records):
        suffix = f" [{point_label(point)}]" if point else ""
        out += _checks_at(rows, columns(run, rows), suffix, _emulated_note(run, rows))
    return out + _sweep_growth(run)


@FIG10.tables
def tables(run: RunData) -> dict:
    table = beside_rfc(run)
    md = ("# Emulated parameters (RFC 6252 Figure 10 reproduction)\n\n" + parameters.markdown(run)
          + f"\n# RFC 6252 Figure 10 beside this run\n\n{reference.citation(TABLE)}.\n\n"
          + mapping_note(run) + "\n\nEach cell: measured median over the repetitions with status "
          "ok (RFC value), in ms; `--` = not measured / not applicable. p5-p95 and n are in "
          "fig10_beside_rfc.csv.\n\n" + fig10_markdown(run, table))
    return {"fig10_beside_rfc.csv": table, "fig10_beside_rfc.md": md}


def mapping_note(run: RunData) -> str:
    ref = run.reference
    pairs = "; ".join(f"RFC {col} -> {', '.join(names)}" for col, names in ref.columns.items())
    return (f"Compared as the experiment declares (`reference:`): {pairs or 'nothing'}. Each "
            "scenario whose flow is one of the RFC's schemes stands beside that scheme's column.")


@FIG10.readme
def readme(run: RunData, checks: list[dict]) -> list[str]:
    return ["## RFC 6252 Figure 10 beside this run", "",
            mapping_note(run) + " Measured median over the repetitions with status ok (RFC "
            "value), ms; p5-p95 and n in [tables/fig10_beside_rfc.csv](tables/fig10_beside_rfc.csv).",
            "", fig10_markdown(run, beside_rfc(run)),
            *checks_section(checks, "Structure checks")]


@FIG10.summary
def summary(run: RunData, checks: list[dict]) -> list[str]:
    return [f"RFC 6252 Figure 10 (C.5.3). Structure checks: {verdicts(checks)}.", "",
            "[Figure 10 beside the RFC](tables/fig10_beside_rfc.md)"]


# --- figures

def fig10_bars(run: RunData, df: pd.DataFrame, out: Path) -> list[Path]:
    """Grouped bars per phase and column: measured median with p5-p95 error bars (solid)
    beside the RFC's value (hatched, lighter); one panel per RFC column."""
    ref = rfc_values()
    cols = columns(run, df)
    panels = [r for r in RFC_COLUMNS if any(c.rfc == r for c in cols)]
    if not panels:
        return []
    fig, axes = plt.subplots(1, len(panels), figsize=(7.5 * len(panels), 5.8), sharey=True,
                             squeeze=False)
    top = 1.0
    for ax, rfc_col in zip(axes[0], panels):
        mine = [c for c in cols if c.rfc == rfc_col]
        width = 0.8 / (2 * len(mine))
        for i, phase in enumerate(FIG10_PHASES):
            for j, c in enumerate(mine):
                x = i - 0.4 + width * (2 * j + 0.5)
                rows = ok(_rows(df, c))
                s = stats(values(rows[rows["phase"] == phase]))
                if s["n"]:
                    err = [[s["median"] - s["p5"]], [s["p95"] - s["median"]]]
                    ax.bar(x, s["median"], width, color=COLORS[c.scheme], yerr=err, capsize=2,
                           error_kw={"lw": 1, "ecolor": "0.15"})
                    top = max(top, s["p95"])
                rfc = ref.get((c.scheme, rfc_col, phase))
                if rfc is not None and not math.isnan(rfc):
                    ax.bar(x + width, rfc, width, color=COLORS[c.scheme], alpha=0.35, hatch="//",
                           edgecolor=COLORS[c.scheme], lw=0.8)
                    top = max(top, rfc)
        ax.set_xticks(range(len(FIG10_PHASES)))
        ax.set_xticklabels([p.replace(TAH, "Time affecting\nhandover") for p in FIG10_PHASES])
        ax.set_yscale("log")
        confs = sorted({c.configuration for c in mine})
        ax.set_title(f"RFC {rfc_col}: {', '.join(confs)}")
        ax.grid(axis="y", which="both", alpha=0.3)
    axes[0][0].set_ylabel("ms (log scale)")
    axes[0][0].set_ylim(1, top * 1.6)
    schemes = [s for s in SCHEMES if any(c.scheme == s for c in cols)]
    handles = [Patch(color=COLORS[s], label=SCHEME_SHORT[s]) for s in schemes]
    handles += [Patch(facecolor="0.4", label="measured: median, p5-p95"),
                Patch(facecolor="0.85", hatch="//", edgecolor="0.4", label="RFC 6252 Figure 10")]
    fig.legend(handles=handles, loc="upper center", ncol=5, bbox_to_anchor=(0.5, 0.95),
               frameon=False, fontsize=10)
    fig.suptitle("RFC 6252 Figure 10: measured (solid) beside the RFC (hatched)", y=0.99)
    fig.tight_layout(rect=(0, 0, 1, 0.91))
    caption(fig, parameters.caption(run, list(dict.fromkeys(df["configuration"]))))
    return save(fig, out)


def fig10_distribution(run: RunData, df: pd.DataFrame, out: Path) -> list[Path]:
    """Box and points over repetitions of the time affecting handover and Tauth per column,
    with the RFC's value as a black bar."""
    ref = rfc_values()
    cols = columns(run, df)
    if not cols:
        return []
    fig, axes = plt.subplots(1, 2, figsize=(max(10.0, 2.4 * len(cols) + 4), 5.6))
    for ax, phase in zip(axes, (TAH, "Tauth")):
        groups, refs = [], []
        for c in cols:
            rows = ok(_rows(df, c))
            groups.append((f"{SCHEME_SHORT[c.scheme].replace(' ', chr(10), 1)}\n{c.configuration}",
                           values(rows[rows["phase"] == phase]).dropna().tolist(), COLORS[c.scheme]))
            refs.append(ref.get((c.scheme, c.rfc, phase)))
        boxes(ax, groups, reference=refs)
        ax.set_xticklabels([g[0] for g in groups], fontsize=9)
        ax.set_yscale("log")
        ax.set_ylabel("ms (log scale)")
        ax.set_title(phase)
        ax.grid(axis="y", which="both", alpha=0.3)
    fig.suptitle("RFC 6252 Figure 10: distribution over repetitions (points, box: quartiles); "
                 "black bar: RFC value")
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    caption(fig, parameters.caption(run, list(dict.fromkeys(df["configuration"]))))
    return save(fig, out)


def rfc_point(rtts: list[float], medians: list[float], rfc_ms: float) -> float | None:
    """The RTT at which a measured curve (increasing RTTs) reaches the RFC's value, by linear
    interpolation between the sweep points around it; None if it never does."""
    pts = [(x, y) for x, y in zip(rtts, medians) if not (math.isnan(x) or math.isnan(y))]
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        if (y0 - rfc_ms) * (y1 - rfc_ms) <= 0 and y1 != y0:
            return x0 + (rfc_ms - y0) * (x1 - x0) / (y1 - y0)
    return None


def fig10_sweep(run: RunData, param: str, out: Path) -> list[Path]:
    """Time affecting handover (median, p5-p95) of every mapped column against the RTT of a
    swept link delay (2 x the configured one-way delay), the RFC's values as dashed lines and
    the RFC's point: where the measured post-authentication curve reaches the RFC's
    post-authentication value, the RTT the RFC's testbed would have had here. Right: the
    post-authentication / MPA ratio against the RTT, the RFC's as a line."""
    df = run.records
    ref = rfc_values()
    cols = columns(run, df)
    if not cols:
        return []
    fig, (ax, axr) = plt.subplots(1, 2, figsize=(14, 5.6))
    series = {}
    for c in cols:
        rows = ok(_rows(df, c))
        rows = rows[rows["phase"] == TAH].assign(rtt_=lambda x: 2 * x[param].map(_one_way_ms),
                                                 v_=values)
        g = rows.dropna(subset=["v_", "rtt_"]).groupby("rtt_")["v_"]
        med, lo, hi = g.median(), g.quantile(0.05), g.quantile(0.95)
        if med.empty:
            continue
        series[c] = med
        ax.errorbar(med.index, med.values, yerr=[med - lo, hi - med], color=COLORS[c.scheme],
                    marker="o", capsize=3, label=f"{SCHEME_SHORT[c.scheme]}, {c.configuration}")
        rfc = ref.get((c.scheme, c.rfc, TAH))
        if rfc is not None:
            ax.axhline(rfc, color=COLORS[c.scheme], ls="--", lw=1, alpha=0.8)
            ax.text(med.index.max(), rfc, f" RFC {c.rfc}: {rfc:g} ms", color=COLORS[c.scheme],
                    va="bottom", ha="right", fontsize=8)
    post = next((c for c in series if c.scheme == POST), None)
    at = None
    if post is not None:
        rfc = ref.get((POST, post.rfc, TAH))
        at = rfc_point(list(series[post].index), list(series[post].values), rfc)
        if at is not None:
            for c in series:
                v = ref.get((c.scheme, c.rfc, TAH))
                ax.plot([at], [v], marker="*", ms=16, color=COLORS[c.scheme], mec="black", zorder=5)
            ax.axvline(at, color="0.3", ls=":", lw=1)
            ax.annotate(f"RFC's point: {at:.0f} ms RTT", (at, rfc), xytext=(8, -14),
                        textcoords="offset points", fontsize=9, color="0.2")
    ax.set_yscale("log")
    link = param.removeprefix(PARAM).removeprefix("links.").rsplit(".", 1)[0]
    ax.set_xlabel(f"RTT of {link} (ms, 2 x the configured one-way delay)")
    ax.set_ylabel("time affecting handover (ms, log scale)")
    ax.set_title("time affecting handover against the inter-domain RTT")
    ax.grid(which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    mpa = {c.configuration: series[c] for c in series if c.scheme == MPA}
    for c in series:
        if c.scheme != POST or c.configuration not in mpa:
            continue
        ratio = series[c] / mpa[c.configuration]
        axr.plot(ratio.index, ratio.values, marker="o", color=COLORS[POST],
                 label=f"measured, {c.configuration}")
        rfc_ratio = ref[(POST, c.rfc, TAH)] / ref[(MPA, c.rfc, TAH)]
        axr.axhline(rfc_ratio, color="black", ls="--", lw=1,
                    label=f"RFC {c.rfc}: {ref[(POST, c.rfc, TAH)]:g} / {ref[(MPA, c.rfc, TAH)]:g} "
                          f"= {rfc_ratio:.1f}")
        if at is not None:
            axr.plot([at], [rfc_ratio], marker="*", ms=16, color="black", zorder=5)
    axr.set_xlabel(f"RTT of {link} (ms)")
    axr.set_ylabel("post-authentication / MPA")
    axr.set_title("how much MPA shortens the handover")
    axr.grid(alpha=0.3)
    if axr.lines:
        axr.legend(fontsize=8, loc="upper left")
    fig.suptitle("RFC 6252 Figure 10 (C.5.3) against the distance to the home AAA: medians, "
                 "p5-p95; dashed: the RFC's values; star: the RFC's point on our curve")
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    caption(fig, parameters.caption(run))
    return save(fig, out)


@FIG10.figures
def figures(run: RunData, out_dir: Path) -> list[Path]:
    paths: list[Path] = []
    for point, rows in sweep_points(run.records):
        suffix = ("-" + slug(point_label(point))) if point else ""
        paths += fig10_bars(run, rows, out_dir / f"fig10_bars{suffix}")
        paths += fig10_distribution(run, rows, out_dir / f"fig10_distribution{suffix}")
    for param in delay_sweeps(run.records):
        name = slug(param.removeprefix(PARAM).removeprefix("links.").rsplit(".", 1)[0])
        paths += fig10_sweep(run, param, out_dir / f"fig10_sweep-{name}")
    return paths


__all__ = ["FIG10", "beside_rfc", "structure_checks", "columns", "rfc_values", "rfc_point"]
