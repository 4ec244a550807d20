"""The MN's handover policy (RFC 6252 C.1): staged MPA, CTN choice, hysteresis, dwell timer,
ping-pong counting, MPA-SA kept after leaving (C.2)."""
import math

import pytest

from orchestrator.mobility.geometry import back_and_forth
from orchestrator.mobility.policy import (DISCOVER, HANDOVER, NONE, PRE_AUTHENTICATE,
                                          PRE_AUTHENTICATED, PRE_AUTHENTICATING, PRE_CONFIGURE,
                                          PRE_CONFIGURED, SAME_NETWORK, Policy, PolicyParams)
from orchestrator.mobility.propagation import AccessPoint, LogDistance
from orchestrator.mobility.simulate import simulate
from orchestrator.mobility.station import LINK_DOWN, LINK_GOING_DOWN

NETS = {"ap0": "net-b", "ap1": "net-a", "ap2": "net-c", "ap3": "net-d", "ap0b": "net-b"}
# only hysteresis and dwell decide (no absolute threshold, no MPA stages in the way)
BARE = dict(handover_below=None, link_going_down=-200, pre_authenticate_below=-200,
            pre_configure_below=None)


def run(policy: Policy, trace, dt=0.1, auto_complete=True):
    """Feed `trace(t) -> {ap: dBm}` for each sample; phases end at once if auto_complete."""
    actions, t = [], 0.0
    for k in range(trace.samples):
        t = round(k * dt, 9)
        new = policy.step(t, trace(t))
        actions += new
        while auto_complete and new:
            new = [b for a in new if a.kind in (DISCOVER, PRE_AUTHENTICATE, PRE_CONFIGURE)
                   for b in policy.completed(t, a.kind, a.network)]
            actions += new
    return actions


def trace(fn, samples):
    fn.samples = samples
    return fn


def oscillating_border(amplitude=2.0, period=1.0, slope=0.5, centre=30.0):
    """Two APs crossing at t = centre (a slow drift of `slope` dB/s each way) with a fast
    opposite oscillation on top: the serving-candidate difference swings +-2*amplitude."""
    def fn(t):
        wobble = amplitude * math.sin(2 * math.pi * t / period)
        return {"ap0": -70 - slope * (t - centre) + wobble,
                "ap1": -70 + slope * (t - centre) - wobble}
    return trace(fn, 601)


def ping_pongs_recounted(handovers, window):
    """Independent count: a handover back to the AP the previous handover left, soon after."""
    return sum(1 for prev, cur in zip(handovers, handovers[1:])
               if cur.ap == prev.source and cur.t - prev.t <= window)


def test_no_hysteresis_ping_pongs_on_an_oscillating_border():
    p = Policy(PolicyParams(hysteresis=0.0, **BARE), NETS, serving="ap0")
    handovers = [a for a in run(p, oscillating_border()) if a.kind == HANDOVER]
    assert len(handovers) > 10
    assert p.ping_pongs == ping_pongs_recounted(handovers, 5.0) >= 10
    assert all(a.ping_pong == (i > 0 and a.ap == handovers[i - 1].source
                               and a.t - handovers[i - 1].t <= 5.0)
               for i, a in enumerate(handovers))


def test_hysteresis_larger_than_the_swing_gives_one_handover():
    p = Policy(PolicyParams(hysteresis=5.0, **BARE), NETS, serving="ap0")   # swing is +-4 dB
    handovers = [a for a in run(p, oscillating_border()) if a.kind == HANDOVER]
    assert [(a.source, a.ap) for a in handovers] == [("ap0", "ap1")]
    assert p.ping_pongs == 0
    # and it happens only once ap1 is 5 dB stronger: drift 1 dB/s apart, swing up to 4 dB
    assert 30.0 + 1.0 <= handovers[0].t <= 30.0 + 5.0 + 1e-9


def test_dwell_timer_delays_the_handover_and_filters_short_spikes():
    def step_up(t):
        spike = 3.0 <= t < 3.3                          # 0.3 s spike, then a lasting change
        better = t >= 10.0
        return {"ap0": -70.0, "ap1": -60.0 if (spike or better) else -80.0}
    for dwell, expected in ((0.0, 3.0), (0.5, 10.5), (2.0, 12.0)):
        p = Policy(PolicyParams(hysteresis=3.0, dwell=dwell, **BARE), NETS, serving="ap0")
        handovers = [a for a in run(p, trace(step_up, 200)) if a.kind == HANDOVER]
        assert handovers[0].t == pytest.approx(expected), dwell


