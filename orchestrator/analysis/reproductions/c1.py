"""RFC 6252 Appendix C.1 (switch-back) and C.2 (the MPA-SA at the authentication agent), for
runs whose experiment declares `reference: {table: rfc6252_c1, columns: {mpa-sa: <scenario>,
no-context: <scenario>, mpa-sa-bicasting: <scenario>}}`: each scenario is the flow
`switch-back` (experiment/switch_back.py), with the context kept at the networks the MN
leaves, with none, or kept and the CN bicasting.

The RFC states no numbers, only claims (analysis/reference/rfc6252_c1.csv): with the
MPA-SA kept the MN returns without "the entire authentication signaling", the agent moves
the MN to unauthorized when it leaves and back to authorized only with proof of possession,
and the context is "quickly recovered". The checks test those claims on the run's records;
the table compares the delay per switch with and without the context.

Registers:
  tables   c1_switches.csv / c1.md: per scenario and direction (away, back), the delay per
           switch (median, p5-p95, n), packets lost and the stream's handoff delay (with a
           correspondent node), EAP runs, the PAA's transitions; the PAA's ladder
           of the first repetition with the MPA-SA
  checks   (a) no EAP on any switch with the MPA-SA, (b) the PAA unauthorized the MN at
           every departure and authorized it at every return, one EAP session in all,
           (c) without context every switch authenticates, (d) returns with the MPA-SA
           faster than without, (e) fewer RTP packets lost with it (with a CN's stream),
           (f) fewer still with bicasting (C.1), (g) the PAA learned of every departure
           from the AP the MN left (its departure notice), none from the flow's command
  figures  c1_delay (delay per switch, both contexts, log scale)
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from orchestrator.analysis import reference
from orchestrator.analysis.plots import caption, plt, save
from orchestrator.analysis.records import RunData, ok, stats, values
from orchestrator.analysis.reproduction import Reproduction, check, checks_section, verdicts

TABLE = "rfc6252_c1"
C1 = Reproduction(TABLE, "RFC 6252 C.1/C.2: switch-back with and without the MPA-SA")
COLUMNS = ("mpa-sa", "no-context", "mpa-sa-bicasting")
TITLES = {"mpa-sa": "MPA-SA kept", "no-context": "no context kept",
          "mpa-sa-bicasting": "MPA-SA kept + bicasting"}
COLOURS = {"mpa-sa": "#1f77b4", "no-context": "#d62728", "mpa-sa-bicasting": "#2ca02c"}


def scenarios(run: RunData) -> dict[str, str]:
    """Scenario -> the RFC column (context) it is mapped onto."""
    ref = run.reference
    return {} if ref is None else {s: col for col, names in ref.columns.items() for s in names}


def _switch_rows(rows: pd.DataFrame, prefix: str = "switch") -> pd.DataFrame:
    """Rows of one per-switch quantity: `switch` (delay), `lost` (packets), `handoff` (ms)."""
    sw = rows[rows["phase"].astype(str).str.startswith(prefix + " ")].copy()
    sw["direction"] = sw["phase"].str.split().str[-1]
    sw["value"] = values(sw)
    return sw


def switches(run: RunData) -> pd.DataFrame:
    """Per (configuration, scenario, direction): the delay per switch and the counts."""
    df, cols = ok(run.records), scenarios(run)
    out = []
    for (conf, scen), rows in df.groupby(["configuration", "scenario"], sort=False):
        if scen not in cols:
            continue
        sw = _switch_rows(rows)
        count = lambda phase: values(rows[rows["phase"] == phase]).sum()   # noqa: E731
        reps = rows["repetition"].nunique()
        lost, handoff = _switch_rows(rows, "lost"), _switch_rows(rows, "handoff")
        for direction, g in sw.groupby("direction", sort=False):
            st = stats(g["value"])
            lo = lost[lost["direction"] == direction]["value"]
            ho = stats(handoff[handoff["direction"] == direction]["value"])
            out.append({"configuration": conf, "scenario": scen, "context": cols[scen],
                        "direction": direction, "n": st["n"], "median_ms": st["median"],
                        "p5_ms": st["p5"], "p95_ms": st["p95"],
                        "lost_median": stats(lo)["median"],
                        "lost_total": float(lo.sum()) if len(lo) else math.nan,
                        "handoff_median_ms": ho["median"], "repetitions": reps,
                        "switches": int(len(sw)), "eap_runs": int(count("eap_runs")),
                        "paa_unauthorized": int(count("paa_unauthorized")),
                        "paa_authorized": int(count("paa_authorized")),
                        "paa_eap_sessions": int(count("paa_eap_sessions")),
                        "paa_departure_notices": int(count("paa_departure_notices")),
                        "paa_departure_commands": int(count("paa_departure_commands"))})
    return pd.DataFrame(out, columns=["configuration", "scenario", "context", "direction", "n",
                                      "median_ms", "p5_ms", "p95_ms", "lost_median",
                                      "lost_total", "handoff_median_ms", "repetitions",
                                      "switches", "eap_runs", "paa_unauthorized",
                                      "paa_authorized", "paa_eap_sessions",
                                      "paa_departure_notices", "paa_departure_commands"])


def ladder(run: RunData) -> list[dict]:
    """The PAA's transitions in the first repetition of the first MPA-SA scenario."""
    for scen, col in scenarios(run).items():
        if col != "mpa-sa":
            continue
        for path in sorted((run.dir / "switch-back").glob(f"*/{scen}/rep1.json")):
            return json.loads(path.read_text()).get("ladder", [])
    return []


