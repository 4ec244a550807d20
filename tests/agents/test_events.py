"""The event vocabulary and phase_durations, on synthetic records (pure)."""
import random
import re
from pathlib import Path

import pytest

from orchestrator.events import (CELLULAR_SESSION, EVENT_PHASES, INTERVALS, PHASES, VOCABULARY, EventLog,
                                 phase_durations, read_events, vocabulary_problems)

REPO = Path(__file__).resolve().parents[2]
MS = 1_000_000


def rec(event, t_ms, node="mn", phase=None, **attrs):
    return {"node": node, "role": "x", "event": event,
            "phase": phase or EVENT_PHASES.get(event, ("setup",))[0],
            "mono_ns": int(t_ms * MS), "wall": 0.0, "attrs": attrs}


def only(rows, interval, mn="mn"):
    return [r for r in rows if r["interval"] == interval and r["mn"] == mn]


def test_vocabulary_covers_every_phase():
    assert set(VOCABULARY) == set(PHASES)
    for phase, events in VOCABULARY.items():
        assert len(events) == len(set(events)), f"{phase} lists an event twice"
    # only EAP/AAA detail (pre-authentication or after the move), address acquisition and
    # DAD (pre-configuration or, without MPA, after the move) and the tunnel's end (deleted
    # by the nAR after the move) may belong to two phases
    assert {e for e, p in EVENT_PHASES.items() if len(p) > 1} == {
        "eap_start", "eap_done", "eap_failed", "eap_malformed", "eapol_malformed",
        "aaa_request", "aaa_answer", "aaa_retransmitted", "address_request", "address_acquired", "address_failed",
        "address_released", "dad_start", "dad_done", "dad_conflict", "pht_released",
        "pht_failed", *CELLULAR_SESSION}
    for iv in INTERVALS:
        assert iv.phase in EVENT_PHASES[iv.start]


def test_docs_describe_every_event_and_interval():
    text = (REPO / "docs/events.md").read_text()
    missing = [e for e in EVENT_PHASES if not re.search(rf"`{re.escape(e)}`", text)]
    missing += [iv.name for iv in INTERVALS if f"`{iv.name}`" not in text]
    assert not missing, f"docs/events.md does not mention: {missing}"


def test_figure10_times_of_one_mpa_handover():
    """RFC 6252 C.5.3, Figure 10 (roaming, MPA column): Tauth 831, Tconf 17, and the MN-to-port
    time (Tl2) 17."""
    records = [
        rec("preauth_start", 0, ctn="net-a", paa="10.1.0.1"),
        rec("eap_start", 2, node="nar", mn="mn"),
        rec("preauth_done", 831),
        rec("psk_install_start", 832, node="nar", mn="mn", targets=["ap1", "ap2"]),
        rec("psk_installed", 840, node="nar", mn="mn", target="ap1"),
        rec("psk_installed", 848, node="nar", mn="mn", target="ap2"),
        rec("tconf_done", 849, node="nar", mn="mn", installed=["ap1", "ap2"], failed=[]),
        rec("l2_handoff_start", 2000, bssid="02:00:00:00:01:01"),
        rec("assoc_request", 2001, node="controller", sta="mn", ap="ap1"),
        rec("associated", 2015, node="controller", sta="mn", ap="ap1"),
        rec("l2_handoff_done", 2015.5),
        rec("port_authorized", 2017, node="controller", sta="mn", ap="ap1"),
    ]
    rows = phase_durations(records)
    assert [(r["interval"], r["status"], round(r["duration_ms"], 1)) for r in rows] == [
        ("Tauth", "ok", 831.0), ("Tconf", "ok", 17.0), ("Tassoc", "ok", 15.5),
        ("Tl2", "ok", 17.0)]
    assert only(rows, "Tconf")[0]["end_attrs"]["installed"] == ["ap1", "ap2"]
    t = only(rows, "Tl2")[0]
    assert (t["start_node"], t["end_node"]) == ("mn", "controller")
    assert t["end_attrs"]["ap"] == "ap1" and t["start_attrs"]["bssid"].endswith("01:01")
    assert only(rows, "Tconf")[0]["start_node"] == "nar"


def test_input_order_does_not_matter():
    records = [rec("preauth_start", 0), rec("preauth_done", 10), rec("preauth_start", 20),
               rec("preauth_done", 35)]
    shuffled = records[:]
    random.Random(1).shuffle(shuffled)
    assert phase_durations(shuffled) == phase_durations(records)
    assert [r["duration_ms"] for r in phase_durations(records)] == [10.0, 15.0]


