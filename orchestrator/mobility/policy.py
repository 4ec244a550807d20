"""The mobile node's handover policy: when to discover, pre-authenticate, pre-configure and
hand over (RFC 6252 s6.3, C.1, C.4).

A pure state machine. Each `step(t, scan)` takes the station's scan results at time t (the APs
heard and their RSSI: what a real station sees, `station.scan`) and returns the actions to take
now; the caller reports each phase's end with `completed(t, kind, network)` (the simulator after
a modelled duration, the runner when the agent answers), which returns the phases that can
start at once (pre-authentication right after discovery, on the last scan). Stages per candidate target network
(CTN; a network, not an AP: one PANA session with its PAA serves all its APs, C.5.3):

    none -> pre-authenticating -> pre-authenticated -> pre-configuring -> pre-configured

Triggers, on the serving AP's RSSI averaged over `averaging_window` (C.1's averaging window):

- `link_going_down`, `link_down`: the IEEE 802.21 events of `station.LinkMonitor`.
- discover when it is below `discover_below` (default: the link-going-down threshold), once per
  serving network (s7.1: the neighbourhood changes with the network).
- pre-authenticate, once discovery is done and it is below `pre_authenticate_below`, with the
  CTNs chosen by `ctn_selection`: `top-k` (the `ctn_count` networks with the strongest heard AP)
  or `above` (every network with an AP at or above `ctn_min_rssi`; C.4's multiple CTNs). Top-k
  also requires `ctn_min_rssi`. With `preparable` given, only those networks (the ones
  discovery says have a PAA) are candidates.
- pre-configure, once pre-authenticated and below `pre_configure_below` (None: never; the MPA
  depth "pre-authentication only" of C.6): `best`, the strongest CTN whose pre-authentication
  has begun, once it has finished (another one only if it becomes the strongest), or `all`
  pre-authenticated CTNs (C.4's second scheme).
- hand over to a heard AP that is `hysteresis` dB stronger than the serving one while the
  serving one is below `handover_below` (None: no absolute condition), once that has held for
  `dwell` seconds (the dwell timer, LTE's time-to-trigger); at once on link down (to the
  strongest AP heard, or none: detached until one is heard).

After a handover the network left keeps its MPA-SA (stage pre-authenticated, C.2) when
`keep_mpa_sa`; any MPA-SA expires `mpa_sa_lifetime` seconds after it was made (None: never). Other CTNs'
pre-configurations are released (their MPA-SAs stay, C.2). A handover back to the AP left
by the previous handover within `ping_pong_window` seconds counts as a ping-pong (C.1).
"""
from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Literal, Mapping, Sequence

from .station import LINK_DOWN, LINK_GOING_DOWN, LinkMonitor, ScanResult

DISCOVER = "discover"
PRE_AUTHENTICATE = "pre_authenticate"
PRE_CONFIGURE = "pre_configure"
HANDOVER = "handover"
ACTIONS = (LINK_GOING_DOWN, LINK_DOWN, DISCOVER, PRE_AUTHENTICATE, PRE_CONFIGURE, HANDOVER)

NONE = "none"
PRE_AUTHENTICATING = "pre-authenticating"
PRE_AUTHENTICATED = "pre-authenticated"
PRE_CONFIGURING = "pre-configuring"
PRE_CONFIGURED = "pre-configured"
SAME_NETWORK = "same-network"       # a handover between two APs of one network: no MPA needed
STAGES = (NONE, PRE_AUTHENTICATING, PRE_AUTHENTICATED, PRE_CONFIGURING, PRE_CONFIGURED)
_RUNNING = {PRE_AUTHENTICATE: PRE_AUTHENTICATING, PRE_CONFIGURE: PRE_CONFIGURING}
UNHEARD = float("-inf")             # the serving AP's signal while it is not heard (before
                                    # link_loss_time declares the link down)


