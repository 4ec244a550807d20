"""Records -> tables: statistics, Figure 10 beside the RFC, structure checks, markdown."""
import math
import re

import numpy as np
import pandas as pd
import pytest

from orchestrator.analysis import tables
from orchestrator.analysis.reference import load
from tests.analysis import synthetic

RFC = {(r["scheme"], r["roaming"], r["phase"]): r["ms"] for r in load("rfc6252_fig10")}
MPA, PRE, POST = "mpa-l2-pre-authentication", "dot11i-pre-authentication", "dot11i-post-authentication"


def _rows(values, status=None, **extra):
    status = status or ["ok"] * len(values)
    return pd.DataFrame({"configuration": "c", "scheme": MPA, "roaming": "roaming",
                         "phase": "Tauth", "ms": values, "status": status, **extra})


def test_load_records_prefers_parquet_and_falls_back_to_csv(run):
    pq = tables.load_records(run)
    (run / "records.parquet").unlink()
    csv = tables.load_records(run)
    assert len(pq) == len(csv) > 0
    assert np.allclose(pq["ms"].fillna(-1), csv["ms"].fillna(-1))
    (run / "records.csv").unlink()
    with pytest.raises(FileNotFoundError, match="records"):
        tables.load_records(run)


def test_summary_statistics_are_exact_on_known_data():
    df = _rows([10.0, 20.0, 30.0, 40.0, 50.0, math.nan], ["ok"] * 5 + ["failed"],
               **{"param:kinds.access_point.association_latency": "15ms"})
    s = tables.summary(df)
    assert len(s) == 1
    row = s.iloc[0]
    assert row["n"] == 5 and row["n_failed"] == 1
    assert row["mean"] == 30.0 and row["median"] == 30.0
    assert row["p5"] == pytest.approx(12.0) and row["p95"] == pytest.approx(48.0)
    assert row["std"] == pytest.approx(math.sqrt(250.0))
    assert "param:kinds.access_point.association_latency" not in s.columns   # does not vary


def test_summary_keys_on_varying_parameters():
    df = pd.concat([_rows([1.0, 3.0], **{"param:links.wan.delay": "25ms"}),
                    _rows([10.0, 30.0], **{"param:links.wan.delay": "100ms"})])
    s = tables.summary(df)
    assert list(s["param:links.wan.delay"]) == ["25ms", "100ms"]      # natural order
    assert list(s["median"]) == [2.0, 20.0]


def test_summary_counts_a_group_with_only_failures():
    s = tables.summary(_rows([math.nan, math.nan], ["failed", "failed"]))
    assert s.iloc[0]["n"] == 0 and s.iloc[0]["n_failed"] == 2 and math.isnan(s.iloc[0]["median"])


def test_beside_rfc_joins_every_figure10_value(records):
    b = tables.beside_rfc(records)
    assert len(b) == len(RFC)
    for r in b.itertuples():
        assert r.rfc_ms == RFC[(r.scheme, r.roaming, r.phase)]
        ok = records[(records.scheme == r.scheme) & (records.roaming == r.roaming)
                     & (records.phase == r.phase) & (records.status == "ok")]["ms"]
        assert r.median_ms == pytest.approx(ok.median())
        assert r.ratio == pytest.approx(r.median_ms / r.rfc_ms)
        assert r.p5_ms <= r.median_ms <= r.p95_ms
    mpa = b[(b.scheme == MPA) & (b.phase == "Tauth")]
    assert set(mpa["n_failed"]) == {1}


def test_beside_rfc_keeps_rfc_cells_the_run_did_not_measure(records):
    b = tables.beside_rfc(records[records.scheme != PRE])
    pre = b[b.scheme == PRE]
    assert len(pre) == 8 and pre["median_ms"].isna().all() and pre["rfc_ms"].notna().all()


def test_beside_rfc_per_sweep_point():
    df = synthetic.records(repetitions=4, sweep=("5ms", "15ms"))
    b = tables.beside_rfc(df)
    col = "param:kinds.access_point.association_latency"
    assert col in b.columns and len(b) == 2 * len(RFC)
    assert list(dict.fromkeys(b[col])) == ["5ms", "15ms"]


def test_structure_checks_pass_on_the_rfc_structure(records):
    checks = tables.structure_checks(records)
    assert len(checks) == 10
    assert all(c["ok"] is True for c in checks), [c for c in checks if not c["ok"]]
    for c in checks:
        assert set(c) == {"check", "measured", "rfc", "ok", "explanation"}
    ratio = next(c for c in checks if c["check"].startswith("post-authentication / MPA"))
    assert ratio["rfc"] == pytest.approx(616 / 17)
    assert "36.2" in ratio["explanation"]


