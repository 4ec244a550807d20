"""C.4's third scheme on the emulated network (issue 16): the MN in a call pre-configures
with three CTNs, its re-INVITEs name every nCoA, the CN's transient streams reach the MN
through more than one tunnel, and the final re-INVITE with one contact after the handover
ends them. On the same bring-up, C.4's buffering alternative: the same preparation, one
re-INVITE through the chosen CTN's tunnel at the handover, no transient stream, and the
chosen CTN's access router buffers across the move and flushes on the MN's ATTACHED.
Asserts outcomes from the run's events, records and receiver log, no timings."""
import json

import pandas as pd
import pytest

from orchestrator.analysis.records import RunData
from orchestrator.analysis.reproduction import registered
from tests.support.runs import run_experiment

pytestmark = [pytest.mark.root, pytest.mark.timeout(600)]


def test_scheme_3_transient_streams_end_with_the_final_reinvite_and_buffering_has_none(tmp_path):
    run_dir = run_experiment(tmp_path, "tests/integration/experiments/c4-scheme3.yaml",
                             "c4-scheme3")
    progress = [json.loads(l) for l in (run_dir / "progress.jsonl").read_text().splitlines()]
    assert [p["status"] for p in progress] == ["ok", "ok"], progress
    rep = json.loads((run_dir / "movement" / "c" / "scheme-3" / "rep1.json").read_text())
    [handover] = rep["movement"]["handovers"]
    assert (handover["ap"], handover["how"], handover["status"]) == ("ap-a", "mpa", "ok")
    bus = rep["movement"]["binding_updates"]
    before = [b for b in bus if b["when"] == "before" and b["status"] == "ok"]
    assert max(len(b["contacts"]) for b in before) == 3          # every CTN's nCoA
    assert bus[-1]["when"] == "after" and bus[-1]["status"] == "ok"
    final = bus[-1]["contacts"]
    assert len(final) == 1
    events = [json.loads(l) for l in (run_dir / "events.jsonl").read_text().splitlines()]
    end = max(p["mono_ns"] for p in rep["stream"])               # scheme 3's call ended
    all_events, events = events, [e for e in events if e["mono_ns"] <= end]
    cn = [e for e in events if e["role"] == "correspondent"]
    starts = [e for e in cn if e["event"] == "transient_streams_start"]
    ends = [e for e in cn if e["event"] == "transient_streams_end"]
    assert starts and len(ends) == len(starts)                    # each one ended
    last = ends[-1]["attrs"]
    assert last["stream_to"].startswith(final[0] + ":") and last["packets"] > 0
    # the stream reached the MN at more than one nCoA before the handover, and after the
    # final re-INVITE only at its one address
    final_bu = max(e["mono_ns"] for e in events if e["event"] == "binding_update_done")
    move = next(e["mono_ns"] for e in events if e["event"] == "l2_handoff_start"
                and e["node"] == "mn" and e["mono_ns"] > starts[0]["mono_ns"])
    packets = rep["stream"]
    ncoas = {b for u in before for b in u["contacts"]}
    reached = {p["dst"].rsplit(":", 1)[0] for p in packets if p["mono_ns"] < move}
    assert len(reached & ncoas) > 1, reached
    after = {p["dst"].rsplit(":", 1)[0] for p in packets if p["mono_ns"] > ends[-1]["mono_ns"]
             and p["mono_ns"] > final_bu}
    assert after == set(final)
    df = pd.read_csv(run_dir / "records.csv")
    v = {r.phase: r.value for r in df[df["scenario"] == "scheme-3"].itertuples()}
    assert v["transient_packets"] > 0 and v["transient_unended"] == 0
    assert v["preconfigurations"] == 3 and v["contacts_max"] == 3
    assert v["sip_messages"] >= 3 * len(bus) and v["pana_messages"] > 0 and v["dhcp_messages"] > 0
    c4 = registered()["rfc6252_c4"]
    checks = {c["id"]: c for f in c4._checks for c in f(RunData.load(run_dir))}
    assert checks["e"]["ok"] is True and checks["f"]["ok"] is True, checks
    assert "transient streams" in (run_dir / "tables" / "c4.md").read_text()
    _buffering_alternative(run_dir, all_events, df, checks)


def _buffering_alternative(run_dir, events, df, checks):
    rep = json.loads((run_dir / "movement" / "c" / "scheme-2-buffering" / "rep1.json").read_text())
    [handover] = rep["movement"]["handovers"]
    assert (handover["ap"], handover["how"], handover["status"]) == ("ap-a", "mpa", "ok")
    assert handover["buffering"] is True
    # one re-INVITE, at the handover, naming the chosen CTN's nCoA alone; none after the move
    [bu] = rep["movement"]["binding_updates"]
    assert (bu["when"], bu["status"], len(bu["contacts"])) == ("handover", "ok", 1)
    ncoa = bu["contacts"][0]
    start = handover["start_ns"]
    mine = [e for e in events if e["mono_ns"] >= start]
    assert not [e for e in mine if e["event"].startswith("transient_streams")]
    # the chosen CTN's access router armed its buffer for that nCoA and flushed it on the
    # MN's ATTACHED (not by its cap) with what the MN was told
    armed = [e for e in mine if e["event"] == "buffering_start"]
    flushed = [e for e in mine if e["event"] == "buffering_flushed"]
    assert [(e["attrs"]["ncoa"], e["attrs"]["mn"]) for e in armed] == [(ncoa, "mn")]
    assert [(e["node"], e["attrs"]["ncoa"], e["attrs"]["reason"]) for e in flushed] == \
        [(armed[0]["node"], ncoa, "MN attached")]
    assert flushed[0]["attrs"]["packets"] == handover["buffered_packets"]
    attached = next(e for e in mine if e["event"] == "post_switching_done" and e["node"] == "mn")
    assert attached["attrs"]["buffered_packets"] == handover["buffered_packets"]
    # after the move the stream arrives at the nCoA
    move = next(e["mono_ns"] for e in mine if e["event"] == "l2_handoff_start" and e["node"] == "mn")
    assert {p["dst"].rsplit(":", 1)[0] for p in rep["stream"] if p["mono_ns"] > move} == {ncoa}
    v = {r.phase: r.value for r in df[df["scenario"] == "scheme-2-buffering"].itertuples()}
    assert v["transient_packets"] == 0 and v["buffer_flushed_by_attached"] == 1
    assert v["buffered_packets"] == handover["buffered_packets"]
    assert v["preconfigurations"] == 3 and v["contacts_max"] == 1 and v["binding_updates"] == 1
    assert checks["h"]["ok"] is True, checks
