"""A run directory as the analysis sees it: records, spec, events, the declared RFC mapping.

The runner (experiment/runner.py) writes `results/<experiment>/<run-id>/`: records.parquet
(or records.csv; one row per repetition and phase or metric), spec.yaml (the resolved
experiment), events.jsonl. `RunData.load` reads them once; everything else in this module is
a pure helper over the records frame shared by the generic report and every reproduction:
values and statistics, sweep points, configurations, the declared `reference:` mapping.
Records of older runs are normalised on load (`roaming` was the base configuration; `ms`
was the only value column).
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd
import yaml

from orchestrator.analysis import reference as references

RECORDS = ("records.parquet", "records.csv")
PARAM = "param:"
STATS = ("n", "mean", "median", "p5", "p95", "std", "min", "max")


# --- files

def load_records(run_dir: str | Path) -> pd.DataFrame:
    """The run's records: records.parquet if present, else records.csv."""
    run_dir = Path(run_dir)
    if (run_dir / "records.parquet").exists():
        df = pd.read_parquet(run_dir / "records.parquet")
    elif (run_dir / "records.csv").exists():
        df = pd.read_csv(run_dir / "records.csv",
                         dtype={c: str for c in ("status", "phase", "retransmitted", "error")})
    else:
        raise FileNotFoundError(f"{run_dir}: no records.parquet or records.csv (did the run finish?)")
    return normalise(df)


def normalise(df: pd.DataFrame) -> pd.DataFrame:
    """Records of any runner version in today's columns: base_configuration (older runs
    called it `roaming`), value and unit (older runs had only `ms`)."""
    df = df.copy()
    if "configuration" not in df.columns:
        df["configuration"] = ""
    if "base_configuration" not in df.columns:
        df["base_configuration"] = (df["roaming"] if "roaming" in df.columns
                                    else df["configuration"].astype(str).str.split("/").str[0])
    if "value" not in df.columns:
        df["value"] = df["ms"] if "ms" in df.columns else math.nan
    if "unit" not in df.columns:
        df["unit"] = "ms"
    if "scenario" not in df.columns:
        df["scenario"] = df.get("scheme", "")
    for col in ("repetition", "status", "phase"):
        if col not in df.columns:
            df[col] = 1 if col == "repetition" else "ok" if col == "status" else ""
    return df


def read_spec(run_dir: str | Path) -> dict:
    path = Path(run_dir) / "spec.yaml"
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text()) or {}
    return data if isinstance(data, dict) else {}


def spec_experiment(spec: dict) -> dict:
    """The experiment mapping of spec.yaml, at its top level or under 'experiment'."""
    inner = spec.get("experiment")
    return inner if isinstance(inner, dict) else spec


def read_events(path: str | Path) -> list[dict]:
    """The records of an events.jsonl (a missing file is no events; a broken line is skipped)."""
    path = Path(path)
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        if line.strip():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict):
                out.append(rec)
    return out


# --- the declared comparison with the RFC

@dataclass(frozen=True)
class Reference:
    """`reference:` of the experiment: the RFC table, whether its columns stand beside
    configurations or scenarios, and which of the run's stand beside which column."""
    table: str
    axis: str                                   # "configurations" or "scenarios"
    columns: dict[str, tuple[str, ...]]         # RFC column -> the run's names

    def column_of(self, name: str) -> str | None:
        """The RFC column a configuration (or scenario) is compared with, if any."""
        return next((c for c, names in self.columns.items() if name in names), None)

    def names(self) -> list[str]:
        return [n for names in self.columns.values() for n in names]


def declared_reference(spec: dict, present: dict[str, list[str]] | None = None) -> Reference | None:
    """The spec's `reference:` as a Reference; a bare table name (the shorthand, and what
    older runs wrote) pairs each RFC column with the configuration or scenario of the same
    name (in the spec, or `present`: {"configurations": [...], "scenarios": [...]} of the
    records). None without a reference or for a table that declares no columns."""
    exp = spec_experiment(spec)
    ref = exp.get("reference")
    if not ref:
        return None
    table = ref if isinstance(ref, str) else ref.get("table") if isinstance(ref, dict) else None
    cols = references.columns(str(table)) if table else None
    if cols is None:
        return None
    axis, names = cols
    if isinstance(ref, str) or not isinstance(ref.get("columns"), dict):
        pool = (list(exp.get("configurations") or {}) if axis == "configurations"
                else [s.get("name") for s in exp.get("scenarios") or [] if isinstance(s, dict)])
        pool += (present or {}).get(axis, [])
        mapping = {c: (c,) for c in names if c in pool}
    else:
        mapping = {str(c): tuple([v] if isinstance(v, str) else v or ())
                   for c, v in (ref.get("columns") or {}).items() if c in names}
    return Reference(str(table), axis, mapping)


# --- one run