def test_structure_checks_fail_without_the_structure():
    checks = {c["check"]: c for c in tables.structure_checks(synthetic.records(broken=True))}
    failed = {k for k, c in checks.items() if c["ok"] is False}
    for name in ("MPA-assisted L2 pre-authentication, roaming: time affecting handover = Tassoc+4way",
                 "802.11i pre-authentication, non-roaming: time affecting handover = Tassoc+4way",
                 "802.11i post-authentication: roaming > non-roaming",
                 "post-authentication / MPA, roaming"):
        assert any(k.startswith(name) for k in failed), name


def test_structure_checks_say_not_measured(records):
    checks = tables.structure_checks(records[records.scheme != MPA])
    mpa = [c for c in checks if c["check"].startswith(("MPA", "post-authentication / MPA"))]
    assert mpa and all(c["ok"] is None for c in mpa)
    assert "not measured" in tables.checks_markdown(checks)


def test_wan_delay_sweep_adds_a_growth_check():
    parts = []
    for delay in (10.0, 25.0, 50.0):
        df = synthetic.records(repetitions=3)
        df = df[df.roaming == "roaming"].copy()
        df["param:links.wan.delay"] = f"{delay:g}ms"
        df["wan_delay_ms"] = delay
        post = (df.scheme == POST) & df.phase.isin(["Time affecting handover"])
        df.loc[post, "ms"] = 100 + 8 * delay
        parts.append(df)
    checks = tables.structure_checks(pd.concat(parts))
    growth = checks[-1]
    assert "WAN delay" in growth["check"] and growth["ok"] is True
    assert growth["measured"] == pytest.approx(8.0)


def test_figure10_markdown_layout(records):
    md = tables.fig10_markdown(tables.beside_rfc(records))
    lines = [ln for ln in md.splitlines() if ln.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header[0] == "Operation"
    assert header[1:] == [f"{tables.SCHEME_TITLES[s]}, {r}" for s in tables.SCHEMES
                          for r in ("non-roaming", "roaming")]
    assert re.fullmatch(r"\|(---\|){7}", lines[1])
    rows = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines[2:]]
    assert [r[0] for r in rows] == list(tables.FIG10_PHASES)
    for r in rows:
        assert len(r) == 7
        for cell in r[1:]:
            assert re.fullmatch(r"(\d+(\.\d)?|--) \((\d+|--)\)", cell), cell
    tconf = rows[1]
    assert tconf[1:5] == ["-- (--)"] * 4
    post_roaming_tah = records[(records.scheme == POST) & (records.roaming == "roaming")
                               & (records.phase == "Time affecting handover")]["ms"].median()
    assert rows[4][2] == f"{post_roaming_tah:.0f} (616)"
    assert "Failed repetitions" in md


def test_write_tables_puts_parameters_first(run):
    paths = tables.write_tables(run)
    assert set(paths) == {"summary.csv", "fig10_beside_rfc.csv", "fig10_beside_rfc.md",
                          "checks.md", "parameters.md"}
    for p in paths.values():
        assert p.parent == run / "tables" and p.stat().st_size > 0
    md = paths["fig10_beside_rfc.md"].read_text()
    assert md.startswith("# Emulated parameters")
    first_param = md.index("`kinds.access_point.association_latency` | 15ms")
    assert first_param < md.index("`links.wan.delay` | 25ms") < md.index("| Operation |")
    params = paths["parameters.md"].read_text()
    assert "`links.wan.delay` | 25ms | 25ms: roaming; (not set): non-roaming" in params
    assert "seed 1" in params and "fig9-l2-preauth-roaming.yaml" in params
    summary = pd.read_csv(paths["summary.csv"])
    assert {"n", "mean", "median", "p5", "p95", "std", "n_failed"} <= set(summary.columns)
    assert "**FAIL**" not in paths["checks.md"].read_text()


def test_parameters_from_spec_that_records_lack():
    df = synthetic.records(repetitions=2).drop(columns=["param:links.wan.delay"])
    table = tables.parameters(df, synthetic.SPEC)
    wan = table[table.parameter == "links.wan.delay"].iloc[0]
    assert wan["values"] == "25ms" and wan["source"] == "spec.yaml"
