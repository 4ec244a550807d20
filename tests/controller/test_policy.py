"""Pure flow decisions: the 802.1X controlled port and the radio's association flows."""
from orchestrator.controller import policy
from orchestrator.protocols.mgmt import ETH_P_EAPOL, ETH_P_PREAUTH

AP = policy.ApConf("ap1", 1, "02:00:00:00:00:a1", air_port=2, network="net-a")
AP2 = policy.ApConf("ap2", 2, "02:00:00:00:00:a2", air_port=3, network="net-a")
AP3 = policy.ApConf("ap3", 3, "02:00:00:00:00:a3", air_port=4, network="net-b")
STA = policy.StaConf("mn", 1, "02:00:00:00:00:01", air_port=5)
STA2 = policy.StaConf("phone", 2, "02:00:00:00:00:02", air_port=6)
STA3 = policy.StaConf("tablet", 3, "02:00:00:00:00:03", air_port=7)


def _radio():
    return policy.Radio(aps={"ap1": AP, "ap2": AP2, "ap3": AP3},
                        stations={s.mac: s for s in (STA, STA2, STA3)})


def _tables(r):
    """Every flow of the current state, as the controller installs them."""
    flows = policy.air_static()
    for ap in r.aps.values():
        flows += policy.ap_static(ap) + policy.multicast_flows(r, ap)
    for mac, apname in r.associated.items():
        sta, ap = r.stations[mac], r.aps[apname]
        flows += policy.association_flows(r, sta, ap)
        if mac in r.authorized:
            flows += policy.authorized_flows(r, sta, ap)
    return flows


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
    eapol = dict(ip, eth_type=ETH_P_EAPOL, eth_dst=AP.bssid)
    assert forwards(flows, "ap1", **eapol) == (policy.AUTH,)
    # EAPOL addressed anywhere but its own AP goes nowhere
    assert forwards(flows, "ap1", **dict(eapol, eth_dst=AP2.bssid)) is None
    # 802.11i pre-authentication goes through the station's *authorized* association only
    preauth_other = dict(ip, eth_type=ETH_P_PREAUTH, eth_dst=AP2.bssid)
    assert not forwards(flows, "ap1", **preauth_other)
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
             + policy.authorized_flows(r, STA, AP) + policy.multicast_flows(r, AP))
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
    assert forwards(flows, "air", in_port=STA.air_port, eth_src=STA.mac,
                    eth_type=0x0800) == (AP.air_port,)
    assert forwards(flows, "air", in_port=AP.air_port, eth_dst=STA.mac) == (STA.air_port,)
    assert forwards(flows, "air", in_port=3, eth_dst=STA.mac) is None      # another AP's port
    assert forwards(flows, "air", in_port=STA.air_port, eth_type=0x88B5) == (policy.CONTROLLER,)


def test_cookies_separate_association_authorization_and_multicast():
    r = _radio()
    r.associated[STA.mac] = "ap1"
    cookies = {f.cookie >> 32 for f in policy.association_flows(r, STA, AP)}
    assert cookies == {1, 4}
    assert {f.cookie >> 32 for f in policy.authorized_flows(r, STA, AP)} == {2, 5}
    assert {f.cookie >> 32 for f in policy.multicast_flows(r, AP)} == {3}


def test_the_aps_own_port_flows_are_the_controllers_minus_what_depends_on_others():
    """An AP's authenticator installs `port_flows` itself (agents/port_driver.py); the
    controller adds `bss_flows` (other stations, other APs) and installs the same port flows:
    together they are its authorized flows, and the AP's part alone already carries the
    station's own traffic both ways."""
    r = _radio()
    r.associated.update({STA.mac: "ap1", STA2.mac: "ap1"})
    r.authorized.update({STA.mac, STA2.mac})
    own = policy.port_flows(STA, AP)
    assert set(own) | set(policy.bss_flows(r, STA, AP)) == set(policy.authorized_flows(r, STA, AP))
    assert not set(own) & set(policy.bss_flows(r, STA, AP))
    # the AP's multicast flows with the radio on are the controller's for an AP with an
    # authorized station
    assert set(policy.ap_multicast_flows(AP, True)) <= set(policy.multicast_flows(r, AP))
    flows = (policy.ap_static(AP) + policy.association_flows(r, STA, AP) + own
             + policy.ap_multicast_flows(AP, True))
    assert forwards(flows, "ap1", in_port=policy.RADIO, eth_src=STA.mac,
                    eth_dst="02:99:00:00:00:01", eth_type=0x0800) == (policy.UPLINK,)
    assert forwards(flows, "ap1", in_port=policy.UPLINK, eth_dst=STA.mac,
                    eth_type=0x0800) == (policy.RADIO,)
    assert policy.RADIO in forwards(flows, "ap1", in_port=policy.UPLINK,
                                    eth_dst="ff:ff:ff:ff:ff:ff")
    # ... and nothing of another station: its port flows name only its own addresses
    assert all(STA.mac in (dict(f.match).get("eth_src"), dict(f.match).get("eth_dst"))
               for f in own)
    assert {f.cookie for f in own} == {policy.COOKIE_AUTH | STA.index,
                                       policy.COOKIE_TO_STA_AUTH | STA.index}



