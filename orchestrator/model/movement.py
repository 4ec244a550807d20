"""YAML models of movement (RFC 6252 s6.3, Appendix C.1, C.2, C.6): where access points are
and how far they reach (topology), how a mobile node moves and what its handover policy is
(an experiment's `movement` scenario). The pure machinery is `orchestrator/mobility/`; this
module only validates what a researcher writes and turns it into those objects
(`to_path`, `to_policy`, `to_model`, `access_points`).

Topology (docs/movement.md):

    radio:                                  # one per topology
      propagation: log-distance
      reference_distance: 1m
      reference_loss: 40dB                  # or frequency: 2.4GHz (Friis at reference_distance)
      exponent: 3.0
      shadowing: {sigma: 4dB, decorrelation: 10m}
      sensitivity: -90dBm                   # what `coverage` is measured against
      seed: 7
    nodes:
      ap0: {kind: access_point, position: [0m, 0m], tx_power: 20dBm}
      ap1: {kind: access_point, position: [100m, 0m], coverage: 60m}

Experiment scenario:

    - name: walk
      flow: movement
      from: ap0                             # where the MN is attached when the movement starts
      movement:
        path: {waypoints: [[0m, 0m], [100m, 0m]], speed: 1.4m/s}
        # or, following the APs wherever a configuration puts them (C.6's cell sizes):
        # path: {across: {aps: [ap0, ap1], part: [0.3, 0.6]}, speed: 10m/s}
        policy: {link_going_down: -70dBm, pre_configure_below: none, hysteresis: 3dB}
        sample_interval: 100ms

Units are required like every other quantity (a bare 5 could be metres or feet): lengths in
m, cm, km, ft; powers in dBm; gains and margins in dB; speeds in m/s, km/h, ft/s, mph;
frequencies in MHz, GHz.
"""
from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer,
                      WithJsonSchema, model_validator)

from .units import Duration, at_most

Count = Annotated[int, Field(strict=True)]          # as topology.Count (imported by it)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

_NUM = r"(?P<num>-?[0-9]{1,15}(?:\.[0-9]{0,15})?|-?\.[0-9]{1,15})"
_QUANTITY_RE = re.compile(_NUM + r"[ \t]*(?P<unit>[A-Za-z/]+)\Z")

LENGTH_UNITS = {"m": 1.0, "cm": 0.01, "km": 1000.0, "ft": 0.3048}
SPEED_UNITS = {"m/s": 1.0, "km/h": 1 / 3.6, "ft/s": 0.3048, "mph": 0.44704}
FREQUENCY_UNITS = {"mhz": 1e6, "ghz": 1e9}
MAX_LENGTH = 100_000.0          # m: a 100 km square is more than any emulated movement needs
MAX_SPEED = 10_000.0            # m/s: far beyond C.6's limits, still a finite replay
MAX_MOVEMENT_TIME = 3600.0      # s of real time one movement may last (it runs at real speed)


def _parser(units: dict[str, float], what: str, example: str, *, signed: bool = False,
            case: bool = False):
    """A before-validator reading '<number><unit>' into the base unit."""
    return BeforeValidator(_parse_with(units, what, example, signed, case))


def _parse_with(units: dict[str, float], what: str, example: str, signed: bool = False,
                case: bool = False):
    def parse(value):
        if isinstance(value, bool) or not isinstance(value, str):
            raise ValueError(f"expected a {what} with a unit, like '{example}' (got {value!r})")
        m = _QUANTITY_RE.match(value.strip())
        unit = None if not m else (m["unit"] if case else m["unit"].lower())
        if not m or unit not in units:
            raise ValueError(f"malformed {what} {value!r}: expected a number and one of the "
                             f"units {', '.join(units)}, like '{example}'")
        number = float(m["num"])
        if number < 0 and not signed:
            raise ValueError(f"{what} {value!r} is negative: it must be 0 or more")
        return number * units[unit]
    return parse


def _speeds(value):
    """'1.4m/s' -> 1.4; a list of speeds (one per leg) -> a list of floats."""
    parse = _parse_with(SPEED_UNITS, "speed", "1.4m/s")
    if isinstance(value, list):
        if not 1 <= len(value) <= 10_000:
            raise ValueError("expected a speed, or a list of 1 to 10000 speeds (one per leg)")
        out = []
        for i, v in enumerate(value):
            try:
                out.append(parse(v))
            except ValueError as exc:
                raise ValueError(f"leg {i + 1}: {exc}") from None
    else:
        out = [parse(value)]
    if any(v > MAX_SPEED for v in out):
        raise ValueError(f"a speed is at most {MAX_SPEED:g} m/s")
    return out if isinstance(value, list) else out[0]


