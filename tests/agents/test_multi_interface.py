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


def test_cellular_timers_are_reported_as_constants():
    """The timers that fire when a PPPoE frame or a RADIUS answer is lost (C.5.2's session)
    are in the `emulation_constants` event of the MN with a cellular interface and of the
    packet data gateway, and only there."""
    from types import SimpleNamespace

    from orchestrator.agents.agent import agent_constants
    from orchestrator.agents.cellular import RADIUS_RETRIES
    from orchestrator.protocols.ppp_fsm import RESTART_S

    def agent(**config):
        return SimpleNamespace(roles=[SimpleNamespace(config=config)])
    gw = agent_constants(["access-router", "packet-data-gateway"], agent())
    assert gw["ppp_restart_timer"]["value"] == RESTART_S * 1e3
    assert gw["pdg_radius_retries"]["value"] == RADIUS_RETRIES
    mn = agent_constants(["mobile-node"], agent(cellular={"cdma0": {}}))
    assert "ppp_restart_timer" in mn and "pdg_radius_timeout" not in mn
    assert "ppp_restart_timer" not in agent_constants(["mobile-node"], agent(cellular={}))
    # MPA through the WLAN: the address request's timer (MN), the secret's lifetime (gateway)
    from orchestrator.agents.cellular import ADDRESS_TIMEOUT_S
    assert mn["cellular_address_timeout"]["value"] == ADDRESS_TIMEOUT_S * 1e3
    assert "pdg_preauthorized_lifetime" in gw and "pdg_preauthorized_lifetime" not in mn
