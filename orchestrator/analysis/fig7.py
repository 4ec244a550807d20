"""RFC 6252 Appendix C.5.1: Figure 7 ("SIP Mobility with MPA Results") and the non-MPA
baseline, from a run directory: the table beside the RFC, the ratio non-MPA / MPA, the
"must show" checks and the figures.

Who does what: `experiment/media.py` turns one receiver log into Figure 7's metrics and the
runner writes them as records (one row per configuration, scenario, repetition and metric or
phase: `phase`, `value`, `unit`); this module reads the records (and, for the arrival figure,
`media/<configuration>/<scenario>/rep<N>.json`) and only aggregates, compares and draws.
Pure functions of the records frame and the spec, except `write_tables`, `write_figures` and
the figure functions (which write files).

The RFC's numbers come from analysis/reference/rfc6252_fig7.csv (Figure 7, as printed) and
rfc6252_nonmpa.csv (the prose: "an average of 4 seconds ... about 200 packets"); values the
RFC does not print but implies are derived from them and marked so (`Rfc.derived`).
"""
from __future__ import annotations

import json
import math
import re
import sys
from dataclasses import dataclass, fields
from pathlib import Path

import pandas as pd

from orchestrator.analysis import reference, tables
from orchestrator.events import INTERVALS
from orchestrator.experiment import media, phases
from orchestrator.experiment.media import METRICS

REFERENCE, NONMPA_REFERENCE = "rfc6252_fig7", "rfc6252_nonmpa"
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
OK_MARK = {True: "✔ ok", False: "✘ **FAIL**", None: "– not measured"}


# --- what a run is

def is_fig7(spec: dict, df: pd.DataFrame | None = None) -> bool:
    """A Figure 7 run: the spec's reference (else its name) says so; without either, the
    records' schemes are SIP flows."""
    exp = tables.spec_experiment(spec or {})
    if exp.get("reference"):
        return exp["reference"] == REFERENCE
    if exp.get("name"):
        return str(exp["name"]).startswith("fig7")
    return df is not None and "scheme" in df and df["scheme"].astype(str).str.startswith("sip-").any()


@dataclass(frozen=True)
class Scenario:
    name: str
    flow: str
    buffering_ms: float | None     # the nAR's buffering period; None: disabled
    case: str                      # the reference case it is compared with (CASES)

    @property
    def mpa(self) -> bool:
        return self.flow != NONMPA_FLOW

    @property
    def title(self) -> str:
        """'MPA, buffering enabled (50 ms)'; a scenario outside the RFC's cases by its name."""
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


def scenarios(df: pd.DataFrame, spec: dict | None = None) -> list[Scenario]:
    """The run's scenarios in the spec's order (then any the records add), each with the
    RFC case it is compared with: its name if that is a case, else non-mpa for the non-MPA
    flow, else buffering enabled/disabled as the spec's `buffering` says."""
    exp = tables.spec_experiment(spec or {})
    declared = [s for s in exp.get("scenarios") or [] if isinstance(s, dict) and s.get("name")]
    names = [s["name"] for s in declared]
    present = list(dict.fromkeys(df["scenario"])) if "scenario" in df else []
    out = []
    for name in names + [n for n in present if n not in names]:
        s = next((d for d in declared if d["name"] == name), {})
        flow = s.get("flow") or _first(df.loc[df["scenario"] == name, "scheme"]) or MPA_FLOW
        if "buffering" in s:
            buffering = _buffering_ms(s["buffering"])
        else:
            rows = df[(df["scenario"] == name) & (df["phase"] == "buffering_period")]
            buffering = _first(_values(rows).dropna())
            if buffering is None and name == "buffering-enabled":
                buffering = math.nan
        if name in CASES:
            case = name
        elif flow == NONMPA_FLOW:
            case = "non-mpa"
        else:
            case = "buffering-disabled" if buffering is None else "buffering-enabled"
        out.append(Scenario(name, flow, buffering, case))
    return out


def _first(values):
    values = list(values)
    return values[0] if values else None


def _values(df: pd.DataFrame) -> pd.Series:
    """The rows' numeric values: the `value` column; `ms` for rows without a `unit` (records
    written before `value` and `unit` existed)."""
    v = pd.to_numeric(df["value"], errors="coerce") if "value" in df else pd.Series(math.nan, df.index)
    if "ms" in df:
        old = df["unit"].isna() if "unit" in df else pd.Series(True, df.index)
        v = v.where(~old | v.notna(), pd.to_numeric(df["ms"], errors="coerce"))
    return v.astype("float64")


