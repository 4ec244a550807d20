"""An emulated AP's own driver for its 802.1X controlled ports.

In a real AP, hostapd opens a station's controlled port itself: after the 4-way handshake it
installs the PTK and sets the station authorized in its driver (nl80211 `sta_set_flags`), a
local call that costs next to nothing. Going through the controller instead (a management
frame to it, its packet-in path, flows, a barrier, the datapath sync, an answer back) cost
1.5-2 ms here per opening, more than the radio events it emulates (issue 11). So an emulated
AP's authenticator programs its own AP switch: the station's port flows (controller/policy.py
`port_flows`, the same function the controller uses) as pre-encoded OpenFlow 1.3 on a kept
connection to the AP bridge's management socket, a barrier, and the datapath sync
(controller/datapath.py), then tells the controller, which owns everything that depends on
other stations and APs (broadcast to authorized stations at the radio, intra-BSS paths, RSN
pre-authentication through the DS) and installs the same port flows again from its state.

When the port opens (dot1x.Authenticator): on a valid message 2 of the 4-way handshake, before
message 3 leaves. The station proved possession of the PMK with message 2's MIC; it sends
nothing but message 4 before it has message 3, so when it sends its first data frame right
after message 4 (its port opens there, as in 802.11) the AP's flows are in and in effect. The
price, reported as an emulation constant: frames from the DS may reach the station from
message 3 on instead of after message 4, up to one message 3 -> message 4 round trip earlier
than on real hardware (~0.3 ms here).

Without a bridge (real hardware, or an AP switch this process cannot reach) the authenticator
asks the controller as before (agents/l2.py `set_port`), also before message 3.
"""
from __future__ import annotations

import time

from ..controller import ofdirect, policy
from ..controller.datapath import DatapathSync


class PortDriver:
    """Open and close stations' controlled ports on one emulated AP's switch."""

    def __init__(self, config: dict, connection: ofdirect.BridgeConnection | None = None,
                 sync: DatapathSync | None = None):
        ap = config["ap"]
        self.ap = policy.ApConf(ap["name"], int(ap["index"]), ap["bssid"], air_port=0)
        self.stations = {mac.lower(): policy.StaConf(mac.lower(), int(index), mac.lower(), 0)
                         for mac, index in config["stations"].items()}
        self.bridge = config["bridge"]
        self.conn = connection or ofdirect.BridgeConnection(self.bridge)
        self.sync = sync or DatapathSync(config.get("datapath_sync"))
        self.last_ms: dict[str, float] = {}

    def knows(self, sta: str) -> bool:
        return sta.lower() in self.stations

    def open(self, sta: str) -> dict:
        """The station's port flows and the AP's broadcast to its radio, confirmed and in
        effect in the datapath when this returns. -> timings (ms)."""
        s = self.stations[sta.lower()]
        flows = policy.port_flows(s, self.ap) + policy.ap_multicast_flows(self.ap, True)
        return self._apply([ofdirect.encode_flow(f) for f in flows])

    def close(self, sta: str) -> dict:
        """The station's port flows removed (its association's EAPOL path stays)."""
        s = self.stations[sta.lower()]
        return self._apply([ofdirect.delete_cookie(0, policy.COOKIE_AUTH | s.index),
                            ofdirect.delete_cookie(0, policy.COOKIE_TO_STA_AUTH | s.index)])

    def _apply(self, messages: list[bytes]) -> dict:
        t0 = time.perf_counter_ns()
        self.conn.transact(messages)
        t1 = time.perf_counter_ns()
        self.sync()
        t2 = time.perf_counter_ns()
        self.last_ms = {"barrier_ms": (t1 - t0) / 1e6, "sync_ms": (t2 - t1) / 1e6}
        return self.last_ms

    def constants(self) -> dict:
        return {"port_control": {"value": "AP-local (its authenticator programs its own AP "
                                          "switch, as hostapd its driver)", "unit": "",
                                 "source": "agents/port_driver.py"},
                "port_opens_at": {"value": "message 2 verified, before message 3 (downlink "
                                           "may reach the station up to one message 3 -> 4 "
                                           "round trip early)", "unit": "",
                                  "source": "agents/port_driver.py"},
                "ap_datapath_sync": {"value": self.sync.spec, "unit": "",
                                     "source": "$MPA_DATAPATH_SYNC (controller/datapath.py)"}}

    def close_connection(self) -> None:
        self.conn.close()
