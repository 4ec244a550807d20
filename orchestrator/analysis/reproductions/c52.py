"""RFC 6252 Appendix C.5.2 ("Inter-Technology, Inter-Domain": WLAN to CDMA), for runs whose
experiment declares `reference: {table: rfc6252_c52, columns: {<RFC case>: <scenario(s)>}}`:
the handovers beside the RFC's prose, the "must show" checks and the figures.

The RFC prints no table for C.5.2, only prose: a non-optimized handover "may result in a
delay of up to 18 sec and loss of 1000 or more packets"; with MPA "0 packet loss and a 50-ms
handoff delay between the last pre-handoff packet and the first in-handoff packet ... about
10 duplicate packets because of the copy-and-forward mechanism at the access routers"
(analysis/reference/rfc6252_c52.csv, each value with its bound: at most, at least, about).
Its cases are the experiment's scenarios: reactive (c52-reactive), mpa-both-up
(c52-mpa-both-up), mpa-at-handover (c52-mpa-activate-at-handover).

Registers:
  tables   c52_beside_rfc.csv and .md (every metric of experiment/inter_technology.py per
           scenario: median [min-max] (n), the RFC's value and bound)
  checks   (a) MPA loses no packet, both flavours; (b) MPA's handoff delay is tens of ms;
           (c) the reactive handover takes seconds and loses hundreds of packets; (d)
           duplicates are copy-and-forward's copies; (e) the battery flavour keeps both
           radios up for less time than both-up, and the reactive one for none; (f) MPA
           pre-authenticated the cellular domain (through the WLAN, s7.6.2) in every
           repetition and its data session set-up sent no Access-Request (CHAP checked by
           the gateway with the installed secret), where the reactive one sent one; (g)
           where MPA used the proactive handover tunnel, the binding update was answered
           through it before the switch in every repetition
  figures  c52_arrivals (sequence number against time, per scheme, the receiving address and
           interface in colour), c52_both_up (time both interfaces were up, per scheme)
  readme   the table, the checks; summary: the key numbers

Who does what: experiment/inter_technology.py turns a repetition's RTP log and events into
the metrics, the runner writes them as records and the packets as
media/<configuration>/<scenario>/rep<N>.json; this module reads them and only aggregates,
compares and draws. A module of its own: it imports the pipeline, never a sibling.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from orchestrator.analysis import parameters, reference
from orchestrator.analysis.plots import caption, plt, save
from orchestrator.analysis.records import RunData, num, ok, slug, stats, values
from orchestrator.analysis.reproduction import OK_MARK, Reproduction, check, verdicts
from orchestrator.experiment.inter_technology import METRICS

REFERENCE = "rfc6252_c52"
C52 = Reproduction(REFERENCE, "RFC 6252 C.5.2: WLAN to cellular, reactive and MPA")
CASES = ("reactive", "mpa-both-up", "mpa-at-handover")
CASE_TITLES = {"reactive": "reactive (non-optimized)", "mpa-both-up": "MPA, both interfaces up",
               "mpa-at-handover": "MPA, activated at the handover"}
MPA_CASES = CASES[1:]
MPA_WINDOW_MS = (-300, 500)      # the arrival figure's MPA panels, around the switch
COLOURS = {"reactive": "tab:red", "mpa-both-up": "tab:blue", "mpa-at-handover": "tab:green"}


def cases(run: RunData) -> list[tuple[str, str]]:
    """(RFC case, scenario) pairs the experiment maps, in the RFC's order."""
    ref = run.reference
    if ref is None:
        return []
    present = set(run.records["scenario"].astype(str))
    return [(c, s) for c in CASES for s in ref.columns.get(c, ()) if s in present]


def rfc_values() -> dict[tuple[str, str], dict]:
    """(case, metric) -> {value, unit, bound, quote} of the reference table."""
    return {(r["case"], r["metric"]): {"value": float(r["value"]), "unit": r["unit"],
                                       "bound": r["bound"], "quote": r["quote"]}
            for r in reference.load(REFERENCE)}


def _vals(df: pd.DataFrame, scenario: str, metric: str) -> pd.Series:
    rows = ok(df)
    return values(rows[(rows["scenario"] == scenario) & (rows["phase"] == metric)]).dropna()


def beside_rfc(run: RunData) -> pd.DataFrame:
    """One row per scenario and metric: n, median, min, max, mean, the RFC's value."""
    ref = rfc_values()
    out = []
    for case, scen in cases(run):
        for m in METRICS:
            v = _vals(run.records, scen, m.name)
            if v.empty and (case, m.name) not in ref:
                continue
            st = stats(v)
            r = ref.get((case, m.name))
            out.append({"case": case, "scenario": scen, "metric": m.name, "unit": m.unit,
                        "n": st["n"], "median": st["median"], "min": st["min"],
                        "max": st["max"], "mean": st["mean"],
                        "rfc": r["value"] if r else math.nan,
                        "rfc_bound": r["bound"] if r else ""})
    return pd.DataFrame(out)


