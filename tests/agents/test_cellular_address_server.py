"""The packet data gateway's address reservation through the WLAN (agents/cellular.py
AddressServer, request_address; protocols/cellular_address.py; RFC 6252 s7.3, s7.6.2) on
loopback: a pre-authorized station gets an address of the pool, the same one again; a
station with no installed secret, a request for another gateway or with the wrong secret
gets no answer; the data session's CHAP verdict then hands that reserved address out."""
from __future__ import annotations

import pytest

from orchestrator.agents.cellular import (AddressServer, PacketDataGateway, RadiusNas,
                                          request_address)

pytestmark = pytest.mark.root          # AF_PACKET sockets of the gateway (on lo)

STA = "02:f0:f2:6c:aa:0f"
STA_B = bytes.fromhex(STA.replace(":", ""))


@pytest.fixture
def gateway():
    gw = PacketDataGateway("lo", "10.20.0.1", "10.20.0.0/29",
                           RadiusNas("127.0.0.1", 9, "x", "t"), configure=False,
                           reserved=("10.20.0.2",), dns=["10.20.0.53"])
    server = AddressServer("127.0.0.1", 0, gw, 60).start()
    yield gw, ("127.0.0.1", server.port)
    server.stop()
    gw.link.close()


def test_a_preauthorized_station_reserves_an_address_once(gateway):
    gw, where = gateway
    gw.preauthorize(STA, b"k" * 32, 60)
    address, dns, seconds = request_address(where, b"k" * 32, STA_B, gw.link.mac)
    assert address == "10.20.0.3" and seconds > 0          # .1 the gateway, .2 static
    assert dns == "10.20.0.53"                               # what its IPCP offers
    assert request_address(where, b"k" * 32, STA_B, gw.link.mac)[0] == address
    assert gw.reserved_for == {STA_B: address} and address in gw.leases
    assert gw._lease() == "10.20.0.4"                       # not handed out twice
    assert gw.forget_preauthorized() == 1 and address not in gw.leases


@pytest.mark.parametrize("case", ["unknown station", "other gateway", "wrong secret"])
def test_no_answer_without_the_installed_secret(gateway, case):
    gw, where = gateway
    gw.preauthorize(STA, b"k" * 32, 60)
    station = bytes(6) if case == "unknown station" else STA_B
    target = bytes.fromhex("02000000c0de") if case == "other gateway" else gw.link.mac
    secret = b"w" * 32 if case == "wrong secret" else b"k" * 32
    with pytest.raises(OSError, match="no address answer"):
        request_address(where, secret, station, target, timeout=0.05, retries=1)
    assert gw.reserved_for == {}


def test_junk_and_replays_do_not_stop_the_server(gateway):
    """Anything at all is dropped (the loop's guard, agents/health.py) and the server goes
    on answering; a replayed request only gets the same answer (one reservation a station)."""
    import socket
    gw, where = gateway
    gw.preauthorize(STA, b"k" * 32, 60)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for junk in (b"", b"\x01", b"\x01\x01" + bytes(62), bytes(200)):
            s.sendto(junk, where)
    first = request_address(where, b"k" * 32, STA_B, gw.link.mac)[0]
    assert request_address(where, b"k" * 32, STA_B, gw.link.mac)[0] == first
    assert list(gw.reserved_for.values()) == [first]
