"""Figures: files exist and are PNG/SVG; the ladder decodes hand-written captures."""
import shutil

import pytest

from orchestrator.analysis import figures, tables
from orchestrator.protocols import eap, pana
from tests.analysis import synthetic

needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")


def _is_png_and_svg(paths):
    png, svg = paths
    assert png.suffix == ".png" and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert svg.suffix == ".svg" and "<svg" in svg.read_text()[:2000]
    assert png.stat().st_size > 5000 and svg.stat().st_size > 5000


def test_fig10_bars_and_distribution(tmp_path, records):
    _is_png_and_svg(figures.fig10_bars(records, tmp_path / "bars"))
    _is_png_and_svg(figures.fig10_distribution(records, tmp_path / "dist.png"))
    assert (tmp_path / "dist.svg").exists()
    svg = (tmp_path / "bars.svg").read_text()
    assert "RFC 6252 Figure 10" in svg and "association_latency=15ms" in svg


def test_figures_survive_missing_schemes(tmp_path, records):
    only = records[records.scheme == "mpa-l2-pre-authentication"]
    _is_png_and_svg(figures.fig10_bars(only, tmp_path / "bars"))
    _is_png_and_svg(figures.fig10_distribution(only, tmp_path / "dist"))


# --- frame decoding (pure; no tshark)

@pytest.mark.parametrize("key_info,label", [(0x008A, "EAPOL-Key 1/4"), (0x010A, "EAPOL-Key 2/4"),
                                            (0x13CA, "EAPOL-Key 3/4"), (0x030A, "EAPOL-Key 4/4")])
def test_eapol_key_message_numbers(key_info, label):
    row = {"eth_type": "0x888e", "eapol_type": "3", "key_info": f"0x{key_info:04x}"}
    assert figures.describe(row) == ("eapol", label)


def test_describe_eap_radius_mgmt_preauth():
    assert figures.describe({"eth_type": "0x888e", "eapol_type": "0", "eap_code": "1",
                             "eap_type": "13"}) == ("eapol", "EAP-Request/TLS")
    assert figures.describe({"eth_type": "0x88c7", "eapol_type": "0", "eap_code": "3"}) == \
        ("eapol", "EAP-Success (pre-auth)")
    radius = {"eth_type": "0x0800", "sport": "1812", "dport": "40000", "radius_code": "",
              "udp_payload": "0b05001400"}                        # tshark did not dissect it
    assert figures.describe(radius) == ("radius", "RADIUS Access-Challenge")
    mgmt = synthetic.mgmt_assoc_request()[14:].hex() + "0000"     # with Ethernet padding
    assert figures.describe({"eth_type": "0x88b5", "data": mgmt}) == ("mgmt", "mgmt assoc req")
    assert figures.describe({"eth_type": "0x86dd"}) is None


def test_pana_from_payload_reads_the_e_flag_messages_wireshark_does_not():
    tls = eap.request(3, eap.EapType.TLS, b"\x20").encode()
    msg = pana.PanaMessage(pana.MessageType.AUTH, pana.FLAG_R | pana.FLAG_E, 1, 2,
                           (pana.Avp(pana.AvpCode.NONCE, b"n" * 16),
                            pana.Avp(pana.AvpCode.EAP_PAYLOAD, tls)))
    assert figures.pana_from_payload(msg.encode()) == ("PANA PAR", "EAP-Request/TLS")
    pan = pana.PanaMessage(pana.MessageType.AUTH, pana.FLAG_E, 1, 2)
    assert figures.pana_from_payload(pan.encode()) == ("PANA PAN", "")
    pci = pana.PanaMessage(pana.MessageType.CLIENT_INITIATION, 0, 0, 0)
    row = {"eth_type": "0x0800", "ip_src": "10.1.0.10", "sport": "716", "dport": "716",
           "udp_payload": pci.encode().hex()}
    assert figures.describe(row) == ("pana", "PANA PCI")


def _frame(t, node, key=("k",)):
    return figures.Frame(t, ("a",), ("b",), "eapol", "x", key, [node])


def test_dedupe_keeps_the_earliest_copy_and_retransmissions():
    kept = figures.dedupe([_frame(1.0002, "ap1"), _frame(1.0, "mn"),        # one frame, two nodes
                           _frame(2.5, "mn"), _frame(2.5001, "ap1"),        # retransmission
                           _frame(1.0001, "mn", ("other",))])
    assert [round(f.t, 4) for f in kept] == [1.0, 1.0001, 2.5]
    assert kept[0].captured_at == ["mn", "ap1"] and kept[2].captured_at == ["mn", "ap1"]
    same_node = figures.dedupe([_frame(1.0, "ap1"), _frame(1.0005, "ap1")])   # tcpdump -i any
    assert len(same_node) == 1


# --- the ladder from synthetic captures

