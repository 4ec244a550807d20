"""RFC 6252 Appendix C.5.1: Figure 6 ("Mobile IPv6 with MPA Results") and the non-MPA Mobile
IPv6 handover, for runs whose experiment declares `reference: {table: rfc6252_fig6, columns:
{<RFC case>: <scenario(s)>}}` (experiments/fig6.yaml): the table beside the RFC's four
columns, the non-MPA handover beside them, the checks in the RFC's words and one figure.

The RFC's cases: buffering-{disabled,enabled}-ro-{disabled,enabled} (Figure 6) and non-mpa
(C.5.1's prose after Figures 6 and 7: "an average of 4 seconds ... about 200 packets").

Registers:
  tables   fig6_beside_rfc.csv and .md
  checks   (a) with buffering no packet is lost; (b) route optimization makes no significant
           difference (per buffering setting: median handover delays within one packet
           interval, mean losses within one packet); (c) the non-MPA handover loses packets
           in every repetition; (d) non-MPA is more than ten times slower than MPA; (e)
           tshark dissects the run's captures as Mobile IPv6 (BU, BA, HoTI, CoTI, HoT, CoT,
           HAO, RH2), none malformed
  figures  fig6_handover: handover delay and packet loss per scenario beside the RFC
  readme   the table, the checks; summary: the key numbers

Who does what: experiment/media.py turns the MN's receiver log into the metrics, the runner
writes them as records; this module reads the records and only aggregates, compares and
draws (pure, except the figure and the tshark check).
"""
from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import pandas as pd

from orchestrator.analysis import parameters, reference
from orchestrator.analysis.plots import boxes, caption, plt, save
from orchestrator.analysis.records import (RunData, configurations, failed_repetitions, num,
                                           of, stats, values)
from orchestrator.analysis.reproduction import OK_MARK, Reproduction, check, verdicts
from orchestrator.experiment.media import METRICS

REFERENCE, NONMPA_REFERENCE = "rfc6252_fig6", "rfc6252_nonmpa"
FIG6 = Reproduction(REFERENCE, "RFC 6252 Figure 6 (Mobile IPv6 with MPA) and the non-MPA "
                               "Mobile IPv6 handover (C.5.1)")
CASES = ("buffering-disabled-ro-disabled", "buffering-enabled-ro-disabled",
         "buffering-disabled-ro-enabled", "buffering-enabled-ro-enabled", "non-mpa")
CASE_TITLES = {"buffering-disabled-ro-disabled": "buffering off, RO off",
               "buffering-enabled-ro-disabled": "buffering on, RO off",
               "buffering-disabled-ro-enabled": "buffering off, RO on",
               "buffering-enabled-ro-enabled": "buffering on, RO on", "non-mpa": "non-MPA"}
# the rows: Figure 6's in its order, then ours
ROWS = ("l2_handoff", "l3_handoff", "packet_loss", "inter_packet_interval",
        "inter_packet_during_handover", "jitter", "buffering_period", "buffered_packets",
        "handover_delay", "handover_gap", "arrival_excess", "buffer_held")
EXTRA_LABELS = {"handover_delay": "Handover delay (ms): L2 handoff start -> first packet after",
                "handover_gap": "Largest arrival gap across the handover (ms)",
                "arrival_excess": "Arrival excess (ms): during handover - interval",
                "buffer_held": "Buffer held (ms): the nAR's first held packet -> its flush"}
METRIC = {m.name: m for m in METRICS}
RATIO_MIN = 10.0           # check (d)
MH_TYPES = {1: "HoTI", 2: "CoTI", 3: "HoT", 4: "CoT", 5: "BU", 6: "BA"}


