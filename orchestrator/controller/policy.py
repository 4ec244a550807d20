"""Pure flow decisions for the emulated radio and the APs' 802.1X controlled ports.

Flow tables (OpenFlow 1.3, table 0; anything unmatched is dropped):

air switch (the radio medium)
  310  in_port=STA, eth_src=STA, eth_type=0x88B5    -> management port (controller's socket)
  300  eth_type=0x88B5 (management)                 -> controller (packet-in: refused there)
   50  in_port=STA, eth_src=STA                     -> AP the station is associated with
                                                       (a station's radio port is bound to the
                                                       MAC it associated with: spoofed sources
                                                       are dropped here)
   50  in_port=AP, eth_dst=STA                      -> STA
   41  in_port=AP, eth_src=STA, eth_dst=multicast   -> every *authorized* STA of AP but STA
   40  in_port=AP, eth_dst=multicast                -> every *authorized* STA of AP

access point switch (radio, uplink = distribution system, auth = authenticator host)
  300  in_port=auth, eth_type=0x88B5                -> controller (port-control requests)
  200  in_port=uplink, eth_type=0x88B5              -> drop   (management frames reach the AP
                                                       host only from the controller)
  100  in_port=radio, eth_type=0x888E, dst=BSSID    -> auth           uncontrolled port
   99  in_port=radio, eth_src=STA, eth_type=0x88C7,
       eth_dst=BSSID of another AP of the same DS   -> uplink         (authorized STA) RSN
                                                       pre-authentication over the DS
   98  in_port=radio, eth_type=0x88C7               -> drop   (anything else of that type)
   60  in_port=auth, eth_dst=STA, eth_type=0x888E   -> radio          (associated STA)
   52  in_port=radio, eth_src=STA, eth_dst=STA2     -> radio (IN_PORT) intra-BSS (both authorized)
   51  in_port=radio, eth_src=STA, eth_dst=BSSID    -> auth           (authorized STA)
   51  in_port=radio, eth_src=STA, eth_dst=multicast -> uplink, auth, radio (authorized STA)
   50  in_port=radio, eth_src=STA                   -> uplink         (authorized STA)
   50  in_port=uplink|auth, eth_dst=STA             -> radio          (authorized STA)
   20  in_port=auth, eth_type=0x88C7               -> uplink         pre-auth answers over the DS
   10  in_port=auth                                 -> uplink
   10  in_port=uplink, eth_dst=BSSID                -> auth
   11  in_port=auth, eth_dst=multicast              -> uplink (+ radio if a STA is authorized)
    5  in_port=uplink, eth_dst=multicast            -> auth (+ radio if a STA is authorized)

Before authorization a station's frames reach only its own AP's authenticator, and only as
EAPOL; nothing but EAPOL from the authenticator reaches it; broadcasts reach only authorized
stations (the group key is theirs alone). What RSN's per-station keys do in 802.11 (a frame
with another station's address cannot be forged without its PTK) the binding of each radio
port to its station's MAC does here.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..protocols.mgmt import ETH_P_EAPOL, ETH_P_MGMT, ETH_P_PREAUTH

CONTROLLER = "controller"
IN_PORT = "in_port"                 # OpenFlow OFPP_IN_PORT: back out of the port it came in
MULTICAST = ("01:00:00:00:00:00", "01:00:00:00:00:00")
RADIO, UPLINK, AUTH = 1, 2, 3
# the radio switch's internal port to the controller's raw socket (network/build.py): its
# stations' management frames go there as ordinary forwarding, not as packet-ins
AIR_MGMT_PORT = 65000
COOKIE_ASSOC, COOKIE_AUTH, COOKIE_MCAST = 1 << 32, 2 << 32, 3 << 32
# flows of an AP that deliver *to* a station (removed the moment it leaves; the flows of its
# frames towards the DS linger a little for frames in flight: controller/app.py `_leave`):
# EAPOL from the authenticator (while associated) and everything else (while authorized)
COOKIE_TO_STA, COOKIE_TO_STA_AUTH = 4 << 32, 5 << 32


@dataclass(frozen=True)
class Flow:
    switch: str                  # "air" or an AP name
    priority: int
    match: tuple                 # sorted (field, value) pairs
    outputs: tuple               # port numbers or CONTROLLER
    cookie: int = 0


def flow(switch, priority, outputs, cookie=0, **match) -> Flow:
    return Flow(switch, priority, tuple(sorted(match.items())), tuple(outputs), cookie)


@dataclass
class ApConf:
    name: str
    index: int
    bssid: str
    air_port: int
    security: str = "ieee8021x"
    association_latency: float = 0.0
    network: str = ""            # its distribution system (802.11i pre-authentication's reach)


@dataclass
class StaConf:
    name: str
    index: int
    mac: str
    air_port: int
    link_down_detection: float = 0.0


@dataclass
class Radio:
    """Association and authorization state of every station."""
    aps: dict[str, ApConf]
    stations: dict[str, StaConf]                     # by MAC
    associated: dict[str, str] = field(default_factory=dict)   # sta MAC -> AP name
    authorized: set[str] = field(default_factory=set)          # sta MACs

    def ap_by_bssid(self, bssid: str) -> ApConf | None:
        return next((a for a in self.aps.values() if a.bssid == bssid), None)

    def ap_by_air_port(self, port: int) -> ApConf | None:
        return next((a for a in self.aps.values() if a.air_port == port), None)

    def stations_of(self, ap: str) -> list[StaConf]:
        return [self.stations[m] for m, a in self.associated.items() if a == ap]

    def authorized_at(self, ap: str) -> list[StaConf]:
        return [s for s in self.stations_of(ap) if s.mac in self.authorized]

    def same_ds(self, ap: ApConf) -> list[ApConf]:
        """The other APs of `ap`'s distribution system (one network = one DS)."""
        return [a for a in self.aps.values()
                if a.name != ap.name and ap.network and a.network == ap.network]