@dataclass
class RunData:
    """What every part of a report reads: the run directory, its records, its spec, its
    declared RFC mapping; events on demand."""
    dir: Path
    records: pd.DataFrame
    spec: dict = field(default_factory=dict)

    def __post_init__(self):
        self.dir = Path(self.dir)
        self.records = normalise(self.records)

    @classmethod
    def load(cls, run_dir: str | Path) -> "RunData":
        run_dir = Path(run_dir)
        return cls(run_dir, load_records(run_dir), read_spec(run_dir))

    @property
    def experiment(self) -> dict:
        return spec_experiment(self.spec)

    @cached_property
    def reference(self) -> Reference | None:
        df = self.records
        present = {"configurations": list(dict.fromkeys(df["base_configuration"].astype(str))),
                   "scenarios": list(dict.fromkeys(df["scenario"].astype(str)))}
        return declared_reference(self.spec, present)

    @cached_property
    def events(self) -> list[dict]:
        return read_events(self.dir / "events.jsonl")

    @property
    def name(self) -> str:
        return str(self.experiment.get("name") or self.dir.parent.name)


# --- values and statistics

def values(df: pd.DataFrame) -> pd.Series:
    """The rows' numeric values: `value` (normalise() fills it from `ms` in records written
    before it existed)."""
    if "value" not in df:
        return pd.to_numeric(df.get("ms", pd.Series(math.nan, df.index)), errors="coerce").astype("float64")
    return pd.to_numeric(df["value"], errors="coerce").astype("float64")


def stats(vals) -> dict:
    """n, mean, median, p5, p95 (linear interpolation), sample std, min, max."""
    s = pd.to_numeric(pd.Series(vals, dtype=object), errors="coerce").astype("float64").dropna()
    if s.empty:
        return {"n": 0, **{k: math.nan for k in STATS[1:]}}
    return {"n": int(s.size), "mean": float(s.mean()), "median": float(s.median()),
            "p5": float(s.quantile(0.05)), "p95": float(s.quantile(0.95)),
            "std": float(s.std(ddof=1)) if s.size > 1 else math.nan,
            "min": float(s.min()), "max": float(s.max())}


def num(v, missing: str = "--") -> str:
    """A measured number as the tables print it: three significant digits or so, whole
    numbers without a point; `missing` for None/NaN."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return missing
    v = float(v)
    if v.is_integer():
        return f"{v:.0f}"
    return f"{v:.0f}" if abs(v) >= 100 else f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"


def ok(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["status"] == "ok"]


def failed_repetitions(df: pd.DataFrame) -> int:
    """Repetitions with a row whose status is not ok."""
    return int(df.loc[df["status"] != "ok", "repetition"].nunique()) if len(df) else 0


def configurations(df: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(df["configuration"])) if "configuration" in df and len(df) else [""]


def of(df: pd.DataFrame, configuration: str) -> pd.DataFrame:
    return df[df["configuration"] == configuration] if "configuration" in df else df


def scenario_names(df: pd.DataFrame, spec: dict | None = None) -> list[str]:
    """The scenarios in the spec's order, then any the records add."""
    declared = [s.get("name") for s in spec_experiment(spec or {}).get("scenarios") or []
                if isinstance(s, dict) and s.get("name")]
    present = list(dict.fromkeys(df["scenario"])) if "scenario" in df else []
    return [n for n in declared if n in present] + [n for n in present if n not in declared]


# --- sweeps

def param_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c.startswith(PARAM)]


def varying_params(df: pd.DataFrame) -> list[str]:
    """param: columns with more than one value in the run (sweeps, per-configuration values)."""
    return [c for c in param_columns(df) if df[c].nunique(dropna=False) > 1]


def sweep_params(df: pd.DataFrame) -> list[str]:
    """param: columns that vary within one scheme and base configuration: the sweep axes (a
    value that only differs between configurations is not one)."""
    if df.empty:
        return []
    keys = [k for k in ("scheme", "base_configuration") if k in df.columns]
    return [c for c in varying_params(df)
            if (df.groupby(keys)[c].nunique(dropna=False) > 1).any()]


def natural(value) -> tuple:
    """Sort key: '5ms' < '15ms' < '100ms'; missing values last."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return (2, "", 0.0)
    m = re.match(r"^\s*(-?[0-9.]+)\s*([a-zA-Z]*)\s*$", str(value))
    if m:
        try:
            return (0, m.group(2), float(m.group(1)))
        except ValueError:
            pass
    return (1, str(value), 0.0)


def sweep_points(df: pd.DataFrame) -> list[tuple[dict, pd.DataFrame]]:
    """[(point, rows)]: one entry per combination of sweep values ({} and all rows if none)."""
    keys = sweep_params(df)
    if not keys:
        return [({}, df)]
    groups = [(dict(zip(keys, k if isinstance(k, tuple) else (k,))), g)
              for k, g in df.groupby(keys, dropna=False, sort=False)]
    return sorted(groups, key=lambda kg: [natural(kg[0][k]) for k in keys])


def short(column: str) -> str:
    """'param:links.wan.delay' -> 'wan.delay'; 'param:kinds.x.association_latency' ->
    'association_latency'."""
    parts = column.removeprefix(PARAM).split(".")
    return ".".join(parts[-2:]) if parts[0] == "links" else parts[-1]


def point_label(point: dict) -> str:
    """'association_latency=5ms, wan.delay=50ms' (the last parts of each parameter path)."""
    return ", ".join(f"{short(k)}={v}" for k, v in point.items())


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.=_-]+", "_", text).strip("_")
