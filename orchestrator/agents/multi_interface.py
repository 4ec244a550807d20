"""A multi-interface mobile node (RFC 6252 s7, C.5.2): its cellular interface and which
interface is the active one.

C.5.2: "the second interface is being prepared while the mobile node still communicates
using the old interface. Preparation of the second interface should include setup of all
the required state and security associations (e.g., PPP state, ... LCP, ... CHAP) ...
After preparation, the mobile node decides to use the second interface as the active
interface." Two flavours: both interfaces up, or the prepared interface "brought up only
when handoff is about to occur" (battery).

Who does what:
- `CellularInterface.up()`: power the interface up if it is down (the base station's
  emulated `activation_latency`), wait the emulated `attach_latency` (a traffic channel:
  what emulation cannot produce; both reported in `radio_attached`), then the real data
  session set-up (agents/cellular.py: PPPoE discovery, LCP, CHAP against the AAA server,
  IPCP), measured from its frames; afterwards a thread answers the gateway's LCP. After MPA
  pre-authentication of the cellular domain through the WLAN (RFC 6252 s7.6.2,
  `preauthorize`) CHAP answers with the secret derived from the MPA-SA, which the PAA
  installed in the gateway: the gateway checks it without an AAA round trip.
  `down()`: LCP Terminate + PADT, address removed, and with `power_off` the link down.
- `make_active(...)`: the MN's default route through another interface (the "active
  interface"), the previous one remembered so that it can be made active again.

Standard library only (the agent runs from a zipapp). Emulated waits are the only sleeps,
each one a YAML parameter (model/topology.py BaseStation) reported with the results.
"""
from __future__ import annotations

import threading
import time

from ..events import EventLog
from .cellular import CellularClient, _configure
from .health import Loop


def _ms(t0: int, t1: int) -> float:
    return round((t1 - t0) / 1e6, 3)


def link_is_up(iface: str) -> bool:
    """IFF_UP of `iface` (administratively up)."""
    with open(f"/sys/class/net/{iface}/flags") as fh:
        return bool(int(fh.read().strip(), 16) & 0x1)