def _schema(pattern: str, example: str):
    return WithJsonSchema({"type": "string", "pattern": pattern, "examples": [example]})


Coordinate = Annotated[float, _parser(LENGTH_UNITS, "coordinate", "12.5m", signed=True),
                       Field(ge=-MAX_LENGTH, le=MAX_LENGTH), _schema(r"^-?[0-9.]+\s*(m|cm|km|ft)$", "12.5m")]
Length = Annotated[float, _parser(LENGTH_UNITS, "length", "30m"),
                   Field(le=MAX_LENGTH), _schema(r"^[0-9.]+\s*(m|cm|km|ft)$", "30m")]
Speed = Annotated[float, _parser(SPEED_UNITS, "speed", "1.4m/s"), Field(le=MAX_SPEED),
                  _schema(r"^[0-9.]+\s*(m/s|km/h|ft/s|mph)$", "1.4m/s")]
Power = Annotated[float, _parser({"dBm": 1.0}, "power", "-70dBm", signed=True, case=True),
                  Field(ge=-200, le=100), PlainSerializer(lambda v: f"{v:g}dBm", return_type=str),
                  _schema(r"^-?[0-9.]+\s*dBm$", "-70dBm")]
Gain = Annotated[float, _parser({"dB": 1.0}, "gain or margin", "3dB", case=True),
                 Field(le=200), _schema(r"^[0-9.]+\s*dB$", "3dB")]
Frequency = Annotated[float, _parser(FREQUENCY_UNITS, "frequency", "2.4GHz"),
                      Field(gt=0, le=1e12), _schema(r"^[0-9.]+\s*(MHz|GHz)$", "2.4GHz")]
Position = Annotated[list[Coordinate], Field(min_length=2, max_length=2)]


# ---------------------------------------------------------------------------- topology

class Shadowing(Strict):
    """Log-normal shadowing (docs/movement.md "Propagation")."""
    sigma: Gain = Field(0.0, description="standard deviation of the shadowing, typically 4-8 dB")
    decorrelation: Length = Field(0.0, description="distance over which its correlation falls "
                                  "to 1/e; 0: independent at each position")


class Radio(Strict):
    """The topology's propagation model: log-distance path loss with shadowing; gives each
    MN a received signal per AP (RFC 6252 C.6: the cell size D follows from it)."""
    propagation: Literal["log-distance"] = "log-distance"
    tx_power: Power = Field(20.0, description="every AP's transmit power unless it sets its own")
    reference_distance: Length = Field(1.0, gt=0, description="d0 of the path loss model")
    reference_loss: Gain | None = Field(
        None, description="path loss at reference_distance; default Friis' free-space loss "
                          "at `frequency`")
    frequency: Frequency = Field(2.4e9, description="carrier, for the free-space reference loss")
    exponent: Annotated[float, Field(gt=0, le=10, strict=False)] = Field(
        3.0, description="path loss exponent n: 2 free space, 2.7-3.5 offices and streets")
    shadowing: Shadowing = Field(default_factory=Shadowing)
    sensitivity: Power = Field(-90.0, description="the receiver sensitivity an AP's `coverage` "
                               "radius is measured against")
    seed: Count = Field(0, ge=0, description="fixes every AP's shadowing field")

    @model_validator(mode="before")
    @classmethod
    def _exponent_is_a_number(cls, data):
        if isinstance(data, dict) and isinstance(data.get("exponent"), (bool, str)):
            raise ValueError(f"exponent must be a plain number like 3.0 (got {data['exponent']!r})")
        return data

    @model_validator(mode="after")
    def _loss_or_frequency(self):
        if self.reference_loss is not None and "frequency" in self.model_fields_set:
            raise ValueError("give reference_loss or frequency, not both: the frequency only "
                             "sets the free-space reference loss")
        return self

    def to_model(self):
        """The mobility package's LogDistance."""
        from ..mobility.propagation import LogDistance, free_space_reference_loss
        loss = (self.reference_loss if self.reference_loss is not None else
                free_space_reference_loss(self.frequency, self.reference_distance))
        return LogDistance(tx_power=self.tx_power, reference_loss=loss,
                           reference_distance=self.reference_distance, exponent=self.exponent,
                           shadowing_sigma=self.shadowing.sigma,
                           decorrelation=self.shadowing.decorrelation, seed=self.seed)


