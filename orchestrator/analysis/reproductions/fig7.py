"""RFC 6252 Appendix C.5.1: Figure 7 ("SIP Mobility with MPA Results") and the non-MPA
baseline, for runs whose experiment declares `reference: {table: rfc6252_fig7, columns:
{<RFC case>: <scenario(s)>}}`: the table beside the RFC, the ratio non-MPA / MPA, the "must
show" checks and the figures.

The RFC's columns are its cases, buffering-disabled, buffering-enabled (Figure 7) and
non-mpa (the C.5.1 prose); the experiment maps its scenarios onto them. A scenario the
mapping does not name has no RFC value and no check, though its arrivals are drawn.

Registers:
  tables   fig7_beside_rfc.csv and .md, phases.csv, nonmpa_vs_mpa.csv
  checks   (a) buffering enabled loses nothing; (b) buffering disabled loses only what the
           layer-2 switch covers; (c) non-MPA loses packets, its delay is the sum of its
           parts, DHCP the longest; (d) non-MPA is more than ten times slower; (e) tshark
           dissects the SIP and RTP captures, none malformed
  figures  fig7_arrivals (MPA, ms) and fig7_arrivals_non-mpa (s) per configuration,
           fig7_delay
  readme   the scenarios, the table, the ratio, the checks, the phase durations; summary:
           the key numbers

Who does what: `experiment/media.py` turns one receiver log into Figure 7's metrics and the
runner writes them as records (one row per configuration, scenario, repetition and metric or
phase: `phase`, `value`, `unit`); this module reads the records (and, for the arrival figure,
`media/<configuration>/<scenario>/rep<N>.json`) and only aggregates, compares and draws.
Pure functions of the run's records and spec, except the figure functions (which write
files).

The RFC's numbers come from analysis/reference/rfc6252_fig7.csv (Figure 7, as printed) and
rfc6252_nonmpa.csv (the prose: "an average of 4 seconds ... about 200 packets"); values the
RFC does not print but implies are derived from them and marked so (`Rfc.derived`).
"""
from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, fields
from pathlib import Path

import pandas as pd

import numpy as np
from matplotlib.patches import Patch

from orchestrator.analysis import parameters, reference
from orchestrator.analysis.plots import caption, plt, save
from orchestrator.analysis.records import (RunData, configurations, failed_repetitions, num,
                                           of, slug, stats, values)
from orchestrator.analysis.reproduction import OK_MARK, Reproduction, check, verdicts
from orchestrator.events import INTERVALS
from orchestrator.experiment import media, phases
from orchestrator.experiment.media import METRICS

REFERENCE, NONMPA_REFERENCE = "rfc6252_fig7", "rfc6252_nonmpa"
FIG7 = Reproduction(REFERENCE, "RFC 6252 Figure 7 and the non-MPA baseline (C.5.1)")
MPA_FLOW, NONMPA_FLOW = "sip-mpa", "sip-non-mpa"
CASES = ("buffering-disabled", "buffering-enabled", "non-mpa")    # the reference CSVs' cases
CASE_TITLES = {"buffering-disabled": "MPA, buffering disabled",
               "buffering-enabled": "MPA, buffering enabled", "non-mpa": "non-MPA"}
METRIC = {m.name: m for m in METRICS}
EXTRA_LABELS = {   # rows the RFC does not print (METRICS with rfc_label None)
    "handover_delay": "Handover delay (ms): L2 handoff start -> first packet on the nCoA",
    "duplicates": "Duplicate packets",
    "handover_gap": "Largest arrival gap across the handover (ms)",
    "jitter_max": "RFC 3550 jitter, largest over the call (ms)",
    "arrival_excess": "Arrival excess (ms): during handover - interval [note 1]",
    "buffer_held": "Buffer held (ms): the nAR's first held packet -> its flush",
}
# The parts of a non-MPA handover (check (c)), one after the other from the move
# (experiment/phases.py SIP_PARTS names); a part nested in another is not counted twice:
#  link     the first alternative whose parts are all measured (Tassoc+4way holds the
#           association and the EAP after the move);
#  address  the outermost one measured: Tpostsw (agents/handover.py: DHCP on the new link,
#           the address on the interface, gratuitous ARP) holds Taddr, which holds the MN's
#           DAD, Tdad (agents/dhcp_client.py probes before it reports the address);
#  then     Tbu, the re-INVITE until its 200 OK.
NONMPA_LINK = (("Tassoc+4way",), ("Tassoc", "Teap"), ("Tassoc", "Tpostauth"), ("Tassoc",),
               ("l2_handoff",))
NONMPA_ADDRESS = ("Tpostsw", "Taddr", "Tdad")
NONMPA_AFTER = ("Tbu",)
NONMPA_SLACK_MS = 1.0   # the first packet on the nCoA may beat the re-INVITE's 200 OK
RATIO_MIN = 10.0        # check (d): non-MPA / MPA handover delay above this


# --- the run's scenarios and the RFC case each is compared with

@dataclass(frozen=True)
class Scenario:
    name: str
    flow: str
    buffering_ms: float | None     # the nAR's buffering period; None: disabled
    case: str | None               # the RFC case it is compared with (CASES); None: none

    @property
    def mpa(self) -> bool:
        return self.flow != NONMPA_FLOW

    @property
    def title(self) -> str:
        """'MPA, buffering enabled (50 ms)'; a scenario not named as a case by its name."""
        known = self.buffering_ms is not None and not math.isnan(self.buffering_ms)
        if self.name in CASE_TITLES:
            return CASE_TITLES[self.name] + (f" ({self.buffering_ms:g} ms)" if known else "")
        return self.name + (f" (buffering {self.buffering_ms:g} ms)" if known else "")


def _buffering_ms(value) -> float | None:
    """spec.yaml's `buffering`: '20ms' (as written or as the runner dumps it), seconds as a
    number, or absent/null/0 for disabled."""
    if value in (None, False, "", "0", "off", "none"):
        return None
    if isinstance(value, (int, float)):
        return float(value) * 1e3 or None
    from orchestrator.model.units import parse_duration
    return parse_duration(str(value)) * 1e3 or None


def scenarios(run: RunData) -> list[Scenario]:
    """The run's SIP scenarios in the spec's order (then any the records add), each with the
    RFC case the experiment's `reference:` maps it onto (None if it maps it onto none)."""
    df, exp = run.records, run.experiment
    declared = [s for s in exp.get("scenarios") or [] if isinstance(s, dict) and s.get("name")]
    names = [s["name"] for s in declared]
    present = list(dict.fromkeys(df["scenario"])) if "scenario" in df else []
    out = []
    for name in names + [n for n in present if n not in names]:
        s = next((d for d in declared if d["name"] == name), {})
        flow = s.get("flow") or _first(df.loc[df["scenario"] == name, "scheme"]) or MPA_FLOW
        if flow not in (MPA_FLOW, NONMPA_FLOW):
            continue
        if "buffering" in s:
            buffering = _buffering_ms(s["buffering"])
        else:
            rows = df[(df["scenario"] == name) & (df["phase"] == "buffering_period")]
            buffering = _first(values(rows).dropna())
            if buffering is None and name == "buffering-enabled":
                buffering = math.nan
        case = run.reference.column_of(name) if run.reference else None
        out.append(Scenario(name, flow, buffering, case))
    return out


