"""RFC 6252 Figure 6 (C.5.1, Mobile IPv6 with MPA) from synthetic records: the table beside
the RFC's four columns and the non-MPA handover, the checks (and that they fail when they
should), the report; the ladder's IPv6 and Mobile IPv6 rows."""
import math

import pandas as pd
import pytest

from orchestrator.analysis import ladder, report
from orchestrator.analysis.records import RunData
from orchestrator.analysis.reproductions import fig6
from tests.analysis import synthetic

SCENARIOS = {"buf-off-ro-off": "buffering-disabled-ro-disabled",
             "buf-on-ro-off": "buffering-enabled-ro-disabled",
             "buf-off-ro-on": "buffering-disabled-ro-enabled",
             "buf-on-ro-on": "buffering-enabled-ro-enabled", "non-mpa": "non-mpa"}
SPEC = {"name": "fig6", "seed": 1, "repetitions": 3,
        "reference": {"table": "rfc6252_fig6", "columns": {c: s for s, c in SCENARIOS.items()}},
        "scenarios": [{"name": s, "flow": "mipv6-non-mpa" if s == "non-mpa" else "mipv6-mpa",
                       "from": "ap-b", "to": "ap-a"} for s in SCENARIOS]}


def records(loss_with_buffering: float = 0.0, ro_delay: float = 0.0) -> pd.DataFrame:
    rows = []
    for s in SCENARIOS:
        non = s == "non-mpa"
        for rep in (1, 2, 3):
            values = {"l2_handoff": 20.0 + rep, "l3_handoff": 1500.0 if non else 5.0,
                      "packet_loss": 100.0 if non else (loss_with_buffering if "on-ro" in s
                                                        and rep == 3 else 1.0 * ("off-ro" in s)),
                      "inter_packet_interval": 16.0, "handover_delay":
                      1600.0 + rep if non else 25.0 + rep + (ro_delay if s.endswith("ro-on") else 0),
                      "inter_packet_during_handover": 40.0}
            if "buf-on" in s:
                values.update(buffering_period=50.0, buffered_packets=3.0)
            rows += [{"experiment": "fig6", "configuration": "intra-domain",
                      "base_configuration": "intra-domain", "mobile_node": "mn", "scenario": s,
                      "scheme": "mipv6-non-mpa" if non else "mipv6-mpa", "repetition": rep,
                      "phase": ph,
                      "ms": v, "value": v, "unit": "ms", "status": "ok", "error": ""}
                     for ph, v in values.items()]
    return pd.DataFrame(rows)


def run(tmp_path, df=None) -> RunData:
    return RunData.load(synthetic.run_dir(tmp_path, records() if df is None else df,
                                          spec=SPEC, name="fig6"))


def by_id(checks, cid):
    return [c for c in checks if c["id"] == cid]


def test_table_beside_the_rfc(tmp_path):
    table = fig6.beside_rfc(run(tmp_path))
    assert list(dict.fromkeys(table["case"])) == list(SCENARIOS.values())
    cell = table[(table.metric == "packet_loss") & (table.scenario == "buf-on-ro-off")].iloc[0]
    assert (cell["median"], cell["rfc"]) == (0.0, "0")
    non = table[(table.metric == "handover_delay") & (table.scenario == "non-mpa")].iloc[0]
    assert non["rfc_value"] == 4000.0 and non["median"] == 1602.0
    derived = table[(table.metric == "handover_delay") & (table.scenario == "buf-on-ro-on")]
    assert derived.iloc[0]["rfc"] == "5 (L2 + L3)"
    md = fig6.beside_markdown(table)
    assert "| Avg. packet loss |" in md and "buf-on-ro-on (buffering on, RO on) | RFC" in md


def test_checks_hold_and_fail_when_they_should(tmp_path):
    ok = fig6.checks(run(tmp_path / "a"), captures=False)
    assert [c["id"] for c in ok] == ["a", "a", "b", "b", "c", "d"]
    assert all(c["ok"] for c in ok), ok
    assert by_id(ok, "d")[0]["measured"] == pytest.approx(1602.0 / 27.0)
    bad = fig6.checks(run(tmp_path / "b", records(loss_with_buffering=4.0, ro_delay=200.0)),
                      captures=False)
    assert [c["ok"] for c in by_id(bad, "a")] == [False, False]
    assert [c["ok"] for c in by_id(bad, "b")] == [False, False]


def test_report_registers_the_reproduction(tmp_path):
    data = run(tmp_path)
    paths = report.report(data.dir)
    assert "tables/fig6_beside_rfc.md" in paths
    readme = paths["README.md"].read_text()
    assert "## RFC 6252 Figure 6 beside this run" in readme
    assert (data.dir / "figures" / "fig6_handover.png").exists()


def test_ladder_draws_mobile_ipv6():
    row = {"time": "1.0", "eth_type": "0x86dd", "ip6_src": "2001:db8:b::100",
           "ip6_dst": "2001:db8:a::1", "ip6_nxt": "41", "mip6_type": "5"}
    assert ladder.describe(row) == ("mipv6", "MIPv6 BU (tunnelled)")
    assert ladder.describe({**row, "ip6_nxt": "60", "mip6_type": "6"}) == ("mipv6", "MIPv6 BA")
    dad = {"time": "1.0", "eth_type": "0x86dd", "ip6_src": "::", "ip6_dst": "ff02::1:ff00:100",
           "icmp6_type": "135", "nd_target": "2001:db8:a::100", "eth_src": "02:00:00:00:00:01",
           "eth_dst": "33:33:ff:00:01:00"}
    assert ladder.describe(dad) == ("nd", "NS 2001:db8:a::100 (DAD)")
    frame = ladder.frame_from_row(dad, "ar-a")
    assert frame.src == ("02:00:00:00:00:01",)        # the unspecified address names no lane
    una = {**dad, "ip6_src": "2001:db8:a::100", "icmp6_type": "136", "na_flags": "0"}
    assert ladder.describe(una) == ("nd", "unsolicited NA 2001:db8:a::100")
    assert ladder.describe({**una, "na_flags": "1"}) is None
    rtp = {"time": "1.0", "eth_type": "0x86dd", "ip6_src": "2001:db8:3::1",
           "ip6_dst": "2001:db8:b::100", "ip6_nxt": "41", "sport": "4000", "dport": "4000",
           "rtp_seq": "77"}
    f = ladder.frame_from_row(rtp, "ha")
    assert (f.label, f.seq, f.src) == ("RTP seq 77 (tunnelled)", 77, ("2001:db8:3::1",))
    assert not math.isnan(f.t)