def access_points(topology) -> list:
    """The topology's APs that have a position, as mobility AccessPoints: network from the
    AP's distribution-system link, transmit power from `tx_power` or from `coverage` (the
    radius at which the mean signal falls to the radio's sensitivity)."""
    from ..mobility.propagation import AccessPoint
    radio = topology.radio or Radio()
    model = radio.to_model()
    out = []
    for name in topology.nodes_of("access_point"):
        node = topology.nodes[name]
        if node.position is None:
            continue
        tx = node.tx_power
        if node.coverage is not None:
            tx = model.tx_power_for_radius(node.coverage, radio.sensitivity)
        out.append(AccessPoint(name, (node.position[0], node.position[1]),
                               topology.ap_network(name) or name, tx))
    return out


# ---------------------------------------------------------------------------- experiment

class Line(Strict):
    from_: Position = Field(alias="from")
    to: Position


class RandomWaypoint(Strict):
    """Johnson & Maltz's random-waypoint model; the same seed gives the same path."""
    area: Annotated[list[Position], Field(min_length=2, max_length=2)] = Field(
        description="two opposite corners [[x0, y0], [x1, y1]]")
    legs: Count = Field(ge=1, le=10_000)
    speed: Annotated[list[Speed], Field(min_length=2, max_length=2)] = Field(
        description="[min, max]; min > 0 (a zero minimum makes the mean speed decay)")
    pause: Annotated[list[Duration], Field(min_length=2, max_length=2)] = Field(
        default_factory=lambda: [0.0, 0.0])
    seed: Count = Field(0, ge=0)

    @model_validator(mode="after")
    def _ranges(self):
        if not 0 < self.speed[0] <= self.speed[1]:
            raise ValueError("speed is [min, max] with 0 < min <= max")
        if self.pause[0] > self.pause[1]:
            raise ValueError("pause is [min, max] with min <= max")
        if self.area[0][0] == self.area[1][0] or self.area[0][1] == self.area[1][1]:
            raise ValueError("area needs two opposite corners of a rectangle of non-zero size")
        return self


class BackAndForth(Strict):
    """a -> b -> a -> ... with `times` legs: the border path of C.1's ping-pong."""
    between: Annotated[list[Position], Field(min_length=2, max_length=2)]
    times: Count = Field(ge=1, le=10_000)


_AP_NAME = r"^[a-z][a-z0-9-]{0,19}$"


class Across(Strict):
    """A straight line along the segment from one AP to another, from `part[0]` to `part[1]`
    of the way (0: at the first AP, 1: at the second). It follows the APs: the same
    scenario crosses every cell size an experiment's configurations lay out (RFC 6252 C.6:
    "cell size"; experiments/c6.yaml moves AP-A and scales the radio)."""
    aps: Annotated[list[Annotated[str, Field(pattern=_AP_NAME)]],
                   Field(min_length=2, max_length=2)] = Field(
        description="[first AP, second AP]: the segment between their positions")
    part: Annotated[list[Annotated[float, Field(ge=0.0, le=1.0, strict=False)]],
                    Field(min_length=2, max_length=2)] = Field(
        description="[from, to]: fractions of the way from the first AP to the second")

    @model_validator(mode="after")
    def _distinct(self):
        if self.aps[0] == self.aps[1]:
            raise ValueError("across needs two different APs")
        if self.part[0] == self.part[1]:
            raise ValueError("across.part needs two different fractions (a path of length 0)")
        return self

    def points(self, anchors: dict[str, tuple[float, float]]) -> list[tuple[float, float]]:
        missing = [ap for ap in self.aps if ap not in anchors]
        if missing:
            raise ValueError(f"across: {', '.join(missing)} is not an access point with a "
                             f"position (placed: {', '.join(sorted(anchors)) or 'none'})")
        a, b = anchors[self.aps[0]], anchors[self.aps[1]]
        return [(a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f) for f in self.part]


