"""A run's report (tables + figures + README.md) and the index of the latest run of every
experiment (results/summary.md). No root, no Mininet: records in, markdown and images out.

Every run gets the generic report (analysis/generic.py: emulated values, statistics of every
phase per configuration x scenario, retransmissions, distributions, ladders, events and
captures). A run whose experiment declares `reference:` gets, in addition, what the
reproduction registered for that table adds (analysis/reproductions/: its tables, checks,
figures and README sections); without one there is no RFC column, and the README says so.

    python -m orchestrator.analysis.report results/fig10/20261201-120000
    python -m orchestrator.analysis.report --all [--results results]
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

from orchestrator.analysis import concurrency, generic, parameters, reproduction
from orchestrator.analysis.records import RECORDS, RunData


def _natural_name(p: Path) -> tuple:
    """'x-delay=20ms' before 'x-delay=150ms': numbers compared as numbers."""
    return tuple((0, int(t), "") if t.isdigit() else (1, 0, t)
                 for t in re.split(r"(\d+)", p.name))


def _figure_links(paths: list[Path], run_dir: Path) -> list[str]:
    """Markdown: every PNG except the ladders embedded, with its SVG linked."""
    lines = []
    for p in sorted((p for p in paths if p.suffix == ".png" and "ladder" not in p.parts),
                    key=lambda p: (not p.name.startswith("distribution"), _natural_name(p))):
        rel = p.relative_to(run_dir).as_posix()
        lines += [f"![{p.stem}]({rel})", f"([SVG]({rel[:-4]}.svg))", ""]
    return lines


def _no_reference(run: RunData) -> list[str]:
    ref = run.experiment.get("reference")
    if ref and run.reference is not None:
        return ["## RFC comparison", "",
                f"The experiment names `{run.reference.table}`, which no reproduction module "
                "registers (orchestrator/analysis/reproductions/): no RFC column.", ""]
    return ["## RFC comparison", "",
            "None: the experiment declares no `reference:`, so nothing here is set beside the "
            "RFC's numbers. To put a configuration beside one of the RFC's columns, add e.g. "
            "`reference: {table: rfc6252_fig10, columns: {roaming: <configuration>}}` to the "
            "experiment file.", ""]


def report(run_dir: str | Path) -> dict[str, Path]:
    """tables/, figures/ and README.md of one run directory."""
    run = RunData.load(run_dir)
    run_dir = run.dir
    tables_dir, figures_dir = run_dir / "tables", run_dir / "figures"
    tab = generic.write_tables(run, tables_dir)
    figs = generic.write_figures(run, figures_dir)
    crowd = concurrency.write_tables(run, tables_dir)     # scenarios with many MNs at once
    tab.update(crowd)
    figs += concurrency.write_figures(run, figures_dir) if crowd else []
    repro = reproduction.for_run(run)
    checks: list[dict] = []
    title = ""
    if repro is not None:
        tab.update(repro.write_tables(run, tables_dir))
        checks = repro.run_checks(run)
        tab["checks.md"] = tables_dir / "checks.md"
        tab["checks.md"].write_text(reproduction.checks_markdown(
            repro.title, repro.intro, checks, repro.number_format))
        figs += repro.write_figures(run, figures_dir)
        title = f": {repro.title}"
    exp = run.experiment
    lines = [f"# {run.name}, run {run_dir.name}{title}", ""]
    if exp.get("description"):
        lines += [str(exp["description"]).strip(), ""]
    lines += ["## Emulated parameters", "", parameters.markdown(run)]
    lines += repro.readme_lines(run, checks) if repro is not None else _no_reference(run)
    reps = generic.repetitions(run.records)
    lines += ["## Measured: every phase per configuration and scenario", "",
              generic.statistics_markdown(generic.statistics(run.records, run.spec), reps, "tables/"),
              "## Retransmissions", "",
              "A repetition in which a timer fired (any event named `*_retransmitted`) measured "
              "that timeout, not the ordinary exchange.", "",
              generic.retransmissions_markdown(reps)]
    if crowd:
        lines += ["## Concurrent handovers: percentiles over MNs", "",
                  concurrency.markdown(concurrency.percentiles(run.records))]
    lines += ["## Figures", ""] + _figure_links(figs, run_dir)
    ladders = sorted(p for p in figs if p.suffix == ".png" and "ladder" in p.parts)
    if ladders:
        lines += ["## Ladders (one handover per configuration and scenario, repetition 1)", ""]
        lines += [f"- [{p.stem.replace('--', ' / ')}]({p.relative_to(run_dir).as_posix()}) "
                  f"([SVG]({p.relative_to(run_dir).as_posix()[:-4]}.svg))" for p in ladders]
        lines.append("")
    lines += ["## Files", ""]
    lines += [f"- [{p.relative_to(run_dir).as_posix()}]({p.relative_to(run_dir).as_posix()})"
              for p in tab.values()]
    lines += [f"- [{n}]({n})" for n in ("spec.yaml", *RECORDS, "events.jsonl")
              if (run_dir / n).exists()]
    for d, what in (("pcaps", "captures of each configuration"),
                    ("ladder", "each ladder's events, captures and lanes"),
                    ("media", "RTP arrivals of each repetition"),
                    ("testbeds", "each testbed's events and daemon logs")):
        if (run_dir / d).is_dir():
            lines.append(f"- [{d}/]({d}/): {what}")
    readme = run_dir / "README.md"
    readme.write_text("\n".join(lines) + "\n")
    return {**{f"tables/{k}": v for k, v in tab.items()},
            **{str(p.relative_to(run_dir)): p for p in figs}, "README.md": readme}


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


def _relink(line: str, rel: str) -> str:
    """A run-relative markdown link made relative to the results root."""
    return re.sub(r"\]\((?!https?:|/)([^)]+)\)", lambda m: f"]({rel}/{m.group(1)})", line)


def summary(results_root: str | Path) -> Path:
    """results/summary.md: the latest run of every experiment, newest first, with its
    report, its reproduction's verdicts and key numbers, and its figures."""
    root = Path(results_root)
    lines = ["# Results: latest run of every experiment (newest first)", "",
             "Regenerate with `python -m orchestrator.analysis.report --all` (`make report`).", ""]
    runs = latest_runs(root)
    if not runs:
        lines.append("No experiment runs yet (results/<experiment>/<run-id>/records.csv).")
    for run_dir in runs:
        rel = run_dir.relative_to(root).as_posix()
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run_time(run_dir)))
        run = RunData.load(run_dir)
        repro = reproduction.for_run(run)
        lines += [f"## {run_dir.parent.name}: run {run_dir.name} ({when})", ""]
        if repro is not None:
            lines += [_relink(line, rel) for line in repro.summary_lines(run, repro.run_checks(run))]
        else:
            lines.append("No RFC comparison declared (`reference:`).")
        links = [("report", "README.md"), ("statistics", "tables/statistics.md"),
                 ("parameters", "tables/parameters.md"), ("checks", "tables/checks.md")]
        present = [f"[{t}]({rel}/{p})" for t, p in links if (run_dir / p).exists()]
        lines += ["", " · ".join(present) if present else
                  f"(no report yet: `python -m orchestrator.analysis.report {rel}`)", ""]
        # the run's figures; of a sweep, those over all its points, not each point's
        pngs = sorted((run_dir / "figures").glob("*.png"), key=_natural_name)
        whole = [p for p in pngs if "=" not in p.name]
        for png in sorted(whole, key=lambda p: p.name.startswith("distribution")):
            lines += [f"![{png.stem}]({rel}/figures/{png.name})", ""]
        if len(whole) < len(pngs):
            lines += [f"{len(pngs) - len(whole)} more figures, one per sweep point: "
                      f"see the [report]({rel}/README.md)", ""]
        ladders = sorted((run_dir / "figures" / "ladder").glob("*.png"), key=_natural_name)
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
