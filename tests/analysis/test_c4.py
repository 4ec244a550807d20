"""RFC 6252 C.4 (analysis/reproductions/c4.py) from a synthetic run of the baseline, the
three schemes and the buffering alternative: the table, the RFC's claims as checks, checks
that fail when a run contradicts them, every emulated value and the movement constants
beside the table."""
import json

from orchestrator.analysis.records import RunData
from orchestrator.analysis.reproduction import registered
from tests.analysis import synthetic

SCENARIOS = {"one-ctn": "one", "scheme-1": "s1", "scheme-2": "s2", "scheme-3": "s3",
             "scheme-2-buffering": "sb"}


def _values(scen: str, rep: int, broken: bool) -> dict:
    s = {"one": 0, "s1": 1, "s2": 2, "s3": 3, "sb": 4}[scen]
    ctns = 1 if scen == "one" else 3
    v = {"preauthentications": (ctns, "count"),
         "preconfigurations": (0 if scen == "s1" else ctns, "count"),
         "tunnel_seconds": (0.0 if scen == "s1" else 2.5 * ctns, "s"),
         "pana_messages": (15 * ctns, "count"), "pana_octets": (3700 * ctns, "octets"),
         "ikev2_messages": (0 if scen == "s1" else 8 * ctns, "count"),
         "ikev2_octets": (0 if scen == "s1" else 3000 * ctns, "octets"),
         "dhcp_messages": (5 * ctns, "count"), "dhcp_octets": (1700 * ctns, "octets"),
         "sip_messages": (6 + 3 * (s == 3) * 3, "count"), "sip_octets": (3000 + 4000 * (s == 3), "octets"),
         "binding_updates": (4 if s == 3 else 2, "count"),
         "contacts_max": (3 if s == 3 else 1, "count"),
         "transient_packets": (700 if s == 3 else 0, "count"),
         "transient_octets": (120400 if s == 3 else 0, "octets"),
         "transient_seconds": (5.8 if s == 3 else 0.0, "s"),
         "transient_addresses": (2 if s == 3 else 0, "count"),
         "stream_ncoas_before": (3 if s == 3 else 1 if scen == "one" else 0, "count"),
         "mpa_completed": (1.0, "bool"), "handover_delay": (40.0 + 1000 * (s in (1, 2)) + rep, "ms"),
         "media_handover_delay": (2.0 + 1100 * (s in (1, 2)), "ms"),
         "packets_lost": (1 + 60 * (s in (1, 2)), "count")}
    v["signalling_messages"] = (sum(v[f"{p}_messages"][0] for p in ("pana", "ikev2", "dhcp", "sip")), "count")
    v["signalling_octets"] = (sum(v[f"{p}_octets"][0] for p in ("pana", "ikev2", "dhcp", "sip")), "octets")
    if s == 3:
        v["transient_unended"] = (1 if broken else 0, "count")
    if s == 4:              # buffered at the target access router; loss 0 (scheme 3: 1)
        v.update({"buffered_packets": (3, "count"), "buffer_held": (38.0 + rep, "ms"),
                  "buffer_flushed_by_attached": (0.0 if broken and rep == 2 else 1.0, "bool"),
                  "handover_binding_update": (52.0, "ms"),
                  "packets_lost": (4 if broken else 0, "count")})
    else:
        v["buffered_packets"] = (0, "count")
    if broken and scen == "s1":
        v["preconfigurations"], v["tunnel_seconds"] = (1, "count"), (2.0, "s")
    return v


def _run(tmp_path, broken: bool = False) -> RunData:
    records = {(scen, rep): _values(scen, rep, broken)
               for scen in SCENARIOS.values() for rep in (1, 2)}
    spec = {"name": "c4", "repetitions": 2,
            "reference": {"table": "rfc6252_c4", "columns": SCENARIOS},
            "scenarios": [{"name": s, "flow": "movement"} for s in SCENARIOS.values()]}
    synthetic.write_run(tmp_path, "c4", "movement", records, spec)
    rep = tmp_path / "movement" / "rtt" / "s3"
    rep.mkdir(parents=True)
    (rep / "rep1.json").write_text(json.dumps({
        "constants": {"sample_interval_s": 0.05, "binding_update": "before",
                      "preparation_timeout_s": 5.0},
        "plan": {"params": {"ctn_selection": "above", "ctn_min_rssi": -70.0},
                 "model": {"exponent": 3.0}, "length_m": 20.0, "mean_speed": 1.0}}))
    return RunData.load(tmp_path)


def _parts(run):
    c4 = registered()["rfc6252_c4"]
    tables = {k: v for f in c4._tables for k, v in f(run).items()}
    checks = [c for f in c4._checks for c in f(run)]
    return c4, tables, {c["id"]: c for c in checks}


