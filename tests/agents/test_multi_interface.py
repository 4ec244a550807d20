"""agents/multi_interface.py's pure part: the default route read from /proc/net/route."""
from orchestrator.agents.multi_interface import parse_default_route

HEAD = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"


def test_default_route_via_the_wlan_gateway():
    text = (HEAD
            + "wlan0\t00000000\t0100010A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
            + "wlan0\t0001010A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n")
    assert parse_default_route(text) == ("10.1.0.1", "wlan0")


def test_no_default_route_and_garbage_lines():
    text = (HEAD + "cdma0\t0100140A\t00000000\t0005\t0\t0\t0\tFFFFFFFF\t0\t0\t0\n"
            + "junk\n" + "x\t00000000\tZZ\t0003\t0\t0\t0\t00000000\n"
            + "y\t00000000\t0100140A\t0002\t0\t0\t0\t00000000\n")       # not RTF_UP
    assert parse_default_route(text) == (None, None)
    assert parse_default_route("") == (None, None)
