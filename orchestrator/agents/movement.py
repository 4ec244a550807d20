"""The mobile node's handover policy at work (RFC 6252 s6.3, Appendix C.1, C.6): the MN's
radio reports scans (the APs heard and their signal) as the node moves; the policy
(`mobility/policy.py`, the same code the pure simulator runs) decides when to discover,
pre-authenticate, pre-configure and hand over, and this driver turns its decisions into the
MN's real operations on the emulated network:

    discover         the information server query (s7.1); without an information server
                     the CTNs are those the MN was configured with (C.5.3: "the MN is able
                     to retrieve ... all required information about AP1 and AP2")
    pre_authenticate PANA pre-authentication with the PAA of the CTN (s6.3 step 1), PSK_ap
                     for each of its APs
    pre_configure    nCoA by DHCP and the proactive handover tunnel (s6.3 step 2, s7.3.3)
    handover         pre-configured: MPA's pre-switching, switching, post-switching (steps
                     4-6); otherwise (re)association and 802.1X with the target AP (the
                     4-way handshake alone if its PSK_ap is installed, full EAP-TLS if not)

Discovery and pre-authentication run on one worker, one phase after another; each
pre-configuration runs on a thread of its own (C.4: the nCoAs and tunnels of several CTNs
are obtained in parallel, agents/preconfig.py locks per CTN), and handovers on another
worker: a handover does not wait for a preparation still under way (the MN has left, the
way C.6 describes an MN moving too fast). The real end of each phase is reported to the
policy, which may start the next phase at once.

With a call (C.4; `binding_update` set, the MN in a call with a CN): a handover into a
network that was not pre-configured also obtains an address there (on-link DHCP after the
move), and the MN's binding updates (SIP re-INVITEs, agents/sip_ua.py) follow C.4's schemes:

    after            one binding update after the move, from the new address (C.4's first
                     and second schemes: "the binding update is actually done after the
                     mobile node has moved")
    before           once no pre-configuration is under way (those started together end
                     in one re-INVITE), a re-INVITE through the tunnel of the strongest
                     pre-configured CTN naming every pre-configured nCoA as a contact (one
                     CTN: s6.3 step 3; several: C.4's third scheme, "c1, c2, and c3", the
                     CN's transient streams through each tunnel), then after the move a
                     final re-INVITE with the one address the MN has, unless the CN
                     already has exactly that one. Only before the movement's first
                     handover to another network (C.4's walk has one): after it the MN's
                     preparations for the next one send no re-INVITE (not built: which
                     contacts, beside the address in use, a second one should name)
    handover         nothing while preparing; once the policy decides to hand over into a
                     pre-configured CTN (it then knows which one), one re-INVITE from that
                     CTN's nCoA through its tunnel, then the move (C.4's buffering
                     alternative to the third scheme's transient streams); into a network
                     not pre-configured, the re-INVITE after the move as with "after"

`buffering_ms` (with a call): in an MPA handover the MN asks the target access router to
buffer what arrives for the nCoA from pre-switching until its ATTACHED after the move, at
most this long (C.4: "apply the buffering technique at the target access router ...
Forwarding of data can be triggered by the mobile node ... as a separate buffering
protocol"; agents/handover.py, protocols/buffering.py).

Events (phase "setup": they describe the movement, the MPA phases keep their own events):
`radio_sample` (t, position, the scan), `policy_action` (each decision), `policy_completed`
(each phase's end as the policy is told), `movement_handover_done` (delay, what it was),
`movement_binding_update` (which contacts, before or after the move, ok or why not).
"""
from __future__ import annotations

import queue
import threading
import time

from ..events import EventLog
from ..mobility.policy import (DISCOVER, HANDOVER, PRE_AUTHENTICATE, PRE_CONFIGURE,
                               PRE_CONFIGURED, SAME_NETWORK, Policy, PolicyParams)
from .control import CommandError