def rfc_values() -> dict[tuple[str, str], tuple[str, float]]:
    """(case, metric) -> (the cell as the RFC prints it, its value; NaN for n/a). Derived
    (marked): handover_delay of the MPA cases = L2 + L3 handoff, arrival_excess = during
    handover - interval (the RFC's "jitter", media.py's note)."""
    out = {}
    for r in reference.load(REFERENCE):
        text = r["value"].strip()
        out[(r["case"], r["metric"])] = (text, math.nan if text == "n/a" else float(text))
    for r in reference.load(NONMPA_REFERENCE):
        if r["case"] == "non-mpa":
            v = float(r["value"]) * (1e3 if r["unit"] == "s" else 1)
            out[("non-mpa", r["metric"])] = (f"~{r['value']} {r['unit']}", v)
    for case in CASES[:4]:
        l2, l3 = out[(case, "l2_handoff")][1], out[(case, "l3_handoff")][1]
        out[(case, "handover_delay")] = (f"{num(l2 + l3)} (L2 + L3)", l2 + l3)
        during, ipi = out[(case, "inter_packet_during_handover")][1], out[(case, "inter_packet_interval")][1]
        if not math.isnan(during):
            out[(case, "arrival_excess")] = (f"{num(during - ipi)} (derived)", during - ipi)
    return out


def compared(run: RunData) -> list[tuple[str, str]]:
    """(scenario, RFC case) of the run's scenarios the experiment maps onto a case, in the
    RFC's column order."""
    ref = run.reference
    if ref is None:
        return []
    names = list(dict.fromkeys(run.records["scenario"])) if len(run.records) else []
    pairs = [(n, ref.column_of(n)) for n in names if ref.column_of(n) in CASES]
    return sorted(pairs, key=lambda p: CASES.index(p[1]))


def _ok_values(df: pd.DataFrame, scenario: str, metric: str) -> pd.Series:
    rows = df[(df["scenario"] == scenario) & (df["phase"] == metric) & (df["status"] == "ok")]
    return values(rows).dropna()


def beside_rfc(run: RunData) -> pd.DataFrame:
    """One row per configuration, metric and compared scenario: n, n_failed, median, min,
    max, mean, and the RFC's cell for the scenario's case."""
    ref, rows = rfc_values(), []
    for conf in configurations(run.records):
        df = of(run.records, conf)
        for metric in ROWS:
            for scenario, case in compared(run):
                s = stats(_ok_values(df, scenario, metric))
                text, value = ref.get((case, metric), ("--", math.nan))
                rows.append({"configuration": conf, "metric": metric,
                             "label": METRIC[metric].rfc_label or EXTRA_LABELS[metric],
                             "unit": METRIC[metric].unit, "scenario": scenario, "case": case,
                             "n": s["n"], "n_failed": failed_repetitions(
                                 df[df["scenario"] == scenario]),
                             **{k: s[k] for k in ("median", "min", "max", "mean")},
                             "rfc": text, "rfc_value": value})
    return pd.DataFrame(rows)


def _cell(r) -> str:
    if not r.n:
        return "--"
    span = "" if r.min == r.max else f" [{num(r.min)}–{num(r.max)}]"
    mean = f", mean {num(r.mean)}" if str(r.label).startswith("Avg.") and r.n > 1 else ""
    return f"{num(r.median)}{span} ({r.n}){mean}"