def test_open_ap_authorizes_at_association():
    assert policy.port_open_at_association(policy.ApConf("x", 1, "02:00:00:00:00:01", 1, "open"))
    assert not policy.port_open_at_association(AP)


def test_spoofed_source_is_dropped_at_the_air():
    """An unauthorized station using an authorized station's MAC gets nothing through."""
    r = _radio()
    r.associated.update({STA.mac: "ap1", STA2.mac: "ap1"})
    r.authorized.add(STA.mac)
    flows = _tables(r)
    spoofed = dict(in_port=STA2.air_port, eth_src=STA.mac, eth_dst="02:99:00:00:00:01",
                   eth_type=0x0800)
    assert not forwards(flows, "air", **spoofed)
    assert forwards(flows, "air", **dict(spoofed, in_port=STA.air_port)) == (AP.air_port,)


def test_preauthentication_only_when_authorized_and_only_within_the_ds():
    r = _radio()
    r.associated[STA.mac] = "ap1"
    r.authorized.add(STA.mac)
    flows = _tables(r)
    base = dict(in_port=policy.RADIO, eth_src=STA.mac, eth_type=ETH_P_PREAUTH)
    assert forwards(flows, "ap1", **base, eth_dst=AP2.bssid) == (policy.UPLINK,)
    assert not forwards(flows, "ap1", **base, eth_dst=AP3.bssid)        # another DS
    assert not forwards(flows, "ap1", **base, eth_dst="02:99:00:00:00:01")
    assert not forwards(flows, "ap1", **base, eth_dst="ff:ff:ff:ff:ff:ff")


def test_broadcast_reaches_authorized_stations_only():
    r = _radio()
    r.associated.update({STA.mac: "ap1", STA2.mac: "ap1"})
    r.authorized.add(STA.mac)
    flows = _tables(r)
    bcast = dict(in_port=AP.air_port, eth_src="02:99:00:00:00:01", eth_dst="ff:ff:ff:ff:ff:ff")
    assert forwards(flows, "air", **bcast) == (STA.air_port,)
    r.authorized.add(STA2.mac)
    assert sorted(forwards(_tables(r), "air", **bcast)) == sorted([STA.air_port, STA2.air_port])
    r.authorized.clear()
    assert not forwards(_tables(r), "air", **bcast)


def test_intra_bss_between_authorized_stations():
    r = _radio()
    r.associated.update({STA.mac: "ap1", STA2.mac: "ap1", STA3.mac: "ap1"})
    r.authorized.update({STA.mac, STA2.mac})
    flows = _tables(r)
    a_to_b = dict(in_port=policy.RADIO, eth_src=STA.mac, eth_dst=STA2.mac, eth_type=0x0800)
    assert forwards(flows, "ap1", **a_to_b) == (policy.IN_PORT,)
    assert forwards(flows, "ap1", **dict(a_to_b, eth_src=STA2.mac, eth_dst=STA.mac)) == (policy.IN_PORT,)
    # not to (or from) the unauthorized third station
    # (to the DS, which never sends it back out of the AP's uplink)
    assert forwards(flows, "ap1", **dict(a_to_b, eth_dst=STA3.mac)) == (policy.UPLINK,)
    assert not forwards(flows, "ap1", **dict(a_to_b, eth_src=STA3.mac))
    # a station's broadcast is relayed to the others, not back to it
    own = dict(in_port=AP.air_port, eth_src=STA.mac, eth_dst="ff:ff:ff:ff:ff:ff")
    assert forwards(flows, "air", **own) == (STA2.air_port,)
    assert forwards(flows, "ap1", in_port=policy.RADIO, eth_src=STA.mac,
                    eth_dst="ff:ff:ff:ff:ff:ff") == (policy.UPLINK, policy.AUTH, policy.IN_PORT)


def test_management_frames_reach_the_ap_host_only_from_the_controller():
    r = _radio()
    flows = _tables(r)
    forged = dict(in_port=policy.UPLINK, eth_dst=AP.bssid, eth_type=0x88B5)
    assert forwards(flows, "ap1", **forged) == ()
    assert forwards(flows, "ap1", in_port=policy.UPLINK, eth_dst=AP.bssid,
                    eth_type=0x0800) == (policy.AUTH,)


def test_management_frames_reach_the_management_port_only_from_the_stations_own_port():
    flows = policy.air_static([STA, STA2], policy.AIR_MGMT_PORT)
    mgmt = dict(eth_type=0x88B5, eth_dst=AP.bssid)
    assert forwards(flows, "air", in_port=STA.air_port, eth_src=STA.mac, **mgmt) == (
        policy.AIR_MGMT_PORT,)
    # another station's address from this port, or an unknown one: a packet-in, which the
    # controller checks against the port and refuses
    assert forwards(flows, "air", in_port=STA2.air_port, eth_src=STA.mac, **mgmt) == (
        policy.CONTROLLER,)
    assert forwards(flows, "air", in_port=STA.air_port, eth_src="02:66:00:00:00:01", **mgmt) == (
        policy.CONTROLLER,)
    # without a management port, every management frame is a packet-in
    assert {f.outputs for f in policy.air_static([STA])} == {(policy.CONTROLLER,)}