def compared(run: RunData) -> list[Scenario]:
    """The scenarios the experiment maps onto one of the RFC's cases."""
    return [s for s in scenarios(run) if s.case is not None]


def _first(values):
    values = list(values)
    return values[0] if values else None


_of = of


# --- the RFC's values

@dataclass(frozen=True)
class Rfc:
    text: str                  # as the cell shows it: "4.00", "n/a", "4 s", "5 (L2 + L3)"
    value: float | None        # in the metric's unit (ms or packets); None: n/a
    derived: str = ""          # how it follows from printed values; "" when printed


def rfc_values() -> dict[tuple[str, str], Rfc]:
    """(case, metric) -> the RFC's value. Printed: Figure 7 and the non-MPA prose. Derived:
    handover_delay of the MPA cases = L2 + L3 handoff (our handover delay is exactly that
    sum), arrival_excess = during handover - interval (which is the RFC's "jitter")."""
    out: dict[tuple[str, str], Rfc] = {}
    for r in reference.load(REFERENCE):
        text = r["value"].strip()
        out[(r["case"], r["metric"])] = Rfc(text, None if text == "n/a" else float(text))
    for r in reference.load(NONMPA_REFERENCE):
        if r["case"] != "non-mpa":
            continue
        v = float(r["value"])
        value = v * 1e3 if r["unit"] == "s" else v
        text = f"{r['value']} s" if r["unit"] == "s" else f"~{r['value']}"
        out[("non-mpa", r["metric"])] = Rfc(text, value)
    for case in ("buffering-disabled", "buffering-enabled"):
        l2, l3 = out.get((case, "l2_handoff")), out.get((case, "l3_handoff"))
        if l2 and l3 and l2.value is not None and l3.value is not None:
            out[(case, "handover_delay")] = Rfc(
                f"{_num(l2.value + l3.value)} (L2 + L3)", l2.value + l3.value, "L2 + L3 handoff")
        during = out.get((case, "inter_packet_during_handover"))
        ipi = out.get((case, "inter_packet_interval"))
        if during and ipi and during.value is not None and ipi.value is not None:
            out[(case, "arrival_excess")] = Rfc(
                f"{_num(during.value - ipi.value)} ({_num(during.value)} - {_num(ipi.value)})",
                during.value - ipi.value, "during handover - interval")
    return out


def _rv(ref: dict, case: str, metric: str) -> float:
    """The RFC's value of (case, metric) as a number, NaN where it has none."""
    r = ref.get((case, metric))
    return r.value if r is not None and r.value is not None else math.nan


def _num(v) -> str:
    return num(v, missing="n/a")


# --- Figure 7 beside the RFC

def _stats(vals) -> dict:
    s = stats(vals)
    return {k: s[k] for k in ("n", "median", "min", "max", "mean")}


_failed = failed_repetitions


def beside_rfc(run: RunData) -> pd.DataFrame:
    """One row per configuration, metric (Figure 7's rows in the RFC's order, then ours) and
    compared scenario: n, n_failed, median, min, max, mean of the repetitions with status ok,
    and the RFC's value for the scenario's case (rfc as shown, rfc_value, rfc_derived)."""
    ref = rfc_values()
    df = run.records
    scen = compared(run)
    vals = df.assign(v_=values(df))
    rows = []
    for conf in configurations(df):
        cdf = _of(vals, conf)
        for m in METRICS:
            for s in scen:
                sdf = cdf[cdf["scenario"] == s.name] if len(cdf) else cdf
                ok = sdf[(sdf["phase"] == m.name) & (sdf["status"] == "ok")]["v_"]
                r = ref.get((s.case, m.name))
                rows.append({"configuration": conf, "scenario": s.name, "case": s.case,
                             "metric": m.name, "label": m.rfc_label or EXTRA_LABELS[m.name],
                             "unit": m.unit, **_stats(ok), "n_failed": _failed(sdf),
                             "rfc": r.text if r else "--",
                             "rfc_value": r.value if r and r.value is not None else math.nan,
                             "rfc_derived": r.derived if r else ""})
    return pd.DataFrame(rows, columns=["configuration", "scenario", "case", "metric", "label",
                                       "unit", "n", "n_failed", "median", "min", "max", "mean",
                                       "rfc", "rfc_value", "rfc_derived"])


def _cell(r) -> str:
    """'median [min-max] (n)'; with the mean for the RFC's 'Avg.' rows (the RFC reports
    means); '--' when not measured."""
    if not r.n:
        return "--"
    span = "" if r.min == r.max else f" [{_num(r.min)}–{_num(r.max)}]"
    mean = (f", mean {_num(r.mean)}" if str(getattr(r, "label", "")).startswith("Avg.") and r.n > 1
            else "")
    return f"{_num(r.median)}{span} ({r.n}){mean}"


TABLE_NOTES = (
    "Measured: median [min–max] (number of repetitions) over the repetitions with status ok; "
    "for the RFC's *Avg.* rows also the mean, since the RFC prints averages. RFC: Figure 7 as "
    "printed; non-MPA: the C.5.1 prose (\"an average of 4 seconds to complete, with an "
    "approximate packet loss of about 200 packets\"); `--`: not reported.",
    "Note 1: the RFC's \"Avg. packet jitter\" is its \"inter-packet arrival time during "
    "handover\" minus the 16 ms interval in every column of Figures 6 and 7 (29.00 - 16.00 = "
    "13.00), i.e. our *arrival excess*, not RFC 3550's estimator. The jitter row shows our RFC "
    "3550 s6.4.1 estimate (right after the handover) beside the RFC's number; the arrival "
    "excess row is the like-for-like comparison.",
    "Derived RFC values (in parentheses how): the MPA handover delay is L2 + L3 handoff, which "
    "is what our handover delay measures (L2 handoff start to the first packet on the nCoA).",
)


def _per_configuration(table: pd.DataFrame):
    """(heading lines, the table's rows of one configuration) per configuration, in order;
    a heading only when there are several."""
    confs = list(dict.fromkeys(table["configuration"]))
    for conf in confs:
        yield ([f"### {conf}", ""] if len(confs) > 1 else []), table[table["configuration"] == conf]


