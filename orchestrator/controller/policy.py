"""Pure flow decisions for the emulated radio and the APs' 802.1X controlled ports.

Flow tables (OpenFlow 1.3, table 0; anything unmatched is dropped):

air switch (the radio medium)
  300  eth_type=0x88B5 (management)                 -> controller
   50  in_port=STA                                  -> AP the station is associated with
   50  in_port=AP, eth_dst=STA                      -> STA
   40  in_port=AP, eth_dst=multicast                -> every STA associated with AP

access point switch (radio, uplink = distribution system, auth = authenticator host)
  300  in_port=auth, eth_type=0x88B5                -> controller (port-control requests)
  100  in_port=radio, eth_type=0x888E (EAPOL)       -> auth           uncontrolled port
  100  in_port=radio, eth_type=0x88C7, dst=BSSID    -> auth           RSN pre-authentication
   99  in_port=radio, eth_type=0x88C7               -> uplink         ... to another AP over the DS
   60  in_port=auth, eth_dst=STA, eth_type=0x888E   -> radio          (associated STA)
   51  in_port=radio, eth_src=STA, eth_dst=BSSID    -> auth           (authorized STA)
   50  in_port=radio, eth_src=STA                   -> uplink         (authorized STA)
   50  in_port=uplink|auth, eth_dst=STA             -> radio          (authorized STA)
   20  in_port=auth, eth_type=0x88C7               -> uplink         pre-auth answers over the DS
   10  in_port=auth                                 -> uplink
   10  in_port=uplink, eth_dst=BSSID                -> auth
    5  in_port=uplink, eth_dst=multicast            -> auth (+ radio if a STA is authorized)

Before authorization only EAPOL and pre-authentication frames of a station reach anything.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..protocols.mgmt import ETH_P_EAPOL, ETH_P_MGMT, ETH_P_PREAUTH

CONTROLLER = "controller"
MULTICAST = ("01:00:00:00:00:00", "01:00:00:00:00:00")
RADIO, UPLINK, AUTH = 1, 2, 3
COOKIE_ASSOC, COOKIE_AUTH, COOKIE_MCAST = 1 << 32, 2 << 32, 3 << 32


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


def air_static() -> list[Flow]:
    return [flow("air", 300, [CONTROLLER], eth_type=ETH_P_MGMT)]


def ap_static(ap: ApConf) -> list[Flow]:
    return [
        flow(ap.name, 300, [CONTROLLER], in_port=AUTH, eth_type=ETH_P_MGMT),
        flow(ap.name, 100, [AUTH], in_port=RADIO, eth_type=ETH_P_EAPOL),
        flow(ap.name, 100, [AUTH], in_port=RADIO, eth_type=ETH_P_PREAUTH, eth_dst=ap.bssid),
        flow(ap.name, 99, [UPLINK], in_port=RADIO, eth_type=ETH_P_PREAUTH),
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
        flow("air", 50, [ap.air_port], c, in_port=sta.air_port),
        flow("air", 50, [sta.air_port], c, in_port=ap.air_port, eth_dst=sta.mac),
        flow(ap.name, 60, [RADIO], c, in_port=AUTH, eth_dst=sta.mac, eth_type=ETH_P_EAPOL),
    ]


def authorized_flows(sta: StaConf, ap: ApConf) -> list[Flow]:
    """Flows of an open controlled port (IEEE 802.1X: port authorized)."""
    c = COOKIE_AUTH | sta.index
    return [
        flow(ap.name, 51, [AUTH], c, in_port=RADIO, eth_src=sta.mac, eth_dst=ap.bssid),
        flow(ap.name, 50, [UPLINK], c, in_port=RADIO, eth_src=sta.mac),
        flow(ap.name, 50, [RADIO], c, in_port=UPLINK, eth_dst=sta.mac),
        flow(ap.name, 50, [RADIO], c, in_port=AUTH, eth_dst=sta.mac),
    ]


def multicast_flows(radio: Radio, ap: ApConf) -> list[Flow]:
    """Broadcast/multicast towards the stations of `ap` (replaces earlier ones, same cookie)."""
    c = COOKIE_MCAST | ap.index
    stas = radio.stations_of(ap.name)
    any_authorized = any(s.mac in radio.authorized for s in stas)
    out = [flow(ap.name, 5, [AUTH] + ([RADIO] if any_authorized else []), c,
                in_port=UPLINK, eth_dst=MULTICAST)]
    if stas:
        out.append(flow("air", 40, sorted(s.air_port for s in stas), c,
                        in_port=ap.air_port, eth_dst=MULTICAST))
    return out


def port_open_at_association(ap: ApConf) -> bool:
    """An AP without 802.1X ('open') authorizes a station as soon as it associates."""
    return ap.security == "open"
