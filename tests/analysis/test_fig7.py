"""RFC 6252 Figure 7 (C.5.1) from a synthetic run directory: the table beside the RFC, the
non-MPA / MPA ratio, the must-show checks (and that they fail when they should), figures,
the report and summary, and the ladder's SIP/RTP/DHCP/ARP frames."""
import math
import re
import shutil

import pandas as pd
import pytest
import yaml

from orchestrator.analysis import ladder, report
from orchestrator.analysis.records import RunData, load_records
from orchestrator.analysis.reproduction import checks_markdown as _checks_markdown
from orchestrator.analysis.reproductions import fig7
from tests.analysis import synthetic

needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")


def _load(run):
    data = RunData.load(run)
    return data.records, data.spec


def _run(run_dir, df=None, spec=None):
    """RunData of a run directory, with its records or spec replaced."""
    data = RunData.load(run_dir)
    return RunData(data.dir, data.records if df is None else df,
                   data.spec if spec is None else spec)


def checks_markdown(checks):
    return _checks_markdown(fig7.FIG7.title, fig7.CHECKS_INTRO, checks, fig7.FIG7.number_format)


def _by_id(checks, cid, word=""):
    found = [c for c in checks if c["id"] == cid and word in c["check"]]
    assert found, (cid, word, [c["check"] for c in checks])
    return found


def _set(df, scenario, phase, value, rep=1):
    rows = (df["scenario"] == scenario) & (df["phase"] == phase) & (df["repetition"] == rep)
    assert rows.sum() == 1
    df.loc[rows, "value"] = value
    return df


# --- the run's scenarios and the RFC case each is mapped onto

def test_scenarios_take_the_buffering_from_the_spec_and_the_case_from_the_mapping(tmp_path):
    df = pd.DataFrame({"scenario": ["b40", "plain", "x", "l2"],
                       "scheme": ["sip-mpa", "sip-mpa", "sip-non-mpa", "mpa-l2-pre-authentication"],
                       "phase": ["handover_delay"] * 4, "value": [1.0] * 4, "status": ["ok"] * 4,
                       "configuration": "c", "repetition": 1})
    spec = {"scenarios": [{"name": "plain", "flow": "sip-mpa", "buffering": None},
                          {"name": "b40", "flow": "sip-mpa", "buffering": "40ms"},
                          {"name": "secs", "flow": "sip-mpa", "buffering": 0.02}],
            "reference": {"table": "rfc6252_fig7",
                          "columns": {"buffering-enabled": ["b40", "secs"], "non-mpa": "x"}}}
    run = RunData(tmp_path, df, spec)
    got = {s.name: (s.flow, s.buffering_ms, s.case) for s in fig7.scenarios(run)}
    assert got == {"plain": ("sip-mpa", None, None),            # not mapped: no RFC case
                   "b40": ("sip-mpa", 40.0, "buffering-enabled"),
                   "secs": ("sip-mpa", 20.0, "buffering-enabled"),
                   "x": ("sip-non-mpa", None, "non-mpa")}       # l2 is not a SIP flow
    assert [s.name for s in fig7.scenarios(run)] == ["plain", "b40", "secs", "x"]
    assert [s.name for s in fig7.compared(run)] == ["b40", "secs", "x"]
    # the shorthand: a bare table name maps the cases onto scenarios of the same name
    run = RunData(tmp_path, df.assign(scenario=["buffering-enabled", "plain", "non-mpa", "l2"]),
                  {"reference": "rfc6252_fig7"})
    assert {s.name: s.case for s in fig7.scenarios(run)} == {
        "buffering-enabled": "buffering-enabled", "plain": None, "non-mpa": "non-mpa"}


