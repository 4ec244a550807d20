"""A run's report (tables + figures + README.md) and the index of the latest run of every
experiment (results/summary.md). No root, no Mininet: records in, markdown and images out.
A run whose spec names the reference rfc6252_fig7 (fig7.is_fig7) is reported as RFC 6252
Figure 7 and the non-MPA baseline (C.5.1); every other run as Figure 10 (C.5.3).

    python -m orchestrator.analysis.report results/fig10/20261201-120000
    python -m orchestrator.analysis.report results/fig7/20261201-120000
    python -m orchestrator.analysis.report --all [--results results]
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

from orchestrator.analysis import fig7, figures, reference, tables

RECORDS = ("records.parquet", "records.csv")


def _verdicts(checks: list[dict]) -> str:
    ok = sum(c["ok"] is True for c in checks)
    bad = sum(c["ok"] is False for c in checks)
    na = sum(c["ok"] is None for c in checks)
    return f"{ok} ok, {bad} failed" + (f", {na} not measured" if na else "")


def _figure_links(fig: dict[str, Path], run_dir: Path, prefix: str = "") -> list[str]:
    """Markdown: every PNG embedded, with its SVG linked."""
    lines = []
    for name in sorted(k for k in fig if k.endswith(".png") and not k.startswith("ladder/")):
        rel = fig[name].relative_to(run_dir).as_posix()
        lines += [f"![{name[:-4]}]({prefix}{rel})", f"([SVG]({prefix}{rel[:-4]}.svg))", ""]
    return lines


def _fig7_readme(run_dir: Path, df, spec: dict) -> list[str]:
    exp = tables.spec_experiment(spec)
    scen = fig7.scenarios(df, spec)
    checks = fig7.checks(df, spec, run_dir)
    lines = [f"# {exp.get('name', run_dir.parent.name)}, run {run_dir.name}: RFC 6252 Figure 7 "
             "(SIP mobility with MPA) and the non-MPA baseline", ""]
    if exp.get("description"):
        lines += [str(exp["description"]).strip(), ""]
    lines += ["## Emulated parameters", "", tables.parameters_markdown(df, spec),
              fig7.scenarios_markdown(scen),
              "## RFC 6252 Figure 7 beside this run", "",
              f"{reference.citation(fig7.REFERENCE)}; "
              f"{reference.citation(fig7.NONMPA_REFERENCE)}. Per scenario: measured "
              "(median [min–max] (n)) and the RFC's value; mean, min, max of every cell in "
              "[tables/fig7_beside_rfc.csv](tables/fig7_beside_rfc.csv).", "",
              fig7.fig7_markdown(fig7.beside_rfc(df, spec), scen),
              *(line for note in fig7.TABLE_NOTES for line in (note, "")),
              "## Non-MPA against MPA", "", fig7.ratios_markdown(fig7.ratios(df, spec), scen),
              f"## Must-show checks: {fig7.verdicts(checks)}", "",
              "See [tables/checks.md](tables/checks.md) for how each is computed.", ""]
    lines += [f"- {fig7.OK_MARK[c['ok']]}: ({c['id']}) {c['check']}" for c in checks]
    lines += ["", "## Phase durations (events)", "",
              fig7.phases_markdown(fig7.phases_table(df, spec), scen)]
    return lines


def _fig10_readme(run_dir: Path, df, spec: dict) -> list[str]:
    exp = tables.spec_experiment(spec)
    checks = tables.structure_checks(df)
    lines = [f"# {exp.get('name', run_dir.parent.name)}, run {run_dir.name}: RFC 6252 Figure 10",
             ""]
    if exp.get("description"):
        lines += [str(exp["description"]).strip(), ""]
    lines += ["## Emulated parameters", "", tables.parameters_markdown(df, spec),
              "## RFC 6252 Figure 10 beside this run", "",
              "Measured median over the repetitions with status ok (RFC value), ms; p5-p95 and n "
              "in [tables/fig10_beside_rfc.csv](tables/fig10_beside_rfc.csv).", "",
              tables.fig10_markdown(tables.beside_rfc(df)),
              f"## Structure checks: {_verdicts(checks)}", "",
              "See [tables/checks.md](tables/checks.md).", ""]
    lines += [f"- {'ok' if c['ok'] else 'not measured' if c['ok'] is None else '**FAIL**'}: "
              f"{c['check']}" for c in checks]
    lines.append("")
    return lines


def report(run_dir: str | Path) -> dict[str, Path]:
    """tables/, figures/ and README.md of one run directory (Figure 7 or Figure 10)."""
    run_dir = Path(run_dir)
    df, spec = tables.load_records(run_dir), tables.read_spec(run_dir)
    if fig7.is_fig7(spec, df):
        tab, fig = fig7.write_tables(run_dir), fig7.write_figures(run_dir)
        lines = _fig7_readme(run_dir, df, spec)
    else:
        tab, fig = tables.write_tables(run_dir), figures.write_figures(run_dir)
        lines = _fig10_readme(run_dir, df, spec)
    lines += ["## Figures", ""] + _figure_links(fig, run_dir)
    ladders = sorted(k for k in fig if k.startswith("ladder/") and k.endswith(".png"))
    if ladders:
        lines += ["## Ladders (one handover per configuration and scenario, repetition 1)", ""]
        lines += [f"- [{k.removeprefix('ladder/').removesuffix('.png').replace('--', ' / ')}]"
                  f"(figures/{k}) ([SVG](figures/{k[:-4]}.svg))" for k in ladders]
        lines.append("")
    lines += ["## Files", ""]
    lines += [f"- [{p.relative_to(run_dir).as_posix()}]({p.relative_to(run_dir).as_posix()})"
              for p in tab.values()]
    lines += [f"- [{n}]({n})" for n in ("spec.yaml", *RECORDS, "events.jsonl")
              if (run_dir / n).exists()]
    readme = run_dir / "README.md"
    readme.write_text("\n".join(lines) + "\n")
    return {**{f"tables/{k}": v for k, v in tab.items()},
            **{f"figures/{k}": v for k, v in fig.items()}, "README.md": readme}


def run_time(run_dir: Path) -> float:
    """When a run was made: the YYYYmmdd-HHMMSS in its id, else its records' mtime."""
    m = re.search(r"(\d{8})-?(\d{6})", run_dir.name)
    if m:
        try:
            return time.mktime(time.strptime(m.group(1) + m.group(2), "%Y%m%d%H%M%S"))
        except ValueError:
            pass
    rec = next((run_dir / n for n in RECORDS if (run_dir / n).exists()), run_dir)
    return rec.stat().st_mtime


