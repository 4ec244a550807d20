"""The map and RSSI figure is written, from a simulated timeline and from its records."""
import xml.etree.ElementTree as ET

from orchestrator.mobility.geometry import back_and_forth
from orchestrator.mobility.plot import plot_timeline
from orchestrator.mobility.policy import PolicyParams
from orchestrator.mobility.propagation import AccessPoint, LogDistance
from orchestrator.mobility.simulate import PhaseDurations, Timeline, simulate

APS = [AccessPoint("ap0", (0, 0), "net-b"), AccessPoint("ap1", (100, 0), "net-a")]


def test_plots_are_written(tmp_path):
    model = LogDistance(shadowing_sigma=4, decorrelation=10, seed=1)
    params = PolicyParams(hysteresis=3, dwell=0.5, handover_below=None)
    tl = simulate(back_and_forth((20, 0), (80, 0), 5.0, 3), APS, model, params, start_ap="ap0",
                  durations=PhaseDurations(0.01, 0.2, 0.01, 0.19))
    assert tl.handovers
    paths = plot_timeline(tl, tmp_path / "sub" / "border.png", model)
    assert [p.name for p in paths] == ["border.png", "border.svg"]
    png = paths[0].read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    assert ET.parse(paths[1]).getroot().tag.endswith("svg")
    again = Timeline.from_records(tl.to_records(), APS, params)     # no model: no circles
    assert plot_timeline(again, tmp_path / "records")[0].stat().st_size > 20_000