def beside_markdown(table: pd.DataFrame) -> str:
    """Figure 6's rows, one column pair (measured | RFC) per case."""
    if table.empty:
        return "No scenario of this run is mapped onto Figure 6's cases.\n"
    out = []
    for conf, t in table.groupby("configuration", sort=False):
        pairs = list(dict.fromkeys(zip(t["scenario"], t["case"])))
        out += [f"**{conf}**" if conf else "", "",
                "| | " + " | ".join(f"{s} ({CASE_TITLES[c]}) | RFC" for s, c in pairs) + " |",
                "|---|" + "---|---|" * len(pairs)]
        for metric in ROWS:
            rows = t[t["metric"] == metric]
            label = rows["label"].iloc[0]
            cells = []
            for s, _ in pairs:
                r = next(rows[rows["scenario"] == s].itertuples())
                cells += [_cell(r), r.rfc]
            out.append(f"| {label} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out) + "\n"


TABLE_NOTES = (
    "Measured: median [min–max] (repetitions with status ok); the RFC's *Avg.* rows also "
    "the mean. RFC: Figure 6 as printed; non-MPA: the C.5.1 prose (\"an average of 4 "
    "seconds to complete, with an approximate packet loss of about 200 packets\", said of "
    "the non-MPA handover of both figures); `--`: not reported; *derived*: computed from "
    "printed cells (the RFC's \"Avg. packet jitter\" is its arrival time during handover "
    "minus the 16 ms interval in every column: our arrival excess).",
    "L3 handoff: with Mobile IPv6 the stream always arrives at the home address, so it ends "
    "at the first packet after the layer-2 handoff (experiment/media.py). L2 handoff: the "
    "association (the emulated 4 ms) and the 4-way handshake until the controlled port "
    "opens (with EAP-TLS after the move for non-MPA).")


# --- checks

def _median(df, scenario, metric) -> float:
    v = _ok_values(df, scenario, metric)
    return float(v.median()) if len(v) else math.nan


def _difference(df, a: str, b: str, metric: str, floor: float,
                mean: bool = False) -> tuple[float, float]:
    """(|centre of a - centre of b| (median, or mean), the noise it is compared with: the
    larger of `floor` and the smaller spread (max - min) of a's and b's repetitions)."""
    va, vb = _ok_values(df, a, metric), _ok_values(df, b, metric)
    if not len(va) or not len(vb):
        return math.nan, math.nan
    centre = (lambda v: v.mean()) if mean else (lambda v: v.median())
    spread = min(va.max() - va.min(), vb.max() - vb.min())
    return float(abs(centre(va) - centre(vb))), float(max(floor, spread))


def flush_reasons(run: RunData) -> dict[str, int]:
    """How the nAR's buffers ended, over the run: {reason: count} of `buffering_flushed`
    ("attached": the MN's unsolicited NA; "period expired": the cap ran out first, and what
    it held went onto the link before the MN was there)."""
    out: dict[str, int] = {}
    for e in run.events:
        if e.get("event") == "buffering_flushed":
            reason = str((e.get("attrs") or {}).get("reason"))
            out[reason] = out.get(reason, 0) + 1
    return out


def _checks_at(df: pd.DataFrame, pairs: list[tuple[str, str]], sfx: str,
               flushes: dict[str, int] | None = None) -> list[dict]:
    by_case = {c: s for s, c in pairs}
    out = []
    ended = ("; the nAR's buffers ended: " + ", ".join(f"{n} x {r}" for r, n in flushes.items())
             if flushes else "")
    for case in ("buffering-enabled-ro-disabled", "buffering-enabled-ro-enabled"):
        if case in by_case:
            loss = _ok_values(df, by_case[case], "packet_loss")
            out.append(check("a", f"{CASE_TITLES[case]}: no packet lost{sfx}",
                             float(loss.max()) if len(loss) else math.nan, 0.0,
                             len(loss) > 0 and loss.max() == 0,
                             f"largest loss over {len(loss)} repetitions of {by_case[case]} "
                             f"(C.5.1: buffering eliminates the loss){ended}"))
    for buf in ("disabled", "enabled"):
        off, on = (by_case.get(f"buffering-{buf}-ro-{ro}") for ro in ("disabled", "enabled"))
        if off and on:
            interval = _median(df, off, "inter_packet_interval")
            d, noise = _difference(df, on, off, "handover_delay", interval)
            dl, noise_l = _difference(df, on, off, "packet_loss", 1.0, mean=True)
            out.append(check("b", f"buffering {buf}: route optimization makes no significant "
                             f"difference{sfx}", d, None,
                             None if math.isnan(d) or math.isnan(dl)
                             else d <= noise and dl <= noise_l,
                             f"|median handover delay RO on - off| = {num(d)} ms within "
                             f"{num(noise)} ms, and |mean loss on - off| = {num(dl)} packets "
                             f"within {num(noise_l)}? (within: the larger of one packet "
                             "interval (one packet) and the smaller spread, max - min, of the "
                             f"two scenarios' repetitions: their own noise); {on} vs {off}"))
    non = by_case.get("non-mpa")
    if non:
        loss = _ok_values(df, non, "packet_loss")
        out.append(check("c", f"non-MPA loses packets in every repetition{sfx}",
                         float(loss.min()) if len(loss) else math.nan, 200.0,
                         len(loss) > 0 and loss.min() > 0,
                         f"smallest loss over {len(loss)} repetitions (RFC: about 200 at its "
                         "4 s)"))
        mpa = by_case.get("buffering-disabled-ro-disabled") or next(
            (s for s, c in pairs if c != "non-mpa"), None)
        if mpa:
            ratio = _median(df, non, "handover_delay") / _median(df, mpa, "handover_delay")
            out.append(check("d", f"non-MPA is more than {RATIO_MIN:g} times slower than MPA"
                             f"{sfx}", ratio, 4000.0 / 5.0,
                             None if math.isnan(ratio) else ratio > RATIO_MIN,
                             f"median handover delay {non} / {mpa} (RFC: 4 s / (4 + 1) ms)"))
    return out


@FIG6.checks
def checks(run: RunData, captures: bool = True) -> list[dict]:
    pairs, confs = compared(run), configurations(run.records)
    out, flushes = [], flush_reasons(run)
    for conf in confs:
        out += _checks_at(of(run.records, conf), pairs, f" [{conf}]" if len(confs) > 1 else "",
                          flushes)
    if captures and pairs:
        out.append(capture_check(run.dir))
    return out


def tshark_mipv6(pcap: Path) -> dict | None:
    """{types: MH types seen, hao, rh2, malformed} of one capture, None without tshark."""
    if shutil.which("tshark") is None:
        return None
    r = subprocess.run(["tshark", "-n", "-r", str(pcap), "-T", "fields", "-E", "separator=|",
                        "-e", "mip6.mhtype", "-e", "ipv6.opt.mipv6.home_address",
                        "-e", "ipv6.routing.type", "-e", "_ws.malformed",
                        "-e", "_ws.expert.severity"], capture_output=True, text=True,
                       timeout=300)
    if r.returncode != 0:
        return None
    rows = [line.split("|") for line in r.stdout.splitlines() if line]
    return {"types": {int(t) for row in rows for t in row[0].split(",") if t.isdigit()},
            "hao": sum(bool(row[1]) for row in rows),
            "rh2": sum("2" in row[2].split(",") for row in rows),
            "malformed": sum(bool(row[3]) or str(0x00800000) in row[4].split(",")
                             for row in rows)}


def capture_check(run_dir: Path) -> dict:
    """(e) over every capture of the run."""
    name = "tshark dissects BU, BA, HoTI, CoTI, HoT, CoT, HAO and RH2 in the captures, none malformed"
    counts = {p: tshark_mipv6(p) for p in sorted((Path(run_dir) / "pcaps").rglob("*.pcap"))}
    done = {p: c for p, c in counts.items() if c is not None}
    if not done:
        return check("e", name, None, None, None, "no capture, or no tshark, to read")
    types = set().union(*(c["types"] for c in done.values()))
    hao, rh2 = sum(c["hao"] for c in done.values()), sum(c["rh2"] for c in done.values())
    bad = sum(c["malformed"] for c in done.values())
    missing = [MH_TYPES[t] for t in MH_TYPES if t not in types]
    return check("e", name, bad, None, bad == 0 and not missing and hao > 0 and rh2 > 0,
                 f"malformed frames (measured) in {len(done)} captures; Mobility Header types "
                 f"seen: {', '.join(MH_TYPES[t] for t in sorted(types) if t in MH_TYPES) or 'none'}"
                 + (f" (missing {', '.join(missing)})" if missing else "")
                 + f"; {hao} packets with a Home Address option, {rh2} with a type 2 routing "
                 "header")


CHECKS_INTRO = ("(a) buffering eliminates the loss; (b) route optimization makes no "
                "significant difference; (c) non-MPA loses packets; (d) non-MPA is more than "
                "ten times slower; (e) the captures dissect as valid Mobile IPv6.")
FIG6.intro, FIG6.number_format = CHECKS_INTRO, lambda v: num(v, missing="n/a")


# --- files

@FIG6.tables
def tables(run: RunData) -> dict:
    table = beside_rfc(run)
    md = ("# Emulated parameters (RFC 6252 Figure 6 reproduction)\n\n" + parameters.markdown(run)
          + "\n# RFC 6252 Figure 6 beside this run\n\n"
          + f"{reference.citation(REFERENCE)}; {reference.citation(NONMPA_REFERENCE)}.\n\n"
          + beside_markdown(table) + "\n" + "\n\n".join(TABLE_NOTES) + "\n")
    return {"fig6_beside_rfc.csv": table, "fig6_beside_rfc.md": md}


@FIG6.readme
def readme(run: RunData, checks_: list[dict]) -> list[str]:
    lines = ["## RFC 6252 Figure 6 beside this run", "",
             f"{reference.citation(REFERENCE)}; {reference.citation(NONMPA_REFERENCE)}. "
             "Every cell of [tables/fig6_beside_rfc.csv](tables/fig6_beside_rfc.csv).", "",
             beside_markdown(beside_rfc(run)),
             *(line for note in TABLE_NOTES for line in (note, "")),
             f"## Must-show checks: {verdicts(checks_)}", "",
             "See [tables/checks.md](tables/checks.md) for how each is computed.", ""]
    return lines + [f"- {OK_MARK[c['ok']]}: ({c['id']}) {c['check']}" for c in checks_]


@FIG6.summary
def summary(run: RunData, checks_: list[dict]) -> list[str]:
    failed = [f"({c['id']}) {c['check']}" for c in checks_ if c["ok"] is False]
    lines = [f"RFC 6252 Figure 6 (Mobile IPv6 with MPA) and the non-MPA Mobile IPv6 handover "
             f"(C.5.1). Must-show checks: {verdicts(checks_)}"
             + (f"; failed: {'; '.join(failed)}" if failed else "") + ".", ""]
    table = beside_rfc(run)
    for metric in ("handover_delay", "packet_loss"):
        rows = table[table["metric"] == metric]
        lines.append(f"- {EXTRA_LABELS.get(metric, METRIC[metric].rfc_label)}: " + "; ".join(
            f"{r.scenario} {num(r.median)} (RFC {r.rfc})" for r in rows.itertuples()))
    return lines + ["", "[Figure 6 beside the RFC](tables/fig6_beside_rfc.md)"]


COLORS = {"non-mpa": "#d62728"}


@FIG6.figures
def figures(run: RunData, out_dir: Path) -> list[Path]:
    """fig6_handover[_<conf>]: handover delay (log scale) and packet loss per scenario, the
    RFC's value as a black bar."""
    pairs, ref, paths = compared(run), rfc_values(), []
    confs = configurations(run.records)
    for conf in confs:
        df = of(run.records, conf)
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
        for ax, metric, unit in ((axes[0], "handover_delay", "ms"),
                                 (axes[1], "packet_loss", "packets")):
            groups = [(CASE_TITLES[c].replace("buffering", "buf.").replace(", ", "\n"),
                       list(_ok_values(df, s, metric)),
                       COLORS.get(c, "#2ca02c")) for s, c in pairs]
            boxes(ax, groups, reference=[ref.get((c, metric), ("", math.nan))[1]
                                         for _, c in pairs])
            ax.set_xticklabels([g[0] for g in groups], fontsize=9)
            ax.set_ylabel(f"{metric.replace('_', ' ')} ({unit})")
            if metric == "handover_delay":
                ax.set_yscale("log")
        fig.subplots_adjust(bottom=0.2)
        fig.suptitle("RFC 6252 Figure 6: Mobile IPv6 with MPA and the non-MPA handover"
                     + (f" [{conf}]" if len(confs) > 1 else ""))
        caption(fig, "Points: repetitions; black bars: the RFC (MPA: L2 + L3 handoff; "
                "non-MPA: its ~4 s and ~200 packets). " + parameters.caption(run))
        suffix = f"_{conf}" if len(confs) > 1 else ""
        paths += save(fig, out_dir / f"fig6_handover{suffix}")
    return paths
