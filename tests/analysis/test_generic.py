"""The generic report of any run (analysis/generic.py, report.py): statistics per
configuration x scenario x phase, repetitions in which a retransmission fired flagged, and a
run that declares no RFC comparison reported as such."""
import math
import re

import pandas as pd
import pytest
import yaml

from orchestrator.analysis import generic, report
from orchestrator.analysis.records import RunData
from tests.analysis import synthetic


def _rows(values, status=None, scenario="s", configuration="c", **extra):
    status = status or ["ok"] * len(values)
    return pd.DataFrame({"configuration": configuration, "scenario": scenario, "scheme": "f",
                         "repetition": range(1, len(values) + 1), "phase": "Tauth",
                         "value": values, "unit": "ms", "status": status,
                         "error": ["" if s == "ok" else "boom" for s in status], **extra})


def test_statistics_are_exact_on_known_data(tmp_path):
    df = _rows([10.0, 20.0, 30.0, 40.0, 50.0, math.nan], ["ok"] * 5 + ["failed"],
               retransmissions=[0, 1, 0, 0, 0, 0])
    [row] = generic.statistics(RunData(tmp_path, df).records).to_dict("records")
    assert row["n"] == 5 and row["n_failed"] == 1 and row["n_retransmitted"] == 1
    assert row["mean"] == 30.0 and row["median"] == 30.0 and row["unit"] == "ms"
    assert row["p5"] == pytest.approx(12.0) and row["p95"] == pytest.approx(48.0)
    assert (row["min"], row["max"]) == (10.0, 50.0)


def test_statistics_keep_configurations_scenarios_and_units_apart(tmp_path):
    df = pd.concat([_rows([1.0, 3.0], configuration="a"), _rows([10.0, 30.0], configuration="b"),
                    _rows([5.0], scenario="t", configuration="a").assign(phase="packet_loss",
                                                                        unit="packets")])
    t = generic.statistics(RunData(tmp_path, df).records)
    got = {(r.configuration, r.scenario, r.phase): (r.median, r.unit) for r in t.itertuples()}
    assert got == {("a", "s", "Tauth"): (2.0, "ms"), ("b", "s", "Tauth"): (20.0, "ms"),
                   ("a", "t", "packet_loss"): (5.0, "packets")}


def test_repetitions_flag_those_in_which_a_retransmission_fired(records):
    reps = generic.repetitions(records)
    assert len(reps) == 2 * 3 * 20
    flagged = reps[reps["flag"] != ""]
    assert flagged[["configuration", "scenario", "repetition", "retransmitted"]].values.tolist() == [
        ["roaming", "post-auth", 3, "fourway_retransmitted=1"]]
    failed = reps[reps["status"] != "ok"]
    assert set(failed["scenario"]) == {"mpa"} and set(failed["repetition"]) == {1}
    assert set(failed["error"]) == {"mn: no port_open"}
    md = generic.retransmissions_markdown(reps)
    assert "| roaming | post-auth | 20 | 1 (#3) | fourway_retransmitted x1 |" in md
    assert "| roaming | mpa | 20 | 0 | none |" in md


def test_statistics_markdown_marks_the_flagged_repetitions(records):
    md = generic.statistics_markdown(generic.statistics(records), generic.repetitions(records))
    post_roaming = md[md.index("### roaming"):]
    tah = next(ln for ln in post_roaming.splitlines() if ln.startswith("| Time affecting handover"))
    assert "(20, 1 retx)" in tah
    assert "With a retransmission: post-auth #3 (fourway_retransmitted=1)" in post_roaming
    assert "Failed: mpa #1: mn: no port_open" in md
    phases = [ln.split("|")[1].strip() for ln in post_roaming.splitlines()
              if ln.startswith("| T") and "|" in ln]
    assert phases.index("Tauth") < phases.index("Tconf") < phases.index("Time affecting handover")


def test_a_run_without_reference_gets_the_generic_report_and_no_rfc_column(tmp_path):
    """A researcher's own experiment with its own names and no `reference:`: every number and
    every emulated value is in the report, and nothing pretends to compare with the RFC."""
    df = synthetic.records(repetitions=3)
    df = df[df.base_configuration == "roaming"].copy()
    df["configuration"] = df["base_configuration"] = "tri"
    df["mobile_node"] = "phone"
    spec = {"name": "own", "seed": 1, "repetitions": 3, "scenarios": synthetic.SPEC["scenarios"],
            "configurations": {"tri": {"topology": "tri.yaml", "mobile_node": "phone",
                                       "emulated": [{"path": "links.x-y.delay", "value": 30.0,
                                                     "unit": "ms", "source": "topology links[7]"}]}}}
    run = synthetic.run_dir(tmp_path, df, spec=spec, name="own")
    paths = report.report(run)
    readme = paths["README.md"].read_text()
    assert "## RFC comparison" in readme and "declares no `reference:`" in readme
    assert "(616)" not in readme and "RFC value" not in readme
    assert not (run / "tables" / "checks.md").exists()
    assert "| `links.x-y.delay` | 30 ms | topology links[7] | all configurations |" in readme
    tah = df[(df.scenario == "post-auth") & (df.phase == "Time affecting handover")]["ms"]
    row = next(ln for ln in readme.splitlines() if ln.startswith("| Time affecting handover"))
    assert f"{tah.median():.0f}" in row.split("|")[3]
    for link in re.findall(r"\]\(([^)]+)\)", readme):
        assert (run / link).exists(), link
    assert {p.name for p in (run / "figures").glob("*.png")} == {"distribution.png"}
    assert yaml.safe_load((run / "spec.yaml").read_text())["name"] == "own"


def test_the_distribution_figure_rings_flagged_repetitions(tmp_path, records):
    run = RunData(tmp_path, records, synthetic.SPEC)
    png, svg = generic.distribution(run, tmp_path / "d")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = svg.read_text()
    assert "ringed: a retransmission fired" in text and "Time affecting handover" in text
    assert generic.distribution(RunData(tmp_path, records.iloc[:0], {}), tmp_path / "e") == []