def test_table_and_checks_of_a_run_that_bears_out_the_rfc(tmp_path):
    run = _run(tmp_path)
    c4, tables, checks = _parts(run)
    t = tables["c4_schemes.csv"]
    assert list(t["scheme"]) == ["one-ctn", "scheme-1", "scheme-2", "scheme-3",
                                 "scheme-2-buffering"]
    s3 = t[t["scheme"] == "scheme-3"].iloc[0]
    assert s3.transient_octets == 120400 and s3.contacts_max == 3 and s3.repetitions == 2
    assert s3.handover_delay_median == 41.5 and s3.handover_delay_max == 42.0
    assert sorted(checks) == list("abcdefghij")
    assert all(c["ok"] is True for c in checks.values()), checks
    md = tables["c4.md"]
    assert "| scheme 3: + binding updates with all (transient streams) (2) |" in md
    assert "700 / 120.4 / 5.80 (2.0)" in md                       # the transient streams
    sb = [line for line in md.splitlines() if line.startswith("| buffering: scheme 2")]
    assert len(sb) == 1 and "| 0 / 0.0 / 0.00 (0.0) |" in sb[0]     # no transient stream
    assert "| 3.0 (39.5) |" in sb[0]                              # buffered (held ms)
    assert checks["h"]["measured"] == 0 and checks["j"]["rfc"] == 1 and checks["i"]["measured"] == 3
    assert "Emulated values:" in md and "`binding_update`" in md and "`policy.ctn_min_rssi`" in md
    assert "| `radio.exponent` | 3.0 |" in md and "`speed_mps`" in md      # s3 only
    readme = [line for f in c4._readme for line in f(run, list(checks.values()))]
    assert readme[0].startswith("## RFC 6252 C.4") and "## Checks: 10 ok, 0 failed" in readme
    summary = [line for f in c4._summary for line in f(run, list(checks.values()))]
    assert "scheme-3 " in summary[0] and "120.4 kB transient" in summary[0]
    assert "Checks: 10 ok" in summary[0]


def test_checks_fail_when_the_run_contradicts_the_rfc(tmp_path):
    _, _, checks = _parts(_run(tmp_path, broken=True))
    assert checks["b"]["ok"] is False                  # scheme 1 held a tunnel
    assert checks["f"]["ok"] is False                  # a transient stream never ended
    assert checks["a"]["ok"] is True
    assert checks["h"]["ok"] is False                  # one hold ended by the cap, not ATTACHED
    assert checks["i"]["ok"] is False                  # the cap re-sent them, the MN away
    assert checks["j"]["ok"] is False                  # 4 packets lost, scheme 3 lost 1


def test_a_run_without_scheme_3_has_no_scheme_3_checks(tmp_path):
    records = {(scen, rep): _values(scen, rep, False) for scen in ("one", "s1") for rep in (1, 2)}
    spec = {"name": "c4", "reference": {"table": "rfc6252_c4",
                                         "columns": {"one-ctn": "one", "scheme-1": "s1"}},
            "scenarios": [{"name": "one", "flow": "movement"}, {"name": "s1", "flow": "movement"}]}
    synthetic.write_run(tmp_path, "c4", "movement", records, spec)
    _, tables, checks = _parts(RunData.load(tmp_path))
    assert sorted(checks) == ["a", "b"] and len(tables["c4_schemes.csv"]) == 2


def _buffering_checks(tmp_path, other: str, **changes) -> dict:
    """The checks of a run of the scheme `other` (RFC column -> "o") and the buffering
    alternative ("sb"), whose records get `changes` (value -> (value, unit))."""
    def values(scen, rep):
        v = _values(scen, rep, False)
        return {**v, **changes} if scen == "sb" else v
    code = {"scheme-2": "s2", "scheme-3": "s3"}[other]
    records = {(scen, rep): values(scen, rep) for scen in (code, "sb") for rep in (1, 2)}
    spec = {"name": "c4", "reference": {"table": "rfc6252_c4",
                                         "columns": {other: code, "scheme-2-buffering": "sb"}},
            "scenarios": [{"name": code, "flow": "movement"}, {"name": "sb", "flow": "movement"}]}
    synthetic.write_run(tmp_path, "c4", "movement", records, spec)
    return _parts(RunData.load(tmp_path))[2]


def test_the_buffering_alternative_fails_when_a_transient_stream_flowed(tmp_path):
    """(h) holds only with no transient stream; without scheme 3 in the run there is
    nothing to compare its loss with: no (j)."""
    checks = _buffering_checks(tmp_path, "scheme-2", transient_packets=(12, "count"))
    assert sorted(checks) == ["h", "i"] and checks["h"]["ok"] is False
    assert checks["i"]["ok"] is True


def test_nothing_buffered_is_not_a_verdict_on_forwarding(tmp_path):
    """A hold no packet arrived in (a layer-2 handoff shorter than the stream's interval)
    ended by the ATTACHED: (h) holds, (i) is not measured."""
    checks = _buffering_checks(tmp_path, "scheme-3", buffered_packets=(0, "count"),
                               buffer_held=(0.0, "ms"))
    assert checks["h"]["ok"] is True and checks["i"]["ok"] is None and checks["j"]["ok"] is True