def fig7_markdown(table: pd.DataFrame, scen: list[Scenario]) -> str:
    """beside_rfc() laid out like Figure 7: rows its metrics then ours, per scenario two
    columns: measured, RFC. One table per configuration."""
    out = []
    for heading, t in _per_configuration(table):
        out += heading
        head = ["Metric (RFC 6252 Figure 7's rows, then ours)"]
        for s in scen:
            head += [f"{s.title}: measured", "RFC"]
        out += ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
        cells = {(r.metric, r.scenario): r for r in t.itertuples()}
        for m in METRICS:
            if m.rfc_label is None and m.name == next(x.name for x in METRICS if x.rfc_label is None):
                out.append("| *not in the RFC's table:* |" + " |" * (len(head) - 1))
            row = [m.rfc_label or EXTRA_LABELS[m.name]]
            if m.name == "jitter":
                row[0] += " [note 1: ours = RFC 3550]"
            for s in scen:
                r = cells.get((m.name, s.name))
                row += [_cell(r) if r else "--", r.rfc if r else "--"]
            out.append("| " + " | ".join(row) + " |")
        failed = {r.scenario: r.n_failed for r in t.itertuples() if r.n_failed}
        if failed:
            out += ["", "Failed repetitions (not in the statistics): " + ", ".join(
                f"{s}: {n}" for s, n in failed.items()) + "."]
        out.append("")
    return "\n".join(out)


def _phase_descriptions() -> dict[str, str]:
    """phase -> what it measures: the SIP flows' parts (experiment/phases.py SIP_PARTS) in
    their order, then events.INTERVALS."""
    out = {name: part[2] for name, part in getattr(phases, "SIP_PARTS", {}).items()}
    for iv in INTERVALS:
        out.setdefault(iv.name, iv.description)
    return out


def phases_table(run: RunData) -> pd.DataFrame:
    """The measured phase durations (events.INTERVALS names and any other non-metric phase)
    per configuration, scenario and phase: n, median, min, max (ms)."""
    df = run.records
    known = list(dict.fromkeys([*_phase_descriptions()]))
    names = [p for p in dict.fromkeys(df["phase"].astype(str)) if p not in METRIC]
    names = sorted(names, key=lambda p: (known.index(p) if p in known else len(known), p))
    vals = df.assign(v_=values(df))
    rows = []
    for conf in configurations(df):
        cdf = _of(vals, conf)
        for p in names:
            for s in scenarios(run):
                ok = cdf[(cdf["scenario"] == s.name) & (cdf["phase"] == p) & (cdf["status"] == "ok")]
                if len(ok):
                    rows.append({"configuration": conf, "scenario": s.name, "phase": p,
                                 **_stats(ok["v_"])})
    return pd.DataFrame(rows, columns=["configuration", "scenario", "phase", "n", "median",
                                       "min", "max", "mean"])


def phases_markdown(table: pd.DataFrame, scen: list[Scenario]) -> str:
    if table.empty:
        return "No phase durations in the records.\n"
    desc = _phase_descriptions()
    out = []
    for heading, t in _per_configuration(table):
        out += heading
        out += ["| phase (ms) | " + " | ".join(s.title for s in scen) + " | what |",
                "|---" * (len(scen) + 2) + "|"]
        cells = {(r.phase, r.scenario): r for r in t.itertuples()}
        for p in dict.fromkeys(t["phase"]):
            row = [_cell(cells[(p, s.name)]) if (p, s.name) in cells else "--" for s in scen]
            out.append(f"| {p} | " + " | ".join(row) + f" | {desc.get(p, '')} |")
        out.append("")
    return "\n".join(out)


# --- non-MPA against MPA

def _median(df: pd.DataFrame, scenario: str, metric: str) -> float:
    rows = df[(df["scenario"] == scenario) & (df["phase"] == metric) & (df["status"] == "ok")]
    return _stats(values(rows))["median"]


def _mean(df: pd.DataFrame, scenario: str, metric: str) -> float:
    rows = df[(df["scenario"] == scenario) & (df["phase"] == metric) & (df["status"] == "ok")]
    return _stats(values(rows))["mean"]


def _div(a, b) -> float:
    if a is None or b is None or math.isnan(a) or math.isnan(b) or b == 0:
        return math.nan
    return a / b


def ratios(run: RunData) -> pd.DataFrame:
    """Per configuration and MPA scenario, against the (first) non-MPA scenario: median
    handover delay of each and their ratio beside the RFC's (non-MPA 4 s over the MPA case's
    L2 + L3 handoff), and the packets lost (median and mean) beside the RFC's."""
    ref = rfc_values()
    df = run.records
    scen = compared(run)
    non = next((s for s in scen if not s.mpa), None)
    rows = []
    for conf in configurations(df):
        cdf = _of(df, conf)
        nm = lambda f, metric: f(cdf, non.name, metric) if non else math.nan   # noqa: E731
        for s in (x for x in scen if x.mpa):
            nd, md = nm(_median, "handover_delay"), _median(cdf, s.name, "handover_delay")
            rows.append({
                "configuration": conf, "mpa_scenario": s.name,
                "nonmpa_scenario": non.name if non else "",
                "nonmpa_delay_ms": nd, "mpa_delay_ms": md, "ratio": _div(nd, md),
                "rfc_nonmpa_delay_ms": _rv(ref, "non-mpa", "handover_delay"),
                "rfc_mpa_delay_ms": _rv(ref, s.case, "handover_delay"),
                "rfc_ratio": _div(_rv(ref, "non-mpa", "handover_delay"),
                                  _rv(ref, s.case, "handover_delay")),
                "nonmpa_loss_median": nm(_median, "packet_loss"),
                "nonmpa_loss_mean": nm(_mean, "packet_loss"),
                "mpa_loss_median": _median(cdf, s.name, "packet_loss"),
                "mpa_loss_mean": _mean(cdf, s.name, "packet_loss"),
                "rfc_nonmpa_loss": _rv(ref, "non-mpa", "packet_loss"),
                "rfc_mpa_loss": _rv(ref, s.case, "packet_loss"),
                "nonmpa_interval_ms": nm(_median, "inter_packet_interval"),
                "rfc_interval_ms": _rv(ref, s.case, "inter_packet_interval")})
    return pd.DataFrame(rows)


def ratios_markdown(table: pd.DataFrame, scen: list[Scenario]) -> str:
    if table.empty or not table["nonmpa_scenario"].astype(bool).any():
        return "No non-MPA scenario in this run: no ratio.\n"
    titles = {s.name: s.title for s in scen}
    multi = table["configuration"].nunique() > 1
    out = ["| | measured | RFC |", "|---|---|---|"]
    for r in table.itertuples():
        where = f" [{r.configuration}]" if multi else ""
        mpa = titles.get(r.mpa_scenario, r.mpa_scenario)
        out.append(f"| handover delay, non-MPA / {mpa}{where} | {_num(r.nonmpa_delay_ms)} ms / "
                   f"{_num(r.mpa_delay_ms)} ms = **{_num(r.ratio)}** | "
                   f"{_num(r.rfc_nonmpa_delay_ms)} ms / {_num(r.rfc_mpa_delay_ms)} ms (L2 + L3) "
                   f"= **{_num(r.rfc_ratio)}** |")
        out.append(f"| packets lost, non-MPA vs {mpa}{where} | median {_num(r.nonmpa_loss_median)} "
                   f"vs {_num(r.mpa_loss_median)} (means {_num(r.nonmpa_loss_mean)} vs "
                   f"{_num(r.mpa_loss_mean)}) | ~{_num(r.rfc_nonmpa_loss)} vs {_num(r.rfc_mpa_loss)} |")
    first = table.iloc[0]
    expected = _div(first.nonmpa_delay_ms, first.nonmpa_interval_ms)
    out += ["", "Medians of the repetitions with status ok. The RFC prints no MPA handover delay; "
            "its L2 + L3 handoff is the same interval as ours (handoff start to the first packet on "
            "the nCoA). At one packet per interval, an outage of the non-MPA handover delay loses "
            f"about delay / interval packets: here {_num(first.nonmpa_delay_ms)} / "
            f"{_num(first.nonmpa_interval_ms)} = {_num(expected)}"
            f"; for the RFC {_num(first.rfc_nonmpa_delay_ms)} / {_num(first.rfc_interval_ms)} = "
            f"{_num(_div(first.rfc_nonmpa_delay_ms, first.rfc_interval_ms))} against its ~"
            f"{_num(first.rfc_nonmpa_loss)} reported.", ""]
    return "\n".join(out)


