"""The end of the proactive handover tunnel into a cellular network (issue 15, RFC 6252 s7.4,
C.5.2): which inner addresses it accepts. Pure checks, no charon."""
from __future__ import annotations

import threading
from types import SimpleNamespace

from orchestrator.agents.cellular import PacketDataGateway
from orchestrator.agents.tunnel import TunnelEnd

STA, OTHER = "02:00:00:00:00:01", "02:00:00:00:00:02"
CDMA = bytes.fromhex("0200000000aa")


def _end(check=None, kind="cellular") -> TunnelEnd:
    end = TunnelEnd.__new__(TunnelEnd)          # no charon, no iptables: _refusal only
    end.ctn = {"subnet": "10.20.0.0/24", "pool": [["10.20.0.2", "10.20.0.254"]], "kind": kind}
    end.address_check, end._lock, end.tunnels = check, threading.Lock(), {}
    return end


def test_the_inner_address_must_be_the_one_reserved_for_that_mn():
    reserved = {(STA, "10.20.0.2")}
    end = _end(lambda sta, ncoa: (sta, ncoa) in reserved)
    assert end._refusal(STA, "10.20.0.2") is None
    assert "not reserved for 02:00:00:00:00:02" in end._refusal(OTHER, "10.20.0.2")
    assert "not reserved" in end._refusal(STA, "10.20.0.3")
    assert "not one the CTN hands out" in end._refusal(STA, "10.20.0.1")   # the gateway's
    assert "not in 10.20.0.0/24" in end._refusal(STA, "10.1.0.100")
    assert "names no station" in end._refusal(None, "10.20.0.2")
    # no gateway on the node to ask: the pool check alone; a WLAN CTN never asks
    assert _end(lambda sta, ncoa: None)._refusal(OTHER, "10.20.0.2") is None
    assert _end(lambda sta, ncoa: False, kind="access")._refusal(OTHER, "10.20.0.2") is None
    end.tunnels["10.20.0.2"] = {"sta": OTHER}
    assert "in a tunnel of" in end._refusal(STA, "10.20.0.2")


def test_the_gateway_holds_a_reserved_or_leased_address_for_its_mobile_only():
    gw = PacketDataGateway.__new__(PacketDataGateway)
    gw.reserved_for = {CDMA: "10.20.0.2"}
    gw.sessions = {(CDMA, 1): SimpleNamespace(host=CDMA, address="10.20.0.3")}
    assert gw.holds(CDMA, "10.20.0.2") and gw.holds(CDMA, "10.20.0.3")
    assert not gw.holds(CDMA, "10.20.0.4")
    assert not gw.holds(bytes(6), "10.20.0.2") and not gw.holds(bytes(6), "10.20.0.3")
