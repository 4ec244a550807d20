"""Any topology, any names: Figure 10's three flows on a topology written for this test
(tests/integration/topologies/tri-domain.yaml: three domains, the mobile node `phone`, no
link called `wan`, the distances on the inter-domain links and the association latency under
`kinds:`), run by the real runner into a temporary results folder; the report shows the
measured numbers, every emulated value where it was set, and the RFC's roaming column
beside the configuration `tri` because the experiment maps it there."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
EXPERIMENT = "tests/integration/experiments/tri-domain.yaml"
SCENARIOS = {"post-authentication": "dot11i-post-authentication",
             "pre-authentication": "dot11i-pre-authentication",
             "mpa": "mpa-l2-pre-authentication"}
TAH = "Time affecting handover"
pytestmark = [pytest.mark.root, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    r = subprocess.run([sys.executable, "-m", "orchestrator.cli", "run", EXPERIMENT,
                        "--results", str(results)], cwd=REPO, capture_output=True, text=True,
                       timeout=560)
    assert r.returncode == 0, r.stderr[-3000:]
    [new] = (results / "tri-domain").glob("*")
    return new


@pytest.fixture(scope="module")
def records(run_dir):
    return pd.read_parquet(run_dir / "records.parquet")


@pytest.fixture(scope="module")
def readme(run_dir):
    return (run_dir / "README.md").read_text()


def _median(df, scenario, phase):
    return df[(df.scenario == scenario) & (df.phase == phase) & (df.status == "ok")].ms.median()


def test_every_handover_of_the_phone_is_measured(records):
    assert (records.status == "ok").all(), records[records.status != "ok"].error.tolist()
    assert set(records.mobile_node) == {"phone"} and set(records.configuration) == {"tri"}
    got = records.groupby(["scenario", "scheme"]).repetition.nunique().to_dict()
    assert got == {(s, f): 2 for s, f in SCENARIOS.items()}
    # home is 30 ms away (60 ms RTT): without pre-authentication every EAP round trip
    # crosses to it, and EAP-TLS takes four at least (identity, TLS hello, certificates,
    # finished)
    assert _median(records, "post-authentication", "Tauth") > 4 * 60
    assert _median(records, "post-authentication", TAH) > 5 * _median(records, "mpa", TAH)
    assert _median(records, "mpa", "Tconf") > 0


def test_the_records_carry_every_emulated_value_of_the_topology(records):
    for ap in ("x-ap", "y-ap1", "y-ap2"):
        assert (records[f"emulated:nodes.{ap}.association_latency[ms]"] == 10.0).all()
    assert (records["emulated:links.x-gw--y-gw.delay[ms]"] == 5.0).all()
    assert (records["emulated:links.y-gw--far-gw.delay[ms]"] == 30.0).all()
    assert (records["emulated:links.y-gw--far-gw.jitter[ms]"] == 2.0).all()
    assert records["measured:links.x-gw--far-gw.rtt[ms]"].between(60.0, 67.0).all()
    assert records["measured:links.x-gw--y-gw.rtt[ms]"].between(10.0, 12.0).all()
    assert not [c for c in records.columns if "wan" in c]
    assert not [c for c in records.columns if c.startswith("param:")]     # nothing overridden


def test_the_report_shows_the_numbers_and_where_each_emulated_value_was_set(run_dir, records,
                                                                            readme):
    assert readme.startswith("# tri-domain, run ")
    for row in ("| `association_latency of x-ap, y-ap1, y-ap2` | 10 ms | topology kinds.access_point | all configurations |",
                "| `links.x-gw--y-gw.delay` | 5 ms | topology links[11] | all configurations |",
                "| `links.x-gw--far-gw.delay` | 30 ms | topology links[12] | all configurations |",
                "| `links.y-gw--far-gw.delay` | 30 ms | topology links[13] | all configurations |",
                "| `links.y-gw--far-gw.jitter` | 2 ms | topology links[13] | all configurations |"):
        assert row in readme, row
    assert "(none recorded)" not in readme
    # every constant the controller and agents reported, with its source
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    for e in events:
        if e["event"] == "emulation_constants":
            for name, spec in e["attrs"].items():
                assert f"| `{name}` (emulation constant) |" in readme or \
                    f"| `{name}@{e['node']}` (emulation constant) |" in readme, name
    # Figure 10's roaming column beside `tri`, with the numbers the records hold
    head = next(ln for ln in readme.splitlines() if ln.startswith("| Operation |"))
    titles = [c.strip() for c in head.strip("|").split("|")][1:]
    assert titles == [f"{t}, tri (RFC roaming)" for t in (
        "802.11i post-authentication", "802.11i pre-authentication",
        "MPA-assisted L2 pre-authentication")]
    row = next(ln for ln in readme.splitlines() if ln.startswith(f"| {TAH} |"))
    cells = [c.strip() for c in row.strip("|").split("|")][1:]
    assert [c.split(" (")[1] for c in cells] == ["616)", "17)", "17)"]
    measured = [float(c.split(" (")[0]) for c in cells]
    for got, scenario in zip(measured, SCENARIOS):
        assert got == pytest.approx(_median(records, scenario, TAH), rel=0.01, abs=0.1)
    checks = re.search(r"## Structure checks: (\d+) ok, (\d+) failed(, \d+ not measured)?", readme)
    assert checks and int(checks.group(1)) >= 4 and checks.group(3) is None, checks
    # the generic statistics of every phase, the ladders and the distribution
    assert "## Measured: every phase per configuration and scenario" in readme
    for scenario in SCENARIOS:
        ladder = run_dir / "figures" / "ladder" / f"tri--{scenario}.png"
        assert ladder.stat().st_size > 10_000, ladder
        nodes = json.loads((run_dir / "ladder" / "tri" / scenario / "nodes.json").read_text())
        assert nodes["mobile_node"] == "phone" and nodes["home_domain"] == "far"
    svg = (run_dir / "figures" / "distribution.svg").read_text()
    assert "links.y-gw--far-gw.delay 30 ms" in svg
