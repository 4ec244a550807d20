"""os-ken app: emulated 802.11 association/handoff and 802.1X controlled ports.

Configuration comes from the JSON file named by $MPA_CONTROLLER_CONFIG (written by the
network layer). Management frames (see protocols.mgmt) arrive as packet-ins; decisions are
made by `policy`; this class only turns them into OpenFlow 1.3 messages and events.

Association (RFC 6252 C.5.3 "Tassoc"): on an association request the station's old flows
are removed at once (the radio leaves the old AP), the new flows are installed and
confirmed with a barrier, and the response is sent when `association_latency` (YAML) has
passed since the request arrived. Link loss (`detach` on the API) removes the flows at once
and tells the station after its `link_down_detection` delay.
"""
from __future__ import annotations

import json
import os
import queue
import socket
import threading
import time

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from os_ken.lib import hub
from os_ken.ofproto import ofproto_v1_3

from ..events import EventLog
from ..later import Later
from ..protocols import mgmt
from . import policy
from . import ofdirect
from .datapath import DatapathSync
from .api import serve_api




def layer2_update_frame(sta_mac: str) -> bytes:
    """IEEE 802.11F-2003 Layer 2 Update: broadcast, source = the station, 802.2 LLC XID."""
    return (mgmt.mac_bytes(mgmt.BROADCAST) + mgmt.mac_bytes(sta_mac) + (6).to_bytes(2, "big")
            + bytes([0x00, 0x01, 0xAF, 0x81, 0x01, 0x00]))


# How long an AP keeps its flows for a station that left it (see `_leave`). Shapes nothing
# the station measures; reported in emulation_constants.
OLD_AP_FLOWS_GRACE_S = 0.1


REQUEST_WORKERS = 8          # management frames handled at once (associations may sleep L)


class _Workers:
    """A fixed set of kept threads taking calls from a queue (a handoff costs ~20 us where
    starting a thread cost 100-500 us). An exception is logged, the worker goes on."""

    def __init__(self, n: int, logger):
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.logger = logger
        for i in range(n):
            threading.Thread(target=self._run, name=f"radio-{i}", daemon=True).start()

    def submit(self, fn, *args) -> None:
        self.queue.put((fn, args))

    def _run(self) -> None:
        while True:
            fn, args = self.queue.get()
            try:
                fn(*args)
            except Exception:                      # noqa: BLE001 - the controller goes on
                self.logger.exception("request handler failed")