def configurations(df: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(df["configuration"])) if "configuration" in df and len(df) else [""]


def _of(df: pd.DataFrame, configuration: str) -> pd.DataFrame:
    return df[df["configuration"] == configuration] if "configuration" in df else df


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
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    if float(v).is_integer():
        return f"{v:.0f}"
    return f"{v:.0f}" if abs(v) >= 100 else f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"


# --- Figure 7 beside the RFC

def _stats(values) -> dict:
    s = pd.Series(values, dtype="float64").dropna()
    if s.empty:
        return {"n": 0, "median": math.nan, "min": math.nan, "max": math.nan, "mean": math.nan}
    return {"n": int(s.size), "median": float(s.median()), "min": float(s.min()),
            "max": float(s.max()), "mean": float(s.mean())}


def _failed(rows: pd.DataFrame) -> int:
    """Repetitions with a row whose status is not ok."""
    return int(rows.loc[rows["status"] != "ok", "repetition"].nunique()) if len(rows) else 0


def beside_rfc(df: pd.DataFrame, spec: dict | None = None) -> pd.DataFrame:
    """One row per configuration, metric (Figure 7's rows in the RFC's order, then ours) and
    scenario: n, n_failed, median, min, max, mean of the repetitions with status ok, and the
    RFC's value for the scenario's case (rfc as shown, rfc_value, rfc_derived)."""
    ref = rfc_values()
    scen = scenarios(df, spec)
    vals = df.assign(v_=_values(df))
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


def phases_table(df: pd.DataFrame, spec: dict | None = None) -> pd.DataFrame:
    """The measured phase durations (events.INTERVALS names and any other non-metric phase)
    per configuration, scenario and phase: n, median, min, max (ms)."""
    known = list(dict.fromkeys([*_phase_descriptions()]))
    names = [p for p in dict.fromkeys(df["phase"].astype(str)) if p not in METRIC]
    names = sorted(names, key=lambda p: (known.index(p) if p in known else len(known), p))
    vals = df.assign(v_=_values(df))
    rows = []
    for conf in configurations(df):
        cdf = _of(vals, conf)
        for p in names:
            for s in scenarios(df, spec):
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
    return _stats(_values(rows))["median"]


def _mean(df: pd.DataFrame, scenario: str, metric: str) -> float:
    rows = df[(df["scenario"] == scenario) & (df["phase"] == metric) & (df["status"] == "ok")]
    return _stats(_values(rows))["mean"]


def _div(a, b) -> float:
    if a is None or b is None or math.isnan(a) or math.isnan(b) or b == 0:
        return math.nan
    return a / b


def ratios(df: pd.DataFrame, spec: dict | None = None) -> pd.DataFrame:
    """Per configuration and MPA scenario, against the (first) non-MPA scenario: median
    handover delay of each and their ratio beside the RFC's (non-MPA 4 s over the MPA case's
    L2 + L3 handoff), and the packets lost (median and mean) beside the RFC's."""
    ref = rfc_values()
    scen = scenarios(df, spec)
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
    return {"id": cid, "check": name, "measured": measured, "rfc": rfc,
            "ok": None if ok is None else bool(ok), "explanation": explanation}


def _per_rep(df: pd.DataFrame, scenario: str) -> dict[int, dict[str, float]]:
    """repetition -> {phase: value} of the repetitions of `scenario` with status ok."""
    rows = df[(df["scenario"] == scenario) & (df["status"] == "ok")].assign(v_=_values)
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


def checks(df: pd.DataFrame, spec: dict | None = None,
           run_dir: str | Path | None = None) -> list[dict]:
    """The RFC's C.5.1 claims as verdicts {id, check, measured, rfc, ok, explanation};
    ok None when not measured. (a) with buffering no repetition loses a packet; (b) without
    buffering each repetition loses at most loss_bound(L2, L3, interval); (c) non-MPA loses
    packets in every repetition, its delay holds its measured parts, DHCP is the longest
    part; (d) non-MPA / MPA median handover delay > RATIO_MIN. One set per configuration.
    With `run_dir`: (e) tshark dissects the run's SIP and RTP captures, none malformed."""
    scen, ref = scenarios(df, spec), rfc_values()
    confs = configurations(df)
    out = []
    for conf in confs:
        out += _checks_at(_of(df, conf), scen, ref, f" [{conf}]" if len(confs) > 1 else "")
    if run_dir is not None:
        out += capture_checks(Path(run_dir))
    return out