def test_failures_and_unfinished_starts_are_reported_not_dropped():
    rows = phase_durations([
        rec("preauth_start", 0), rec("preauth_failed", 5, reason="eap_failure"),
        rec("preauth_start", 10),                    # superseded by the next start
        rec("preauth_start", 20), rec("preauth_done", 30),
        rec("binding_update_start", 40),             # never finished
    ])
    assert [(r["interval"], r["status"], r["duration_ms"]) for r in rows] == [
        ("Tauth", "failed", 5.0), ("Tauth", "unfinished", None), ("Tauth", "ok", 10.0),
        ("Tbu", "unfinished", None)]
    assert rows[0]["end_attrs"] == {"reason": "eap_failure"}


def test_an_end_without_a_start_is_ignored():
    assert phase_durations([rec("preauth_done", 5), rec("port_authorized", 6, node="c",
                                                        sta="mn")]) == []


def test_mobile_nodes_are_paired_separately():
    rows = phase_durations([
        rec("l2_handoff_start", 0, node="mn1"), rec("l2_handoff_start", 1, node="mn2"),
        rec("port_authorized", 5, node="controller", sta="mn2"),
        rec("port_authorized", 9, node="controller", sta="mn1"),
    ])
    assert {(r["mn"], r["duration_ms"]) for r in rows if r["interval"] == "Tl2"} == {
        ("mn1", 9.0), ("mn2", 4.0)}


def test_eap_after_the_move_is_not_pre_authentication():
    """The same EAP events in two phases: only the interval's phase pairs."""
    rows = phase_durations([
        rec("post_auth_start", 0), rec("eap_start", 1, phase="switching"),
        rec("eap_done", 60, phase="switching"), rec("post_auth_done", 61),
    ])
    assert [(r["interval"], r["duration_ms"]) for r in rows] == [("Tpostauth", 61.0)]


def test_emit_takes_the_phase_from_the_vocabulary(tmp_path):
    log = EventLog(tmp_path / "events" / "mn.jsonl", "mn", "mobile-node")
    assert log.emit("preauth_start", ctn="a")["phase"] == "pre-authentication"
    assert log.emit("eap_start")["phase"] == "pre-authentication"
    assert log.emit("eap_start", "switching")["phase"] == "switching"
    assert log.emit("something_else")["phase"] == "setup"
    log.emit("l2_handoff_start", phase="setup")      # recorded, and reported below
    with pytest.raises(ValueError, match="unknown phase 'switch'"):
        log.emit("x", phase="switch")
    log.emit("preauth_done")
    log.close()
    records = read_events(tmp_path)
    rows = phase_durations(records)
    assert [r["interval"] for r in rows] == ["Tauth"] and rows[0]["duration_ms"] > 0
    assert vocabulary_problems(records) == [
        "mn: event 'something_else' is not in the vocabulary",
        "mn: event 'l2_handoff_start' under phase 'setup', expected switching"]


def test_docs_print_figure10s_times_as_the_code_computes_them():
    """docs/events.md's table of Figure 10's times is phases.DEFINITIONS, row for row."""
    from orchestrator.experiment.phases import DEFINITIONS, PHASES
    text = (REPO / "docs/events.md").read_text()
    table = text[text.index("## Figure 10's times"):text.index("## What the report reads")]
    rows = [ln for ln in table.splitlines() if ln.startswith("| `")]
    assert rows == [f"| `{p}` | {DEFINITIONS[p]} |" for p in PHASES]
    assert "`port_authorized` (controller)" not in table      # that is Tl2, not Tassoc+4way


def test_every_event_the_code_emits_by_name_is_in_the_vocabulary():
    """A literal `emit("name", "phase", ...)` anywhere in the orchestrator names an event of
    the vocabulary, under one of its phases (issue 16's departure notice and movement events
    were emitted unknown to it; the mipv6 run's vocabulary check found them)."""
    call = re.compile(r'\b_?emit\(\s*"([a-z0-9_]+)"\s*(?:,\s*"([a-z-]+)")?')
    found, problems = 0, []
    for path in sorted((REPO / "orchestrator").rglob("*.py")):
        for m in call.finditer(path.read_text()):
            event, phase = m.groups()
            found += 1
            if event not in EVENT_PHASES:
                problems.append(f"{path.relative_to(REPO)}: {event}")
            elif phase is not None and phase not in EVENT_PHASES[event]:
                problems.append(f"{path.relative_to(REPO)}: {event} under {phase}")
    assert found > 100                        # the pattern still finds the emitters
    assert problems == []