def test_rfc_values_printed_and_derived_from_the_reference_csvs():
    ref = fig7.rfc_values()
    assert ref[("buffering-disabled", "l2_handoff")].text == "4.00"
    assert ref[("buffering-enabled", "packet_loss")].value == 0
    assert ref[("buffering-disabled", "jitter")] == fig7.Rfc("n/a", None)
    assert ref[("non-mpa", "handover_delay")] == fig7.Rfc("4 s", 4000.0)
    assert ref[("non-mpa", "packet_loss")].value == 200
    # derived: our handover delay is L2 + L3; arrival excess is the RFC's "jitter"
    assert ref[("buffering-disabled", "handover_delay")].value == 5.0
    assert ref[("buffering-enabled", "handover_delay")].value == 6.0
    assert ref[("buffering-enabled", "handover_delay")].derived
    assert ref[("buffering-enabled", "arrival_excess")].value == 13.0 == ref[("buffering-enabled", "jitter")].value
    assert ("buffering-disabled", "arrival_excess") not in ref          # n/a - 16


# --- Figure 7 beside the RFC

def test_beside_rfc_has_every_metric_per_scenario_with_the_rfc_value(fig7_run):
    df, spec = _load(fig7_run)
    b = fig7.beside_rfc(_run(fig7_run, df, spec))
    assert len(b) == len(fig7.METRICS) * 3
    assert list(dict.fromkeys(b["metric"])) == [m.name for m in fig7.METRICS]
    cell = {(r.scenario, r.metric): r for r in b.itertuples()}
    assert cell[("buffering-disabled", "l2_handoff")].rfc == "4.00"
    assert cell[("buffering-enabled", "l2_handoff")].rfc == "5.00"
    assert cell[("buffering-enabled", "buffered_packets")].rfc == "3.00"
    assert cell[("non-mpa", "handover_delay")].rfc_value == 4000.0
    assert cell[("non-mpa", "l2_handoff")].rfc == "--"
    for (scenario, metric), r in cell.items():
        ok = df[(df.scenario == scenario) & (df.phase == metric) & (df.status == "ok")]["value"].dropna()
        assert r.n == len(ok)
        if len(ok):
            assert r.median == pytest.approx(ok.median()) and r.min <= r.median <= r.max
    assert cell[("buffering-disabled", "l2_handoff")].n_failed == 1       # the failed repetition
    assert cell[("buffering-disabled", "l2_handoff")].n == 5
    assert cell[("buffering-enabled", "l2_handoff")].n_failed == 0


def test_fig7_markdown_puts_measured_beside_rfc_in_the_rfcs_row_order(fig7_run):
    df, spec = _load(fig7_run)
    md = fig7.fig7_markdown(fig7.beside_rfc(_run(fig7_run, df, spec)), fig7.scenarios(_run(fig7_run, df, spec)))
    labels = [m.rfc_label for m in fig7.METRICS if m.rfc_label]
    positions = [md.index(f"| {label}") for label in labels]
    assert positions == sorted(positions)
    assert md.index("Avg. packet jitter") < md.index("not in the RFC's table") < md.index("Arrival excess")
    l2 = next(ln for ln in md.splitlines() if ln.startswith("| L2 handoff (ms)"))
    cells = [c.strip() for c in l2.strip("|").split("|")]
    assert cells[2] == "4.00" and cells[4] == "5.00" and cells[6] == "--"
    assert re.match(r"^\d+\.\d+ \[\d+\.\d+–\d+\.\d+\] \(5\)$", cells[1]), cells[1]
    delay = next(ln for ln in md.splitlines() if ln.startswith("| Handover delay"))
    assert "5 (L2 + L3)" in delay and "6 (L2 + L3)" in delay and "| 4 s |" in delay
    loss = next(ln for ln in md.splitlines() if ln.startswith("| Avg. packet loss"))
    assert "1.50" in loss and "~200" in loss and "mean" in loss
    excess = next(ln for ln in md.splitlines() if ln.startswith("| Arrival excess"))
    assert "13 (29 - 16)" in excess
    assert "buffering-disabled: 1" in md                                  # failed repetitions


