"""The Figure 10 reproduction (analysis/reproductions/fig10.py) on synthetic records: Figure
10 beside the RFC only where the experiment maps it, its structure as checks, the tables,
the figures (and the sweep against the inter-domain RTT)."""
import math
import re
import shutil

import numpy as np
import pandas as pd
import pytest

from orchestrator.analysis import report
from orchestrator.analysis.records import RunData, load_records, sweep_params
from orchestrator.analysis.reference import load
from orchestrator.analysis.reproduction import for_run
from orchestrator.analysis.reproductions import fig10
from tests.analysis import synthetic

RFC = {(r["scheme"], r["roaming"], r["phase"]): r["ms"] for r in load("rfc6252_fig10")}
MPA, PRE, POST = "mpa-l2-pre-authentication", "dot11i-pre-authentication", "dot11i-post-authentication"
TAH = "Time affecting handover"


def _run(tmp_path, df, columns=None, spec=None):
    spec = dict(spec or synthetic.SPEC)
    if columns is not None:
        spec["reference"] = {"table": "rfc6252_fig10", "columns": columns}
    return RunData(tmp_path, df, spec)


def _tri(records):
    """The roaming half of the synthetic run as a researcher's own configuration 'tri', with
    a link named 'x-to-home' instead of 'wan'."""
    df = records[records.base_configuration == "roaming"].copy()
    df["configuration"] = df["base_configuration"] = "tri"
    return df.rename(columns={"param:links.wan.delay": "param:links.x-to-home.delay",
                              "emulated:links.wan.delay[ms]": "emulated:links.x-to-home.delay[ms]"})


def test_load_records_prefers_parquet_and_falls_back_to_csv(run):
    pq = load_records(run)
    (run / "records.parquet").unlink()
    csv = load_records(run)
    assert len(pq) == len(csv) > 0
    assert np.allclose(pq["ms"].fillna(-1), csv["ms"].fillna(-1))
    (run / "records.csv").unlink()
    with pytest.raises(FileNotFoundError, match="records"):
        load_records(run)


def test_records_of_older_runs_are_normalised(tmp_path):
    old = synthetic.records(repetitions=2).drop(columns=["base_configuration", "value", "unit"])
    old["roaming"] = old["configuration"]
    data = RunData(tmp_path, old, synthetic.SPEC)
    assert set(data.records["base_configuration"]) == {"roaming", "non-roaming"}
    assert (data.records["value"].fillna(-1) == data.records["ms"].fillna(-1)).all()


def test_beside_rfc_joins_every_figure10_value_of_the_mapped_columns(tmp_path, records):
    b = fig10.beside_rfc(_run(tmp_path, records))
    assert len(b) == len(RFC)
    for r in b.itertuples():
        assert r.rfc_ms == RFC[(r.scheme, r.rfc_column, r.phase)]
        ok = records[(records.scheme == r.scheme) & (records.base_configuration == r.configuration)
                     & (records.phase == r.phase) & (records.status == "ok")]["ms"]
        assert r.median_ms == pytest.approx(ok.median())
        assert r.ratio == pytest.approx(r.median_ms / r.rfc_ms)
        assert r.p5_ms <= r.median_ms <= r.p95_ms
    assert set(b.loc[b.scheme == MPA, "n_failed"]) == {1}


def test_a_configuration_of_any_name_stands_beside_the_column_it_is_mapped_onto(tmp_path, records):
    """The issue's case: a run whose configuration is 'tri' and whose inter-domain link is not
    called 'wan' compares with the RFC's roaming column because the experiment says so."""
    run = _run(tmp_path, _tri(records), {"roaming": "tri"})
    b = fig10.beside_rfc(run)
    assert set(b.configuration) == {"tri"} and set(b.rfc_column) == {"roaming"}
    assert len(b) == 13 and b.median_ms.notna().all()    # 15 cells, Tconf of 802.11i is "--"
    md = fig10.fig10_markdown(run, b)
    assert "802.11i post-authentication, tri (RFC roaming)" in md
    assert "(616)" in md and "| -- (" not in md.split("| Tauth |")[1].split("\n")[0]
    checks = fig10.structure_checks(run)
    assert checks and all(c["ok"] is True for c in checks), [c for c in checks if c["ok"] is not True]
    assert not any("non-roaming" in c["check"] for c in checks)     # that column is not mapped
    assert any("emulated: links.x-to-home.delay 25 ms" in c["explanation"] for c in checks)