def test_hysteresis_and_dwell_avoid_the_ping_pong_of_a_border_path():
    """A station walking back and forth across the border of two cells with shadowing:
    without hysteresis and dwell it ping-pongs (and each is counted), with them it does not."""
    aps = [AccessPoint("ap0", (0, 0), "net-b"), AccessPoint("ap1", (100, 0), "net-a")]
    model = LogDistance(exponent=3.0, shadowing_sigma=4.0, decorrelation=10.0, seed=1)
    path = back_and_forth((40, 0), (60, 0), speed=1.0, times=6)
    loose = simulate(path, aps, model, PolicyParams(hysteresis=0.0, dwell=0.0,
                                                    handover_below=None), start_ap="ap0")
    assert loose.ping_pongs >= 10
    assert loose.ping_pongs == ping_pongs_recounted(loose.handovers, 5.0)
    tight = simulate(path, aps, model, PolicyParams(hysteresis=3.0, dwell=1.0,
                                                    handover_below=None), start_ap="ap0")
    assert tight.ping_pongs == 0
    assert 1 <= len(tight.handovers) <= 6              # at most one per crossing


def test_mpa_phases_start_in_order_at_their_thresholds():
    params = PolicyParams(link_going_down=-70, pre_authenticate_below=-74,
                          pre_configure_below=-78, handover_below=-82, hysteresis=3)

    def fade(t):                                        # ap0 fades 1 dB/s, ap1 grows 1 dB/s
        return {"ap0": -60 - t, "ap1": -95 + t}
    p = Policy(params, NETS, serving="ap0")
    acts = [(a.t, a.kind, a.network) for a in run(p, trace(fade, 400), dt=0.1)
            if a.kind != LINK_GOING_DOWN]
    first = {}
    for t, kind, net in acts:
        first.setdefault(kind, (t, net))
    assert first[DISCOVER][0] == pytest.approx(10.1)   # -70.1 < -70
    assert first[PRE_AUTHENTICATE] == (pytest.approx(14.1), "net-a")
    assert first[PRE_CONFIGURE] == (pytest.approx(18.1), "net-a")
    assert first[HANDOVER][0] == pytest.approx(22.1)   # -82.1 < -82, ap1 -72.9 >= -79.1
    handover = next(a for a in p.handovers)
    assert handover.prepared == PRE_CONFIGURED and handover.source == "ap0"


def test_a_phase_waits_for_the_one_before():
    params = PolicyParams(link_going_down=-70, pre_authenticate_below=-70,
                          pre_configure_below=-70, handover_below=None, hysteresis=50)
    p = Policy(params, NETS, serving="ap0")
    scan = {"ap0": -75.0, "ap1": -72.0}
    assert [a.kind for a in p.step(0.0, scan)] == [LINK_GOING_DOWN, DISCOVER]
    assert p.step(0.1, scan) == []                     # discovery still running
    assert [(a.kind, a.network) for a in p.completed(0.15, DISCOVER)] == \
        [(PRE_AUTHENTICATE, "net-a")]
    assert p.stage("net-a") == PRE_AUTHENTICATING
    assert p.step(0.2, scan) == []
    assert [a.kind for a in p.completed(0.4, PRE_AUTHENTICATE, "net-a")] == [PRE_CONFIGURE]
    assert p.completed(0.5, PRE_CONFIGURE, "net-a") == []
    assert p.stage("net-a") == PRE_CONFIGURED
    # a failed pre-authentication goes back to none and is tried again at the next scan
    q = Policy(params, NETS, serving="ap0")
    q.step(0.0, scan)
    q.completed(0.0, DISCOVER)
    assert q.completed(0.3, PRE_AUTHENTICATE, "net-a", ok=False) == []
    assert q.stage("net-a") == NONE
    assert [a.kind for a in q.step(0.4, scan)] == [PRE_AUTHENTICATE]


@pytest.mark.parametrize("selection, count, expected", [
    ("top-k", 1, {"net-a"}),
    ("top-k", 2, {"net-a", "net-c"}),
    ("above", 1, {"net-a", "net-c"}),                  # net-d is below ctn_min_rssi
])
def test_ctn_selection(selection, count, expected):
    params = PolicyParams(ctn_selection=selection, ctn_count=count, ctn_min_rssi=-85,
                          pre_configure_below=None, handover_below=None, hysteresis=50)
    p = Policy(params, NETS, serving="ap0")
    scan = {"ap0": -80.0, "ap0b": -60.0, "ap1": -70.0, "ap2": -78.0, "ap3": -88.0}
    acts = p.step(0.0, scan)
    acts += p.completed(0.0, DISCOVER)
    chosen = {a.network for a in acts if a.kind == PRE_AUTHENTICATE}
    assert chosen == expected                          # never the serving network (ap0b)
    assert all(a.ap == {"net-a": "ap1", "net-c": "ap2"}[a.network]
               for a in acts if a.kind == PRE_AUTHENTICATE)