PREPARATION = (DISCOVER, PRE_AUTHENTICATE, PRE_CONFIGURE)
BINDING_UPDATES = ("before", "after", "handover")
# an information server answers in ~5 ms here; after a layer-2 handover the MN still has the
# address of the network it left and gets no answer: do not hold the movement 3 s for it
DISCOVERY_TIMEOUT = 1.0
# a pre-authentication or pre-configuration the handover overtook (its messages leave by a
# network the MN has left) ends at this timeout; one that runs takes ~0.05-0.5 s here (AAA
# 25 ms away, loaded machine): the movement does not wait 15 s for the lost ones
PREPARATION_TIMEOUT = 5.0


class PolicyDriver:
    """One movement of the MN (`mn`: the MobileNode role). `networks`: AP -> network;
    `paas`: network -> its PAA (node name); `t0_ns`: CLOCK_MONOTONIC time of t = 0."""

    def __init__(self, mn, params: dict, networks: dict[str, str], paas: dict[str, str],
                 serving: str, t0_ns: int, method: str = "dhcp",
                 timeout: float = PREPARATION_TIMEOUT, binding_update: str | None = None,
                 buffering_ms: float | None = None):
        self.mn, self.log = mn, mn.log
        self.policy = Policy(PolicyParams(**params), dict(networks), serving,
                             preparable=frozenset(paas))
        self.paas, self.t0_ns, self.method, self.timeout = dict(paas), t0_ns, method, timeout
        if binding_update not in (None, *BINDING_UPDATES):
            raise ValueError(f"binding_update must be one of {', '.join(BINDING_UPDATES)} "
                             f"(got {binding_update!r})")
        self.binding_update = binding_update       # None: no call (no layer 3 after an L2 move)
        if buffering_ms is not None and not (binding_update in ("before", "handover")
                                             and 0 < buffering_ms <= 10_000):
            raise ValueError("buffering_ms needs binding_update 'before' or 'handover' (the "
                             "stream at the nCoA before the move) and 0 < buffering_ms <= "
                             f"10000 (got {buffering_ms!r} with {binding_update!r})")
        self.buffering_ms = buffering_ms
        self.networks = dict(networks)
        self.contacts: list[str] = []              # what the CN was last told (re-INVITE)
        self.moved = False                         # a handover to another network began
        self.binding_updates: list[dict] = []
        self._bu = threading.Lock()                # one binding update at a time
        self._preconfiguring = 0                   # pre-configurations under way
        self._scan: dict[str, float] = {}
        self.lock = threading.Lock()
        self.handovers: list[dict] = []
        self.completions: list[dict] = []
        self.actions: list[dict] = []
        self.samples = 0
        self._prep: queue.Queue = queue.Queue()
        self._switch: queue.Queue = queue.Queue()
        self._busy = 0                        # actions queued or under way
        self._idle = threading.Condition(self.lock)
        self._workers = [threading.Thread(target=self._work, args=(q,), daemon=True,
                                          name=f"movement-{n}")
                         for n, q in (("preparation", self._prep), ("switching", self._switch))]
        for w in self._workers:
            w.start()

    def now(self) -> float:
        return (time.perf_counter_ns() - self.t0_ns) / 1e9

    # -- inputs -----------------------------------------------------------------------------
    def radio(self, t: float, scan: dict[str, float], position: list[float] | None) -> dict:
        """One scan at movement time t: the APs heard (dBm). Returns the policy's actions."""
        self.log.emit("radio_sample", "setup", t=t, position=position, scan=scan,
                      serving=self.policy.serving)
        with self.lock:
            self.samples += 1
            self._scan = dict(scan)
            actions = self.policy.step(t, scan)
            self._dispatch(actions)
            return {"actions": [a.to_dict() for a in actions], "serving": self.policy.serving}

    def stop(self, wait: float = 10.0) -> dict:
        """Wait (at most `wait` s) for the phases under way, stop the workers; the summary."""
        deadline = time.monotonic() + wait
        with self.lock:
            while self._busy and time.monotonic() < deadline:
                self._idle.wait(max(0.0, deadline - time.monotonic()))
            unfinished = self._busy
        for q in (self._prep, self._switch):
            q.put(None)
        for w in self._workers:
            w.join(timeout=1.0)
        return {"handovers": self.handovers, "completions": self.completions,
                "actions": self.actions, "samples": self.samples, "unfinished": unfinished,
                "ping_pongs": self.policy.ping_pongs, "serving": self.policy.serving,
                "binding_updates": self.binding_updates,
                "constants": {"discovery_timeout_s": DISCOVERY_TIMEOUT,
                              "preparation_timeout_s": self.timeout,
                              "pre_configuration_method": self.method,
                              "binding_update": self.binding_update,
                              "buffering_ms": self.buffering_ms}}

    # -- the policy's decisions -----------------------------------------------------------------
    def _dispatch(self, actions) -> None:
        """Queue each action (lock held)."""
        for a in actions:
            d = a.to_dict()
            self.actions.append(d)
            self.log.emit("policy_action", "setup", **d)
            if a.kind == PRE_CONFIGURE:
                self._busy += 1
                self._preconfiguring += 1
                threading.Thread(target=self._run, args=(a,), daemon=True,
                                 name=f"movement-preconfigure-{a.network}").start()
            elif a.kind in PREPARATION:
                self._busy += 1
                self._prep.put(a)
            elif a.kind == HANDOVER:
                self._busy += 1
                self._switch.put(a)

    def _work(self, q: queue.Queue) -> None:
        while True:
            a = q.get()
            if a is None:
                return
            self._run(a)

    def _run(self, a) -> None:
        """One action, its end reported to the policy (`_busy` counted down)."""
        try:
            if a.kind == HANDOVER:
                self._handover(a)
            else:
                ok, detail = self._prepare(a)
                t = self.now()
                with self.lock:
                    self._preconfiguring -= a.kind == PRE_CONFIGURE
                    self.completions.append({"t": t, "kind": a.kind, "network": a.network,
                                             "ok": ok, "detail": detail})
                self.log.emit("policy_completed", "setup", t=t, kind=a.kind,
                              network=a.network, ok=ok, detail=detail)
                with self.lock:
                    self._dispatch(self.policy.completed(t, a.kind, a.network, ok))
                self._prepared(a, ok)
        finally:
            with self.lock:
                self._busy -= 1
                self._idle.notify_all()

    def _prepared(self, a, ok: bool) -> None:
        """A preparation phase has ended: with `binding_update` "before", once no
        pre-configuration is under way, the CN is told every pre-configured nCoA (s6.3 step 3;
        C.4's third scheme). A failed one counts too: it may be the last of a group."""
        if self.binding_update != "before" or a.kind != PRE_CONFIGURE:
            return
        with self._bu:
            with self.lock:
                running = self._preconfiguring
            if self.moved or running:
                return                        # the MN has left, or the last one will tell
            ncoas = self._preconfigured()
            if not ncoas or ncoas == self.contacts:
                return
            self._send_binding_update(ncoas, "before")

    def _preconfigured(self) -> list[str]:
        """The nCoAs pre-configured now, strongest CTN first (its AP's signal in the last
        scan): the re-INVITE leaves through that CTN's tunnel."""
        with self.lock:
            scan = dict(self._scan)
        best = {}
        for ap, net in self.networks.items():
            best[net] = max(best.get(net, float("-inf")), scan.get(ap, float("-inf")))
        out = []
        for ctn in sorted(self.mn.preconf.names(), key=lambda c: (-best.get(c, float("-inf")), c)):
            p = self.mn.preconf.get(ctn)
            if p is not None and p.ncoa:
                out.append(p.ncoa)
        return out

    def _send_binding_update(self, contacts: list[str], when: str) -> None:
        """A re-INVITE from contacts[0] naming every address in `contacts` (lock `_bu` held)."""
        record = {"t": self.now(), "when": when, "contacts": list(contacts), "status": "ok",
                  "error": ""}
        try:
            self.mn.binding_update(address=contacts[0], also=contacts[1:])
            self.contacts = list(contacts)
        except CommandError as exc:
            record.update(status="failed", error=str(exc))
        record["done_t"] = self.now()
        self.binding_updates.append(record)
        self.log.emit("movement_binding_update", "setup", **record)

    def _prepare(self, a) -> tuple[bool, str]:
        try:
            if a.kind == DISCOVER:
                if not self.mn.config.get("information_server"):
                    return True, "no information server: the configured CTNs"
                self.mn.discover(timeout=DISCOVERY_TIMEOUT)
            elif a.kind == PRE_AUTHENTICATE:
                paa = self.paas.get(a.network)
                if paa is None:
                    return False, f"no PAA on network {a.network}"
                self.mn.preauthenticate_mpa(paa=paa, timeout=self.timeout)
            elif a.kind == PRE_CONFIGURE:
                self.mn.preconfigure(ctn=a.network, method=self.method, timeout=self.timeout)
        except CommandError as exc:
            return False, str(exc)
        return True, ""

    def _handover(self, a) -> None:
        """Hand over to `a.ap` with what MPA prepared at this moment (not when decided)."""
        ctn_ready = (a.network in self.mn.preconf.names() and
                     a.prepared == PRE_CONFIGURED)
        t_start = self.now()
        start_ns = time.perf_counter_ns()
        kind = "mpa" if ctn_ready else "l2"
        self.log.emit("movement_handover_start", "setup", t=t_start, ap=a.ap, source=a.source,
                      network=a.network, prepared=a.prepared, reason=a.reason, how=kind)
        status, error, result = "ok", "", {}
        call = self.binding_update is not None and a.prepared != SAME_NETWORK
        bu_ms = None
        if call:
            with self._bu:                    # a binding update under way ends first
                self.moved = True
                p = self.mn.preconf.get(a.network) if ctn_ready else None
                if self.binding_update == "handover" and p is not None and p.ncoa:
                    self._send_binding_update([p.ncoa], "handover")   # through its tunnel
                    bu_ms = round((self.binding_updates[-1]["done_t"]
                                   - self.binding_updates[-1]["t"]) * 1e3, 3)
        if a.prepared != SAME_NETWORK:
            # the preparations under way from the network the MN leaves now cannot finish
            # (their answers go there): they end at once instead of at their timeout
            # (agents/overtaken.py; C.6's MN that moves too fast)
            self.mn.departures.left(f"overtaken by the handover to {a.network} (the MN left "
                                    f"{self.networks.get(a.source, a.source)})")
        try:
            if ctn_ready:
                extra = ({"buffering_period_ms": self.buffering_ms}
                         if call and self.buffering_ms is not None else {})
                result = self.mn.mpa_handover(ctn=a.network, ap=a.ap, **extra)
            elif call:                        # layer 3 too: an address on the new link
                result = self.mn.nonmpa_handover(ap=a.ap)
            else:
                result = self.mn.handoff(ap=a.ap)
        except CommandError as exc:
            status, error = "failed", str(exc)
        delay_ms = (time.perf_counter_ns() - start_ns) / 1e6
        switching = result.get("switching", result)
        pmksa = (switching.get("connect") or {}).get("pmksa") if isinstance(switching, dict) else None
        record = {"t": t_start, "ap": a.ap, "source": a.source, "network": a.network,
                  "prepared": a.prepared, "reason": a.reason, "ping_pong": a.ping_pong,
                  "how": kind, "pmksa": pmksa, "status": status, "error": error,
                  "delay_ms": round(delay_ms, 3), "start_ns": start_ns,
                  "binding_update_ms": bu_ms, "buffering": result.get("buffering"),
                  "buffered_packets": result.get("buffered_packets")}
        self.handovers.append(record)
        self.log.emit("movement_handover_done", "setup", **{k: v for k, v in record.items()
                                                            if k != "start_ns"})
        if status == "ok" and call and result.get("ncoa"):
            with self._bu:                    # the final binding update: one contact, first:
                if self.contacts != [result["ncoa"]]:     # it ends the transient streams
                    self._send_binding_update([result["ncoa"]], "after")
        if status == "ok" and a.prepared != SAME_NETWORK:
            self._commit(a.network)

    def _commit(self, network: str) -> None:
        """C.4: after the handover into `network` the other CTNs' pre-configurations (nCoA,
        tunnel) are released; their MPA-SAs stay (C.2). Their tunnels' outer address (the
        oCoA) is gone: the MN forgets its ends without an IKEv2 DELETE nobody could answer
        (it waited charon's 3 s for each)."""
        for ctn in [c for c in self.mn.preconf.names() if c != network]:
            try:
                self.mn.preconf.release(ctn, f"committed to {network}", force=True)
            except CommandError as exc:
                self.log.emit("policy_release_failed", "setup", ctn=ctn, reason=str(exc))