class CellularInterface:
    """One cellular interface of the MN and its data session (see the module docstring).

    `config`: {"identity", "secret", "base_station", "attach_latency", "activation_latency",
    "link_down_detection"} (seconds), from deploy/context.py."""

    def __init__(self, iface: str, config: dict, log: EventLog | None):
        self.iface, self.config, self.log = iface, config, log
        self.client: CellularClient | None = None
        self._serve_stop = threading.Event()
        self._serve: threading.Thread | None = None
        self._loop: Loop | None = None
        self.preauthorized: dict | None = None     # {"secret", "paa", "gateway"} from MPA

    def _emit(self, event: str, phase: str, mono_ns: int | None = None, **attrs) -> None:
        if self.log:
            self.log.emit(event, phase=phase, mono_ns=mono_ns, iface=self.iface, **attrs)

    def status(self) -> dict:
        session = self.client.session if self.client else None
        return {"iface": self.iface, "up": link_is_up(self.iface),
                "base_station": self.config.get("base_station"),
                "session": None if session is None else
                {k: session[k] for k in ("address", "peer", "ac", "session_id")}}

    def preauthorize(self, secret: bytes, paa: str, gateway: dict) -> None:
        """Hold the CHAP secret derived from the MPA-SA with `paa` for the next data session
        with `gateway` ({gateway (name), target_id (its MAC), address, address_port}; RFC
        6252 s7.6.2: pre-authentication through the other interface)."""
        self.preauthorized = {"secret": bytes(secret), "paa": paa, "gateway": dict(gateway),
                              "address": None}

    def preconfigure_address(self, timeout: float | None = None) -> dict:
        """Reserve the address at the pre-authorized gateway through the current (WLAN)
        interface (protocols/cellular_address.py): `cellular_address_preconfigured`."""
        from ..protocols.errors import ProtocolError
        from .cellular import ADDRESS_TIMEOUT_S, request_address
        pre, g = self.preauthorized, self.preauthorized["gateway"]
        with open(f"/sys/class/net/{self.iface}/address") as fh:
            station = bytes(int(x, 16) for x in fh.read().strip().split(":"))
        target = bytes(int(x, 16) for x in g["target_id"].split(":"))
        try:
            address, dns, seconds = request_address((g["address"], g["address_port"]),
                                                    pre["secret"], station, target,
                                                    timeout or ADDRESS_TIMEOUT_S)
        except (OSError, ProtocolError) as exc:
            return {"status": "failed", "reason": str(exc)}
        pre["address"] = (address, dns)
        self._emit("cellular_address_preconfigured", "pre-configuration", address=address,
                   dns=dns, gateway=g["gateway"], elapsed_ms=round(seconds * 1e3, 3))
        return {"status": "ok", "iface": self.iface, "address": address, "dns": dns,
                "gateway": g["gateway"], "elapsed_ms": round(seconds * 1e3, 3)}

    def up(self, phase: str = "pre-configuration", timeout: float = 15.0) -> dict:
        """Activation (if down), attach, data session: RFC 6252 C.5.2's preparation of the
        second interface. Returns the session's result with `activation_ms`, `attach_ms`
        (emulated) and `elapsed_ms` (all of it)."""
        if self.client is not None and self.client.session is not None:
            return {"status": "ok", "already": True, **self.client.session}
        t0 = time.perf_counter_ns()
        was_up = link_is_up(self.iface)
        activation = 0.0 if was_up else float(self.config.get("activation_latency", 0.0))
        if not was_up:
            self._emit("interface_powered_on", phase, mono_ns=t0, technology="cellular",
                       base_station=self.config.get("base_station"))
            time.sleep(activation)           # emulated: power-up, acquisition, registration
            error = _configure([("link_set", self.iface, True)])
            if error:
                return {"status": "failed", "stage": "activation", "reason": error}
            if self.client is not None:      # its packet sockets saw the link go down
                self.client.shutdown()       # (ENETDOWN pending): open new ones
                self.client = None
        attach = float(self.config.get("attach_latency", 0.0))
        time.sleep(attach)                   # emulated: the traffic channel
        t_attached = time.perf_counter_ns()
        self._emit("radio_attached", phase, mono_ns=t_attached,
                   base_station=self.config.get("base_station"), was_up=was_up,
                   activation_ms=activation * 1e3, attach_ms=attach * 1e3, emulated=True,
                   elapsed_ms=_ms(t0, t_attached))
        if self.client is None:
            self.client = CellularClient(self.iface, self.config["identity"],
                                         self.config["secret"], self.log, phase=phase)
        else:
            self.client.phase = phase
            self.client.counters.phase = phase
        pre, self.preauthorized = self.preauthorized, None     # serves one set-up
        self.client.secret = pre["secret"] if pre else self.config["secret"].encode()
        self.client.request_address = pre["address"] if pre else None
        result = self.client.establish(timeout)
        result["chap_secret"] = f"mpa-key ({pre['paa']})" if pre else "long-term"
        result["address_preconfigured"] = bool(pre and pre["address"])
        t_done = time.perf_counter_ns()
        if result["status"] == "ok":              # answer the gateway's LCP from now on
            self._serve_stop.clear()
            client, stop = self.client, self._serve_stop
            loop = self._loop = Loop(f"cellular:{self.iface}", self.log)   # health: `hello`

            def body():
                client.serve(stop)
                loop.stop()        # the session ended (closed, or by the gateway): no death
            self._serve = loop.start(body)
        return {**result, "activation_ms": activation * 1e3, "attach_ms": attach * 1e3,
                "was_up": was_up, "elapsed_ms": _ms(t0, t_done)}

    def down(self, power_off: bool = False) -> dict:
        """End the data session (LCP Terminate, PADT, address removed); with `power_off`
        the interface goes down too (C.5.2's battery flavour)."""
        result = {"status": "closed"}
        if self.client is not None:
            self._serve_stop.set()
            if self._serve is not None:
                self._loop.stop()
                self._serve.join(2.0)
            result = self.client.close()
        if power_off:
            was_up = link_is_up(self.iface)
            error = _configure([("link_set", self.iface, False)])
            if error:
                return {"status": "failed", "reason": error}
            if was_up:
                self._emit("interface_powered_off", "switching", technology="cellular")
        return {**result, "up": link_is_up(self.iface)}

    def close(self) -> None:
        self._serve_stop.set()
        if self.client is not None:
            self.client.shutdown()