def test_ratio_non_mpa_over_mpa_beside_the_rfcs(fig7_run):
    df, spec = _load(fig7_run)
    r = fig7.ratios(_run(fig7_run, df, spec)).set_index("mpa_scenario")
    ok = df[df.status == "ok"]
    med = lambda s, p: ok[(ok.scenario == s) & (ok.phase == p)]["value"].median()
    for s in ("buffering-disabled", "buffering-enabled"):
        assert r.loc[s, "ratio"] == pytest.approx(med("non-mpa", "handover_delay") / med(s, "handover_delay"))
        assert r.loc[s, "mpa_loss_median"] == med(s, "packet_loss")
    assert r.loc["buffering-disabled", "rfc_ratio"] == pytest.approx(800)
    assert r.loc["buffering-enabled", "rfc_ratio"] == pytest.approx(4000 / 6)
    assert r.loc["buffering-disabled", "rfc_nonmpa_loss"] == 200 and r.loc["buffering-disabled", "rfc_mpa_loss"] == 1.5
    md = fig7.ratios_markdown(fig7.ratios(_run(fig7_run, df, spec)), fig7.scenarios(_run(fig7_run, df, spec)))
    assert "**800**" in md and "**667**" in md and "4000 / 16 = 250" in md


# --- must-show checks

def test_checks_all_pass_on_a_run_that_behaves_like_the_rfc(fig7_run):
    df, spec = _load(fig7_run)
    checks = fig7.checks(_run(fig7_run, df, spec), captures=False)
    assert [c["id"] for c in checks] == ["a", "b", "c", "c", "c", "d", "d"]
    assert all(c["ok"] is True for c in checks), [(c["check"], c["explanation"]) for c in checks]
    a = _by_id(checks, "a")[0]
    assert a["measured"] == 0 and a["rfc"] == 0
    b = _by_id(checks, "b")[0]
    assert b["rfc"] == 1.5 and "ceil((4 + 1) / 16) + 1 = 2" in b["explanation"]
    assert "1 failed repetition" in b["explanation"]
    d = _by_id(checks, "d")
    assert [round(c["rfc"]) for c in d] == [800, 667] and all(c["measured"] > 10 for c in d)
    md = checks_markdown(checks)
    assert md.count("✔ ok") == 7 and "✘" not in md


def test_check_a_fails_when_a_buffered_repetition_loses_one_packet(tmp_path):
    run = synthetic.fig7_run_dir(tmp_path, lost_when_buffering=1, ladder=False)
    df, spec = _load(run)
    a = _by_id(fig7.checks(_run(run, df, spec), captures=False), "a")[0]
    assert a["ok"] is False and a["measured"] == 1
    assert "lost in repetition(s) 1 (1)" in a["explanation"]
    assert "✘ **FAIL**" in checks_markdown([a])


def test_loss_bound():
    assert fig7.loss_bound(4, 1, 16) == 2            # the RFC's buffering-disabled column
    assert fig7.loss_bound(4.5, 12, 16) == 3
    assert fig7.loss_bound(16, 16, 16) == 3


def test_check_b_fails_when_a_repetition_loses_more_than_the_switch_covers(fig7_run):
    df, spec = _load(fig7_run)
    df = _set(df, "buffering-disabled", "packet_loss", 7, rep=2)
    b = _by_id(fig7.checks(_run(fig7_run, df, spec), captures=False), "b")[0]
    assert b["ok"] is False and b["measured"] == 7
    assert re.search(r"over the bound: 2 \(7 > \d", b["explanation"])
    # no packet on the nCoA: no L3 handoff, the repetition cannot be within the bound
    df, _ = _load(fig7_run)
    df = _set(df, "buffering-disabled", "l3_handoff", math.nan, rep=1)
    assert _by_id(fig7.checks(_run(fig7_run, df, spec), captures=False), "b")[0]["ok"] is False