CAPTURED_AT = ("cn", "mn")     # the CN's capture has every SIP message and the RTP in clear


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


def capture_checks(run_dir: Path) -> list[dict]:
    """(e): every SIP and RTP packet of the CN's and MN's captures dissects cleanly."""
    counts = {}
    for conf_dir in sorted((run_dir / "pcaps").glob("*")):
        for node in CAPTURED_AT:
            pcap = conf_dir / f"{node}.pcap"
            if pcap.exists():
                counts[f"{conf_dir.name}/{node}"] = tshark_counts(pcap)
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


def checks_markdown(checks_: list[dict]) -> str:
    num = lambda v: "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else _num(v)
    lines = ["# RFC 6252 C.5.1: what Figure 7 and the non-MPA baseline must show, checked on "
             "this run", "",
             "(a) buffering enabled loses nothing; (b) buffering disabled loses only what the "
             "layer-2 switch covers; (c) non-MPA loses packets and its delay is made of its "
             "parts, DHCP the longest; (d) non-MPA is more than ten times slower; (e) the SIP "
             "and RTP captures dissect cleanly.", "",
             "| | check | measured | RFC | verdict | how |", "|---|---|---|---|---|---|"]
    lines += [f"| ({c['id']}) | {c['check']} | {num(c['measured'])} | {num(c['rfc'])} | "
              f"{OK_MARK[c['ok']]} | {c['explanation']} |" for c in checks_]
    return "\n".join(lines) + "\n"


def verdicts(checks_: list[dict]) -> str:
    ok = sum(c["ok"] is True for c in checks_)
    bad = sum(c["ok"] is False for c in checks_)
    na = sum(c["ok"] is None for c in checks_)
    return f"{ok} ok, {bad} failed" + (f", {na} not measured" if na else "")


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
                & (rows["status"] == "ok")].assign(v_=_values)
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

def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.=_-]+", "_", text).strip("_")


def write_tables(run_dir: str | Path) -> dict[str, Path]:
    """tables/: fig7_beside_rfc.csv and .md, phases.csv, nonmpa_vs_mpa.csv, checks.md,
    parameters.md."""
    run_dir = Path(run_dir)
    out = run_dir / "tables"
    out.mkdir(parents=True, exist_ok=True)
    df, spec = tables.load_records(run_dir), tables.read_spec(run_dir)
    scen = scenarios(df, spec)
    bes, ph, rat = beside_rfc(df, spec), phases_table(df, spec), ratios(df, spec)
    params_md = tables.parameters_markdown(df, spec)
    paths = {n: out / n for n in ("fig7_beside_rfc.csv", "fig7_beside_rfc.md", "phases.csv",
                                  "nonmpa_vs_mpa.csv", "checks.md", "parameters.md")}
    bes.to_csv(paths["fig7_beside_rfc.csv"], index=False, float_format="%.3f")
    ph.to_csv(paths["phases.csv"], index=False, float_format="%.3f")
    rat.to_csv(paths["nonmpa_vs_mpa.csv"], index=False, float_format="%.3f")
    paths["fig7_beside_rfc.md"].write_text(
        "# Emulated parameters (RFC 6252 Figure 7 reproduction)\n\n" + params_md
        + scenarios_markdown(scen) + "\n# RFC 6252 Figure 7 beside this run\n\n"
        + f"{reference.citation(REFERENCE)}; {reference.citation(NONMPA_REFERENCE)}.\n\n"
        + fig7_markdown(bes, scen) + "\n" + "\n\n".join(TABLE_NOTES) + "\n\n"
        + "# Non-MPA against MPA\n\n" + ratios_markdown(rat, scen)
        + "\n# Phase durations (events)\n\n" + phases_markdown(ph, scen))
    paths["checks.md"].write_text(checks_markdown(checks(df, spec, run_dir)))
    paths["parameters.md"].write_text("# Emulated parameters\n\n" + params_md)
    return paths