# --- "must show": the RFC's claims as checks

def _check(cid: str, name: str, measured: float, rfc: float, ok, explanation: str) -> dict:
    return check(cid, name, measured, rfc, ok, explanation)


def _per_rep(df: pd.DataFrame, scenario: str) -> dict[int, dict[str, float]]:
    """repetition -> {phase: value} of the repetitions of `scenario` with status ok."""
    rows = df[(df["scenario"] == scenario) & (df["status"] == "ok")].assign(v_=values)
    out: dict[int, dict[str, float]] = {}
    for r in rows.itertuples():
        if not math.isnan(r.v_):
            out.setdefault(int(r.repetition), {})[str(r.phase)] = float(r.v_)
    return dict(sorted(out.items()))


def _failed_note(df: pd.DataFrame, scenario: str) -> str:
    n = _failed(df[df["scenario"] == scenario])
    return f"; {n} failed repetition(s) not counted" if n else ""


def loss_bound(l2_ms: float, l3_ms: float, interval_ms: float) -> int:
    """Check (b)'s bound: the packets that can fall into the layer-2 switch and the layer-3
    handoff after it, ceil((L2 + L3) / interval), plus one in flight on the old path."""
    return math.ceil((l2_ms + l3_ms) / interval_ms) + 1


def nonmpa_parts(rep: dict[str, float]) -> dict[str, float]:
    """The consecutive parts of one non-MPA repetition ({phase: ms}): the first complete
    alternative of NONMPA_LINK, the first of NONMPA_ADDRESS it has, every NONMPA_AFTER."""
    link = next((alt for alt in NONMPA_LINK if all(p in rep for p in alt)), ())
    address = next((a for a in NONMPA_ADDRESS if a in rep), None)
    names = (*link, *((address,) if address else ()), *(a for a in NONMPA_AFTER if a in rep))
    return {p: rep[p] for p in names}


def _check_a(df: pd.DataFrame, s: Scenario, ref: dict, suffix: str) -> dict:
    """(a) With buffering, no repetition loses a packet."""
    loss = {k: v["packet_loss"] for k, v in _per_rep(df, s.name).items() if "packet_loss" in v}
    bad = {k: v for k, v in loss.items() if v > 0}
    return _check(
        "a", f"{s.title}: no packet lost in any repetition{suffix}",
        max(loss.values()) if loss else math.nan, _rv(ref, s.case, "packet_loss"),
        (not bad) if loss else None,
        f"measured: the most packets lost in one of {len(loss)} repetitions"
        + ("; lost in repetition(s) " + ", ".join(f"{k} ({v:g})" for k, v in bad.items())
           if bad else "") + _failed_note(df, s.name)
        + ". RFC (C.5.1): \"packet loss during the actual L2 and L3 handover is eliminated\"")


def _check_b(df: pd.DataFrame, s: Scenario, ref: dict, suffix: str) -> dict:
    """(b) Without buffering, each repetition loses at most loss_bound(L2, L3, interval) of
    its own measurements; no packet on the nCoA (no L3 handoff) is over the bound."""
    loss, over = {}, []
    for k, v in _per_rep(df, s.name).items():
        if "packet_loss" not in v:
            continue
        loss[k] = v["packet_loss"]
        parts = [v.get("l2_handoff"), v.get("l3_handoff"), v.get("inter_packet_interval")]
        if None in parts or not parts[2]:
            over.append(f"{k} ({v['packet_loss']:g} lost; no packet on the nCoA or no interval)")
            continue
        bound = loss_bound(*parts)
        if v["packet_loss"] > bound:
            over.append(f"{k} ({v['packet_loss']:g} > {bound}: L2 {parts[0]:.1f} + L3 "
                        f"{parts[1]:.1f} ms over {parts[2]:.1f} ms)")
    rfc = [_rv(ref, s.case, m) for m in ("l2_handoff", "l3_handoff", "inter_packet_interval")]
    rfc_bound = None if any(math.isnan(v) for v in rfc) else loss_bound(*rfc)
    return _check(
        "b", f"{s.title}: loss limited to the layer-2 switch{suffix}",
        max(loss.values()) if loss else math.nan, _rv(ref, s.case, "packet_loss"),
        (not over) if loss else None,
        "per repetition: packets lost <= ceil((L2 handoff + L3 handoff) / inter-packet "
        "interval) + 1, with that repetition's own three measurements; measured: the most "
        f"packets lost in one of {len(loss)} repetitions"
        + ("; over the bound: " + ", ".join(over) if over else "") + _failed_note(df, s.name)
        + f". RFC: average {_num(_rv(ref, s.case, 'packet_loss'))}, its bound "
        f"ceil(({_num(rfc[0])} + {_num(rfc[1])}) / {_num(rfc[2])}) + 1 = {rfc_bound}")