def test_pre_configure_best_or_all():
    scan = {"ap0": -80.0, "ap1": -70.0, "ap2": -75.0}
    for mode, expected in (("best", ["net-a"]), ("all", ["net-a", "net-c"])):
        params = PolicyParams(ctn_selection="above", pre_configure=mode, handover_below=None,
                              hysteresis=50)
        p = Policy(params, NETS, serving="ap0")
        p.step(0.0, scan)
        p.completed(0.0, DISCOVER)
        # the weaker one finishes first: `best` waits for the stronger one
        started = p.completed(0.1, PRE_AUTHENTICATE, "net-c")
        assert [a.network for a in started] == ([] if mode == "best" else ["net-c"])
        p.completed(0.2, PRE_AUTHENTICATE, "net-a")
        p.step(0.3, scan)
        assert sorted(n for n, c in p.ctns.items() if c.stage == "pre-configuring") == expected


def test_a_handover_before_mpa_finished_says_how_far_it_got():
    params = PolicyParams(link_going_down=-70, pre_authenticate_below=-70, handover_below=None,
                          hysteresis=3)
    p = Policy(params, NETS, serving="ap0")
    p.step(0.0, {"ap0": -75.0, "ap1": -74.0})
    p.completed(0.0, DISCOVER)
    acts = p.step(0.1, {"ap0": -76.0, "ap1": -60.0})
    (h,) = [a for a in acts if a.kind == HANDOVER]
    assert h.prepared == PRE_AUTHENTICATING
    assert p.completed(0.2, PRE_AUTHENTICATE, "net-a") == []   # overtaken: ignored
    assert p.stage("net-a") == NONE                             # it is the serving network


def test_mpa_sa_is_kept_after_leaving_and_expires():
    params = PolicyParams(handover_below=None, hysteresis=3, link_going_down=-200,
                          pre_authenticate_below=-200, mpa_sa_lifetime=10.0)
    p = Policy(params, NETS, serving="ap0")
    p.step(0.0, {"ap0": -80.0, "ap1": -60.0})
    assert p.serving == "ap1" and p.stage("net-b") == PRE_AUTHENTICATED   # C.2
    p.step(5.0, {"ap0": -80.0, "ap1": -60.0})
    assert p.stage("net-b") == PRE_AUTHENTICATED
    p.step(10.5, {"ap0": -80.0, "ap1": -60.0})
    assert p.stage("net-b") == NONE                                       # expired
    q = Policy(PolicyParams(handover_below=None, hysteresis=3, keep_mpa_sa=False), NETS,
               serving="ap0")
    q.step(0.0, {"ap0": -80.0, "ap1": -60.0})
    assert q.serving == "ap1" and q.stage("net-b") == NONE
    # and a return to the network left finds its MPA-SA
    r = Policy(PolicyParams(handover_below=None, hysteresis=3, link_going_down=-200,
                            pre_authenticate_below=-200), NETS, serving="ap0")
    r.step(0.0, {"ap0": -80.0, "ap1": -60.0})
    back = [a for a in r.step(1.0, {"ap0": -60.0, "ap1": -80.0}) if a.kind == HANDOVER][0]
    assert back.prepared == PRE_AUTHENTICATED and back.ping_pong


def test_other_pre_configurations_are_released_at_the_handover():
    params = PolicyParams(ctn_selection="above", pre_configure="all", handover_below=None,
                          hysteresis=3)
    p = Policy(params, NETS, serving="ap0")
    scan = {"ap0": -80.0, "ap1": -78.0, "ap2": -79.0}
    p.step(0.0, scan)
    p.completed(0.0, DISCOVER)
    for net in ("net-a", "net-c"):
        p.completed(0.1, PRE_AUTHENTICATE, net)
        p.completed(0.2, PRE_CONFIGURE, net)
    acts = p.step(0.3, {"ap0": -80.0, "ap1": -70.0, "ap2": -79.0})
    assert [a.ap for a in acts if a.kind == HANDOVER] == ["ap1"]
    assert p.stage("net-c") == PRE_AUTHENTICATED      # C.4: address and tunnel released
    assert p.stage("net-a") == NONE and p.discovery == NONE