def scenarios_markdown(scen: list[Scenario]) -> str:
    lines = ["", "| scenario | flow | buffering at the nAR | compared with |", "|---|---|---|---|"]
    for s in scen:
        buf = ("disabled" if s.buffering_ms is None else "enabled" if math.isnan(s.buffering_ms)
               else f"{s.buffering_ms:g} ms")
        lines.append(f"| {s.name} | {s.flow} | {buf} | RFC {CASE_TITLES[s.case]} |")
    return "\n".join(lines) + "\n"


def arrival_panel(df: pd.DataFrame, run_dir: Path, configuration: str, s: Scenario):
    """The data of one panel of the arrival figure (figures.ArrivalPanel): the median-delay
    repetition's packets, relative to its layer-2 handoff start; None without a media file."""
    from orchestrator.analysis.figures import ArrivalPanel
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


def write_figures(run_dir: str | Path) -> dict[str, Path]:
    """figures/: fig7_arrivals (MPA scenarios, ms) and fig7_arrivals_non-mpa (s), one per
    configuration (suffixed when there are several), fig7_delay, and the ladders."""
    from orchestrator.analysis import figures
    run_dir = Path(run_dir)
    out_dir = run_dir / "figures"
    df, spec = tables.load_records(run_dir), tables.read_spec(run_dir)
    scen = scenarios(df, spec)
    confs = configurations(df)
    paths: list[Path] = []
    for conf in confs:
        suffix = f"-{_slug(conf)}" if len(confs) > 1 else ""
        where = f" [{conf}]" if len(confs) > 1 else ""
        mpa = [p for s in scen if s.mpa and (p := arrival_panel(df, run_dir, conf, s))]
        non = [p for s in scen if not s.mpa and (p := arrival_panel(df, run_dir, conf, s))]
        if mpa:
            paths += figures.fig7_arrivals(mpa, _of(df, conf), out_dir / f"fig7_arrivals{suffix}",
                                           title=f"MPA handovers{where}")
        if non:
            paths += figures.fig7_arrivals(non, _of(df, conf),
                                           out_dir / f"fig7_arrivals_non-mpa{suffix}",
                                           title=f"non-MPA handover{where}", seconds=True)
    groups = []
    ref = rfc_values()
    for conf in confs:
        cdf = _of(df, conf)
        for s in scen:
            rows = cdf[(cdf["scenario"] == s.name) & (cdf["status"] == "ok")].assign(v_=_values)
            groups.append(figures.DelayGroup(
                s.title + (f"\n{conf}" if len(confs) > 1 else ""), s.mpa,
                rows.loc[rows["phase"] == "handover_delay", "v_"].dropna().to_list(),
                rows.loc[rows["phase"] == "packet_loss", "v_"].dropna().to_list(),
                getattr(ref.get((s.case, "handover_delay")), "value", None),
                getattr(ref.get((s.case, "packet_loss")), "value", None)))
    paths += figures.fig7_delay(groups, df, out_dir / "fig7_delay")
    paths += figures.write_ladders(run_dir, out_dir, figure="Figure 7")
    return {str(p.relative_to(out_dir)): p for p in paths}


def key_numbers(df: pd.DataFrame, spec: dict | None = None) -> list[str]:
    """Markdown lines for results/summary.md: per scenario the median handover delay and
    packets lost, and the non-MPA / MPA ratio beside the RFC's."""
    scen = scenarios(df, spec)
    out = []
    for conf in configurations(df):
        cdf = _of(df, conf)
        where = f" [{conf}]" if len(configurations(df)) > 1 else ""
        out.append(f"- Handover delay (median, ms){where}: " + "; ".join(
            f"{s.title} {_num(_median(cdf, s.name, 'handover_delay'))}" for s in scen)
            + ". Packets lost (median): " + "; ".join(
            f"{s.title} {_num(_median(cdf, s.name, 'packet_loss'))}" for s in scen) + ".")
    rat = ratios(df, spec)
    for r in rat.itertuples() if len(rat) and rat["nonmpa_scenario"].astype(bool).any() else ():
        where = f" [{r.configuration}]" if len(configurations(df)) > 1 else ""
        out.append(f"- non-MPA / {r.mpa_scenario}{where}: {_num(r.ratio)} (RFC {_num(r.rfc_ratio)}).")
    return out