def markdown(run: RunData) -> list[str]:
    t = switches(run)
    out = [f"{reference.citation(TABLE)}.", "",
           "Delay per switch: MN `l2_handoff_start` -> its address in place, plus the PANA "
           "attach that re-authorizes it on a return with the MPA-SA; ms, median [p5-p95] (n).",
           "Lost: RTP packets of the CN's stream lost per switch (median, and in all); handoff: "
           "last packet on the old address -> first on the new (median, ms); -- without a "
           "correspondent node in the topology.",
           "", "| context | switch | delay | lost per switch (all) | handoff | EAP runs / switches "
           "(scenario) | PAA: unauthorized, authorized, EAP sessions (scenario) |",
           "|---|---|---|---|---|---|---|"]
    for r in t.itertuples():
        lost = "--" if math.isnan(r.lost_median) else f"{r.lost_median:g} ({r.lost_total:g})"
        out.append(f"| {TITLES[r.context]} ({r.configuration}) | {r.direction} | "
                   f"{_ms(r.median_ms)} [{_ms(r.p5_ms)}-{_ms(r.p95_ms)}] ({r.n}) | {lost} | "
                   f"{_ms(r.handoff_median_ms)} | "
                   f"{r.eap_runs} / {r.switches} | {r.paa_unauthorized}, {r.paa_authorized}, "
                   f"{r.paa_eap_sessions} |")
    lad = ladder(run)
    if lad:
        out += ["", "The PAA's state ladder, first repetition with the MPA-SA (ms from the start "
                "of MPA; trigger: who told the PAA the MN left, or which AP's notice it is):",
                "", "| ms | event | state | reason | trigger |", "|---|---|---|---|---|"]
        out += [f"| {e['t_ms']:.1f} | {e['event']} | {e.get('state') or ''} | "
                f"{e.get('reason') or ''} | {e.get('trigger') or ''} |" for e in lad]
    return out


def _ms(v) -> str:
    return "--" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.1f}"


@C1.tables
def tables(run: RunData) -> dict:
    return {"c1_switches.csv": switches(run), "c1.md": "\n".join(markdown(run)) + "\n"}