def test_without_a_reference_there_is_no_rfc_column(tmp_path, records):
    spec = {k: v for k, v in synthetic.SPEC.items() if k != "reference"}
    run = RunData(tmp_path, _tri(records), spec)
    assert run.reference is None and for_run(run) is None
    assert fig10.columns(run) == [] and fig10.beside_rfc(run).empty
    # a mapping that names another configuration compares nothing of 'tri'
    assert fig10.beside_rfc(_run(tmp_path, _tri(records), {"roaming": "other"})).empty


def test_the_shorthand_maps_columns_onto_configurations_of_the_same_name(tmp_path, records):
    spec = {**synthetic.SPEC, "reference": "rfc6252_fig10"}
    run = RunData(tmp_path, records, spec)
    assert run.reference.columns == {"non-roaming": ("non-roaming",), "roaming": ("roaming",)}
    assert len(fig10.beside_rfc(run)) == len(RFC)


def test_beside_rfc_per_sweep_point(tmp_path):
    df = synthetic.records(repetitions=4, sweep=("5ms", "15ms"))
    b = fig10.beside_rfc(_run(tmp_path, df))
    col = "param:kinds.access_point.association_latency"
    assert col in b.columns and len(b) == 2 * len(RFC)
    assert list(dict.fromkeys(b[col])) == ["5ms", "15ms"]


def test_structure_checks_pass_on_the_rfc_structure(tmp_path, records):
    checks = fig10.structure_checks(_run(tmp_path, records))
    assert len(checks) == 11
    assert all(c["ok"] is True for c in checks), [c for c in checks if not c["ok"]]
    for c in checks:
        assert set(c) == {"id", "check", "measured", "rfc", "ok", "explanation"}
    ratio = next(c for c in checks if c["check"].startswith("post-authentication / MPA, roaming"))
    assert ratio["rfc"] == pytest.approx(616 / 17)
    assert "36.2" in ratio["explanation"]


def test_structure_checks_fail_without_the_structure(tmp_path):
    checks = {c["check"]: c for c in fig10.structure_checks(
        _run(tmp_path, synthetic.records(broken=True)))}
    failed = {k for k, c in checks.items() if c["ok"] is False}
    for name in ("MPA-assisted L2 pre-authentication, roaming: time affecting handover = Tassoc+4way",
                 "802.11i pre-authentication, non-roaming: time affecting handover = Tassoc+4way",
                 "802.11i post-authentication: roaming > non-roaming",
                 "post-authentication / MPA, roaming"):
        assert any(k.startswith(name) for k in failed), name


def test_structure_checks_only_of_what_ran(tmp_path, records):
    checks = fig10.structure_checks(_run(tmp_path, records[records.scheme != MPA]))
    assert checks and not [c for c in checks if "MPA" in c["check"]]
    only_post = records[(records.scheme == POST) & (records.phase != "Tauth")]
    [c, *_] = fig10.structure_checks(_run(tmp_path, only_post))
    assert c["ok"] is None and "n/a" in c["explanation"]          # Tauth not measured


def test_a_swept_link_delay_adds_a_growth_check_whatever_the_link_is_called(tmp_path):
    parts = []
    for delay in (10.0, 25.0, 50.0):
        df = _tri(synthetic.records(repetitions=3))
        df["param:links.x-to-home.delay"] = f"{delay:g}ms"
        df["configuration"] = f"tri/x-to-home.delay={delay:g}ms"
        post = (df.scheme == POST) & (df.phase == TAH)
        df.loc[post, ["ms", "value"]] = 100 + 8 * delay
        parts.append(df)
    run = _run(tmp_path, pd.concat(parts), {"roaming": "tri"})
    assert fig10.delay_sweeps(run.records) == ["param:links.x-to-home.delay"]
    growth = fig10.structure_checks(run)[-1]
    assert "grows with links.x-to-home.delay" in growth["check"] and growth["ok"] is True
    assert growth["measured"] == pytest.approx(8.0)


def test_figure10_markdown_layout(tmp_path, records):
    run = _run(tmp_path, records)
    md = fig10.fig10_markdown(run, fig10.beside_rfc(run))
    lines = [ln for ln in md.splitlines() if ln.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header[0] == "Operation"
    assert header[1:] == [f"{fig10.SCHEME_TITLES[s]}, {r}" for s in fig10.SCHEMES
                          for r in ("non-roaming", "roaming")]
    assert re.fullmatch(r"\|(---\|){7}", lines[1])
    rows = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines[2:]]
    assert [r[0] for r in rows] == list(fig10.FIG10_PHASES)
    for r in rows:
        assert len(r) == 7
        for cell in r[1:]:
            assert re.fullmatch(r"(\d+(\.\d)?|--) \((\d+|--)\)", cell), cell
    assert rows[1][1:5] == ["-- (--)"] * 4                             # Tconf of 802.11i
    post_roaming_tah = records[(records.scheme == POST) & (records.base_configuration == "roaming")
                               & (records.phase == TAH)]["ms"].median()
    assert rows[4][2] == f"{post_roaming_tah:.0f} (616)"
    assert "Failed repetitions" in md
    assert "roaming post-auth #3 (fourway_retransmitted=1)" in md       # flagged beside the table


