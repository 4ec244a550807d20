"""The ladder: frames decoded from hand-written captures, lanes ordered and titled by role
(whatever the nodes are called), PNG and SVG written."""
import json
import shutil

import pytest

from orchestrator.analysis import ladder as figures
from orchestrator.protocols import eap, pana
from tests.analysis import synthetic

needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")


def _is_png_and_svg(paths):
    png, svg = paths
    assert png.suffix == ".png" and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert svg.suffix == ".svg" and "<svg" in svg.read_text()[:2000]
    assert png.stat().st_size > 5000 and svg.stat().st_size > 5000


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


def test_the_aps_departure_notice_and_the_paas_ack():
    """C.2: the AP tells the PAA that a station left (protocols/departure.py), on the
    port the runner captures (7015)."""
    from orchestrator.experiment.runner import CAPTURE_FILTER
    from orchestrator.protocols import departure
    secret = b"s" * 32
    notice = departure.DepartureNotice(departure.Reason.REASSOCIATED, 7,
                                       bytes.fromhex("02bd5ed07236"), bytes.fromhex("021a90a71337"))
    for data, label in ((departure.encode_notice(secret, notice),
                         "Departure-Notice (reassociated)"),
                        (departure.encode_ack(secret, notice),
                         "Departure-Notice Ack (reassociated)")):
        row = {"eth_type": "0x0800", "ip_src": "10.1.0.2", "sport": "40000", "dport": "7015",
               "udp_payload": data.hex()}
        assert figures.describe(row) == ("departure", label)
    assert "udp port 7015" in CAPTURE_FILTER


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
    # an IP packet a loaded router forwarded 6 ms after it came in: one transmission; the
    # same payload in a new IP packet (new identification) is a retransmission
    ip = lambda t, node, ident: figures.Frame(t, ("a",), ("b",), "radius", "x",  # noqa: E731
                                              ("ip", "a", "b", ident, "1", "2", "p"), [node])
    kept = figures.dedupe([ip(1.0, "ap1", "0x1"), ip(1.001, "nar", "0x1"), ip(1.007, "nar", "0x1"),
                           ip(1.5, "ap1", "0x2")])
    assert [(f.t, f.captured_at) for f in kept] == [(1.0, ["ap1", "nar"]), (1.5, ["ap1"])]


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


def test_lanes_by_role_not_by_name(tmp_path):
    """Names a researcher chose (no 'mn', no 'aaa-h'): the home domain's AAA server is AAA_H."""
    synthetic.write_nodes(tmp_path, "phone", "far", {
        "phone": ("mobile_node", [], None), "x-ap": ("access_point", [], "y"),
        "w-ap": ("access_point", [], "y"), "gate": ("access_router", ["authentication_agent"], "y"),
        "radius-far": ("aaa_server", [], "far"), "radius-y": ("aaa_server", [], "y"),
        "peer": ("correspondent_node", [], None), "core": ("router", [], None)})
    lanes = figures.Lanes.read(tmp_path, [])
    order = sorted(["radius-far", "peer", "core", "gate", "x-ap", "radius-y", "phone", "w-ap"],
                   key=lanes.key)
    assert order == ["phone", "w-ap", "x-ap", "gate", "radius-y", "radius-far", "core", "peer"]
    assert [lanes.title(n).split("\n")[0] for n in order] == [
        "MN", "AP", "AP", "PAA+AR", "AAA_V", "AAA_H", "router", "CN"]
    assert lanes.title("unknown") == "unknown"


def test_lanes_of_a_ladder_without_nodes_json_come_from_the_events_roles(tmp_path):
    events = [{"node": "a", "role": "mobile-node"}, {"node": "b", "role": "access-router,paa"},
              {"node": "c", "role": "access-point"}, {"node": "d", "role": "controller"}]
    lanes = figures.Lanes.read(tmp_path, events)
    assert sorted("dcba", key=lanes.key) == ["a", "c", "b", "d"]
    assert lanes.title("b") == "PAA+AR\n(b)"


def test_write_ladders_of_a_reported_run(reported):
    run, paths = reported
    assert {k for k in paths if "ladder" in k} == {"figures/ladder/roaming--mpa.png",
                                                    "figures/ladder/roaming--mpa.svg"}
    assert json.loads((run / "ladder" / "roaming" / "mpa" / "nodes.json").read_text())["mobile_node"] == "mn"


def test_ladder_dirs_of_configurations_with_a_sweep_point(tmp_path):
    for rel in ("roaming/mpa", "roaming/wan.delay=50ms/post-auth", "non-roaming/mpa"):
        (tmp_path / "ladder" / rel / "pcaps").mkdir(parents=True)
    (tmp_path / "ladder" / "roaming" / "mpa" / "events.jsonl").write_text("")
    assert [(c, s) for c, s, _ in figures.ladder_dirs(tmp_path)] == [
        ("non-roaming", "mpa"), ("roaming", "mpa"), ("roaming/wan.delay=50ms", "post-auth")]
    assert figures.slug("roaming/wan.delay=50ms") == "roaming_wan.delay=50ms"


def test_binding_update_markers_name_the_message_of_their_mobility_protocol():
    """A MIPv6 BU is not labelled a re-INVITE; a hostile attrs value labels, never raises."""
    from orchestrator.analysis.ladder import ladder_markers
    events = [
        {"event": "binding_update_start", "node": "phone", "wall": 1.0, "attrs": {}},
        {"event": "binding_update_start", "node": "phone", "wall": 2.0,
         "attrs": {"mobility": "mipv6", "peer": "home_agent"}},
        {"event": "binding_update_start", "node": "phone", "wall": 3.0,
         "attrs": {"mobility": "mipv6", "peer": "2001:db8::7"}},
        {"event": "binding_update_start", "node": "phone", "wall": 4.0,
         "attrs": {"mobility": ["x"], "peer": {"y": 1}}},
    ]
    labels = [m.label for m in ladder_markers(events, {"phone"})]
    assert labels == ["BU (re-INVITE) start", "BU to HA start", "BU to CN start", "BU start"]