def _checks_c(df: pd.DataFrame, non: Scenario, ref: dict, suffix: str) -> list[dict]:
    """(c) Non-MPA loses packets in every repetition; its delay holds its parts (within
    NONMPA_SLACK_MS); DHCP (Taddr) is the longest part."""
    reps = _per_rep(df, non.name)
    loss = {k: v["packet_loss"] for k, v in reps.items() if "packet_loss" in v}
    none_lost = [k for k, v in loss.items() if v <= 0]
    out = [_check(
        "c", f"non-MPA: packets are lost in every repetition{suffix}",
        min(loss.values()) if loss else math.nan, _rv(ref, "non-mpa", "packet_loss"),
        (not none_lost) if loss else None,
        f"measured: the fewest packets lost in one of {len(loss)} repetitions"
        + (f"; none lost in repetition(s) {', '.join(map(str, none_lost))}" if none_lost else "")
        + _failed_note(df, non.name) + ". RFC: \"approximate packet loss of about 200 packets\"")]
    fractions, short, unmeasured, described = [], [], [], ""
    for k, v in reps.items():
        parts, delay = nonmpa_parts(v), v.get("handover_delay")
        if delay is None or not parts:
            unmeasured.append(str(k))
            continue
        total = sum(parts.values())
        fractions.append(delay / total if total else math.nan)
        if not described:
            described = (f"repetition {k}: delay {delay:.1f} ms, parts "
                         + " + ".join(f"{n} {p:.1f}" for n, p in parts.items())
                         + f" = {total:.1f} ms")
        if delay < total - NONMPA_SLACK_MS:
            short.append(f"{k} ({delay:.1f} < {total:.1f} ms)")
    names = (" or ".join(" + ".join(a) for a in NONMPA_LINK) + " (the first complete), then "
             + " or ".join(NONMPA_ADDRESS) + " (the first measured: each holds the next), then "
             + ", ".join(NONMPA_AFTER))
    out.append(_check(
        "c", f"non-MPA: handover delay >= the sum of its measured parts{suffix}",
        min(fractions) if fractions else math.nan, math.nan, (not short) if fractions else None,
        f"per repetition: handover delay >= the sum of its parts - {NONMPA_SLACK_MS:g} ms (the "
        f"first packet on the nCoA may arrive just before the re-INVITE's 200 OK); parts: {names}"
        f"; measured: the smallest delay / sum over {len(fractions)} repetitions"
        + (f"; {described}" if described else "")
        + (f"; below the sum: {', '.join(short)}" if short else "")
        + (f"; parts not measured in repetition(s) {', '.join(unmeasured)}" if unmeasured else "")
        + ". RFC: the delay runs \"from the moment the link-layer handover procedure begins, "
        "up to successful processing of the binding update\""))
    med: dict[str, list[float]] = {}
    for v in reps.values():            # Taddr against the parts outside the address step
        parts = {n: p for n, p in nonmpa_parts(v).items() if n not in NONMPA_ADDRESS}
        for n, p in {**parts, **({"Taddr": v["Taddr"]} if "Taddr" in v else {})}.items():
            med.setdefault(n, []).append(p)
    medians = {n: _stats(p)["median"] for n, p in med.items()}
    out.append(_check(
        "c", f"non-MPA: address acquisition (DHCP) is the longest part{suffix}",
        medians.get("Taddr", math.nan), math.nan,
        None if "Taddr" not in medians else max(medians, key=medians.get) == "Taddr",
        "measured: median Taddr (ms: DHCP on the new link with the DAD it holds); ok when it "
        "is larger than the median of every other part ("
        + ", ".join(f"{n} {p:.1f}" for n, p in medians.items()) + "). RFC: \"IP address "
        "acquisitions via DHCP incur the longest delay. This is due to the detection of "
        "duplicate IP addresses\""))
    return out


def _check_d(df: pd.DataFrame, non: Scenario, s: Scenario, ref: dict, suffix: str) -> dict:
    """(d) The non-MPA median handover delay is more than RATIO_MIN times the MPA one."""
    nd, md = _median(df, non.name, "handover_delay"), _median(df, s.name, "handover_delay")
    r = _div(nd, md)
    rfc_non, rfc_mpa = _rv(ref, "non-mpa", "handover_delay"), _rv(ref, s.case, "handover_delay")
    return _check(
        "d", f"handover delay non-MPA / {s.title} > {RATIO_MIN:g}{suffix}",
        r, _div(rfc_non, rfc_mpa), None if math.isnan(r) else r > RATIO_MIN,
        f"median non-MPA {_num(nd)} ms / median {s.title} {_num(md)} ms; RFC: "
        f"{_num(rfc_non)} ms / (L2 + L3 = {_num(rfc_mpa)} ms)")


def _checks_at(df: pd.DataFrame, scen: list[Scenario], ref: dict, suffix: str) -> list[dict]:
    mpa = [s for s in scen if s.mpa]
    non = next((s for s in scen if not s.mpa), None)
    out = [_check_a(df, s, ref, suffix) for s in mpa if s.buffering_ms is not None]
    out += [_check_b(df, s, ref, suffix) for s in mpa if s.buffering_ms is None]
    if non is not None:
        out += _checks_c(df, non, ref, suffix)
        out += [_check_d(df, non, s, ref, suffix) for s in mpa]
    return out


@FIG7.checks
def checks(run: RunData, captures: bool = True) -> list[dict]:
    """The RFC's C.5.1 claims as verdicts {id, check, measured, rfc, ok, explanation};
    ok None when not measured. (a) with buffering no repetition loses a packet; (b) without
    buffering each repetition loses at most loss_bound(L2, L3, interval); (c) non-MPA loses
    packets in every repetition, its delay holds its measured parts, DHCP is the longest
    part; (d) non-MPA / MPA median handover delay > RATIO_MIN. One set per configuration,
    on the scenarios mapped onto the RFC's cases (a: buffering-enabled, b: buffering-disabled,
    c and d: non-mpa). With `captures`: (e) tshark dissects the run's SIP and RTP captures,
    none malformed."""
    df = run.records
    scen, ref = compared(run), rfc_values()
    confs = configurations(df)
    out = []
    for conf in confs:
        out += _checks_at(_of(df, conf), scen, ref, f" [{conf}]" if len(confs) > 1 else "")
    if captures and scen:
        out += capture_checks(run.dir, captured_nodes(run))
    return out


# the captures of (e): the CN's has every SIP message and the RTP in clear, the MN's what
# arrived; found by the role their events carry, never by name
CAPTURED_ROLES = ("correspondent", "mobile-node")


def captured_nodes(run: RunData) -> set[str] | None:
    """The nodes whose captures check (e) reads: those whose events have a CAPTURED_ROLES
    role; None (every capture) when the run has no events."""
    nodes = {e.get("node") for e in run.events
             if set(str(e.get("role", "")).split(",")) & set(CAPTURED_ROLES)}
    return nodes or None