def latest_runs(results_root: str | Path) -> list[Path]:
    """The latest run directory of every experiment under results_root, newest first."""
    root = Path(results_root)
    runs = {p.parent for n in RECORDS for p in root.glob(f"*/*/{n}")}
    latest: dict[str, Path] = {}
    for run in runs:
        exp = run.parent.name
        if exp not in latest or (run_time(run), run.name) > (run_time(latest[exp]), latest[exp].name):
            latest[exp] = run
    return sorted(latest.values(), key=lambda r: (run_time(r), r.name), reverse=True)


def summary(results_root: str | Path) -> Path:
    """results/summary.md: the latest run of every experiment, newest first, with its
    tables, figures and the verdicts of the RFC's structure checks."""
    root = Path(results_root)
    lines = ["# Results: latest run of every experiment (newest first)", "",
             "Regenerate with `python -m orchestrator.analysis.report --all` (`make report`).", ""]
    runs = latest_runs(root)
    if not runs:
        lines.append("No experiment runs yet (results/<experiment>/<run-id>/records.csv).")
    for run in runs:
        rel = run.relative_to(root).as_posix()
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run_time(run)))
        df, spec = tables.load_records(run), tables.read_spec(run)
        is7 = fig7.is_fig7(spec, df)
        lines += [f"## {run.parent.name}: run {run.name} ({when})", ""]
        if is7:
            checks = fig7.checks(df, spec, run)
            failed = [f"({c['id']}) {c['check']}" for c in checks if c["ok"] is False]
            lines += [f"RFC 6252 Figure 7 and the non-MPA baseline (C.5.1). Must-show checks: "
                      f"{fig7.verdicts(checks)}" + (f"; failed: {'; '.join(failed)}" if failed
                                                    else "") + ".", "",
                      *fig7.key_numbers(df, spec), ""]
            links = [("report", "README.md"), ("Figure 7 beside the RFC", "tables/fig7_beside_rfc.md"),
                     ("checks", "tables/checks.md"), ("parameters", "tables/parameters.md"),
                     ("fig7_beside_rfc.csv", "tables/fig7_beside_rfc.csv")]
        else:
            lines += [f"Structure checks: {_verdicts(tables.structure_checks(df))}.", ""]
            links = [("report", "README.md"), ("Figure 10 beside the RFC", "tables/fig10_beside_rfc.md"),
                     ("checks", "tables/checks.md"), ("parameters", "tables/parameters.md"),
                     ("summary.csv", "tables/summary.csv")]
        present = [f"[{t}]({rel}/{p})" for t, p in links if (run / p).exists()]
        lines.append(" · ".join(present) if present else
                     f"(no report yet: `python -m orchestrator.analysis.report {rel}`)")
        lines.append("")
        for png in sorted((run / "figures").glob("fig7_*.png" if is7 else "fig10_*.png")):
            lines += [f"![{png.stem}]({rel}/figures/{png.name})", ""]
        ladders = sorted((run / "figures" / "ladder").glob("*.png"))
        if ladders:
            lines.append("Ladders: " + ", ".join(
                f"[{p.stem.replace('--', ' / ')}]({rel}/figures/ladder/{p.name})" for p in ladders))
            lines.append("")
    out = root / "summary.md"
    out.write_text("\n".join(lines) + "\n")
    return out


def report_all(results_root: str | Path) -> Path:
    """report() the latest run of every experiment, then summary(): what `make report` does."""
    for run in latest_runs(results_root):
        report(run)
    return summary(results_root)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m orchestrator.analysis.report",
                                description="tables, figures and README.md of experiment runs")
    p.add_argument("run_dir", nargs="*", help="results/<experiment>/<run-id>")
    p.add_argument("--all", action="store_true",
                   help="report the latest run of every experiment, then write summary.md")
    p.add_argument("--results", default="results", help="results root for --all (default: results)")
    a = p.parse_args(argv)
    if not a.run_dir and not a.all:
        p.error("give a run directory or --all")
    for run in map(Path, a.run_dir):
        if not any((run / n).exists() for n in RECORDS):
            print(f"{run}: no records.parquet or records.csv (is this a run directory?)",
                  file=sys.stderr)
            return 1
        print(report(run)["README.md"])
    if a.all:
        print(report_all(a.results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
