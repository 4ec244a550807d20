"""The controller's hand-written OpenFlow 1.3 encoders against os-ken's serializer (an
independent implementation), and the synchronous management-socket connection on a fake
switch."""
import socket
import struct
import threading

import pytest
from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from orchestrator.controller import ofdirect


class _Dp:
    """Just enough of an os-ken Datapath for msg.serialize()."""
    ofproto, ofproto_parser = ofp, parser

    def set_xid(self, msg):
        pass


def _osken(msg, xid):
    msg.xid = xid
    msg.serialize()
    return bytes(msg.buf)


def _osken_flow(xid, priority, fields, ports, cookie):
    dp = _Dp()
    outs = [parser.OFPActionOutput(p, ofp.OFPCML_NO_BUFFER) for p in ports]
    inst = [parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, outs)]
    return _osken(parser.OFPFlowMod(dp, cookie=cookie, priority=priority,
                                    match=parser.OFPMatch(**fields), instructions=inst), xid)


@pytest.mark.parametrize("fields,ports", [
    ({"in_port": 5}, [2]),
    ({"in_port": 1, "eth_src": "02:00:00:00:00:01"}, [2]),
    ({"in_port": 3, "eth_dst": "02:00:00:00:00:01", "eth_type": 0x888E}, [1]),
    ({"in_port": 2, "eth_dst": ("01:00:00:00:00:00", "01:00:00:00:00:00")}, [3, 1]),
    ({"eth_type": 0x88B5}, [ofp.OFPP_CONTROLLER]),
    ({"in_port": 1, "eth_src": "02:aa:bb:cc:dd:ee", "eth_dst": "02:00:00:00:00:a1",
      "eth_type": 0x88C7}, [3]),
    ({}, []),
])
def test_flow_mod_matches_osken(fields, ports):
    mine = ofdirect.flow_mod(0x1234, 51, fields, ports, cookie=(2 << 32) | 7)
    assert mine == _osken_flow(0x1234, 51, fields, ports, (2 << 32) | 7)


def test_delete_cookie_matches_osken():
    dp = _Dp()
    ref = _osken(parser.OFPFlowMod(dp, cookie=(1 << 32) | 3, cookie_mask=(1 << 64) - 1,
                                   table_id=ofp.OFPTT_ALL, command=ofp.OFPFC_DELETE,
                                   out_port=ofp.OFPP_ANY, out_group=ofp.OFPG_ANY), 77)
    assert ofdirect.delete_cookie(77, (1 << 32) | 3) == ref


def test_barrier_and_packet_out_match_osken():
    dp = _Dp()
    assert ofdirect.barrier(9) == _osken(parser.OFPBarrierRequest(dp), 9)
    data = bytes(range(60))
    ref = _osken(parser.OFPPacketOut(dp, buffer_id=ofp.OFP_NO_BUFFER, in_port=ofp.OFPP_CONTROLLER,
                                     actions=[parser.OFPActionOutput(4)], data=data), 10)
    # os-ken's OFPActionOutput defaults max_len to OFPCML_MAX; ours sends NO_BUFFER (unused
    # for a physical port): compare all but that field
    mine = ofdirect.packet_out(10, 4, data)
    assert len(mine) == len(ref)
    assert mine[:16 + 8 + 8] == ref[:16 + 8 + 8] and mine[34:] == ref[34:]


def test_bad_mac_refused():
    with pytest.raises(ValueError):
        ofdirect.match({"eth_src": "02:00"})


def _fake_switch(path, log, errors_for=()):
    """Answers HELLO, records messages, answers barriers (or an error for chosen xids)."""
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)

    def serve():
        conn, _ = srv.accept()
        buf = b""
        conn.sendall(struct.pack("!BBHI", 4, 0, 8, 1))
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                return
            buf += chunk
            while len(buf) >= 8:
                v, t, ln, xid = struct.unpack("!BBHI", buf[:8])
                if len(buf) < ln:
                    break
                msg, buf = buf[:ln], buf[ln:]
                log.append((t, xid, msg))
                if t == ofdirect.OFPT_FLOW_MOD and xid in errors_for:
                    conn.sendall(struct.pack("!BBHIHH", 4, 1, 12, xid, 5, 0))
                if t == ofdirect.OFPT_BARRIER_REQUEST:
                    conn.sendall(struct.pack("!BBHI", 4, 2, 12, 99) + b"ping")   # echo request first
                    conn.sendall(struct.pack("!BBHI", 4, ofdirect.OFPT_BARRIER_REPLY, 8, xid))
    threading.Thread(target=serve, daemon=True).start()
    return srv


def test_transact_waits_for_its_barrier(tmp_path):
    log = []
    srv = _fake_switch(str(tmp_path / "br.mgmt"), log)
    conn = ofdirect.BridgeConnection("br", rundir=str(tmp_path))
    fm = ofdirect.flow_mod(conn.next_xid(), 10, {"in_port": 1}, [2])
    conn.transact([fm])
    for _ in range(100):                 # the fake switch logs the echo reply on its own thread
        if len(log) >= 4:
            break
        threading.Event().wait(0.01)
    types = [t for t, _, _ in log]
    assert types == [ofdirect.OFPT_HELLO, ofdirect.OFPT_FLOW_MOD, ofdirect.OFPT_BARRIER_REQUEST,
                     ofdirect.OFPT_ECHO_REPLY]
    assert log[1][2] == fm
    conn.close()
    srv.close()


def test_transact_raises_switch_errors(tmp_path):
    log = []
    srv = _fake_switch(str(tmp_path / "br.mgmt"), log, errors_for={0x42})
    conn = ofdirect.BridgeConnection("br", rundir=str(tmp_path))
    with pytest.raises(ofdirect.OpenFlowError, match="type 5"):
        conn.transact([ofdirect.flow_mod(0x42, 10, {"in_port": 1}, [2])])
    srv.close()