def tshark_counts(pcap: Path, rtp_port: int = 4000) -> dict | None:
    """{sip, rtp, malformed, frames} of one capture as tshark dissects it (RTP decoded on
    the media port), None without tshark or on its error."""
    import shutil
    import subprocess
    if shutil.which("tshark") is None:
        return None
    r = subprocess.run(["tshark", "-r", str(pcap), "-d", f"udp.port=={rtp_port},rtp",
                        "-T", "fields", "-E", "separator=|", "-e", "frame.protocols",
                        "-e", "_ws.malformed", "-e", "_ws.expert.severity"],
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        return None
    rows = [line.split("|") for line in r.stdout.splitlines() if line]
    protos = [row[0].split(":") for row in rows]
    # a malformed packet, or any expert info of severity error (PI_ERROR, 0x00800000)
    bad = [row for row in rows if row[1] or str(0x00800000) in row[2].split(",")]
    return {"frames": len(rows), "sip": sum("sip" in p for p in protos),
            "rtp": sum("rtp" in p for p in protos), "malformed": len(bad)}


def capture_checks(run_dir: Path, nodes: set[str] | None = None) -> list[dict]:
    """(e): every SIP and RTP packet of the CN's and MN's captures (`nodes`; None: every
    capture of the run) dissects cleanly."""
    counts = {}
    for conf_dir in sorted((Path(run_dir) / "pcaps").glob("*")):
        for pcap in sorted(conf_dir.glob("*.pcap")):
            if nodes is None or pcap.stem in nodes:
                counts[f"{conf_dir.name}/{pcap.stem}"] = tshark_counts(pcap)
    done = {k: v for k, v in counts.items() if v is not None}
    if not done:
        return [{"id": "e", "check": "tshark dissects the SIP and RTP captures, none malformed",
                 "measured": None, "rfc": None, "ok": None,
                 "explanation": "no capture, or no tshark, to read"}]
    malformed = sum(v["malformed"] for v in done.values())
    sip, rtp = sum(v["sip"] for v in done.values()), sum(v["rtp"] for v in done.values())
    return [{"id": "e", "check": "tshark dissects the SIP and RTP captures, none malformed",
             "measured": malformed, "rfc": None, "ok": malformed == 0 and sip > 0 and rtp > 0,
             "explanation": "malformed frames (measured) in " + ", ".join(
                 f"pcaps/{k}.pcap ({v['sip']} SIP, {v['rtp']} RTP, {v['malformed']} malformed)"
                 for k, v in done.items()) + "; RTP decoded on UDP port 4000 (the SDP's)"}]


CHECKS_INTRO = ("(a) buffering enabled loses nothing; (b) buffering disabled loses only what "
                "the layer-2 switch covers; (c) non-MPA loses packets and its delay is made of "
                "its parts, DHCP the longest; (d) non-MPA is more than ten times slower; (e) "
                "the SIP and RTP captures dissect cleanly.")
FIG7.intro, FIG7.number_format = CHECKS_INTRO, lambda v: _num(v)


# --- media logs (the arrival figure)

def media_path(run_dir: Path, configuration: str, scenario: str, repetition: int) -> Path | None:
    """media/<configuration>/<scenario>/rep<N>.json, the configuration as named or as the
    runner slugs directory names ('/' -> '_', '=' -> '-')."""
    for conf in dict.fromkeys((configuration, configuration.replace("/", "_").replace("=", "-"))):
        p = Path(run_dir) / "media" / conf / scenario / f"rep{repetition}.json"
        if p.exists():
            return p
    return None


def load_media(path: Path) -> tuple[list[dict], media.Handover, dict]:
    """(packets, Handover, the raw handover mapping) of one repetition's media file."""
    data = json.loads(Path(path).read_text())
    h = data["handover"]
    names = {f.name for f in fields(media.Handover)}
    return data["packets"], media.Handover(**{k: v for k, v in h.items() if k in names}), h


def median_repetition(df: pd.DataFrame, run_dir: Path, configuration: str,
                      scenario: str) -> tuple[int, Path] | None:
    """The repetition whose handover delay is the median (the lower one for an even count)
    and that has a media file; the nearest to it otherwise."""
    rows = _of(df, configuration)
    rows = rows[(rows["scenario"] == scenario) & (rows["phase"] == "handover_delay")
                & (rows["status"] == "ok")].assign(v_=values)
    rows = rows.dropna(subset=["v_"]).sort_values(["v_", "repetition"])
    if rows.empty:
        return None
    mid = rows["v_"].iloc[(len(rows) - 1) // 2]
    for r in sorted(rows.itertuples(), key=lambda r: (abs(r.v_ - mid), r.v_)):
        p = media_path(run_dir, configuration, scenario, int(r.repetition))
        if p:
            return int(r.repetition), p
    return None


# --- files

@FIG7.tables
def tables(run: RunData) -> dict:
    """fig7_beside_rfc.csv and .md, phases.csv, nonmpa_vs_mpa.csv."""
    scen = scenarios(run)
    bes, ph, rat = beside_rfc(run), phases_table(run), ratios(run)
    md = ("# Emulated parameters (RFC 6252 Figure 7 reproduction)\n\n" + parameters.markdown(run)
          + scenarios_markdown(scen) + "\n# RFC 6252 Figure 7 beside this run\n\n"
          + f"{reference.citation(REFERENCE)}; {reference.citation(NONMPA_REFERENCE)}.\n\n"
          + fig7_markdown(bes, compared(run)) + "\n" + "\n\n".join(TABLE_NOTES) + "\n\n"
          + "# Non-MPA against MPA\n\n" + ratios_markdown(rat, scen)
          + "\n# Phase durations (events)\n\n" + phases_markdown(ph, scen))
    return {"fig7_beside_rfc.csv": bes, "fig7_beside_rfc.md": md, "phases.csv": ph,
            "nonmpa_vs_mpa.csv": rat}


@FIG7.readme
def readme(run: RunData, checks_: list[dict]) -> list[str]:
    scen = scenarios(run)
    lines = [scenarios_markdown(scen),
             "## RFC 6252 Figure 7 beside this run", "",
             f"{reference.citation(REFERENCE)}; {reference.citation(NONMPA_REFERENCE)}. Per "
             "scenario the experiment maps onto one of the RFC's cases: measured (median "
             "[min–max] (n)) and the RFC's value; mean, min, max of every cell in "
             "[tables/fig7_beside_rfc.csv](tables/fig7_beside_rfc.csv).", "",
             fig7_markdown(beside_rfc(run), compared(run)),
             *(line for note in TABLE_NOTES for line in (note, "")),
             "## Non-MPA against MPA", "", ratios_markdown(ratios(run), scen),
             f"## Must-show checks: {verdicts(checks_)}", "",
             "See [tables/checks.md](tables/checks.md) for how each is computed.", ""]
    lines += [f"- {OK_MARK[c['ok']]}: ({c['id']}) {c['check']}" for c in checks_]
    lines += ["", "## Phase durations (events)", "", phases_markdown(phases_table(run), scen)]
    return lines


@FIG7.summary
def summary(run: RunData, checks_: list[dict]) -> list[str]:
    failed = [f"({c['id']}) {c['check']}" for c in checks_ if c["ok"] is False]
    return [f"RFC 6252 Figure 7 and the non-MPA baseline (C.5.1). Must-show checks: "
            f"{verdicts(checks_)}" + (f"; failed: {'; '.join(failed)}" if failed else "") + ".",
            "", *key_numbers(run), "",
            "[Figure 7 beside the RFC](tables/fig7_beside_rfc.md)"]


def scenarios_markdown(scen: list[Scenario]) -> str:
    lines = ["", "| scenario | flow | buffering at the nAR | compared with |", "|---|---|---|---|"]
    for s in scen:
        buf = ("disabled" if s.buffering_ms is None else "enabled" if math.isnan(s.buffering_ms)
               else f"{s.buffering_ms:g} ms")
        rfc = f"RFC {CASE_TITLES[s.case]}" if s.case else "nothing (not in `reference:`)"
        lines.append(f"| {s.name} | {s.flow} | {buf} | {rfc} |")
    return "\n".join(lines) + "\n"


# --- figures: packet arrivals around the handover, handover delay per scenario

ADDRESS_COLORS = {"oCoA": "#1f77b4", "nCoA": "#d62728", "other": "#7f7f7f"}
FIG7_COLORS = {True: "#2ca02c", False: "#d62728"}     # MPA, non-MPA


@dataclass
class ArrivalPanel:
    """One repetition's RTP arrivals (media.arrival_series: t_ms from the layer-2 handoff
    start, extended seq, receiving address) and the handover around them."""
    title: str
    series: list[dict]
    new_address: str | None
    l2_done_ms: float
    delay_ms: float | None = None           # handoff start -> first packet on the nCoA
    lost: int | None = None
    buffering_ms: float | None = None       # the configured period; None: no buffering
    buffered_packets: int | None = None
    buffering_span_ms: tuple[float, float] | None = None   # measured, if the run logged it
    repetition: int | None = None


@dataclass
class DelayGroup:
    title: str
    mpa: bool
    delays_ms: list[float]
    lost: list[float]
    rfc_delay_ms: float | None = None
    rfc_lost: float | None = None


def _roles(series: list[dict], ncoa: str | None) -> dict[str, str]:
    """address -> 'nCoA' / 'oCoA' / 'other': the nCoA as given (else the last address to
    receive), the address that received the first packet is the oCoA."""
    addrs = list(dict.fromkeys(p["address"] for p in series))
    ncoa = ncoa if ncoa in addrs else (series[-1]["address"] if series else None)
    first = next((a for a in addrs if a != ncoa), None)
    return {a: "nCoA" if a == ncoa else "oCoA" if a == first else "other" for a in addrs}


def _lost_points(series: list[dict], interval: float) -> list[tuple[float, int]]:
    """(when it was due, seq) of each missing sequence number: the last packet received
    before it plus one interval per sequence number."""
    got = sorted({p["seq"]: p["t_ms"] for p in reversed(series)}.items())
    out = []
    for (s0, t0), (s1, _) in zip(got, got[1:]):
        out += [(t0 + (s - s0) * interval, s) for s in range(s0 + 1, s1)]
    return out


def fig7_arrivals(panels: list[ArrivalPanel], cap: str, out: str | Path,
                  title: str = "", seconds: bool = False) -> list[Path]:
    """RTP sequence number against arrival time around the handover, one panel per scenario:
    colour by receiving address (oCoA, nCoA), flushed packets outlined, lost packets as x at
    the time they were due, the layer-2 handoff start/done and the first packet on the nCoA
    as vertical lines, the buffering period shaded. `seconds`: a wider axis in s (non-MPA)."""
    fig, axes = plt.subplots(1, len(panels), figsize=(7.0 * len(panels), 5.4), squeeze=False)
    unit = 1e-3 if seconds else 1.0
    for ax, p in zip(axes[0], panels):
        times = [q["t_ms"] for q in p.series]
        interval = float(np.median(np.diff(times))) if len(times) > 2 else 16.0
        end = max(p.delay_ms if p.delay_ms is not None else p.l2_done_ms, p.l2_done_ms)
        lo, hi = (-500.0, end + 700.0) if seconds else (-8 * interval, end + 10 * interval)
        roles = _roles(p.series, p.new_address)
        inside = [q for q in p.series if lo <= q["t_ms"] <= hi]
        for role in ("oCoA", "nCoA", "other"):
            pts = [q for q in inside if roles[q["address"]] == role]
            if pts:
                addrs = ", ".join(sorted({q["address"] for q in pts}))
                ax.scatter([q["t_ms"] * unit for q in pts], [q["seq"] for q in pts], s=14,
                           color=ADDRESS_COLORS[role], label=f"{role} {addrs}", zorder=3)
        if p.buffered_packets and p.delay_ms is not None:
            new = [q for q in p.series if roles[q["address"]] == "nCoA"
                   and q["t_ms"] >= p.delay_ms][:p.buffered_packets]
            ax.scatter([q["t_ms"] * unit for q in new], [q["seq"] for q in new], s=60,
                       facecolors="none", edgecolors="black", lw=1.2, zorder=4,
                       label=f"flushed by the nAR ({p.buffered_packets})")
        lost = [(t, s) for t, s in _lost_points(p.series, interval) if lo <= t <= hi]
        if lost:
            n = p.lost if p.lost is not None else len(lost)
            ax.scatter([t * unit for t, _ in lost], [s for _, s in lost], marker="x", s=22,
                       color="0.45", zorder=2, label=f"lost, when due ({n})")
        ax.axvline(0, color="black", lw=1.2, label="L2 handoff start")
        ax.axvline(p.l2_done_ms * unit, color="black", lw=1.2, ls="--",
                   label=f"L2 handoff done ({p.l2_done_ms:.1f} ms)")
        if p.delay_ms is not None:
            ax.axvline(p.delay_ms * unit, color=ADDRESS_COLORS["nCoA"], lw=1, ls=":",
                       label=f"first packet on the nCoA ({p.delay_ms:.1f} ms)")
        if p.buffering_span_ms:
            ax.axvspan(p.buffering_span_ms[0] * unit, p.buffering_span_ms[1] * unit, color="#ffbf00",
                       alpha=0.25, label="nAR buffering: tunnel deleted -> flush")
        elif p.buffering_ms and p.delay_ms is not None:
            ax.axvspan((p.delay_ms - p.buffering_ms) * unit, p.delay_ms * unit, color="#ffbf00",
                       alpha=0.25, label=f"buffering period {p.buffering_ms:g} ms (configured;\n"
                                         "drawn ending at the flush)")
        ax.set_xlim(lo * unit, hi * unit)
        if inside or lost:
            seqs = [q["seq"] for q in inside] + [s for _, s in lost]
            ax.set_ylim(min(seqs) - 1, max(seqs) + 1)
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.set_xlabel(f"arrival time from the L2 handoff start ({'s' if seconds else 'ms'})")
        ax.set_ylabel("RTP sequence number (extended)")
        ax.set_title(p.title
                     + (f"\nhandover delay {p.delay_ms:.1f} ms" if p.delay_ms is not None else "")
                     + (f", {p.lost} lost" if p.lost is not None else ""))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle("RFC 6252 C.5.1 (Figure 7): RTP arrivals around the handover"
                 + (f": {title}" if title else "")
                 + "\nthe repetition with the median handover delay of each scenario")
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    caption(fig, cap)
    return save(fig, out)


def fig7_delay(groups: list[DelayGroup], cap: str, out: str | Path) -> list[Path]:
    """Handover delay (log axis) and packets lost (symlog) per scenario over repetitions:
    box (quartiles) and points, the RFC's value as a black bar (MPA delay: its L2 + L3)."""
    rng = np.random.default_rng(0)
    fig, axes = plt.subplots(1, 2, figsize=(max(10.0, 3.2 * len(groups) + 4), 5.4))
    for ax, what in zip(axes, ("delay", "lost")):
        for k, g in enumerate(groups):
            v = np.asarray(g.delays_ms if what == "delay" else g.lost, dtype=float)
            color = FIG7_COLORS[g.mpa]
            if v.size:
                ax.boxplot([v], positions=[k], widths=0.55, showfliers=False,
                           medianprops={"color": "black"}, boxprops={"color": color},
                           whiskerprops={"color": color}, capprops={"color": color})
                ax.scatter(k + rng.uniform(-0.18, 0.18, v.size), v, s=14, alpha=0.65,
                           color=color, zorder=3)
            rfc = g.rfc_delay_ms if what == "delay" else g.rfc_lost
            if rfc is not None and not math.isnan(rfc):
                ax.plot([k - 0.32, k + 0.32], [rfc, rfc], color="black", lw=2.5, zorder=4)
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels([g.title.replace(", ", "\n", 1) for g in groups], fontsize=9)
        ax.set_xlim(-0.6, len(groups) - 0.4)
        if what == "delay":
            ax.set_yscale("log")
            ax.set_ylabel("handover delay (ms, log scale)")
            ax.set_title("L2 handoff start -> first packet on the nCoA")
        else:
            ax.set_yscale("symlog", linthresh=1)
            ax.set_ylim(bottom=-0.2)
            ax.set_ylabel("packets lost per handover (symlog)")
            ax.set_title("packets lost")
        ax.grid(axis="y", which="both", alpha=0.3)
    handles = [Patch(color=FIG7_COLORS[True], label="MPA"),
               Patch(color=FIG7_COLORS[False], label="non-MPA"),
               Patch(color="black", label="RFC (MPA delay: its L2 + L3 handoff)")]
    fig.legend(handles=handles, loc="upper center", ncol=3, bbox_to_anchor=(0.5, 0.95),
               frameon=False, fontsize=10)
    fig.suptitle("RFC 6252 C.5.1: handover delay and loss over repetitions (points, box: quartiles)",
                 y=0.99)
    fig.tight_layout(rect=(0, 0, 1, 0.91))
    caption(fig, cap)
    return save(fig, out)



def arrival_panel(df: pd.DataFrame, run_dir: Path, configuration: str, s: Scenario):
    """The data of one panel of the arrival figure (ArrivalPanel): the median-delay
    repetition's packets, relative to its layer-2 handoff start; None without a media file."""
    pick = median_repetition(df, run_dir, configuration, s.name)
    if pick is None:
        return None
    rep, path = pick
    try:
        packets, h, raw = load_media(path)
        series = media.arrival_series(packets, h)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"warning: {path}: no arrival figure: {exc}", file=sys.stderr)
        return None
    try:
        m = media.media_metrics(packets, h)
    except media.MediaError:
        m = None
    buffered = h.buffered_packets
    if buffered is None and m is not None:
        buffered = m.buffered_packets
    period = h.buffering_period_ms if h.buffering_period_ms is not None else s.buffering_ms
    return ArrivalPanel(
        title=f"{s.title}, repetition {rep}", series=series, new_address=h.new_address,
        l2_done_ms=(h.l2_done_ns - h.l2_start_ns) / 1e6,
        delay_ms=m.handover_delay_ms if m else None, lost=m.packets_lost if m else None,
        buffering_ms=None if period is None or math.isnan(period) else period,
        buffered_packets=buffered,
        buffering_span_ms=_span(raw, h), repetition=rep)


def _span(raw: dict, h: media.Handover) -> tuple[float, float] | None:
    """(start, end) of the buffering, in ms from the handoff start, if the media file has
    buffering_start_ns and buffering_end_ns."""
    if raw.get("buffering_start_ns") is None or raw.get("buffering_end_ns") is None:
        return None
    return ((raw["buffering_start_ns"] - h.l2_start_ns) / 1e6,
            (raw["buffering_end_ns"] - h.l2_start_ns) / 1e6)


@FIG7.figures
def figures(run: RunData, out_dir: Path) -> list[Path]:
    """fig7_arrivals (MPA scenarios, ms) and fig7_arrivals_non-mpa (s), one per
    configuration (suffixed when there are several), and fig7_delay."""
    df, run_dir = run.records, run.dir
    scen = scenarios(run)
    confs = configurations(df)
    paths: list[Path] = []
    for conf in confs:
        suffix = f"-{slug(conf)}" if len(confs) > 1 else ""
        where = f" [{conf}]" if len(confs) > 1 else ""
        cap = parameters.caption(run, [conf])
        mpa = [p for s in scen if s.mpa and (p := arrival_panel(df, run_dir, conf, s))]
        non = [p for s in scen if not s.mpa and (p := arrival_panel(df, run_dir, conf, s))]
        if mpa:
            paths += fig7_arrivals(mpa, cap, out_dir / f"fig7_arrivals{suffix}",
                                   title=f"MPA handovers{where}")
        if non:
            paths += fig7_arrivals(non, cap, out_dir / f"fig7_arrivals_non-mpa{suffix}",
                                   title=f"non-MPA handover{where}", seconds=True)
    groups = []
    ref = rfc_values()
    for conf in confs:
        cdf = _of(df, conf)
        for s in scen:
            rows = cdf[(cdf["scenario"] == s.name) & (cdf["status"] == "ok")].assign(v_=values)
            groups.append(DelayGroup(
                s.title + (f"\n{conf}" if len(confs) > 1 else ""), s.mpa,
                rows.loc[rows["phase"] == "handover_delay", "v_"].dropna().to_list(),
                rows.loc[rows["phase"] == "packet_loss", "v_"].dropna().to_list(),
                getattr(ref.get((s.case, "handover_delay")), "value", None),
                getattr(ref.get((s.case, "packet_loss")), "value", None)))
    if groups:
        paths += fig7_delay(groups, parameters.caption(run), out_dir / "fig7_delay")
    return paths


def key_numbers(run: RunData) -> list[str]:
    """Markdown lines for results/summary.md: per scenario the median handover delay and
    packets lost, and the non-MPA / MPA ratio beside the RFC's."""
    df = run.records
    scen = scenarios(run)
    out = []
    for conf in configurations(df):
        cdf = _of(df, conf)
        where = f" [{conf}]" if len(configurations(df)) > 1 else ""
        out.append(f"- Handover delay (median, ms){where}: " + "; ".join(
            f"{s.title} {_num(_median(cdf, s.name, 'handover_delay'))}" for s in scen)
            + ". Packets lost (median): " + "; ".join(
            f"{s.title} {_num(_median(cdf, s.name, 'packet_loss'))}" for s in scen) + ".")
    rat = ratios(run)
    for r in rat.itertuples() if len(rat) and rat["nonmpa_scenario"].astype(bool).any() else ():
        where = f" [{r.configuration}]" if len(configurations(df)) > 1 else ""
        out.append(f"- non-MPA / {r.mpa_scenario}{where}: {_num(r.ratio)} (RFC {_num(r.rfc_ratio)}).")
    return out