def test_rfc_point_interpolates_where_the_curve_reaches_the_rfc_value():
    assert fig10.rfc_point([0, 80, 160], [100, 500, 900], 616) == pytest.approx(103.2)
    assert fig10.rfc_point([0, 80], [100, 500], 616) is None             # never reaches it
    assert fig10.rfc_point([0, 80, 160], [100, math.nan, 900], 500) == pytest.approx(80)


def _is_png_and_svg(paths):
    png, svg = paths
    assert png.suffix == ".png" and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert svg.suffix == ".svg" and "<svg" in svg.read_text()[:2000]
    assert png.stat().st_size > 5000 and svg.stat().st_size > 5000


def test_bars_and_distribution(tmp_path, records):
    run = _run(tmp_path, records)
    _is_png_and_svg(fig10.fig10_bars(run, records, tmp_path / "bars"))
    _is_png_and_svg(fig10.fig10_distribution(run, records, tmp_path / "dist.png"))
    svg = (tmp_path / "bars.svg").read_text()
    assert "RFC 6252 Figure 10" in svg and "association_latency of ap1, ap2 15 ms" in svg
    only = records[records.scheme == MPA]
    _is_png_and_svg(fig10.fig10_bars(run, only, tmp_path / "bars-mpa"))
    _is_png_and_svg(fig10.fig10_distribution(run, only, tmp_path / "dist-mpa"))


def test_figures_one_pair_per_sweep_point(tmp_path):
    run = synthetic.run_dir(tmp_path, synthetic.records(repetitions=3, sweep=("5ms", "15ms")),
                            parquet=False)
    shutil.rmtree(run / "ladder")
    data = RunData.load(run)
    assert sweep_params(data.records)
    assert {p.name for p in fig10.figures(data, run / "figures")} == {
        f"{name}-association_latency={v}.{ext}" for name in ("fig10_bars", "fig10_distribution")
        for v in ("5ms", "15ms") for ext in ("png", "svg")}


def wan_sweep(root, delays=(0, 40, 80), repetitions=3):
    """A run like `make fig10-wan`'s: post-authentication and MPA in one roaming
    configuration at several one-way delays of the inter-domain link 'x-to-home'."""
    parts = []
    for d in delays:
        df = _tri(synthetic.records(repetitions=repetitions))
        df = df[df.scheme.isin([POST, MPA])].copy()
        df["param:links.x-to-home.delay"] = f"{d}ms"
        df["configuration"] = f"tri/x-to-home.delay={d}ms"
        for phase, per_rtt in ((TAH, 7.0), ("Tauth", 7.0), ("Total", 7.0)):
            rows = (df.scheme == POST) & (df.phase == phase)
            v = 60 + per_rtt * 2 * d + np.arange(rows.sum()) % 3
            df.loc[rows, "ms"] = v
            df.loc[rows, "value"] = v
        parts.append(df)
    spec = {**synthetic.SPEC, "name": "fig10-wan-sweep",
            "reference": {"table": "rfc6252_fig10", "columns": {"roaming": "tri"}},
            "sweep": {"links.x-to-home.delay": [f"{d}ms" for d in delays]},
            "configurations": {"tri": {"topology": "tri.yaml", "mobile_node": "phone"}}}
    return synthetic.run_dir(root, pd.concat(parts), spec=spec, name="fig10-wan-sweep")


def test_sweep_figure_against_the_rtt_with_the_rfcs_point(tmp_path):
    run = wan_sweep(tmp_path)
    paths = report.report(run)
    assert "figures/fig10_sweep-x-to-home.png" in paths
    svg = (run / "figures" / "fig10_sweep-x-to-home.svg").read_text()
    # post-authentication takes 60 + 7 x RTT ms: the RFC's 616 ms at an RTT of 79.4 ms
    assert "point: 79 ms RTT" in svg
    assert "RTT of x-to-home" in svg and "616 / 17 = 36.2" in svg
    readme = (run / "README.md").read_text()
    assert "figures/fig10_sweep-x-to-home.png" in readme
    assert "grows with links.x-to-home.delay (sweep): ok" not in readme   # list, not sentence
    assert "grows with links.x-to-home.delay" in readme
