"""RFC reproductions as plug-ins of the report: each is one module of
`orchestrator/analysis/reproductions/` that registers what it adds for runs compared with its
reference table, as flows are registered in experiment/scenarios.py.

A run is compared with the RFC only where its experiment says so (`reference:`; the mapping
is `run.reference`, records.Reference). The generic report (analysis/generic.py) serves every
run; for a run whose `reference.table` a reproduction registered, report.py adds that
reproduction's tables, checks, figures and README sections.

Registering a reproduction (a new module, no edit anywhere else; it imports this module and
records/parameters/plots/ladder, never a sibling reproduction)::

    from orchestrator.analysis.reproduction import Reproduction, check

    FIG6 = Reproduction("rfc6252_fig6", "RFC 6252 Figure 6 (C.5.1, Mobile IPv6 with MPA)")

    @FIG6.tables
    def tables(run) -> dict[str, pd.DataFrame | str]:     # file name -> CSV frame or markdown
        ...

    @FIG6.checks
    def checks(run) -> list[dict]:                          # check(...) rows, ok None = not measured
        ...

    @FIG6.figures
    def figures(run, out_dir: Path) -> list[Path]:          # PNG and SVG under out_dir
        ...

    @FIG6.readme
    def readme(run, checks: list[dict]) -> list[str]:       # markdown lines of its README section
        ...

    @FIG6.summary
    def summary(run, checks: list[dict]) -> list[str]:      # lines for results/summary.md
        ...

`registered()` imports every module of the package, so dropping a file there is enough. The
reproduction's checks are written to tables/checks.md by report.py (`checks_markdown`).
"""
from __future__ import annotations

import importlib
import math
import pkgutil
from pathlib import Path
from typing import Callable

import pandas as pd

REPRODUCTIONS: dict[str, "Reproduction"] = {}
OK_MARK = {True: "✔ ok", False: "✘ **FAIL**", None: "– not measured"}


class Reproduction:
    """What one RFC reproduction adds to the report of a run compared with `table`."""

    def __init__(self, table: str, title: str, intro: str = ""):
        if table in REPRODUCTIONS:
            raise ValueError(f"reference table {table} is already reproduced by "
                             f"{REPRODUCTIONS[table].title}")
        self.table, self.title, self.intro = table, title, intro
        self.number_format: Callable | None = None    # of measured/RFC in checks.md
        self._tables: list[Callable] = []
        self._checks: list[Callable] = []
        self._figures: list[Callable] = []
        self._readme: list[Callable] = []
        self._summary: list[Callable] = []
        REPRODUCTIONS[table] = self

    # -- registration (decorators return the function unchanged)
    def tables(self, fn: Callable) -> Callable:
        self._tables.append(fn)
        return fn

    def checks(self, fn: Callable) -> Callable:
        self._checks.append(fn)
        return fn

    def figures(self, fn: Callable) -> Callable:
        self._figures.append(fn)
        return fn

    def readme(self, fn: Callable) -> Callable:
        self._readme.append(fn)
        return fn

    def summary(self, fn: Callable) -> Callable:
        self._summary.append(fn)
        return fn

    # -- use (report.py)
    def run_checks(self, run) -> list[dict]:
        return [c for fn in self._checks for c in fn(run)]

    def write_tables(self, run, out_dir: Path) -> dict[str, Path]:
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = {}
        for fn in self._tables:
            for name, content in fn(run).items():
                path = out_dir / name
                if isinstance(content, pd.DataFrame):
                    content.to_csv(path, index=False, float_format="%.3f")
                else:
                    path.write_text(content)
                paths[name] = path
        return paths

    def write_figures(self, run, out_dir: Path) -> list[Path]:
        return [p for fn in self._figures for p in fn(run, out_dir)]

    def readme_lines(self, run, checks: list[dict]) -> list[str]:
        return [line for fn in self._readme for line in fn(run, checks)]

    def summary_lines(self, run, checks: list[dict]) -> list[str]:
        return [line for fn in self._summary for line in fn(run, checks)]


def registered() -> dict[str, Reproduction]:
    """Every reproduction of orchestrator/analysis/reproductions/, by reference table."""
    from orchestrator.analysis import reproductions
    for mod in pkgutil.iter_modules(reproductions.__path__):
        importlib.import_module(f"{reproductions.__name__}.{mod.name}")
    return REPRODUCTIONS


def for_run(run) -> Reproduction | None:
    """The reproduction of the run's declared reference table, if one is registered."""
    if run.reference is None:
        return None
    return registered().get(run.reference.table)


# -- checks: the RFC's claims as verdicts

def check(cid: str, name: str, measured, rfc, ok, explanation: str) -> dict:
    """{id, check, measured, rfc, ok, explanation}; ok None = not measured (a NaN measurement
    is never a verdict)."""
    if isinstance(measured, float) and math.isnan(measured):
        ok = None
    return {"id": cid, "check": name, "measured": measured, "rfc": rfc,
            "ok": None if ok is None else bool(ok), "explanation": explanation}


def checks_list(checks: list[dict]) -> list[str]:
    """A README's list of checks: one `- ok|not measured|**FAIL**: <check>` line each."""
    return [f"- {'ok' if c['ok'] else 'not measured' if c['ok'] is None else '**FAIL**'}: "
            f"{c['check']}" for c in checks]


def checks_section(checks: list[dict], heading: str = "Checks") -> list[str]:
    """A README's checks section: the verdicts, the link to tables/checks.md, the list."""
    return [f"## {heading}: {verdicts(checks)}", "", "See [tables/checks.md](tables/checks.md).",
            "", *checks_list(checks), ""]


def verdicts(checks: list[dict]) -> str:
    good = sum(c["ok"] is True for c in checks)
    bad = sum(c["ok"] is False for c in checks)
    na = sum(c["ok"] is None for c in checks)
    return f"{good} ok, {bad} failed" + (f", {na} not measured" if na else "")


def checks_markdown(title: str, intro: str, checks: list[dict], fmt=None) -> str:
    """tables/checks.md: one row per check with its verdict and how it is computed."""
    def num(v) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "n/a"
        return fmt(v) if fmt else f"{v:.2f}"
    lines = [f"# {title}: what the RFC shows, checked on this run", ""]
    if intro:
        lines += [intro, ""]
    lines += ["| | check | measured | RFC | verdict | how |", "|---|---|---|---|---|---|"]
    lines += [f"| {'(' + c['id'] + ')' if c.get('id') else ''} | {c['check']} | "
              f"{num(c['measured'])} | {num(c['rfc'])} | {OK_MARK[c['ok']]} | "
              f"{c['explanation']} |" for c in checks]
    if not checks:
        lines.append("| | no check applies to the configurations and scenarios this run maps "
                     "onto the RFC's columns | | | | |")
    return "\n".join(lines) + "\n"