def test_link_down_hands_over_at_once_or_detaches():
    params = PolicyParams(sensitivity=-90, hysteresis=10, dwell=5.0, handover_below=None)
    p = Policy(params, NETS, serving="ap0")
    p.step(0.0, {"ap0": -85.0, "ap1": -80.0})
    acts = p.step(0.1, {"ap0": -95.0, "ap1": -80.0, "ap2": -85.0})  # ap0 no longer heard
    assert [a.kind for a in acts] == [LINK_DOWN, HANDOVER]
    assert acts[-1].ap == "ap1" and acts[-1].reason == LINK_DOWN
    q = Policy(params, NETS, serving="ap0")
    acts = q.step(0.0, {"ap0": -95.0})
    assert [a.kind for a in acts] == [LINK_DOWN] and q.serving is None
    assert q.step(0.1, {}) == []
    (attach,) = q.step(0.2, {"ap2": -89.0, "ap1": -88.0})
    assert (attach.kind, attach.ap, attach.reason, attach.source) == (HANDOVER, "ap1", "attach", None)


def test_same_network_handover_needs_no_mpa():
    params = PolicyParams(handover_below=None, hysteresis=3, link_going_down=-75)
    p = Policy(params, NETS, serving="ap0")
    p.step(0.0, {"ap0": -78.0, "ap0b": -77.0})
    assert p.discovery == "running"
    acts = p.step(0.1, {"ap0": -78.0, "ap0b": -70.0})
    (h,) = [a for a in acts if a.kind == HANDOVER]
    assert h.prepared == SAME_NETWORK and p.discovery == "running"


def test_averaging_window_ignores_a_one_sample_dip():
    def dip(t):
        return {"ap0": -90.0 if abs(t - 2.0) < 1e-9 else -65.0, "ap1": -88.0}
    for window, expected in ((0.0, [LINK_GOING_DOWN, DISCOVER]), (1.0, [])):
        p = Policy(PolicyParams(averaging_window=window, link_going_down=-70, handover_below=None,
                                hysteresis=3), NETS, serving="ap0")
        kinds = [a.kind for a in run(p, trace(dip, 50), auto_complete=False)]
        assert kinds == expected, window


def test_bad_parameters_are_refused():
    for kwargs in ({"ctn_selection": "some"}, {"pre_configure": "first"}, {"ctn_count": 0},
                   {"hysteresis": -1}, {"dwell": -0.1}, {"mpa_sa_lifetime": -1}):
        with pytest.raises(ValueError):
            PolicyParams(**kwargs)


def test_mpa_sa_lifetime_counts_from_the_pre_authentication():
    """Pre-configuring a CTN does not make its MPA-SA younger."""
    params = PolicyParams(handover_below=None, hysteresis=50, mpa_sa_lifetime=5.0)
    p = Policy(params, NETS, serving="ap0")
    scan = {"ap0": -80.0, "ap1": -70.0}
    p.step(0.0, scan)
    p.completed(0.0, DISCOVER)
    p.completed(1.0, PRE_AUTHENTICATE, "net-a")       # MPA-SA made at 1.0
    p.completed(4.0, PRE_CONFIGURE, "net-a")
    p.step(5.5, scan)
    assert p.stage("net-a") == PRE_CONFIGURED
    acts = p.step(6.5, scan)                          # 5.5 s old: expired, pre-authenticated again
    assert p.stage("net-a") == PRE_AUTHENTICATING
    assert [(a.kind, a.network) for a in acts] == [(PRE_AUTHENTICATE, "net-a")]


def test_only_networks_with_a_paa_are_pre_authenticated_with():
    """`preparable`: what discovery says has a PAA; other networks are never candidates
    (no retry of an impossible pre-authentication at every scan), handovers to them stay."""
    from orchestrator.mobility.policy import PRE_AUTHENTICATE, Policy, PolicyParams
    nets = {"w": "hall", "e": "yard", "n": "lobby"}
    params = PolicyParams(pre_configure_below=None, handover_below=None)
    both = Policy(params, nets, "w")
    only = Policy(params, nets, "w", preparable=frozenset({"yard"}))
    scan = {"w": -73.0, "e": -74.0, "n": -71.0}
    for p in (both, only):
        p.step(0.0, scan)
        p.completed(0.0, "discover")
    pre = lambda p: [a.network for a in p.step(0.1, scan) if a.kind == PRE_AUTHENTICATE]
    assert pre(both) == []                # already asked at discovery's end (lobby: strongest)
    assert both.stage("lobby") == "pre-authenticating"
    assert only.stage("lobby") == "none" and only.stage("yard") == "pre-authenticating"
    acts = only.step(0.2, {"w": -80.0, "e": -74.0, "n": -70.0})
    assert [a.ap for a in acts if a.kind == "handover"] == ["n"]