def test_check_c_fails_without_loss_or_with_a_delay_shorter_than_its_parts(fig7_run):
    df, spec = _load(fig7_run)
    lost = _by_id(fig7.checks(_run(fig7_run, _set(df.copy(), "non-mpa", "packet_loss", 0, rep=3)),
                              captures=False), "c", "lost")[0]
    assert lost["ok"] is False and "none lost in repetition(s) 3" in lost["explanation"]
    short = _by_id(fig7.checks(_run(fig7_run, _set(df.copy(), "non-mpa", "handover_delay", 100.0,
                                                   rep=2)), captures=False), "c", "sum")[0]
    assert short["ok"] is False and "below the sum: 2 (100.0 <" in short["explanation"]
    assert short["measured"] < 0.1


def test_nonmpa_parts_do_not_count_a_nested_part_twice():
    rep = {"Tassoc": 4, "Teap": 30, "Tassoc+4way": 40, "Tpostsw": 3030, "Taddr": 3025,
           "Tdad": 3000, "Tbu": 3, "Tpresw": 1, "handover_delay": 3950}
    assert fig7.nonmpa_parts(rep) == {"Tassoc+4way": 40, "Tpostsw": 3030, "Tbu": 3}
    del rep["Tpostsw"], rep["Tassoc+4way"]
    assert fig7.nonmpa_parts(rep) == {"Tassoc": 4, "Teap": 30, "Taddr": 3025, "Tbu": 3}
    assert fig7.nonmpa_parts({"Tassoc": 4, "Tpostauth": 30, "Tdad": 9}) == {"Tassoc": 4, "Tpostauth": 30, "Tdad": 9}
    assert fig7.nonmpa_parts({"l2_handoff": 4}) == {"l2_handoff": 4}


def test_check_c_says_not_measured_when_the_parts_are_missing(fig7_run):
    df, spec = _load(fig7_run)
    df = df[~((df.scenario == "non-mpa") & df.phase.isin(["Taddr", "Tdad", "Tbu", "Tassoc", "Tpostsw",
                                                            "Tassoc+4way", "Teap", "l2_handoff"]))]
    checks = fig7.checks(_run(fig7_run, df, spec), captures=False)
    assert _by_id(checks, "c", "sum")[0]["ok"] is None
    assert _by_id(checks, "c", "DHCP")[0]["ok"] is None
    assert "not measured" in checks_markdown(checks)


def test_check_d_fails_when_non_mpa_is_not_ten_times_slower(fig7_run):
    df, spec = _load(fig7_run)
    non = (df.scenario == "non-mpa") & (df.phase == "handover_delay")
    df.loc[non, "value"] = 50.0
    d = _by_id(fig7.checks(_run(fig7_run, df, spec), captures=False), "d")
    assert [c["ok"] for c in d] == [False, False]


def test_checks_of_a_run_without_non_mpa_or_without_measurements(fig7_run):
    df, spec = _load(fig7_run)
    mpa_only = df[df.scenario != "non-mpa"]
    spec = {**spec, "scenarios": [s for s in spec["scenarios"] if s["name"] != "non-mpa"]}
    assert [c["id"] for c in fig7.checks(_run(fig7_run, mpa_only, spec), captures=False)] == ["a", "b"]
    only = _run(fig7_run, mpa_only, spec)
    assert "No non-MPA scenario" in fig7.ratios_markdown(fig7.ratios(only), fig7.scenarios(only))
    failed = df[df.status != "ok"]                                       # only the failed row
    assert [c["ok"] for c in fig7.checks(_run(fig7_run, failed), captures=False)] == [None] * 7


# --- media, figures, report