@needs_tshark
def test_ladder_parses_captures_in_order(tmp_path):
    d = synthetic.ladder_dir(tmp_path / "ladder" / "roaming" / "mpa")
    frames = figures.ladder_frames(d)
    got = [(f.label, f.src_lane, f.dst_lane) for f in frames]
    assert got == [("PANA PAR", "nar", "mn"),
                   ("mgmt assoc req", "mn", "ap1"),
                   ("EAPOL-Start", "mn", "ap1"),                 # multicast: the other capturer
                   ("RADIUS Access-Request", "ap1", "aaa-v"),
                   ("RADIUS Access-Accept", "aaa-v", "ap1"),
                   ("EAPOL-Key 1/4", "ap1", "mn")]
    assert [round((f.t - synthetic.T0) * 1000, 1) for f in frames] == [0.0, 500.0, 520.0, 521.0,
                                                                       550.0, 560.0]
    assert sorted(frames[2].captured_at) == ["ap1", "mn"]


@needs_tshark
def test_ladder_reads_a_capture_cut_short(tmp_path, capsys):
    d = synthetic.ladder_dir(tmp_path / "l")
    mn = d / "pcaps" / "mn.pcap"
    mn.write_bytes(mn.read_bytes()[:-10])                 # tcpdump stopped mid-write
    (d / "pcaps" / "ap1.pcap").unlink()
    labels = [f.label for f in figures.ladder_frames(d)]
    assert "mgmt assoc req" in labels and "EAPOL-Start" in labels
    assert "EAPOL-Key 1/4" not in labels


@needs_tshark
def test_ladder_lanes_argument_overrides_lanes_json(tmp_path):
    d = synthetic.ladder_dir(tmp_path / "l")
    frames = figures.ladder_frames(d, lanes={synthetic.AAA_IP: "aaa-h"})
    assert ("RADIUS Access-Request", "ap1", "aaa-h") in [(f.label, f.src_lane, f.dst_lane)
                                                         for f in frames]


def test_ladder_draws_with_or_without_tshark(tmp_path, monkeypatch):
    d = synthetic.ladder_dir(tmp_path / "l")
    _is_png_and_svg(figures.ladder(d, tmp_path / "ladder", title="roaming / mpa"))
    svg = (tmp_path / "ladder.svg").read_text()
    for text in ("port open", "tconf_done", "AAA_V", "PAA"):
        assert text in svg, text
    if shutil.which("tshark"):
        assert "EAPOL-Start" in svg and "RADIUS Access-Accept" in svg
    monkeypatch.setattr(figures.shutil, "which", lambda name: None)
    _is_png_and_svg(figures.ladder(d, tmp_path / "events-only"))


def test_lane_order_and_titles():
    nodes = ["aaa-h", "nar", "ap1", "mn", "aaa-v", "ap0"]
    order = sorted(nodes, key=lambda n: figures._lane_key(n, ""))
    assert order == ["mn", "ap0", "ap1", "nar", "aaa-v", "aaa-h"]
    assert figures._lane_title("aaa-h", figures._lane_key("aaa-h", "")) == "AAA_H\n(aaa-h)"


def test_write_figures(reported):
    run, paths = reported
    figs = {k.removeprefix("figures/"): v for k, v in paths.items() if k.startswith("figures/")}
    assert set(figs) == {"fig10_bars.png", "fig10_bars.svg", "fig10_distribution.png",
                         "fig10_distribution.svg", "ladder/roaming--mpa.png",
                         "ladder/roaming--mpa.svg"}
    assert all(p.stat().st_size > 0 and p.is_relative_to(run / "figures") for p in figs.values())


def test_write_figures_one_pair_per_sweep_point(tmp_path):
    run = synthetic.run_dir(tmp_path, synthetic.records(repetitions=3, sweep=("5ms", "15ms")),
                            parquet=False)
    shutil.rmtree(run / "ladder")
    assert tables.sweep_params(tables.load_records(run))
    assert set(figures.write_figures(run)) == {
        f"{name}-association_latency={v}.{ext}" for name in ("fig10_bars", "fig10_distribution")
        for v in ("5ms", "15ms") for ext in ("png", "svg")}


def test_ladder_dirs_of_configurations_with_a_sweep_point(tmp_path):
    for rel in ("roaming/mpa", "roaming/wan.delay=50ms/post-auth", "non-roaming/mpa"):
        (tmp_path / "ladder" / rel / "pcaps").mkdir(parents=True)
    (tmp_path / "ladder" / "roaming" / "mpa" / "events.jsonl").write_text("")
    assert [(c, s) for c, s, _ in figures.ladder_dirs(tmp_path)] == [
        ("non-roaming", "mpa"), ("roaming", "mpa"), ("roaming/wan.delay=50ms", "post-auth")]
    assert figures._slug("roaming/wan.delay=50ms") == "roaming_wan.delay=50ms"
