"""RFC 6252 C.5.2 (WLAN to cellular) from a synthetic run directory: the table beside the
RFC's prose, the must-show checks (and that they fail when they should), the figures and
the report."""
import json
import math

import pandas as pd
import yaml

from orchestrator.analysis import report
from orchestrator.analysis.records import RunData
from orchestrator.analysis.reproductions import c52

MS = 1_000_000
SCENARIOS = {"reactive": "c52-reactive", "mpa-both-up": "c52-mpa-both-up",
             "mpa-at-handover": "c52-mpa-activate-at-handover"}
VALUES = {   # per scenario: what a run that behaves like the RFC measures
    "reactive": {"handoff_delay": 4470, "packet_loss": 275, "duplicates": 0,
                 "handover_total": 4470, "both_interfaces_up": 0, "link_down_detection": 300,
                 "aaa_in_session_setup": 2},     # (1, 2, 3 over the repetitions: >= 1)
    "mpa-both-up": {"handoff_delay": 76, "packet_loss": 0, "duplicates": 8,
                    "copy_forward_copies": 9, "handover_total": 140, "both_interfaces_up": 4700,
                    "pre_authentication": 40, "aaa_in_session_setup": 0},
    "mpa-at-handover": {"handoff_delay": 75, "packet_loss": 0, "duplicates": 9,
                        "copy_forward_copies": 9, "handover_total": 139,
                        "both_interfaces_up": 4200, "pre_authentication": 41,
                        "aaa_in_session_setup": 0},
}


def _records(values=VALUES, reps: int = 3) -> pd.DataFrame:
    rows = []
    for scen, metrics in values.items():
        for rep in range(1, reps + 1):
            for metric, v in metrics.items():
                rows.append({"experiment": "c52", "configuration": "wlan-cellular",
                             "base_configuration": "wlan-cellular", "mobile_node": "mn",
                             "scenario": scen, "scheme": SCENARIOS[scen], "repetition": rep,
                             "phase": metric, "value": v + rep - 2 if v else 0, "ms": None, "unit": "ms",
                             "status": "ok", "error": "",
                             "emulated:nodes.bs.link_rtt[ms]": 120.0})
    return pd.DataFrame(rows)


def _run_dir(tmp_path, df: pd.DataFrame):
    run = tmp_path / "c52" / "20261207-060000"
    run.mkdir(parents=True)
    df.to_csv(run / "records.csv", index=False)
    spec = {"name": "c52", "repetitions": 3,
            "reference": {"table": "rfc6252_c52",
                          "columns": {s: s for s in SCENARIOS}},
            "scenarios": [{"name": s, "flow": f, "from": "ap-w", "to": "bs"}
                          for s, f in SCENARIOS.items()],
            "configurations": {"wlan-cellular": {"emulated": [
                {"path": "nodes.bs.link_rtt", "value": 120.0, "unit": "ms",
                 "source": "topology"}]}}}
    (run / "spec.yaml").write_text(yaml.safe_dump(spec))
    for scen in SCENARIOS:
        for rep in (1, 2, 3):
            d = run / "media" / "wlan-cellular" / scen
            d.mkdir(parents=True, exist_ok=True)
            pkts = ([{"mono_ns": 16 * k * MS, "seq": k, "dst": "10.1.0.100:4000"}
                     for k in range(40)]
                    + [{"mono_ns": (16 * k + 60) * MS, "seq": k, "dst": "10.20.0.2:4000"}
                       for k in range(40, 60)])
            (d / f"rep{rep}.json").write_text(json.dumps(
                {"packets": pkts, "wlan_left_ns": 600 * MS, "switched_ns": 620 * MS,
                 "powered_on_ns": 0}))
    return run


def test_table_beside_the_rfc_pairs_each_scenario_with_its_case(tmp_path):
    run = RunData.load(_run_dir(tmp_path, _records()))
    table = c52.beside_rfc(run)
    row = table[(table.scenario == "mpa-both-up") & (table.metric == "handoff_delay")].iloc[0]
    assert (row["median"], row["rfc"], row["rfc_bound"], row["n"]) == (76, 50, "about", 3)
    row = table[(table.scenario == "reactive") & (table.metric == "packet_loss")].iloc[0]
    assert (row["median"], row["rfc"], row["rfc_bound"]) == (275, 1000, "at least")
    md = c52.beside_rfc_markdown(table)
    assert "76 [75–77] (3); RFC about 50" in md


def test_checks_pass_on_a_run_like_the_rfc_and_fail_when_it_is_not(tmp_path):
    good = c52.checks(RunData.load(_run_dir(tmp_path / "good", _records())))
    assert good and all(c["ok"] for c in good), [c for c in good if not c["ok"]]
    assert {c["id"] for c in good} == {"a", "b", "c", "d", "e", "f"}
    bad_values = json.loads(json.dumps(VALUES))
    bad_values["mpa-both-up"].update(packet_loss=3, handoff_delay=400, duplicates=30)
    bad_values["reactive"].update(handover_total=300, packet_loss=10)
    bad_values["mpa-at-handover"].update(both_interfaces_up=9000, aaa_in_session_setup=1)
    del bad_values["mpa-both-up"]["pre_authentication"]
    bad = c52.checks(RunData.load(_run_dir(tmp_path / "bad", _records(bad_values))))
    failed = {(c["id"], c["check"].split(":")[0]) for c in bad if c["ok"] is False}
    assert failed >= {("a", "mpa-both-up"), ("b", "mpa-both-up"), ("c", "reactive"),
                      ("d", "mpa-both-up"), ("f", "mpa-both-up"), ("f", "mpa-at-handover")}
    assert any(c["id"] == "e" and c["ok"] is False for c in bad)


def test_without_copy_and_forward_duplicates_must_be_zero(tmp_path):
    values = json.loads(json.dumps(VALUES))
    for scen in ("mpa-both-up", "mpa-at-handover"):
        del values[scen]["copy_forward_copies"]
    got = c52.checks(RunData.load(_run_dir(tmp_path, _records(values))))
    d = [c for c in got if c["id"] == "d"]
    assert d and all(c["ok"] is False for c in d)          # 8-10 duplicates, no copies


def test_report_has_the_table_checks_and_both_figures(tmp_path):
    run = _run_dir(tmp_path, _records())
    paths = report.report(run)
    assert "figures/c52_arrivals.png" in paths and "figures/c52_both_up.svg" in paths
    readme = (run / "README.md").read_text()
    assert "RFC 6252 C.5.2 beside this run" in readme and "Must-show checks: 13 ok, 0 failed" in readme
    assert "link_rtt" in (run / "tables" / "c52_beside_rfc.md").read_text()
    lines = c52.summary(RunData.load(run), c52.checks(RunData.load(run)))
    assert any("MPA, both interfaces up" in line and "lost 0" in line for line in lines)


def test_arrival_series_is_relative_to_the_link_loss_or_the_switch():
    raw = {"packets": [{"mono_ns": 700 * MS, "seq": 65535, "dst": "a:1"},
                       {"mono_ns": 716 * MS, "seq": 0, "dst": "b:1"}],
           "wlan_left_ns": 600 * MS, "switched_ns": 650 * MS}
    series, ref = c52.arrival_series(raw, reactive=True)
    assert ref == 600 * MS and [p["t_ms"] for p in series] == [100, 116]
    assert [p["seq"] for p in series] == [0, 1]                       # across the wrap
    series, _ = c52.arrival_series(raw, reactive=False)
    assert series[0]["t_ms"] == 50 and not math.isnan(series[1]["t_ms"])