def air_static(stations=(), mgmt_port: int | None = None) -> list[Flow]:
    """Management frames go to the controller: a known station's, from its own radio port
    and with its own address, through the management port when there is one; anything else
    as a packet-in (checked, refused and logged there)."""
    out = [flow("air", 300, [CONTROLLER], eth_type=ETH_P_MGMT)]
    if mgmt_port is not None:
        out += [flow("air", 310, [mgmt_port], in_port=s.air_port, eth_src=s.mac,
                     eth_type=ETH_P_MGMT) for s in stations]
    return out


def ap_static(ap: ApConf) -> list[Flow]:
    return [
        flow(ap.name, 300, [CONTROLLER], in_port=AUTH, eth_type=ETH_P_MGMT),
        flow(ap.name, 200, [], in_port=UPLINK, eth_type=ETH_P_MGMT),
        flow(ap.name, 100, [AUTH], in_port=RADIO, eth_type=ETH_P_EAPOL, eth_dst=ap.bssid),
        flow(ap.name, 98, [], in_port=RADIO, eth_type=ETH_P_PREAUTH),
        # the authenticator's pre-authentication answers go over the DS; matching them by
        # type keeps their cached datapath flows apart from the EAPOL of a later association
        flow(ap.name, 20, [UPLINK], in_port=AUTH, eth_type=ETH_P_PREAUTH),
        flow(ap.name, 10, [UPLINK], in_port=AUTH),
        flow(ap.name, 10, [AUTH], in_port=UPLINK, eth_dst=ap.bssid),
    ]


def association_flows(radio: Radio, sta: StaConf, ap: ApConf) -> list[Flow]:
    """Flows that exist while `sta` is associated with `ap` (authorized or not)."""
    c = COOKIE_ASSOC | sta.index
    return [
        flow("air", 50, [ap.air_port], c, in_port=sta.air_port, eth_src=sta.mac),
        flow("air", 50, [sta.air_port], c, in_port=ap.air_port, eth_dst=sta.mac),
        flow(ap.name, 60, [RADIO], COOKIE_TO_STA | sta.index, in_port=AUTH, eth_dst=sta.mac,
             eth_type=ETH_P_EAPOL),
    ]


