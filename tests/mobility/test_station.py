"""What a station sees: scan results above its sensitivity, link-going-down, link-down."""
from orchestrator.mobility.station import LINK_DOWN, LINK_GOING_DOWN, LinkMonitor, ScanResult, scan


def test_scan_keeps_what_is_heard_strongest_first():
    got = scan({"a": -91.0, "b": -60.0, "c": -90.0, "d": -75.0, "e": -60.0}, sensitivity=-90.0)
    assert got == [ScanResult("b", -60.0), ScanResult("e", -60.0), ScanResult("d", -75.0),
                   ScanResult("c", -90.0)]
    assert scan({}, -90) == []


def test_link_going_down_once_per_crossing_rearmed_above_the_margin():
    m = LinkMonitor(going_down=-70.0, rearm_margin=3.0)
    m.attach("ap0")
    trace = [-60, -69, -71, -72, -69, -71, -66, -75, -80]
    events = [(t, e) for t, v in enumerate(trace) for e in m.update(t, v)]
    # -69 after -71 is not 3 dB above the threshold: no second event until -66 re-arms it
    assert events == [(2, LINK_GOING_DOWN), (7, LINK_GOING_DOWN)]


def test_link_down_after_the_link_loss_time_unless_heard_again():
    m = LinkMonitor(going_down=-70.0, link_loss_time=0.5)
    m.attach("ap0")
    assert m.update(0.0, None) == []
    assert m.update(0.3, -80.0) == [LINK_GOING_DOWN]     # heard again: the loss timer restarts
    assert m.update(0.4, None) == []
    assert m.update(0.8, None) == []
    assert m.update(0.9, None) == [LINK_DOWN]
    assert m.is_down
    assert m.update(1.0, None) == []                     # once
    m.attach("ap1")
    assert not m.is_down and m.update(1.1, -50.0) == []


def test_no_events_when_not_attached():
    m = LinkMonitor(going_down=-70.0)
    assert m.update(0.0, None) == [] and m.update(0.1, -99.0) == []
