"""RFC 6252 C.1/C.2 (analysis/reproductions/c1.py) from a synthetic switch-back run: the
table per context and direction, C.2's claims as checks, and checks that fail when a run
contradicts them."""
import json

from orchestrator.analysis.records import RunData
from orchestrator.analysis.reproduction import registered
from tests.analysis import synthetic


def _run(tmp_path, eap_with_mpa_sa: int = 0, lost: tuple | None = None,
         notices: int = 2) -> RunData:
    records = {}
    for scen, fast in (("kept", True), ("forget", False)):
        for rep in (1, 2):
            vals = {f"switch {i} {'away' if i % 2 else 'back'}":
                    ((12.0 + i if fast else 400.0 + 10 * i), "ms") for i in range(1, 5)}
            if lost is not None:
                vals.update({f"lost {i} {'away' if i % 2 else 'back'}":
                             (lost[0] if fast else lost[1], "packets") for i in range(1, 5)})
            vals.update({"eap_runs": ((eap_with_mpa_sa if fast else 4), "count"),
                         "paa_unauthorized": ((2 if fast else 0), "count"),
                         "paa_authorized": ((2 if fast else 0), "count"),
                         "paa_eap_sessions": (1, "count"),
                         "paa_departure_notices": ((notices if fast else 0), "count"),
                         "paa_departure_commands": ((2 - notices if fast else 0), "count")})
            records[(scen, rep)] = vals
    spec = {"name": "c1", "repetitions": 2,
            "reference": {"table": "rfc6252_c1", "columns": {"mpa-sa": "kept", "no-context": "forget"}},
            "scenarios": [{"name": "kept", "flow": "switch-back"}, {"name": "forget", "flow": "switch-back"}]}
    synthetic.write_run(tmp_path, "c1", "switch-back", records, spec)
    ladder = tmp_path / "switch-back" / "rtt" / "kept"
    ladder.mkdir(parents=True)
    (ladder / "rep1.json").write_text(json.dumps({"ladder": [
        {"t_ms": 0.5, "event": "departure_notice", "state": "unauthorized",
         "reason": "REASSOCIATED", "trigger": "from kiosk"},
        {"t_ms": 1.0, "event": "mpa_sa_unauthorized", "state": "unauthorized", "reason": "left",
         "trigger": "departure notice from kiosk"},
        {"t_ms": 2.0, "event": "mpa_sa_authorized", "state": "authorized", "reason": "proof"}]}))
    return RunData.load(tmp_path)


def test_table_and_checks_of_a_run_that_keeps_the_context(tmp_path):
    c1 = registered()["rfc6252_c1"]
    run = _run(tmp_path)
    tables = {k: v for f in c1._tables for k, v in f(run).items()}
    t = tables["c1_switches.csv"].set_index(["context", "direction"])
    assert t.loc[("mpa-sa", "back"), "median_ms"] == 15.0      # switches 2 and 4: 14, 16
    assert t.loc[("no-context", "away"), "median_ms"] == 420.0  # 410, 430
    assert "| 2.0 | mpa_sa_authorized | authorized | proof |  |" in tables["c1.md"]
    assert ("| 1.0 | mpa_sa_unauthorized | unauthorized | left | departure notice from kiosk |"
            in tables["c1.md"])
    checks = c1.run_checks(run)
    assert [c["id"] for c in checks] == ["a", "b", "g", "c", "d"]
    assert all(c["ok"] for c in checks), checks
    assert c1.write_figures(run, tmp_path / "figures")


def test_eap_with_the_mpa_sa_fails_the_first_claim(tmp_path):
    c1 = registered()["rfc6252_c1"]
    checks = {c["id"]: c["ok"] for c in c1.run_checks(_run(tmp_path, eap_with_mpa_sa=1))}
    assert checks["a"] is False and checks["c"] is True


def test_loss_per_switch_with_a_stream(tmp_path):
    c1 = registered()["rfc6252_c1"]
    run = _run(tmp_path, lost=(0, 3))
    t = {k: v for f in c1._tables for k, v in f(run).items()}["c1_switches.csv"]
    t = t.set_index(["context", "direction"])
    assert t.loc[("no-context", "back"), "lost_median"] == 3
    assert t.loc[("no-context", "back"), "lost_total"] == 12      # 2 switches x 2 runs x 3
    checks = {c["id"]: c["ok"] for c in c1.run_checks(run)}
    assert checks["e"] is True
    (tmp_path / "w").mkdir()
    worse = {c["id"]: c["ok"] for c in c1.run_checks(_run(tmp_path / "w", lost=(5, 3)))}
    assert worse["e"] is False


def test_a_departure_the_flow_had_to_tell_the_paa_fails_check_g(tmp_path):
    """C.2 driven by the radio: a departure the PAA heard of only from the flow's command
    (no notice from the AP) is a failure of (g), not of (b)."""
    c1 = registered()["rfc6252_c1"]
    checks = {c["id"]: c for c in c1.run_checks(_run(tmp_path, notices=1))}
    assert checks["g"]["ok"] is False and checks["b"]["ok"] is True
    assert checks["g"]["explanation"] == ("2 unauthorized by a departure notice, 2 by the "
                                            "flow's command, for 4 departures")
