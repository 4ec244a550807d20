"""Every emulated value in the parameters table and captions (analysis/parameters.py): the
configuration's parameters with where they were set, the RTT measured at bring-up, and the
emulation's own constants from `emulation_constants` events."""
import json

import pandas as pd

from orchestrator.analysis import parameters
from orchestrator.analysis.records import RunData
from tests.analysis import synthetic


def _events(run_dir, events):
    (run_dir / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))


def _constants(node, configuration, **values):
    return {"node": node, "role": "x", "event": "emulation_constants", "phase": "setup",
            "mono_ns": 1, "wall": 0.0, "configuration": configuration, "attrs": values}


def test_values_with_their_sources_grouped_by_node_kind(tmp_path, records):
    t = parameters.table(RunData(tmp_path, records, synthetic.SPEC))
    rows = {r.parameter: r for r in t.itertuples()}
    lat = rows["association_latency of ap1, ap2"]
    assert (lat.value, lat.where) == ("15 ms", "all configurations")
    assert lat.source == "experiment parameters: kinds.access_point.association_latency"
    wan = rows["links.wan.delay"]
    assert (wan.value, wan.where) == ("25 ms", "roaming")
    assert "links.wan.jitter" not in rows          # 0 ms, set nowhere: nothing emulated
    assert rows["link_down_detection of mn"].value == "0 ms"


def test_constants_from_the_events_and_the_measured_rtt(tmp_path, records):
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    _events(run_dir, [
        _constants("controller", "roaming",
                   datapath_settle={"value": 5, "unit": "ms", "source": "controller/app.py"}),
        _constants("ap1", "roaming",
                   eapol_key_msg1_retransmission={"value": 100, "unit": "ms", "source": "dot1x"}),
        _constants("ap2", "roaming",
                   eapol_key_msg1_retransmission={"value": 100, "unit": "ms", "source": "dot1x"}),
        _constants("controller", "non-roaming",
                   datapath_settle={"value": 5, "unit": "ms", "source": "controller/app.py"}),
        _constants("ap1", "roaming", broken="not a constant")])
    df = records.copy()
    df.loc[df.configuration == "roaming", "measured:links.wan.rtt[ms]"] = 50.4
    run = RunData(run_dir, df, synthetic.SPEC)
    t = parameters.table(run)
    rows = {(r.group, r.parameter): r for r in t.itertuples()}
    settle = rows[("constant", "datapath_settle")]
    assert (settle.value, settle.where) == ("5 ms", "all configurations")
    assert settle.source == "controller/app.py (controller)"
    msg1 = rows[("constant", "eapol_key_msg1_retransmission")]
    assert (msg1.value, msg1.where, msg1.source) == ("100 ms", "roaming", "dot1x (ap1, ap2)")
    rtt = rows[("measured", "links.wan.rtt")]
    assert (rtt.value, rtt.where) == ("50.4 ms", "roaming")
    md = parameters.markdown(run)
    assert "| `datapath_settle` (emulation constant) | 5 ms | controller/app.py (controller) |" in md
    assert "| `links.wan.rtt` (measured) | 50.4 ms | measured at bring-up (ping) | roaming |" in md
    cap = parameters.caption(run)
    assert "datapath_settle 5 ms" in cap and "links.wan.delay 25 ms [roaming]" in cap


def test_constants_from_the_records_when_the_events_are_gone(tmp_path, records):
    df = records.assign(**{"constant:datapath_settle[ms]": 5.0})
    t = parameters.table(RunData(tmp_path, df, synthetic.SPEC))
    assert ("datapath_settle", "5 ms", "records") in [(r.parameter, r.value, r.source)
                                                       for r in t.itertuples()]


def test_runs_from_before_every_value_was_recorded_show_their_overrides(tmp_path, records):
    df = records.drop(columns=[c for c in records.columns if c.startswith("emulated:")])
    spec = {**synthetic.SPEC, "configurations": {
        c: {k: v for k, v in conf.items() if k != "emulated"}
        for c, conf in synthetic.SPEC["configurations"].items()}}
    t = parameters.table(RunData(tmp_path, df, spec))
    rows = {(r.parameter, r.value): r.where for r in t.itertuples()}
    assert rows[("kinds.access_point.association_latency", "15ms")] == "all configurations"
    assert rows[("links.wan.delay", "25ms")] == "roaming"


def test_sweep_points_of_one_configuration(tmp_path):
    df = pd.DataFrame({"configuration": ["r/d=0ms", "r/d=50ms"], "scenario": "s", "phase": "p",
                       "value": [1.0, 2.0], "status": "ok", "repetition": 1,
                       "emulated:links.d.delay[ms]": [0.0, 50.0],
                       "emulated:nodes.ap.association_latency[ms]": [4.0, 4.0]})
    t = parameters.table(RunData(tmp_path, df, {}))
    rows = {(r.parameter, r.value): r.where for r in t.itertuples()}
    assert rows[("links.d.delay", "0 ms")] == "r/d=0ms"
    assert rows[("links.d.delay", "50 ms")] == "r/d=50ms"
    assert rows[("association_latency of ap", "4 ms")] == "all configurations"