@C1.checks
def checks(run: RunData) -> list[dict]:
    t, out = switches(run), []
    for conf, g in t.groupby("configuration", sort=False):
        kept = g[g["context"] == "mpa-sa"]
        none = g[g["context"] == "no-context"]
        if len(kept):
            k = kept.iloc[0]
            out.append(check("a", f"with the MPA-SA no switch runs EAP [{conf}]", k.eap_runs, 0,
                             k.eap_runs == 0, "EAP runs at the MN over all switches"))
            away = int(kept[kept.direction == "away"]["n"].sum())
            back = int(kept[kept.direction == "back"]["n"].sum())
            ok_ = (k.paa_unauthorized == away and k.paa_authorized == back
                   and k.paa_eap_sessions == k.repetitions)
            out.append(check("b", f"the PAA unauthorizes at each departure, authorizes at each "
                             f"return, one EAP session per run [{conf}]", k.paa_authorized, back,
                             ok_, f"{k.paa_unauthorized} unauthorized for {away} departures, "
                             f"{k.paa_authorized} authorized for {back} returns, "
                             f"{k.paa_eap_sessions} EAP sessions in {k.repetitions} runs"))
            notices, commands = int(k.paa_departure_notices), int(k.paa_departure_commands)
            out.append(check("g", f"the PAA learns of each departure from the AP's notice "
                             f"[{conf}]", notices, away, notices == away and commands == 0,
                             f"{notices} unauthorized by a departure notice, {commands} by "
                             f"the flow's command, for {away} departures"))
        if len(none):
            n = none.iloc[0]
            out.append(check("c", f"without context every switch authenticates [{conf}]",
                             n.eap_runs, n.switches, n.eap_runs == n.switches,
                             "EAP runs at the MN over all switches"))
        kb, nb = kept[kept.direction == "back"], none[none.direction == "back"]
        if len(kb) and len(nb):
            ratio = nb.iloc[0].median_ms / kb.iloc[0].median_ms
            out.append(check("d", f"returns with the MPA-SA are faster than without [{conf}]",
                             ratio, None, ratio > 1, "median return delay without / with"))
            kl, nl = kept["lost_total"].sum(min_count=1), none["lost_total"].sum(min_count=1)
            if not (math.isnan(kl) or math.isnan(nl)):
                out.append(check("e", f"the MPA-SA loses fewer packets over the switches [{conf}]",
                                 kl, nl, kl <= nl, "RTP packets lost over all switches, with "
                                 "the MPA-SA (measured) and without (RFC column)"))
        bic = g[g["context"] == "mpa-sa-bicasting"]
        if len(bic) and len(kept):
            bl, kl = bic["lost_total"].sum(min_count=1), kept["lost_total"].sum(min_count=1)
            if not (math.isnan(bl) or math.isnan(kl)):
                out.append(check("f", f"bicasting loses fewer packets than the MPA-SA alone "
                                 f"[{conf}]", bl, kl, bl < kl or bl == kl == 0,
                                 "RTP packets lost over all switches, with bicasting "
                                 "(measured) and without (RFC column)"))
    return out


@C1.figures
def figures(run: RunData, out_dir: Path) -> list[Path]:
    df, cols = ok(run.records), scenarios(run)
    if df.empty or not cols:
        return []
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for scen, col in cols.items():
        sw = _switch_rows(df[df["scenario"] == scen])
        if sw.empty:
            continue
        sw["i"] = sw["phase"].str.split().str[1].astype(int)
        med = sw.groupby("i")["value"].median()
        ax.plot(med.index, med.values, "o-", color=COLOURS[col], label=TITLES[col])
        ax.scatter(sw["i"], sw["value"], color=COLOURS[col], alpha=0.35, s=12)
    ax.set_yscale("log")
    ax.set_xlabel("switch (odd: away from the PAA's network, even: back into it)")
    ax.set_ylabel("delay (ms)")
    ax.set_title("RFC 6252 C.1/C.2: switch-back with and without the MPA-SA")
    ax.grid(alpha=0.3)
    ax.legend()
    caption(fig, "Delay: MN l2_handoff_start -> address in place (+ PANA attach on a return "
            "with the MPA-SA). Without context: association, full EAP-TLS, DHCP on the link.")
    return save(fig, out_dir / "c1_delay")


@C1.readme
def readme(run: RunData, checks_: list[dict]) -> list[str]:
    return ["## RFC 6252 C.1/C.2: switch-back with and without the MPA-SA", "", *markdown(run),
            "", *checks_section(checks_)]


@C1.summary
def summary(run: RunData, checks_: list[dict]) -> list[str]:
    t = switches(run)
    back = {r.context: r.median_ms for r in t.itertuples() if r.direction == "back"}
    parts = [f"{TITLES[c]} {_ms(v)} ms" for c, v in back.items()]
    return [f"RFC 6252 C.1/C.2 switch-back, median return delay: {', '.join(parts)}. "
            f"Checks: {verdicts(checks_)}.", "", "[C.1/C.2 table](tables/c1.md)"]