def parse_default_route(text: str) -> tuple[str | None, str | None]:
    """(gateway, device) of the IPv4 default route in /proc/net/route's text (main table;
    fields Iface Destination Gateway Flags RefCnt Use Metric Mask ..., addresses as
    little-endian hex), or (None, None). Pure; a malformed line is skipped."""
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8:
            continue
        dev, dst, gw, flags, mask = fields[0], fields[1], fields[2], fields[3], fields[7]
        try:
            up = int(flags, 16) & 0x1
            octets = bytes.fromhex(gw)[::-1]
        except ValueError:
            continue
        if dst == "00000000" and mask == "00000000" and up and len(octets) == 4:
            return ".".join(str(b) for b in octets), dev
    return None, None


def default_route() -> tuple[str | None, str | None]:
    """(gateway, device) of this namespace's IPv4 default route, or (None, None)."""
    with open("/proc/net/route") as fh:
        return parse_default_route(fh.read())


def make_active(iface: str, gateway: str, log: EventLog | None, phase: str = "switching",
                previous: dict | None = None) -> dict:
    """Make `iface` the active interface (RFC 6252 C.5.2): the default route through
    `gateway` on it. `previous` (dict) receives the old default route's device -> gateway,
    so that the old interface can be made active again."""
    t0 = time.perf_counter_ns()
    old_gw, old_dev = default_route()
    if previous is not None and old_dev and old_gw:
        previous[old_dev] = old_gw
    error = _configure([("route_replace", "default", gateway, iface)])
    t1 = time.perf_counter_ns()
    if error:
        if log:
            log.emit("active_interface_failed", phase=phase, mono_ns=t1, iface=iface,
                     reason=error)
        return {"status": "failed", "reason": error}
    if log:
        log.emit("active_interface_changed", phase=phase, mono_ns=t1, iface=iface,
                 gateway=gateway, previous=old_dev, elapsed_ms=_ms(t0, t1))
    return {"status": "ok", "iface": iface, "gateway": gateway, "previous": old_dev,
            "elapsed_ms": _ms(t0, t1)}


class ReactiveHandover:
    """RFC 6252 C.5.2's reactive handover in the MN: on the WLAN's link-down notification
    (a `disassociated` management frame, sent by the radio after the interface's
    link_down_detection) run `steps` -- bring the cellular interface up, make it active,
    the binding update from its address (the last step gets the first one's result) -- in a
    thread; `link_down_detected` at the frame's arrival. `port`: agents/l2.L2Port."""

    POLL = 0.1          # s: how often the wait lets other management requests through

    def __init__(self, port, wlan_iface: str, log: EventLog | None, steps: tuple,
                 lock: threading.Lock | None = None):
        self.port, self.wlan_iface, self.log, self.steps = port, wlan_iface, log, steps
        self.lock = lock or threading.Lock()     # the port's: one reader at a time
        self.done = threading.Event()
        self._cancel = threading.Event()
        self._result: dict = {"status": "failed", "reason": "not finished"}

    def cancel(self) -> None:
        """Stop waiting for the link-down (the MN is reset): the port is free again."""
        self._cancel.set()

    def start(self, timeout: float) -> dict:
        with self.lock:
            stale = self.port.drain()      # an old notification must not trigger it
        threading.Thread(target=self._run, args=(timeout,), daemon=True,
                         name="reactive-handover").start()
        return {"status": "armed", "discarded_frames": stale}

    def _run(self, timeout: float) -> None:
        try:
            deadline, msg = time.monotonic() + timeout, None
            while msg is None and not self._cancel.is_set() and time.monotonic() < deadline:
                with self.lock:
                    msg, t = self.port.next_of("disassociated", self.POLL)
            if msg is None:
                why = "cancelled" if self._cancel.is_set() else f"no link-down in {timeout:g} s"
                self._result = {"status": "failed", "reason": why}
                return
            if self.log:
                self.log.emit("link_down_detected", phase="switching", mono_ns=t,
                              iface=self.wlan_iface, bssid=msg.bssid, reason=msg.status)
            bring_up, make_active_, binding_update = self.steps
            session = bring_up()
            active = make_active_()
            bu = binding_update(session)
            self._result = {"status": "ok", "link_down_ns": t, "cellular_session": session,
                            "active_interface": active, "binding_update": bu}
        except Exception as exc:           # noqa: BLE001 -- reported by result()
            self._result = {"status": "failed", "reason": f"{type(exc).__name__}: {exc}"}
        finally:
            self.done.set()

    def result(self, timeout: float) -> dict:
        if not self.done.wait(timeout):
            return {"status": "failed", "reason": f"still running after {timeout:g} s"}
        return self._result