@dataclass(frozen=True)
class PolicyParams:
    """RFC 6252 C.1's handover parameters (dBm, dB, seconds)."""
    sensitivity: float = -90.0
    link_going_down: float = -70.0
    discover_below: float | None = None
    pre_authenticate_below: float = -72.0
    ctn_selection: Literal["top-k", "above"] = "top-k"
    ctn_count: int = 1
    ctn_min_rssi: float = -85.0
    pre_configure_below: float | None = -75.0
    pre_configure: Literal["best", "all"] = "best"
    handover_below: float | None = -78.0
    hysteresis: float = 3.0
    dwell: float = 0.0
    averaging_window: float = 0.0
    link_loss_time: float = 0.0
    ping_pong_window: float = 5.0
    keep_mpa_sa: bool = True
    mpa_sa_lifetime: float | None = None

    def __post_init__(self):
        if self.ctn_selection not in ("top-k", "above"):
            raise ValueError(f"ctn_selection must be 'top-k' or 'above' (got {self.ctn_selection!r})")
        if self.pre_configure not in ("best", "all"):
            raise ValueError(f"pre_configure must be 'best' or 'all' (got {self.pre_configure!r})")
        if self.ctn_count < 1:
            raise ValueError(f"ctn_count must be 1 or more (got {self.ctn_count!r})")
        for name in ("hysteresis", "dwell", "averaging_window", "link_loss_time",
                     "ping_pong_window"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more (got {getattr(self, name)!r})")
        if self.mpa_sa_lifetime is not None and self.mpa_sa_lifetime < 0:
            raise ValueError(f"mpa_sa_lifetime must be 0 or more (got {self.mpa_sa_lifetime!r})")

    @property
    def discovery_threshold(self) -> float:
        return self.link_going_down if self.discover_below is None else self.discover_below


@dataclass(frozen=True)
class Action:
    """One decision of the policy. `ap`: the AP it concerns (a handover's target, the strongest
    AP of a CTN); `source`: the AP a handover leaves; `prepared`: the target network's MPA stage
    when the handover began (C.6: did MPA finish in time?)."""
    t: float
    kind: str
    ap: str | None = None
    network: str | None = None
    source: str | None = None
    reason: str | None = None
    prepared: str | None = None
    ping_pong: bool = False

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None and v is not False}


@dataclass
class _Ctn:
    stage: str
    since: float                      # when its MPA-SA was made (held, for the network left);
                                      # while pre-authenticating, when that began


