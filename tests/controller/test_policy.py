"""Pure flow decisions: the 802.1X controlled port and the radio's association flows."""
from orchestrator.controller import policy
from orchestrator.protocols.mgmt import ETH_P_EAPOL, ETH_P_PREAUTH

AP = policy.ApConf("ap1", 1, "02:00:00:00:00:a1", air_port=2)
STA = policy.StaConf("mn", 1, "02:00:00:00:00:01", air_port=5)


def _radio():
    return policy.Radio(aps={"ap1": AP}, stations={STA.mac: STA})


def forwards(flows, switch, **pkt):
    """Outputs of the highest-priority flow matching a packet (None = dropped)."""
    best = None
    for f in flows:
        if f.switch != switch:
            continue
        m = dict(f.match)
        ok = True
        for k, v in m.items():
            if isinstance(v, tuple):           # (value, mask): multicast bit
                ok &= bool(int(pkt.get(k, "00").split(":")[0], 16) & 1)
            else:
                ok &= pkt.get(k) == v
        if ok and (best is None or f.priority > best.priority):
            best = f
    return None if best is None else best.outputs


def test_unauthorized_station_reaches_only_the_authenticator():
    r = _radio()
    r.associated[STA.mac] = "ap1"
    flows = policy.ap_static(AP) + policy.association_flows(r, STA, AP) + policy.multicast_flows(r, AP)
    ip = dict(in_port=policy.RADIO, eth_src=STA.mac, eth_dst="02:99:00:00:00:01", eth_type=0x0800)
    assert forwards(flows, "ap1", **ip) is None
    eapol = dict(ip, eth_type=ETH_P_EAPOL)
    assert forwards(flows, "ap1", **eapol) == (policy.AUTH,)
    preauth_here = dict(ip, eth_type=ETH_P_PREAUTH, eth_dst=AP.bssid)
    assert forwards(flows, "ap1", **preauth_here) == (policy.AUTH,)
    preauth_other = dict(ip, eth_type=ETH_P_PREAUTH)
    assert forwards(flows, "ap1", **preauth_other) == (policy.UPLINK,)
    # downlink unicast IP to the station is blocked too; EAPOL from the authenticator passes
    assert forwards(flows, "ap1", in_port=policy.UPLINK, eth_dst=STA.mac, eth_type=0x0800) is None
    assert forwards(flows, "ap1", in_port=policy.AUTH, eth_dst=STA.mac,
                    eth_type=ETH_P_EAPOL) == (policy.RADIO,)
    # broadcasts from the DS do not reach the radio while no station is authorized
    assert forwards(flows, "ap1", in_port=policy.UPLINK, eth_dst="ff:ff:ff:ff:ff:ff") == (policy.AUTH,)


def test_authorized_station_is_bridged_to_the_distribution_system():
    r = _radio()
    r.associated[STA.mac] = "ap1"
    r.authorized.add(STA.mac)
    flows = (policy.ap_static(AP) + policy.association_flows(r, STA, AP)
             + policy.authorized_flows(STA, AP) + policy.multicast_flows(r, AP))
    assert forwards(flows, "ap1", in_port=policy.RADIO, eth_src=STA.mac,
                    eth_dst="02:99:00:00:00:01", eth_type=0x0800) == (policy.UPLINK,)
    assert forwards(flows, "ap1", in_port=policy.RADIO, eth_src=STA.mac, eth_dst=AP.bssid,
                    eth_type=0x0800) == (policy.AUTH,)
    assert forwards(flows, "ap1", in_port=policy.UPLINK, eth_dst=STA.mac,
                    eth_type=0x0800) == (policy.RADIO,)
    assert forwards(flows, "ap1", in_port=policy.UPLINK,
                    eth_dst="ff:ff:ff:ff:ff:ff") == (policy.AUTH, policy.RADIO)


def test_air_connects_a_station_only_to_its_ap():
    r = _radio()
    r.associated[STA.mac] = "ap1"
    flows = policy.air_static() + policy.association_flows(r, STA, AP) + policy.multicast_flows(r, AP)
    assert forwards(flows, "air", in_port=STA.air_port, eth_type=0x0800) == (AP.air_port,)
    assert forwards(flows, "air", in_port=AP.air_port, eth_dst=STA.mac) == (STA.air_port,)
    assert forwards(flows, "air", in_port=3, eth_dst=STA.mac) is None      # another AP's port
    assert forwards(flows, "air", in_port=STA.air_port, eth_type=0x88B5) == (policy.CONTROLLER,)


def test_cookies_separate_association_authorization_and_multicast():
    r = _radio()
    r.associated[STA.mac] = "ap1"
    cookies = {f.cookie >> 32 for f in policy.association_flows(r, STA, AP)}
    assert cookies == {1}
    assert {f.cookie >> 32 for f in policy.authorized_flows(STA, AP)} == {2}
    assert {f.cookie >> 32 for f in policy.multicast_flows(r, AP)} == {3}


def test_open_ap_authorizes_at_association():
    assert policy.port_open_at_association(policy.ApConf("x", 1, "02:00:00:00:00:01", 1, "open"))
    assert not policy.port_open_at_association(AP)