def test_median_repetition_has_the_median_delay_and_a_media_file(fig7_run):
    df, _ = _load(fig7_run)
    ok = df[(df.scenario == "non-mpa") & (df.phase == "handover_delay")].sort_values("value")
    rep, path = fig7.median_repetition(df, fig7_run, synthetic.FIG7_CONF, "non-mpa")
    assert rep == int(ok.iloc[(len(ok) - 1) // 2]["repetition"])
    assert path == fig7_run / "media" / synthetic.FIG7_CONF / "non-mpa" / f"rep{rep}.json"
    path.unlink()                                                        # the next nearest one
    rep2, _ = fig7.median_repetition(df, fig7_run, synthetic.FIG7_CONF, "non-mpa")
    assert rep2 != rep
    packets, handover, _ = fig7.load_media(_)
    assert handover.new_address == synthetic.NCOA and len(packets) > 100


def test_arrival_panel_and_figures(fig7_run, tmp_path):
    df, spec = _load(fig7_run)
    scen = {s.name: s for s in fig7.scenarios(_run(fig7_run, df, spec))}
    p = fig7.arrival_panel(df, fig7_run, synthetic.FIG7_CONF, scen["buffering-enabled"])
    assert p.buffering_ms == 20.0 and p.buffered_packets >= 1 and p.lost == 0
    assert 0 < p.l2_done_ms < p.delay_ms < 10
    paths = fig7.fig7_arrivals([p], "Emulated: x", tmp_path / "arr")
    assert [q.suffix for q in paths] == [".png", ".svg"]
    svg = paths[1].read_text()
    for text in ("nCoA", "L2 handoff start", "buffering period 20 ms", "flushed by the nAR"):
        assert text in svg, text
    non = fig7.arrival_panel(df, fig7_run, synthetic.FIG7_CONF, scen["non-mpa"])
    svg = fig7.fig7_arrivals([non], "Emulated: x", tmp_path / "non", seconds=True)[1].read_text()
    assert "oCoA 10.2.0.100" in svg and "(s)" in svg and "lost, when due" in svg


def test_write_figures_and_tables_of_a_fig7_run(fig7_reported):
    run, paths = fig7_reported
    figs = {k.removeprefix("figures/") for k in paths if k.startswith("figures/")}
    assert figs == {f"{n}.{e}" for n in ("fig7_arrivals", "fig7_arrivals_non-mpa", "fig7_delay",
                                         "distribution", "ladder/intra-domain--buffering-enabled")
                    for e in ("png", "svg")}
    for k, p in paths.items():
        assert p.exists() and p.stat().st_size > 0, k
        if k.endswith(".png"):
            assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (run / "tables" / "fig7_beside_rfc.md").read_text()
    assert md.index("# Emulated parameters") < md.index("| Metric") < md.index("# Non-MPA against MPA")
    assert "buffering-enabled | sip-mpa | 20 ms" in md and "Note 1" in md
    csv = pd.read_csv(run / "tables" / "fig7_beside_rfc.csv")
    assert {"median", "min", "max", "mean", "rfc", "rfc_value"} <= set(csv.columns)
    assert (run / "tables" / "nonmpa_vs_mpa.csv").exists() and (run / "tables" / "phases.csv").exists()
    assert "✔ ok" in (run / "tables" / "checks.md").read_text()
    assert not (run / "figures" / "fig10_bars.png").exists()


def test_fig7_readme_links_resolve(fig7_reported):
    run, paths = fig7_reported
    readme = paths["README.md"].read_text()
    assert readme.startswith("# fig7, run 20261201-130000: RFC 6252 Figure 7")
    assert "Must-show checks: 7 ok, 0 failed" in readme
    assert readme.index("## Emulated parameters") < readme.index("## RFC 6252 Figure 7 beside")
    for link in re.findall(r"\]\(([^)]+)\)", readme):
        assert (run / link).exists(), link


def test_the_registered_tables_and_figures_of_a_fig7_run(tmp_path):
    run = RunData.load(synthetic.fig7_run_dir(tmp_path, repetitions=3, parquet=False, ladder=False))
    assert set(fig7.FIG7.write_tables(run, tmp_path / "t")) == {
        "fig7_beside_rfc.csv", "fig7_beside_rfc.md", "phases.csv", "nonmpa_vs_mpa.csv"}
    assert {p.name for p in fig7.FIG7.write_figures(run, tmp_path / "f")} == {
        f"{n}.{e}" for n in ("fig7_arrivals", "fig7_arrivals_non-mpa", "fig7_delay")
        for e in ("png", "svg")}


def test_summary_lists_fig7_and_fig10_runs_with_their_key_numbers(tmp_path):
    root = tmp_path / "results"
    synthetic.run_dir(root)
    shutil.rmtree(root / "fig10" / "20261201-120000" / "ladder")
    synthetic.fig7_run_dir(root, repetitions=3, ladder=False)
    assert report.main(["--all", "--results", str(root)]) == 0
    md = (root / "summary.md").read_text()
    assert md.index("## fig7: run 20261201-130000") < md.index("## fig10: run 20261201-120000")
    fig7_part = md[md.index("## fig7"):md.index("## fig10")]
    assert "Must-show checks: 7 ok, 0 failed" in fig7_part
    assert "Handover delay (median, ms)" in fig7_part and "non-MPA / buffering-enabled" in fig7_part
    assert "(RFC 667)" in fig7_part and "figures/fig7_delay.png" in fig7_part
    assert "Structure checks: 11 ok" in md[md.index("## fig10"):]
    for link in re.findall(r"\]\(([^)]+)\)", md):
        assert (root / link).exists(), link


def test_cli_reports_a_fig7_run(tmp_path):
    run = synthetic.fig7_run_dir(tmp_path, repetitions=3, ladder=False)
    assert report.main([str(run)]) == 0
    assert (run / "README.md").read_text().startswith("# fig7")


def test_spec_buffering_as_the_runner_dumps_it(tmp_path):
    run = synthetic.fig7_run_dir(tmp_path, repetitions=2, ladder=False)
    spec = yaml.safe_load((run / "spec.yaml").read_text())
    assert [s["buffering"] for s in spec["scenarios"]] == [None, "20ms", None]
    scen = fig7.scenarios(RunData(run, load_records(run), spec))
    assert [s.buffering_ms for s in scen] == [None, 20.0, None]


# --- the ladder's frames for a SIP handover

def test_describe_sip_rtp_dhcp_arp():
    sip = lambda text: {"eth_type": "0x0800", "ip_src": "10.1.0.100", "sport": "5060", "dport": "5060",
                        "udp_payload": text.replace("\n", "\r\n").encode().hex()}
    assert ladder.describe(sip(synthetic.REINVITE)) == ("sip", "SIP re-INVITE")
    assert ladder.describe(sip(synthetic.OK_INVITE)) == ("sip", "SIP 200 OK (INVITE)")
    first = synthetic.REINVITE.replace(";tag=b2", "")
    assert ladder.describe(sip(first)) == ("sip", "SIP INVITE")
    assert ladder.describe({"eth_type": "0x0800", "sport": "5060", "dport": "5060",
                             "sip_status": "SIP/2.0 180 Ringing", "sip_cseq": "INVITE"}) == \
        ("sip", "SIP 180 Ringing (INVITE)")
    rtp = synthetic.rtp_frame(3, synthetic.NCOA, 1)[42:]                 # past Ethernet/IP/UDP
    assert ladder.describe({"eth_type": "0x0800", "ip_src": synthetic.CN_IP, "sport": "4000",
                             "dport": "4000", "udp_payload": rtp.hex()}) == ("rtp", "RTP seq 65503")
    rtcp = bytes([0x80, 200]) + bytes(10)
    assert ladder.describe({"eth_type": "0x0800", "ip_src": "1.2.3.4", "sport": "4001",
                             "dport": "4001", "udp_payload": rtcp.hex()}) is None
    dhcp = synthetic.dhcp_discover()[42:]
    assert ladder.describe({"eth_type": "0x0800", "ip_src": "0.0.0.0", "sport": "68", "dport": "67",
                             "udp_payload": dhcp.hex()}) == ("dhcp", "DHCP Discover")
    assert ladder.describe({"eth_type": "0x0806", "arp_src_ip": "0.0.0.0",
                             "arp_dst_ip": "10.1.0.100"}) == ("arp", "ARP probe 10.1.0.100 (DAD)")
    assert ladder.describe({"eth_type": "0x0806", "arp_src_ip": "10.1.0.1",
                             "arp_dst_ip": "10.1.0.100"}) is None        # ordinary resolution


def _rtp(t, seq, src="cn", dst="mn"):
    return ladder.Frame(t, (), (), "rtp", f"RTP seq {seq}", ("k", seq), [dst], src, dst, seq)


def test_collapse_rtp_one_row_per_burst():
    sip = ladder.Frame(0.1, (), (), "sip", "SIP re-INVITE", ("s",), ["mn"], "mn", "cn")
    frames = [_rtp(0.016 * k, k) for k in range(5)] + [sip] \
        + [_rtp(0.2 + 0.016 * k, 10 + k) for k in range(6)] \
        + [_rtp(0.5, 30), _rtp(0.516, 31, src="nar")]
    out = ladder.collapse_rtp(frames, breaks=[0.25])
    assert [f.label for f in out] == ["RTP x5, seq 0-4, 64 ms", "SIP re-INVITE",
                                      "RTP x4, seq 10-13, 48 ms", "RTP x2, seq 14-15, 16 ms",
                                      "RTP seq 30", "RTP seq 31"]


def test_lane_order_of_the_c51_testbed_comes_from_roles(tmp_path):
    """The C.5.1 testbed's nodes with names that say nothing: order and titles by role."""
    synthetic.write_nodes(tmp_path, "n1", "h", {
        "n9": ("correspondent_node", [], "h"), "n8": ("aaa_server", [], "h"),
        "n7": ("configuration_agent", [], "h"), "n6": ("access_router", [], "h"),
        "n5": ("authentication_agent", [], "h"), "n4": ("access_point", [], "h"),
        "n3": ("access_point", [], "h"), "n1": ("mobile_node", [], None),
        "n2": ("access_router", ["authentication_agent", "configuration_agent"], "h")})
    lanes = ladder.Lanes.read(tmp_path, [])
    order = sorted(["n9", "n8", "n7", "n6", "n5", "n4", "n3", "n1", "n2"], key=lanes.key)
    assert order == ["n1", "n3", "n4", "n2", "n5", "n6", "n7", "n8", "n9"]
    assert lanes.title("n9") == "CN\n(n9)" and lanes.title("n8") == "AAA_H\n(n8)"
    assert lanes.title("n2") == "PAA+AR+CA\n(n2)"


@needs_tshark
def test_ladder_of_a_sip_handover_from_captures(tmp_path):
    d = synthetic.fig7_ladder_dir(tmp_path / "ladder" / "c" / "s")
    frames = ladder.ladder_frames(d)
    labels = [f.label for f in frames]
    assert labels.count("SIP re-INVITE") == 1 and "SIP 200 OK (INVITE)" in labels
    assert "DHCP Discover" in labels and "ARP probe 10.1.0.100 (DAD)" in labels
    assert sum(f.category == "rtp" for f in frames) == 15                 # seen at CN and MN once
    rtp = [f for f in frames if f.category == "rtp"]
    assert (rtp[0].src_lane, rtp[0].dst_lane, rtp[0].seq) == ("cn", "mn", 65500)
    paths = ladder.ladder(d, tmp_path / "ladder", title="c51 / mpa")
    svg = paths[1].read_text()
    assert "c51 / mpa" in svg and "RTP x5, seq 65500-65504" in svg and "handoff start" in svg


def test_a_broken_media_file_costs_its_panel_not_the_report(fig7_run, capsys):
    df, spec = _load(fig7_run)
    rep, path = fig7.median_repetition(df, fig7_run, synthetic.FIG7_CONF, "non-mpa")
    path.write_text("{not json")
    scen = {s.name: s for s in fig7.scenarios(_run(fig7_run, df, spec))}
    assert fig7.arrival_panel(df, fig7_run, synthetic.FIG7_CONF, scen["non-mpa"]) is None
    assert "no arrival figure" in capsys.readouterr().err
    assert "fig7_arrivals.png" in {p.name for p in fig7.figures(RunData.load(fig7_run),
                                                                  fig7_run / "figures")}