@dataclass
class Policy:
    """The state machine (module docstring). `networks` maps each AP to its network."""
    params: PolicyParams
    networks: Mapping[str, str]
    serving: str | None = None
    preparable: frozenset | None = None   # networks with a PAA (what discovery tells the
                                          # MN); None: every network is a candidate
    ctns: dict[str, _Ctn] = field(default_factory=dict)
    discovery: str = NONE             # none | running | done, per serving network
    handovers: list[Action] = field(default_factory=list)
    _history: deque = field(default_factory=deque)
    _timers: dict[str, float] = field(default_factory=dict)
    _monitor: LinkMonitor | None = None
    _last: dict[str, float] = field(default_factory=dict)    # the last averaged scan

    def __post_init__(self):
        p = self.params
        self._monitor = LinkMonitor(p.link_going_down, p.hysteresis, p.link_loss_time)
        self._monitor.attach(self.serving)

    def network_of(self, ap: str) -> str:
        return self.networks.get(ap) or ap

    def stage(self, network: str) -> str:
        return self.ctns[network].stage if network in self.ctns else NONE

    @property
    def ping_pongs(self) -> int:
        return sum(a.ping_pong for a in self.handovers)

    # --- inputs

    def completed(self, t: float, kind: str, network: str | None = None,
                  ok: bool = True) -> list[Action]:
        """A phase the policy asked for has ended (a failed one goes back to `none`). Returns
        the phases to start now (the next stage need not wait for the next scan)."""
        if kind == DISCOVER:
            if self.discovery == "running":
                self.discovery = "done" if ok else NONE
        elif kind not in _RUNNING:
            raise ValueError(f"no phase {kind!r} to complete (known: {DISCOVER}, {', '.join(_RUNNING)})")
        else:
            ctn = self.ctns.get(network)
            if ctn is None or ctn.stage != _RUNNING[kind]:
                return []             # overtaken by a handover or an expiry
            if kind == PRE_AUTHENTICATE:
                if ok:
                    self.ctns[network] = _Ctn(PRE_AUTHENTICATED, t)
                else:
                    del self.ctns[network]
            else:
                ctn.stage = PRE_CONFIGURED if ok else PRE_AUTHENTICATED
        if not ok or self.serving is None or self._monitor.is_down:
            return []                 # a failed phase is tried again at the next scan
        return self._prepare(t, self._last)

    def step(self, t: float, scan: Sequence[ScanResult] | Mapping[str, float]) -> list[Action]:
        """The actions to take at time t, given the APs heard now (scan results, or a mapping
        AP -> dBm already restricted to what is heard)."""
        heard = ({r.ap: r.rssi for r in scan} if not isinstance(scan, Mapping) else dict(scan))
        heard = {ap: v for ap, v in heard.items() if v >= self.params.sensitivity}
        avg = self._average(t, heard)
        self._expire(t)
        if self.serving is None:
            if not avg:
                return []
            return [self._handover(t, _strongest(avg), "attach")]
        out = [Action(t, ev, self.serving, self.network_of(self.serving))
               for ev in self._monitor.update(t, avg.get(self.serving))]
        if self._monitor.is_down:
            candidates = {ap: v for ap, v in avg.items() if ap != self.serving}
            if candidates:
                out.append(self._handover(t, _strongest(candidates), LINK_DOWN))
            else:
                self._detach(t)
            return out
        out += self._prepare(t, avg)
        target = self._decide(t, avg)
        if target is not None:
            out.append(self._handover(t, target, "better-candidate"))
        return out

    # --- internals

    def _average(self, t: float, heard: dict[str, float]) -> dict[str, float]:
        """Mean RSSI over the averaging window of every AP heard now."""
        self._history.append((t, heard))
        while self._history and self._history[0][0] < t - self.params.averaging_window - 1e-12:
            self._history.popleft()
        out = {}
        for ap in heard:
            values = [h[ap] for _, h in self._history if ap in h]
            out[ap] = sum(values) / len(values)
        self._last = out
        return out

    def _expire(self, t: float) -> None:
        life = self.params.mpa_sa_lifetime
        if life is None:
            return
        for net in [n for n, c in self.ctns.items()
                    if c.stage != PRE_AUTHENTICATING and t - c.since > life]:
            del self.ctns[net]

    def _best_per_network(self, avg: dict[str, float]) -> dict[str, tuple[str, float]]:
        """The strongest heard AP of each network other than the serving one."""
        own = self.network_of(self.serving) if self.serving else None
        best: dict[str, tuple[str, float]] = {}
        for ap, v in sorted(avg.items()):
            net = self.network_of(ap)
            if net != own and (net not in best or v > best[net][1]):
                best[net] = (ap, v)
        return best

    def _prepare(self, t: float, avg: dict[str, float]) -> list[Action]:
        p, s = self.params, avg.get(self.serving, UNHEARD)
        out = []
        if self.discovery == NONE and s < p.discovery_threshold:
            self.discovery = "running"
            out.append(Action(t, DISCOVER, self.serving, self.network_of(self.serving)))
        if self.discovery != "done":
            return out
        ranked = sorted(((v, net, ap) for net, (ap, v) in self._best_per_network(avg).items()
                         if v >= p.ctn_min_rssi
                         and (self.preparable is None or net in self.preparable)),
                        key=lambda x: (-x[0], x[1]))
        if s < p.pre_authenticate_below:
            chosen = ranked[:p.ctn_count] if p.ctn_selection == "top-k" else ranked
            for _, net, ap in chosen:
                if self.stage(net) == NONE:
                    self.ctns[net] = _Ctn(PRE_AUTHENTICATING, t)
                    out.append(Action(t, PRE_AUTHENTICATE, ap, net))
        if p.pre_configure_below is not None and s < p.pre_configure_below:
            begun = [(net, ap) for _, net, ap in ranked if self.stage(net) != NONE]
            for net, ap in (begun[:1] if p.pre_configure == "best" else begun):
                if self.stage(net) == PRE_AUTHENTICATED:
                    self.ctns[net].stage = PRE_CONFIGURING
                    out.append(Action(t, PRE_CONFIGURE, ap, net))
        return out

    def _decide(self, t: float, avg: dict[str, float]) -> str | None:
        """Hysteresis + absolute threshold + dwell timer (C.1)."""
        p, s = self.params, avg.get(self.serving, UNHEARD)
        weak = p.handover_below is None or s < p.handover_below
        for ap, v in avg.items():
            if ap != self.serving and weak and v >= s + p.hysteresis:
                self._timers.setdefault(ap, t)
            else:
                self._timers.pop(ap, None)
        ripe = {ap: avg[ap] for ap, since in self._timers.items() if t - since >= p.dwell - 1e-12}
        return _strongest(ripe) if ripe else None

    def _handover(self, t: float, target: str, reason: str) -> Action:
        p = self.params
        old, new_net = self.serving, self.network_of(target)
        old_net = self.network_of(old) if old is not None else None
        prepared = SAME_NETWORK if old_net == new_net else self.stage(new_net)
        last = self.handovers[-1] if self.handovers else None
        ping_pong = (last is not None and last.source == target
                     and t - last.t <= p.ping_pong_window)
        action = Action(t, HANDOVER, target, new_net, old, reason, prepared, ping_pong)
        self.handovers.append(action)
        if old_net != new_net:
            self.ctns.pop(new_net, None)
            for c in self.ctns.values():                # C.4: commit to one CTN, release the rest
                if c.stage in (PRE_CONFIGURING, PRE_CONFIGURED):
                    c.stage = PRE_AUTHENTICATED
            if old_net is not None and p.keep_mpa_sa:  # C.2: the network left holds an MPA-SA
                self.ctns[old_net] = _Ctn(PRE_AUTHENTICATED, t)
            self.discovery = NONE
        self.serving = target
        self._timers.clear()
        self._monitor.attach(target)
        return action

    def _detach(self, t: float) -> None:
        if self.serving is not None and self.params.keep_mpa_sa:
            self.ctns[self.network_of(self.serving)] = _Ctn(PRE_AUTHENTICATED, t)
        self.serving = None
        self.discovery = NONE
        self._timers.clear()
        self._monitor.attach(None)


def _strongest(values: Mapping[str, float]) -> str:
    return min(values, key=lambda ap: (-values[ap], ap))