class RadioController(app_manager.OSKenApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        with open(os.environ["MPA_CONTROLLER_CONFIG"]) as fh:
            conf = json.load(fh)
        self.radio = policy.Radio(
            aps={a["name"]: policy.ApConf(a["name"], a["index"], a["bssid"], a["air_port"],
                                          a["security"], a["association_latency"],
                                          a.get("network", ""))
                 for a in conf["aps"]},
            stations={s["mac"]: policy.StaConf(s["name"], s["index"], s["mac"], s["air_port"],
                                               s["link_down_detection"])
                      for s in conf["stations"]})
        self.dpid_name = {int(d): n for d, n in conf["dpids"].items()}
        self.datapaths: dict[str, object] = {}
        self.lock = threading.RLock()
        self.bridge_name: dict[str, str] = conf["bridges"]          # switch -> OVS bridge
        self.bridges: dict[str, ofdirect.BridgeConnection] = {}
        self._batch: dict[str, list[bytes]] = {}                    # under self.lock
        self.log = EventLog(conf["events_file"], "controller", "controller")
        self.malformed = 0          # management frames dropped as malformed (protocols.mgmt)
        # after a barrier, the userspace datapath's cached flows are brought in line with
        # the new tables before any frame depends on them (controller/datapath.py)
        self.sync = DatapathSync(conf.get("datapath_sync"))
        self.air_mgmt = conf.get("air_mgmt")       # the radio switch's management port
        self._mgmt_reader: threading.Thread | None = None
        self.log.emit("emulation_constants", **self.constants())
        # Requests are served by kept threads: os-ken's native hub starts a thread per spawn,
        # 0.1-0.5 ms here, inside every association and port change it would carry
        self.workers = _Workers(REQUEST_WORKERS, self.logger)
        self.later = Later("retire", self.logger)
        self.api_thread = hub.spawn(serve_api, conf["api_socket"], self)

    # ---- OpenFlow plumbing ---------------------------------------------------------------
    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def switch_features(self, ev):
        dp = ev.msg.datapath
        name = self.dpid_name.get(dp.id)
        if name is None:
            self.logger.warning("ignoring unknown datapath %016x", dp.id)
            return
        with self.lock:
            self.datapaths[name] = dp
            ofp, parser = dp.ofproto, dp.ofproto_parser
            dp.send_msg(parser.OFPFlowMod(dp, command=ofp.OFPFC_DELETE, table_id=ofp.OFPTT_ALL,
                                          out_port=ofp.OFPP_ANY, out_group=ofp.OFPG_ANY))
            if name == "air":
                flows = policy.air_static(self.radio.stations.values(),
                                          self.air_mgmt["ofport"] if self.air_mgmt else None)
                self._start_mgmt_reader()
            else:
                flows = policy.ap_static(self.radio.aps[name])
            flows += [f for f in self._state_flows() if f.switch == name]
            self._install_osken(dp, flows)
        self.log.emit("switch_connected", switch=name, dpid=dp.id)

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def packet_in(self, ev):
        t_in = time.perf_counter_ns()
        msg = ev.msg
        name = self.dpid_name.get(msg.datapath.id)
        try:
            _dst, src, frame = mgmt.decode(bytes(msg.data))
        except mgmt.MgmtError as exc:          # a ProtocolError: any bytes end here
            self.malformed += 1
            self.log.emit("malformed", switch=name, reason=exc.reason, count=self.malformed)
            return
        in_port = msg.match["in_port"]
        if name == "air":
            self.workers.submit(self._station_request, src, in_port, frame, t_in)
        elif name in self.radio.aps and in_port == policy.AUTH:
            self.workers.submit(self._authenticator_request, self.radio.aps[name], frame, t_in)

    def _start_mgmt_reader(self) -> None:
        """Stations' management frames arrive on a raw socket at the radio switch's
        management port: forwarded there by the switch like any frame, they skip the
        packet-in path (an upcall, an OpenFlow message parsed by os-ken, two thread hops:
        0.4-1 ms measured here). The switch's flow admits only a station's own address from
        its own radio port (policy.air_static), which stands for the packet-in's in_port."""
        if not self.air_mgmt or self._mgmt_reader is not None:
            return
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(mgmt.ETH_P_MGMT))
        sock.bind((self.air_mgmt["ifname"], mgmt.ETH_P_MGMT))
        self._mgmt_reader = threading.Thread(target=self._read_mgmt, args=(sock,),
                                             name="air-mgmt", daemon=True)
        self._mgmt_reader.start()

    def _read_mgmt(self, sock: socket.socket) -> None:
        while True:
            try:
                data, addr = sock.recvfrom(65535)
            except OSError:
                time.sleep(0.01)                      # a transient socket error: go on
                continue
            t_in = time.perf_counter_ns()
            if addr[2] == socket.PACKET_OUTGOING:
                continue
            try:
                _dst, src, frame = mgmt.decode(data)
            except mgmt.MgmtError as exc:             # a ProtocolError: any bytes end here
                self.malformed += 1
                self.log.emit("malformed", switch="air", reason=exc.reason, count=self.malformed)
                continue
            sta = self.radio.stations.get(src)
            if sta is not None:                       # the flow matched its port and address
                self.workers.submit(self._station_request, src, sta.air_port, frame, t_in)

    def _install_osken(self, dp, flows) -> None:
        """At switch connection: the static flows and those of the current state (os-ken)."""
        ofp, parser = dp.ofproto, dp.ofproto_parser
        for f in flows:
            outs = [parser.OFPActionOutput(ofdirect.port_number(p), ofp.OFPCML_NO_BUFFER)
                    for p in f.outputs]
            inst = [parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, outs)]
            dp.send_msg(parser.OFPFlowMod(dp, cookie=f.cookie, priority=f.priority,
                                          match=parser.OFPMatch(**dict(f.match)), instructions=inst))

    # Changes of state go through the fast path (controller/ofdirect.py): collected per switch
    # under self.lock, then applied and confirmed by `_commit`, then the datapath synced.
    def _bridge(self, switch: str) -> ofdirect.BridgeConnection:
        conn = self.bridges.get(switch)
        if conn is None:
            conn = self.bridges[switch] = ofdirect.BridgeConnection(self.bridge_name[switch])
        return conn

    def _install(self, flows) -> None:
        for f in flows:
            if f.switch in self.datapaths:    # otherwise installed from state at connection
                self._batch.setdefault(f.switch, []).append(ofdirect.encode_flow(f))

    def _delete_cookie(self, cookie: int, switches) -> None:
        for name in switches:
            if name in self.datapaths:
                self._batch.setdefault(name, []).append(ofdirect.delete_cookie(0, cookie))

    def _commit(self, sync: bool = True) -> tuple[int, int]:
        """Apply the collected changes, each switch's confirmed by a barrier on the same
        connection, then bring the datapath in line. -> (ns applying, ns syncing)."""
        t0 = time.perf_counter_ns()
        batch, self._batch = self._batch, {}
        ofdirect.BridgeConnection.transact_all(
            [(self._bridge(switch), msgs) for switch, msgs in sorted(batch.items())])
        t1 = time.perf_counter_ns()
        if batch and sync:
            self.sync()          # the datapath follows the new tables before any frame does
        return t1 - t0, time.perf_counter_ns() - t1

    def _packet_out(self, switch: str, port: int, data: bytes) -> None:
        """On the fast-path connection, so it leaves after every change committed before."""
        self._bridge(switch).send([ofdirect.packet_out(0, port, data)])

    # ---- state -> flows ------------------------------------------------------------------
    def _state_flows(self):
        r = self.radio
        out = []
        for mac, apname in r.associated.items():
            sta, ap = r.stations[mac], r.aps[apname]
            out += policy.association_flows(r, sta, ap)
            if mac in r.authorized:
                out += policy.authorized_flows(self.radio, sta, ap)
        for ap in r.aps.values():
            out += policy.multicast_flows(r, ap)
        return out

    def _leave(self, sta: policy.StaConf, reason: str) -> str | None:
        """Remove a station from its AP (flows first). Returns the AP it left."""
        old = self.radio.associated.pop(sta.mac, None)
        if old is None:
            return None
        self.radio.authorized.discard(sta.mac)
        # The radio leaves now: the air switch no longer carries the station to or from `old`.
        self._delete_cookie(policy.COOKIE_ASSOC | sta.index, ["air"])
        # ... and the old AP delivers nothing more to it (a frame for the station there would
        # be lost on the air, where the DS could have reached it, e.g. pre-authentication)
        self._delete_cookie(policy.COOKIE_TO_STA | sta.index, [old])
        self._delete_cookie(policy.COOKIE_TO_STA_AUTH | sta.index, [old])
        self._delete_cookie(policy.COOKIE_MCAST | self.radio.aps[old].index, ["air", old])
        self._install(policy.multicast_flows(self.radio, self.radio.aps[old]))
        # The old AP's own flows for it go a little later: a frame the station sent before its
        # request may still wait in the userspace datapath's queue between the air and the
        # AP switch, and must be forwarded as the old AP would have (measured: 2-6% of the
        # frames sent just before a reassociation were lost when they went at once, under
        # load). Nothing new can reach the old AP's radio port for the station meanwhile: the
        # air no longer sends it there, and every radio port is bound to its own MAC.
        self.later.call(OLD_AP_FLOWS_GRACE_S, self._retire, sta, old)
        self.log.emit("disassociated", phase="switching", sta=sta.name, ap=old, reason=reason)
        return old

    def _tell_departure(self, sta: policy.StaConf, old: str | None, reason: str,
                        new: policy.ApConf | None = None) -> None:
        """The old AP's MAC layer learns that the station left it, as a real AP does (its
        Disassociation frame, its reassociation announced by the new AP as IEEE 802.11F's
        Layer 2 Update / IAPP MOVE does, or the link lost): a `sta_disassociated` frame on
        the AP's authenticator port, which tells the PAA (RFC 6252 C.2, agents/departure.py).
        Sent under self.lock after the commit: a return of the station to that AP, handled
        later, cannot overtake it."""
        if old is None or (new is not None and new.name == old):
            return
        ap = self.radio.aps[old]
        attrs = {"new_bssid": new.bssid} if new is not None else {}
        self._packet_out(old, policy.AUTH, mgmt.encode(
            ap.bssid, sta.mac, mgmt.Mgmt("sta_disassociated", sta.mac, ap.bssid, 0, reason, attrs)))

    def _retire(self, sta: policy.StaConf, ap: str) -> None:
        """Remove the AP-side flows of a station that left `ap` (unless it is back there)."""
        with self.lock:
            if self.radio.associated.get(sta.mac) == ap:
                return                 # back at that AP: its association replaced them
            self._delete_cookie(policy.COOKIE_ASSOC | sta.index, [ap])
            self._delete_cookie(policy.COOKIE_AUTH | sta.index, [ap])
            self._commit(sync=False)   # no frame of the station can reach them any more

    # ---- requests ------------------------------------------------------------------------
    def _station_request(self, src: str, in_port: int, frame: mgmt.Mgmt, t_in: int) -> None:
        sta = self.radio.stations.get(src)
        if sta is None or sta.air_port != in_port:
            self.log.emit("mgmt_rejected", sta=src, reason="unknown station or wrong port")
            return
        if frame.type == "assoc_request":
            # The radio's latency counts from when the station sent its request (CLOCK_MONOTONIC
            # is shared by all namespaces), so that our own packet-in path is absorbed in it.
            t_sent = frame.attrs.get("t_sent_ns")
            t_ref = t_sent if isinstance(t_sent, int) and 0 <= t_in - t_sent < 10**9 else t_in
            self.associate(sta, frame.bssid, frame.seq, t_ref, t_in)
        elif frame.type == "disassoc_request":
            with self.lock:
                old = self._leave(sta, "station_request")
                self._commit()
                self._tell_departure(sta, old, "station_request")
            self._reply_station(sta, mgmt.Mgmt("disassociated", sta.mac, frame.bssid, frame.seq,
                                               "ok" if old else "not_associated"))

    def associate(self, sta: policy.StaConf, bssid: str, seq: int, t_ref: int, t_in: int) -> None:
        """Associate `sta` with the AP `bssid`; answer `association_latency` after `t_ref`."""
        ap = self.radio.ap_by_bssid(bssid)
        if ap is None:
            self.log.emit("assoc_request", phase="switching", mono_ns=t_in, sta=sta.name,
                          ap=None, bssid=bssid, sent_mono_ns=t_ref)
            self._reply_station(sta, mgmt.Mgmt("assoc_response", sta.mac, bssid, seq, "unknown_bssid"))
            return
        with self.lock:
            old = self._leave(sta, "reassociation")
            # back at an AP whose flows for it are still retiring: its port is closed again
            self._delete_cookie(policy.COOKIE_AUTH | sta.index, [ap.name])
            self._delete_cookie(policy.COOKIE_TO_STA_AUTH | sta.index, [ap.name])
            self.radio.associated[sta.mac] = ap.name
            if policy.port_open_at_association(ap):
                self.radio.authorized.add(sta.mac)
            flows = policy.association_flows(self.radio, sta, ap)
            if sta.mac in self.radio.authorized:
                flows += policy.authorized_flows(self.radio, sta, ap)
                # broadcast reaches authorized stations only: the AP's multicast flows change
                # only when an authorized station joins (an open AP)
                self._delete_cookie(policy.COOKIE_MCAST | ap.index, ["air", ap.name])
                flows += policy.multicast_flows(self.radio, ap)
            self._install(flows)
            t_flows = time.perf_counter_ns()
            apply_ns, sync_ns = self._commit()
            self._tell_departure(sta, old, "reassociation", ap)
        # IEEE 802.11F Layer 2 Update frame (as hostapd sends it): the distribution system's
        # learning bridges now find the station behind its new AP
        self._packet_out(ap.name, policy.UPLINK, layer2_update_frame(sta.mac))
        # The response leaves `association_latency` after the station sent its request (one
        # clock: t_ref is the station's stamp), so the way here and our own work are inside
        # it; its way back (packet-out -> OVS -> station, ~0.1-0.3 ms here) is not estimated
        # and adds on top: the station never sees less than the configured latency. (It was
        # taken as long as the way here, which is longer: medians fell below L.)
        remaining = ap.association_latency - (time.perf_counter_ns() - t_ref) / 1e9
        if remaining > 0:
            time.sleep(remaining)
        self._reply_station(sta, mgmt.Mgmt("assoc_response", sta.mac, bssid, seq, "ok",
                                           {"previous": old}))
        # the AP's authenticator learns of the association as hostapd does from its MAC, and
        # starts 802.1X (EAP, or the 4-way handshake with a cached PMKSA)
        self._packet_out(ap.name, policy.AUTH, mgmt.encode(
            ap.bssid, sta.mac, mgmt.Mgmt("sta_associated", sta.mac, ap.bssid, seq)))
        # events after the answers: writing them is not part of the emulated radio's time
        self.log.emit("assoc_request", phase="switching", mono_ns=t_in, sta=sta.name,
                      ap=ap.name, bssid=bssid, sent_mono_ns=t_ref)
        self.log.emit("associated", phase="switching", sta=sta.name, ap=ap.name, previous=old,
                      association_latency_s=ap.association_latency,
                      request_mono_ns=t_ref, packet_in_delay_ms=(t_in - t_ref) / 1e6,
                      flows_ms=(t_flows - t_in) / 1e6, barrier_ms=apply_ns / 1e6,
                      sync_ms=sync_ns / 1e6,
                      authorized=sta.mac in self.radio.authorized)

    def _reply_station(self, sta: policy.StaConf, frame: mgmt.Mgmt) -> None:
        bssid = frame.bssid if frame.bssid else mgmt.BROADCAST
        self._packet_out("air", sta.air_port, mgmt.encode(sta.mac, bssid, frame))

    def _authenticator_request(self, ap: policy.ApConf, frame: mgmt.Mgmt, t_in: int = 0) -> None:
        sta = self.radio.stations.get(frame.sta)
        status = "ok"
        with self.lock:
            if sta is None or self.radio.associated.get(sta.mac) != ap.name:
                status = "not_associated"
                if sta is not None:
                    # the AP opened the port itself (agents/port_driver.py) just as the
                    # station left it: nothing of that port may stay behind
                    self._delete_cookie(policy.COOKIE_AUTH | sta.index, [ap.name])
                    self._delete_cookie(policy.COOKIE_TO_STA_AUTH | sta.index, [ap.name])
            elif frame.type == "authorize":
                self.radio.authorized.add(sta.mac)
                self._install(policy.authorized_flows(self.radio, sta, ap))
                self._delete_cookie(policy.COOKIE_MCAST | ap.index, ["air", ap.name])
                self._install(policy.multicast_flows(self.radio, ap))
            elif frame.type == "deauthorize":
                self.radio.authorized.discard(sta.mac)
                self._delete_cookie(policy.COOKIE_AUTH | sta.index, [ap.name])
                self._delete_cookie(policy.COOKIE_TO_STA_AUTH | sta.index, [ap.name])
                self._delete_cookie(policy.COOKIE_MCAST | ap.index, ["air", ap.name])
                self._install(policy.multicast_flows(self.radio, ap))
            else:
                status = "bad_request"
            t_flows = time.perf_counter_ns()
            # as after an association: a frame the station sends at once must not meet the
            # datapath's cached flows of the closed port
            apply_ns, sync_ns = self._commit()
        if status == "ok":
            t_sent = frame.attrs.get("t_sent_ns")
            self.log.emit("port_authorized" if frame.type == "authorize" else "port_unauthorized",
                          phase="switching", sta=sta.name, ap=ap.name, request_mono_ns=t_in,
                          sent_mono_ns=t_sent,
                          packet_in_delay_ms=(t_in - t_sent) / 1e6 if isinstance(t_sent, int) else None,
                          flows_ms=(t_flows - t_in) / 1e6, barrier_ms=apply_ns / 1e6,
                          sync_ms=sync_ns / 1e6)
        else:
            self.log.emit("port_request_rejected", ap=ap.name, sta=frame.sta, reason=status)
        reply = mgmt.Mgmt("port_status", frame.sta, ap.bssid, frame.seq, status,
                          {"authorized": status == "ok" and frame.type == "authorize"})
        self._packet_out(ap.name, policy.AUTH, mgmt.encode(ap.bssid, ap.bssid, reply))

    def constants(self) -> dict:
        """Every constant of this emulation that shapes a measured interval, with its unit and
        where it comes from (reported beside results: `emulation_constants` events)."""
        out = {"datapath_sync": {"value": self.sync.spec, "unit": "",
                                 "source": "$MPA_DATAPATH_SYNC (controller/datapath.py)"},
               "datapath_settle_wait": {"value": self.sync.settle_s * 1e3, "unit": "ms",
                                        "source": "controller/datapath.py"},
               "old_ap_flows_grace": {"value": OLD_AP_FLOWS_GRACE_S * 1e3, "unit": "ms",
                                      "source": "controller/app.py (frames in flight at a "
                                                "reassociation)"},
               "station_mgmt_path": {"value": "radio switch's management port, raw socket"
                                     if self.air_mgmt else "packet-in", "unit": "",
                                     "source": "controller/app.py _start_mgmt_reader"},
               "association_way_back": {"value": "not subtracted (the response leaves L after "
                                                 "the request; its way back adds)", "unit": "",
                                        "source": "controller/app.py associate()"}}
        for ap in self.radio.aps.values():
            out[f"association_latency.{ap.name}"] = {
                "value": ap.association_latency * 1e3, "unit": "ms",
                "source": f"{ap.name}'s association_latency (topology with the experiment's "
                          "overrides)"}
        for sta in self.radio.stations.values():
            out[f"link_down_detection.{sta.name}"] = {
                "value": sta.link_down_detection * 1e3, "unit": "ms",
                "source": f"{sta.name}'s link_down_detection (topology with the experiment's "
                          "overrides)"}
        return out

    # ---- API (runner, inspect) -----------------------------------------------------------
    def status(self) -> dict:
        with self.lock:
            return {"switches": sorted(self.datapaths), "datapath_sync": self.sync.describe(),
                    "associations": {self.radio.stations[m].name: a
                                     for m, a in self.radio.associated.items()},
                    "authorized": sorted(self.radio.stations[m].name for m in self.radio.authorized),
                    "malformed": self.malformed}

    def detach(self, sta_name: str) -> dict:
        """The station moves out of range of its AP: link lost now, noticed later."""
        sta = next((s for s in self.radio.stations.values() if s.name == sta_name), None)
        if sta is None:
            return {"error": f"unknown station {sta_name}"}
        with self.lock:
            old = self._leave(sta, "link_lost")
            self._commit()
            self._tell_departure(sta, old, "link_lost")
        if old is None:
            return {"error": f"{sta_name} is not associated"}
        time.sleep(sta.link_down_detection)
        self._reply_station(sta, mgmt.Mgmt("disassociated", sta.mac, self.radio.aps[old].bssid,
                                           0, "link_lost"))
        self.log.emit("link_down_notified", phase="switching", sta=sta.name, ap=old,
                      link_down_detection_s=sta.link_down_detection)
        return {"ok": True, "ap": old}
