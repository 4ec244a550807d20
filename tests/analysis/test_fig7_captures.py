"""Check (e) of the Figure 7 report: tshark's verdict on SIP and RTP captures, on pcaps
written here (a clean SIP request and RTP packet, then an RTP packet whose header claims
more CSRCs than it carries)."""
import shutil
import struct

import pytest

from orchestrator.analysis.reproductions.fig7 import capture_checks, tshark_counts
from orchestrator.protocols import rtp
from orchestrator.protocols.dhcp import udp_frame

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="no tshark")
MAC = bytes.fromhex("020000000001")
SIP = (b"INVITE sip:cn@10.0.0.20:5060 SIP/2.0\r\n"
       b"Via: SIP/2.0/UDP 10.2.0.100:5060;branch=z9hG4bK1\r\n"
       b"From: <sip:mn@10.2.0.100>;tag=1\r\nTo: <sip:cn@10.0.0.20>\r\n"
       b"Call-ID: 1@10.2.0.100\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
       b"Content-Length: 0\r\n\r\n")
RTP = rtp.encode(rtp.RtpPacket(0, 1, 160, 0x1234, b"\xff" * 160))
BAD_RTP = bytes([0x8F, 0, 0, 2]) + bytes(8)        # CC = 15, no CSRC list


def _pcap(path, payloads):
    frames = [udp_frame(p, MAC, MAC, "10.0.0.20", "10.2.0.100", port, port)
              for p, port in payloads]
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", 1000 + i, 0, len(fr), len(fr)) + fr)


def test_clean_captures_pass(tmp_path):
    (tmp_path / "pcaps" / "c").mkdir(parents=True)
    _pcap(tmp_path / "pcaps" / "c" / "cn.pcap", [(SIP, 5060), (RTP, 4000)])
    assert tshark_counts(tmp_path / "pcaps" / "c" / "cn.pcap") == {
        "frames": 2, "sip": 1, "rtp": 1, "malformed": 0}
    [check] = capture_checks(tmp_path)
    assert check["ok"] is True and check["measured"] == 0


def test_a_malformed_rtp_packet_fails_the_check(tmp_path):
    (tmp_path / "pcaps" / "c").mkdir(parents=True)
    _pcap(tmp_path / "pcaps" / "c" / "mn.pcap", [(SIP, 5060), (RTP, 4000), (BAD_RTP, 4000)])
    [check] = capture_checks(tmp_path)
    assert check["ok"] is False and check["measured"] == 1
    assert "1 malformed" in check["explanation"]


def test_no_capture_is_not_measured(tmp_path):
    [check] = capture_checks(tmp_path)
    assert check["ok"] is None