class PathSpec(Strict):
    """Exactly one of waypoints, line, across, random_waypoint, back_and_forth."""
    waypoints: Annotated[list[Position], Field(min_length=2, max_length=10_000)] | None = None
    line: Line | None = None
    across: Across | None = None
    random_waypoint: RandomWaypoint | None = None
    back_and_forth: BackAndForth | None = None
    speed: Annotated[float | list[float], BeforeValidator(_speeds),
                     WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "array"}],
                                     "examples": ["1.4m/s", ["1.4m/s", "14m/s"]]})] | None = Field(
        None, description="one speed, or one per leg (waypoints); not with random_waypoint")
    pause: Duration = Field(0.0, description="at the end of each leg")

    @model_validator(mode="after")
    def _one_kind(self):
        kinds = [k for k in ("waypoints", "line", "across", "random_waypoint", "back_and_forth")
                 if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("a path is exactly one of waypoints, line, across, random_waypoint, "
                             f"back_and_forth (got {', '.join(kinds) or 'none'})")
        if kinds == ["random_waypoint"]:
            if self.speed is not None:
                raise ValueError("random_waypoint draws its own speeds: give them as "
                                 "random_waypoint.speed: [min, max]")
        elif self.speed is None:
            raise ValueError(f"{kinds[0]} needs a speed, like 'speed: 1.4m/s'")
        speeds = (self.speed if isinstance(self.speed, list) else
                  [] if self.speed is None else [self.speed])
        if any(s <= 0 for s in speeds):
            raise ValueError("speed must be more than 0 m/s")
        if isinstance(self.speed, list):
            if self.waypoints is None:
                raise ValueError("one speed per leg is for waypoints only")
            if len(self.speed) != len(self.waypoints) - 1:
                raise ValueError(f"{len(self.waypoints) - 1} legs but {len(self.speed)} speeds")
        return self

    def to_path(self, anchors: dict[str, tuple[float, float]] | None = None):
        """The mobility package's Path. `anchors` (AP -> position, from the topology) are
        needed by an `across` path; ValueError without them."""
        from ..mobility import geometry as g
        pt = lambda p: (p[0], p[1])                                    # noqa: E731
        if self.across is not None:
            if anchors is None:
                raise ValueError("an 'across' path follows the topology's APs: its length is "
                                 "known once a topology is given")
            return g.waypoints(self.across.points(anchors), self.speed, self.pause)
        if self.waypoints is not None:
            return g.waypoints([pt(p) for p in self.waypoints], self.speed, self.pause)
        if self.line is not None:
            return g.waypoints([pt(self.line.from_), pt(self.line.to)], self.speed, self.pause)
        if self.back_and_forth is not None:
            a, b = self.back_and_forth.between
            return g.back_and_forth(pt(a), pt(b), self.speed, self.back_and_forth.times, self.pause)
        r = self.random_waypoint
        return g.random_waypoint((pt(r.area[0]), pt(r.area[1])), r.legs, tuple(r.speed),
                                 tuple(r.pause), r.seed)


class CtnSelection(Strict):
    """C.4: pre-authenticate with the `top` strongest other networks, or every network heard
    `above` a level."""
    top: Count | None = Field(None, ge=1, le=16)
    above: Power | None = None

    @model_validator(mode="after")
    def _one(self):
        if (self.top is None) == (self.above is None):
            raise ValueError("ctn_selection is {top: K} or {above: LEVEL}, exactly one")
        return self


class MpaSa(Strict):
    """C.2: the MPA-SA the network left keeps."""
    keep: bool = True
    lifetime: Annotated[Duration, at_most(MAX_MOVEMENT_TIME, "mpa_sa.lifetime")] | None = None


def _none_or(value):
    return None if value == "none" else value


class PolicySpec(Strict):
    """The MN's handover policy (C.1 parameters; mobility/policy.py PolicyParams)."""
    sensitivity: Power = -90.0
    link_going_down: Power = -70.0
    discover_below: Power | None = None
    pre_authenticate_below: Power = -72.0
    ctn_selection: CtnSelection = Field(default_factory=lambda: CtnSelection(top=1))
    ctn_min_rssi: Power = -85.0
    pre_configure_below: Annotated[Power | None, BeforeValidator(_none_or)] = Field(
        -75.0, description="'none': MPA depth pre-authentication only (C.6)")
    pre_configure: Literal["best", "all"] = "best"
    handover_below: Annotated[Power | None, BeforeValidator(_none_or)] = Field(
        -78.0, description="'none': the relative condition (hysteresis) only")
    hysteresis: Gain = 3.0
    dwell: Annotated[Duration, at_most(60.0, "dwell")] = 0.0
    averaging_window: Annotated[Duration, at_most(60.0, "averaging_window")] = 0.0
    link_loss_time: Annotated[Duration, at_most(60.0, "link_loss_time")] = 0.0
    ping_pong_window: Annotated[Duration, at_most(MAX_MOVEMENT_TIME, "ping_pong_window")] = 5.0
    mpa_sa: MpaSa = Field(default_factory=MpaSa)

    def to_policy(self):
        from ..mobility.policy import PolicyParams
        sel = self.ctn_selection
        return PolicyParams(
            sensitivity=self.sensitivity, link_going_down=self.link_going_down,
            discover_below=self.discover_below, pre_authenticate_below=self.pre_authenticate_below,
            ctn_selection="top-k" if sel.top is not None else "above",
            ctn_count=sel.top or 1,
            ctn_min_rssi=sel.above if sel.above is not None else self.ctn_min_rssi,
            pre_configure_below=self.pre_configure_below, pre_configure=self.pre_configure,
            handover_below=self.handover_below, hysteresis=self.hysteresis, dwell=self.dwell,
            averaging_window=self.averaging_window, link_loss_time=self.link_loss_time,
            ping_pong_window=self.ping_pong_window, keep_mpa_sa=self.mpa_sa.keep,
            mpa_sa_lifetime=self.mpa_sa.lifetime)


class CallSpec(Strict):
    """The MN is in a call with a correspondent node during the movement (RFC 6252 s7.5,
    C.4): its binding updates (SIP re-INVITEs) go `before` the move (after each
    pre-configuration, naming every pre-configured nCoA: one CTN, s6.3 step 3; several,
    C.4's third scheme with transient streams; then a final one after the move), only
    `after` it (C.4's first and second schemes), or at the `handover`: once the policy
    has chosen the CTN, one re-INVITE from that CTN's nCoA through its tunnel, just before
    the move (C.4's buffering alternative with `buffering`). `buffering`: the MN asks the
    chosen CTN's access router to buffer what arrives for the nCoA from pre-switching to
    its ATTACHED after the move (C.4: "apply the buffering technique at the target access
    router ... as a separate buffering protocol"; protocols/buffering.py); the value caps
    the hold in case the ATTACHED is lost."""
    correspondent: str | None = Field(
        None, description="the correspondent node (default: the topology's only one)")
    binding_update: Literal["before", "after", "handover"] = "before"
    buffering: Annotated[Duration, at_most(10.0, "call.buffering")] | None = Field(
        None, description="buffering at the target access router across the move (C.4), "
                          "capped at this period; absent: none")

    @model_validator(mode="after")
    def _buffering_holds_the_stream_sent_to_the_ncoa(self):
        if self.buffering is not None and self.buffering <= 0:
            raise ValueError("buffering must be a positive period, e.g. '500ms'; leave it "
                             "out to disable buffering")
        if self.buffering is not None and self.binding_update == "after":
            raise ValueError("buffering needs the stream at the nCoA before the move "
                             "(binding_update 'handover' or 'before'): with 'after' the CN "
                             "sends to the old address and the target access router would "
                             "hold nothing")
        return self


class MovementSpec(Strict):
    """A movement scenario: the MN's path and policy; it runs at real speed."""
    path: PathSpec
    policy: PolicySpec = Field(default_factory=PolicySpec)
    call: CallSpec | None = Field(
        None, description="a call with a correspondent node and when the binding updates go")
    count_signalling: bool = Field(
        False, description="capture the MN's signalling (PANA, IKEv2, DHCP, SIP) during the "
                           "movement and count messages and octets per protocol (C.4)")
    sample_interval: Annotated[Duration, at_most(5.0, "sample_interval")] = Field(
        0.1, description="time between two scans reported to the MN (its radio's RSSI updates)")
    settle: Annotated[Duration, at_most(60.0, "settle")] = Field(
        1.0, description="time kept after the path's end for phases still under way")

    @model_validator(mode="after")
    def _bounded(self):
        if (self.call is not None and self.policy.pre_configure_below is None
                and (self.call.binding_update == "handover" or self.call.buffering is not None)):
            what = ("buffering" if self.call.buffering is not None
                    else "binding_update 'handover'")
            raise ValueError(f"call {what} needs a pre-configured nCoA and tunnel (C.4): "
                             "policy.pre_configure_below is 'none'")
        if self.sample_interval < 0.01:
            raise ValueError("sample_interval must be at least 10ms (each sample is a "
                             "command to the MN's agent)")
        if self.path.across is not None:
            return self        # its length follows the topology (model/prerequisites.py)
        duration = self.path.to_path().duration
        if duration > MAX_MOVEMENT_TIME:
            raise ValueError(f"the path takes {duration:.0f} s; a movement runs at real speed "
                             f"and may take at most {MAX_MOVEMENT_TIME:.0f} s")
        return self