def port_flows(sta: StaConf, ap: ApConf) -> list[Flow]:
    """The open controlled port of `sta` at `ap` (IEEE 802.1X: port authorized): the AP
    switch's flows that need nothing but the station and the AP. The AP's own authenticator
    installs them (agents/port_driver.py, as hostapd sets a station authorized in its driver)
    and the controller installs the same flows again when it learns of the authorization.
    Every flow *of* `sta` carries COOKIE_AUTH, every flow *to* it COOKIE_TO_STA_AUTH."""
    c, to_sta = COOKIE_AUTH | sta.index, COOKIE_TO_STA_AUTH | sta.index
    return [
        flow(ap.name, 51, [AUTH], c, in_port=RADIO, eth_src=sta.mac, eth_dst=ap.bssid),
        flow(ap.name, 51, [UPLINK, AUTH, IN_PORT], c, in_port=RADIO, eth_src=sta.mac,
             eth_dst=MULTICAST),
        flow(ap.name, 50, [UPLINK], c, in_port=RADIO, eth_src=sta.mac),
        flow(ap.name, 50, [RADIO], to_sta, in_port=UPLINK, eth_dst=sta.mac),
        flow(ap.name, 50, [RADIO], to_sta, in_port=AUTH, eth_dst=sta.mac),
    ]


def bss_flows(radio: Radio, sta: StaConf, ap: ApConf) -> list[Flow]:
    """What an authorized `sta` may do beyond its own port, which depends on the other
    stations and APs (the controller's view): RSN pre-authentication towards the other APs
    of the same DS and the intra-BSS paths to the other authorized stations of `ap`."""
    c, to_sta = COOKIE_AUTH | sta.index, COOKIE_TO_STA_AUTH | sta.index
    out = [flow(ap.name, 99, [UPLINK], c, in_port=RADIO, eth_src=sta.mac,
                eth_type=ETH_P_PREAUTH, eth_dst=other.bssid) for other in radio.same_ds(ap)]
    for peer in radio.authorized_at(ap.name):
        if peer.mac != sta.mac:
            out += [flow(ap.name, 52, [IN_PORT], c, in_port=RADIO, eth_src=sta.mac, eth_dst=peer.mac),
                    flow(ap.name, 52, [IN_PORT], to_sta, in_port=RADIO, eth_src=peer.mac,
                         eth_dst=sta.mac)]
    return out


def authorized_flows(radio: Radio, sta: StaConf, ap: ApConf) -> list[Flow]:
    """Flows of an open controlled port with the intra-BSS paths between `sta` and the other
    authorized stations of `ap`: its departure removes them all (by cookie)."""
    return port_flows(sta, ap) + bss_flows(radio, sta, ap)


def ap_multicast_flows(ap: ApConf, any_authorized: bool) -> list[Flow]:
    """The AP switch's broadcast/multicast towards its radio: only while a station of the AP
    is authorized (the group key is theirs)."""
    c = COOKIE_MCAST | ap.index
    radio_out = [RADIO] if any_authorized else []
    return [flow(ap.name, 5, [AUTH] + radio_out, c, in_port=UPLINK, eth_dst=MULTICAST),
            flow(ap.name, 11, [UPLINK] + radio_out, c, in_port=AUTH, eth_dst=MULTICAST)]


def multicast_flows(radio: Radio, ap: ApConf) -> list[Flow]:
    """Broadcast/multicast towards the stations of `ap` (replaces earlier ones, same cookie)."""
    c = COOKIE_MCAST | ap.index
    authorized = radio.authorized_at(ap.name)
    out = ap_multicast_flows(ap, bool(authorized))
    if authorized:
        ports = sorted(s.air_port for s in authorized)
        out.append(flow("air", 40, ports, c, in_port=ap.air_port, eth_dst=MULTICAST))
        for s in authorized:     # a station's own broadcast, relayed by the AP: not back to it
            out.append(flow("air", 41, [p for p in ports if p != s.air_port], c,
                            in_port=ap.air_port, eth_src=s.mac, eth_dst=MULTICAST))
    return out


def port_open_at_association(ap: ApConf) -> bool:
    """An AP without 802.1X ('open') authorizes a station as soon as it associates."""
    return ap.security == "open"