def beside_rfc_markdown(table: pd.DataFrame) -> str:
    if table.empty:
        return "No scenario of this run is mapped onto C.5.2's cases.\n"
    scen = list(dict.fromkeys(table["scenario"]))
    head = "| metric | " + " | ".join(
        f"{s} ({CASE_TITLES.get(table[table.scenario == s].case.iloc[0], s)})" for s in scen)
    lines = [head + " |", "|---" * (len(scen) + 1) + "|"]
    descr = {m.name: m.description for m in METRICS}
    for metric in dict.fromkeys(table["metric"]):
        cells = []
        for s in scen:
            r = table[(table.scenario == s) & (table.metric == metric)]
            if r.empty:
                cells.append("")
                continue
            r = r.iloc[0]
            cell = (f"{num(r['median'])} [{num(r['min'])}–{num(r['max'])}] ({r['n']})"
                    if r["n"] else "–")
            if not math.isnan(r["rfc"]):
                cell += f"; RFC {r['rfc_bound']} {num(r['rfc'])}"
            cells.append(cell)
        unit = table[table.metric == metric].unit.iloc[0]
        lines.append(f"| {metric} ({unit}): {descr.get(metric, '')} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _median(df: pd.DataFrame, scenario: str, metric: str) -> float:
    v = _vals(df, scenario, metric)
    return float(v.median()) if len(v) else math.nan


def _all(df: pd.DataFrame, scenario: str, metric: str) -> list[float]:
    return [float(x) for x in _vals(df, scenario, metric)]


@C52.checks
def checks(run: RunData) -> list[dict]:
    df, out = run.records, []
    pairs = cases(run)
    mapped = {c: s for c, s in reversed(pairs)}          # a case's first scenario
    mpa = [(c, s) for c, s in pairs if c in MPA_CASES]   # every MPA scenario
    for case, scen in mpa:
        lost = _all(df, scen, "packet_loss")
        out.append(check("a", f"{scen}: no packet lost in any repetition",
                         max(lost) if lost else math.nan, 0, lost and max(lost) == 0,
                         "the largest packet_loss over the repetitions (sequence numbers "
                         "never received between the first and the last)"))
        delay = _median(df, scen, "handoff_delay")
        out.append(check("b", f"{scen}: handoff delay of tens of ms (median below 100 ms)",
                         delay, 50, None if math.isnan(delay) else delay < 100,
                         "last pre-handoff packet (over the WLAN, through the tunnel or "
                         "not) -> first in-handoff packet (on the cellular interface); one "
                         "way over the radio link plus at most one RTP interval"))
    scen = mapped.get("reactive")
    if scen is not None:
        total = _median(df, scen, "handover_total")
        lost = _median(df, scen, "packet_loss")
        out.append(check("c", f"{scen}: the reactive handover takes seconds (median above 1 s, "
                         "RFC at most 18 s)", total, 18000,
                         None if math.isnan(total) else 1000 < total <= 18000,
                         "WLAN link lost -> first packet on the cellular address"))
        out.append(check("c", f"{scen}: and loses hundreds of packets (median at least 100)",
                         lost, 1000, None if math.isnan(lost) else lost >= 100,
                         "the RFC's 'loss of 1000 or more' came with 'up to 18 sec'; the loss "
                         "scales with the handover's duration over the RTP interval"))
    for case, scen in mpa:
        dup, copies = _all(df, scen, "duplicates"), _all(df, scen, "copy_forward_copies")
        if copies:
            ok_ = len(dup) == len(copies) and all(d <= c for d, c in zip(dup, copies))
            out.append(check("d", f"{scen}: duplicates come from copy-and-forward (no more "
                             "duplicates than copies)", float(pd.Series(dup).median()), 10, ok_,
                             "per repetition: duplicates counted at the MN <= packets the "
                             "router of the old path copied (the WLAN's access router to the "
                             "cellular address, or the tunnel's end into the tunnel)"))
        else:
            out.append(check("d", f"{scen}: without copy-and-forward no duplicate",
                             max(dup) if dup else math.nan, 10, dup and max(dup) == 0,
                             "copy-and-forward off in this run: the RFC's ~10 duplicates "
                             "cannot appear"))
    both, late = mapped.get("mpa-both-up"), mapped.get("mpa-at-handover")
    if both and late:
        a, b = _median(df, late, "both_interfaces_up"), _median(df, both, "both_interfaces_up")
        out.append(check("e", f"{late} keeps both radios up for less time than {both}",
                         a, None, None if math.isnan(a) or math.isnan(b) else a < b,
                         f"median time both interfaces were up: {num(a)} ms against {num(b)} ms"))
    if scen := mapped.get("reactive"):
        up = _all(df, scen, "both_interfaces_up")
        out.append(check("e", f"{scen}: never both radios up", max(up) if up else math.nan,
                         0, up and max(up) == 0, "break before make"))
    for case, scen in mpa:
        pre, aaa = _all(df, scen, "pre_authentication"), _all(df, scen, "aaa_in_session_setup")
        reps = _all(df, scen, "packet_loss")
        out.append(check("f", f"{scen}: pre-authenticated through the WLAN, no AAA exchange "
                         "in the data session set-up", max(aaa) if aaa else math.nan, 0,
                         bool(aaa) and len(pre) == len(reps) == len(aaa) and max(aaa) == 0,
                         "per repetition: a PANA pre-authentication with the cellular PAA "
                         "(pre_authentication) and 0 Access-Requests between the session's "
                         "start and done (aaa_in_session_setup)"))
    for case, scen in mpa:
        if not _all(df, scen, "tunnel_setup"):
            continue
        bound, tunnelled = _all(df, scen, "bound_before_switch"), _all(df, scen, "on_tunnel")
        out.append(check("g", f"{scen}: the binding update went through the proactive "
                         "handover tunnel before the switch", min(bound) if bound else math.nan,
                         1, bool(bound) and min(bound) == 1 and min(tunnelled) > 0,
                         "per repetition: the re-INVITE answered before the active interface "
                         "changed (bound_before_switch) and RTP packets for the cellular "
                         "address received through the tunnel (on_tunnel)"))
    if scen := mapped.get("reactive"):
        aaa = _all(df, scen, "aaa_in_session_setup")
        out.append(check("f", f"{scen}: CHAP goes to the AAA server at the handover",
                         min(aaa) if aaa else math.nan, None, bool(aaa) and min(aaa) >= 1,
                         "no pre-authentication: the gateway asks the AAA server"))
    return out


@C52.tables
def tables(run: RunData) -> dict:
    table = beside_rfc(run)
    md = ("# Emulated parameters (RFC 6252 C.5.2 reproduction)\n\n" + parameters.markdown(run)
          + "\n# RFC 6252 C.5.2 beside this run\n\n" + f"{reference.citation(REFERENCE)}.\n\n"
          + beside_rfc_markdown(table))
    return {"c52_beside_rfc.csv": table, "c52_beside_rfc.md": md}


@C52.readme
def readme(run: RunData, checks_: list[dict]) -> list[str]:
    lines = ["## RFC 6252 C.5.2 beside this run", "",
             f"{reference.citation(REFERENCE)}. Per scenario: median [min–max] (n) and the "
             "RFC's value with its bound (the prose says 'up to', 'or more', 'about'). "
             "Metrics: orchestrator/experiment/inter_technology.py.", "",
             beside_rfc_markdown(beside_rfc(run)),
             f"## Must-show checks: {verdicts(checks_)}", "",
             "See [tables/checks.md](tables/checks.md) for how each is computed.", ""]
    lines += [f"- {OK_MARK[c['ok']]}: ({c['id']}) {c['check']}" for c in checks_]
    return lines + [""]


@C52.summary
def summary(run: RunData, checks_: list[dict]) -> list[str]:
    failed = [f"({c['id']}) {c['check']}" for c in checks_ if c["ok"] is False]
    lines = [f"RFC 6252 C.5.2 (WLAN to cellular). Must-show checks: {verdicts(checks_)}"
             + (f"; failed: {'; '.join(failed)}" if failed else "") + ".", ""]
    df = run.records
    for case, scen in cases(run):
        lines.append(f"- {CASE_TITLES[case]} ({scen}): lost {num(_median(df, scen, 'packet_loss'))}, "
                     f"duplicates {num(_median(df, scen, 'duplicates'))}, handoff delay "
                     f"{num(_median(df, scen, 'handoff_delay'))} ms, handover "
                     f"{num(_median(df, scen, 'handover_total'))} ms, both interfaces up "
                     f"{num(_median(df, scen, 'both_interfaces_up'))} ms (medians)")
    return lines + ["", "[C.5.2 beside the RFC](tables/c52_beside_rfc.md)"]


# --- figures

def media_file(run_dir: Path, configuration: str, scenario: str, repetition: int) -> Path:
    return run_dir / "media" / slug(configuration) / scenario / f"rep{repetition}.json"


def median_repetition(df: pd.DataFrame, configuration: str, scenario: str) -> int | None:
    """The repetition whose handover_total is the median one (the figure's example)."""
    rows = ok(df)
    rows = rows[(rows["configuration"] == configuration) & (rows["scenario"] == scenario)
                & (rows["phase"] == "handover_total")]
    if rows.empty:
        return None
    v = values(rows)
    order = v.sort_values().index
    return int(rows.loc[order[(len(order) - 1) // 2], "repetition"])


def arrival_series(raw: dict, reactive: bool) -> tuple[list[dict], float]:
    """Per packet: time (ms) relative to the handover's trigger (the link loss when
    `reactive`, else the switch of the active interface), sequence number, receiving
    address; and the trigger."""
    pkts = sorted(raw["packets"], key=lambda p: p["mono_ns"])
    ref = raw.get("wlan_left_ns") if reactive else raw.get("switched_ns")
    ref = ref or (pkts[0]["mono_ns"] if pkts else 0)
    first_seq = pkts[0]["seq"] if pkts else 0
    return ([{"t_ms": (p["mono_ns"] - ref) / 1e6, "seq": (p["seq"] - first_seq) % 65536,
              "address": p["dst"].rsplit(":", 1)[0]
              + (f" on {p['iface']}" if p.get("iface") else "")} for p in pkts], ref)


def _arrivals(panels: list[tuple[str, str, dict]], cap: str, out: Path) -> list[Path]:
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.2), squeeze=False)
    for ax, (case, title, raw) in zip(axes[0], panels):
        series, _ = arrival_series(raw, case == "reactive")
        addresses = list(dict.fromkeys(p["address"] for p in series))
        for k, addr in enumerate(addresses):
            pts = [p for p in series if p["address"] == addr]
            ax.scatter([p["t_ms"] for p in pts], [p["seq"] for p in pts], s=6,
                       color=("tab:blue", "tab:green", "tab:orange", "tab:grey")[min(k, 3)],
                       label=addr)
        ax.axvline(0, color="black", lw=0.8, ls=":")
        if case != "reactive":                 # make before break: the switch, close up
            lo, hi = MPA_WINDOW_MS
            ax.set_xlim(lo, hi)
            shown = [p["seq"] for p in series if lo <= p["t_ms"] <= hi]
            if shown:
                ax.set_ylim(min(shown) - 2, max(shown) + 2)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("arrival (ms) from " + ("the WLAN link's loss" if case == "reactive"
                                              else "the switch of the active interface"))
        ax.set_ylabel("RTP sequence number")
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle("RFC 6252 C.5.2: RTP arrivals across the WLAN -> cellular handover", y=1.04)
    caption(fig, cap)
    return save(fig, out)


def _both_up(groups: list[tuple[str, list[float], str]], cap: str, out: Path) -> list[Path]:
    from orchestrator.analysis.plots import boxes
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    boxes(ax, [(t, [v / 1e3 for v in vals], c) for t, vals, c in groups])
    ax.set_xticklabels([t.replace(", ", ",\n").replace(" (", "\n(") for t, _, _ in groups],
                       fontsize=9)
    ax.set_ylabel("time both interfaces were up (s)")
    ax.set_title("RFC 6252 C.5.2: both radios up (battery), per scheme")
    caption(fig, cap, width=100)
    return save(fig, out)


@C52.figures
def figures(run: RunData, out_dir: Path) -> list[Path]:
    df, paths = run.records, []
    mapped = cases(run)
    if not mapped:
        return []
    for conf in dict.fromkeys(df["configuration"]):
        panels = []
        for case, scen in mapped:
            rep = median_repetition(df, conf, scen)
            path = media_file(run.dir, conf, scen, rep) if rep else None
            if path is not None and path.exists():
                panels.append((case, f"{CASE_TITLES[case]}\n({scen}, repetition {rep})",
                               json.loads(path.read_text())))
        suffix = "" if df["configuration"].nunique() == 1 else f"_{slug(conf)}"
        cap = parameters.caption(run, [conf])
        if panels:
            paths += _arrivals(panels, cap, out_dir / f"c52_arrivals{suffix}")
        several = {c for c, _ in mapped if sum(1 for d, _ in mapped if d == c) > 1}
        groups = [(CASE_TITLES[case] + (f" ({scen})" if case in several else ""),
                   _all(df[df["configuration"] == conf], scen, "both_interfaces_up"),
                   COLOURS[case]) for case, scen in mapped]
        paths += _both_up(groups, cap, out_dir / f"c52_both_up{suffix}")
    return paths
