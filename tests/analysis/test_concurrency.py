"""Percentiles over MNs and their CDF for concurrent scenarios (analysis/concurrency.py),
and a report of a run that has them."""
import numpy as np
import pandas as pd
import pytest
import yaml

from orchestrator.analysis import concurrency, report


def crowd_records(n: int = 40, seed: int = 2) -> pd.DataFrame:
    """Two concurrent scenarios and one ordinary one; mn3 of at-once failed."""
    rng = np.random.default_rng(seed)
    rows = []
    for scen, arrivals, rate in (("at-once", "simultaneous", None), ("poisson", "poisson", 20.0)):
        for k in range(1, n + 1):
            base = {"configuration": "roaming", "base_configuration": "roaming", "scenario": scen,
                    "scheme": "mpa-l2-pre-authentication", "repetition": 1, "mobile_node": f"mn{k}",
                    "concurrent:mobile_nodes": n, "concurrent:arrivals": arrivals,
                    "concurrent:rate[1/s]": rate, "unit": "ms", "error": ""}
            if scen == "at-once" and k == 3:
                rows.append({**base, "phase": "Time affecting handover", "value": None,
                             "ms": None, "status": "failed", "error": "AgentError: x"})
                continue
            for phase, mean in (("Tauth", 300.0), ("Time affecting handover", 20.0)):
                v = float(rng.exponential(mean))
                rows.append({**base, "phase": phase, "value": v, "ms": v, "status": "ok"})
    rows.append({"configuration": "roaming", "base_configuration": "roaming", "scenario": "one",
                 "scheme": "mpa-l2-pre-authentication", "repetition": 1, "mobile_node": "mn1",
                 "phase": "Tauth", "value": 1.0, "ms": 1.0, "unit": "ms", "status": "ok",
                 "error": ""})
    return pd.DataFrame(rows)


def test_percentiles_over_mns_match_numpy_and_count_failures():
    df = crowd_records()
    table = concurrency.percentiles(df)
    assert set(table["scenario"]) == {"at-once", "poisson"}     # not the ordinary scenario
    for r in table.itertuples():
        v = df[(df.scenario == r.scenario) & (df.phase == r.phase) & (df.status == "ok")]["value"]
        assert r.ok == len(v) and r.mobile_nodes == 40
        for p in (50, 90, 99):
            assert getattr(r, f"p{p}") == pytest.approx(np.percentile(v, p))
        assert r.failed == (1 if r.scenario == "at-once" else 0)
    assert set(table[table.scenario == "poisson"]["arrivals"]) == {"poisson 20/s"}
    md = concurrency.markdown(table)
    assert "| roaming | at-once | simultaneous | Tauth | 40 | 39 | 1 |" in md


def test_a_run_without_concurrent_scenarios_gets_no_concurrency_section():
    df = crowd_records().drop(columns=[c for c in crowd_records() if c.startswith("concurrent:")])
    assert concurrency.percentiles(df).empty


def test_report_of_a_crowd_run_has_the_percentiles_and_the_cdf(tmp_path):
    run = tmp_path / "crowd" / "20261207-060000"
    run.mkdir(parents=True)
    crowd_records().to_csv(run / "records.csv", index=False)
    (run / "spec.yaml").write_text(yaml.safe_dump({"name": "crowd", "seed": 1, "repetitions": 1,
                                                   "configurations": {}, "scenarios": []}))
    paths = report.report(run)
    readme = paths["README.md"].read_text()
    assert "## Concurrent handovers: percentiles over MNs" in readme
    assert "figures/concurrency-cdf.png" in readme and (run / "figures" / "concurrency-cdf.png").stat().st_size > 10000
    assert (run / "tables" / "concurrency.csv").exists()


def test_captions_name_a_hundred_mns_as_a_range():
    from orchestrator.analysis.parameters import numbered_ranges
    mns = [f"mn{i}" for i in range(1, 101)]
    parts = ([f"dad_interval of {', '.join(mns)} 1000 ms", "association_latency of ap0, ap1, ap2 4 ms"]
             + [f"link_down_detection.{m} 1 ms" for m in sorted(mns)] + ["pana_pci_irt 1000 ms"])
    assert numbered_ranges(parts) == ["dad_interval of mn1-mn100 1000 ms",
                                      "association_latency of ap0, ap1, ap2 4 ms",
                                      "link_down_detection.mn1-mn100 1 ms", "pana_pci_irt 1000 ms"]
    few = ["association_latency.ap1 4 ms", "association_latency.ap2 4 ms", "x 1 ms"]
    assert numbered_ranges(few) == few                         # small lists as they were
    gap = [f"d of {', '.join(f'mn{i}' for i in (1, 2, 3, 4, 5, 7))} 1 ms"]
    assert numbered_ranges(gap) == ["d of mn1-mn5, mn7 1 ms"]
