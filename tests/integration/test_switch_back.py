"""A switch-back on the emulated network (RFC 6252 C.1, C.2; experiment/switch_back.py):
the MN crosses a border by MPA, goes back and returns. With the MPA-SA kept the PAA moves
the session to unauthorized when the MN leaves and authorizes it again on its return by
proof of possession (no EAP); without, every return is a full EAP-TLS and DHCP. The
topology is the test's own (tests/integration/topologies/border.yaml)."""
from pathlib import Path

import pytest

from orchestrator.experiment import switch_back
from orchestrator.experiment.scenarios import Bed
from orchestrator.network.build import deploy
from orchestrator.testbed import destroy

HERE = Path(__file__).parent
pytestmark = [pytest.mark.root, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def bed(tmp_path_factory):
    results = tmp_path_factory.mktemp("switch-back")
    j = deploy(str(HERE / "topologies" / "border.yaml"), name="swback", results=str(results))
    try:
        yield Bed(j, timeout=30.0)
    finally:
        destroy("swback")


def test_switch_back_with_the_mpa_sa_kept(bed):
    r = switch_back.run(bed, "walker", "lamp", "kiosk", switches=3, keep_context=True,
                        cn="caller", stream=0.3)
    s = r["switches"]
    # the CN's stream followed every switch (re-INVITE); its packets were received
    assert all(x["received"] > 0 and x["handoff_ms"] is not None for x in s), s
    assert s[0]["address"] == "10.2.0.100" and s[1]["address"] == r["ncoa"]
    assert [(x["to"], x["direction"]) for x in s] == [("lamp", "away"), ("kiosk", "back"),
                                                     ("lamp", "away")]
    assert not any(x["eap"] for x in s), s             # no EAP on any switch
    assert [x["paa_state"] for x in s] == ["unauthorized", "open", "unauthorized"]
    assert s[1]["attach_ms"] is not None and all(x["delay_ms"] is not None for x in s)
    events = [(x["event"], x["state"]) for x in r["ladder"]]
    assert events[:5] == [("pana_session_established", None),
                          ("pana_session_activated", "activated"),
                          ("departure_notice", "unauthorize"),
                          ("mpa_sa_unauthorized", "unauthorized"),
                          ("mpa_sa_authorized", "authorized")]
    assert events.count(("pana_session_established", None)) == 1    # one EAP in all
    # C.2 driven by the radio: at each departure the AP the MN left (kiosk) told the PAA,
    # and that notice, not the flow's command, moved the session to unauthorized
    assert [x["departure"] for x in s] == ["notice", None, "notice"]
    moved = [x for x in r["ladder"] if x["event"] == "mpa_sa_unauthorized"]
    assert [x["trigger"] for x in moved] == ["departure notice from kiosk"] * 2
    notices = [x for x in r["ladder"] if x["event"] == "departure_notice"]
    assert [(x["trigger"], x["reason"]) for x in notices] == [("from kiosk", "REASSOCIATED")] * 2
    values = switch_back.switch_back_values(r)
    assert values["paa_departure_notices"] == (2, "count")
    assert values["paa_departure_commands"] == (0, "count")


def test_switch_back_without_context_authenticates_every_time(bed):
    r = switch_back.run(bed, "walker", "lamp", "kiosk", switches=2, keep_context=False)
    s = r["switches"]
    assert all(x["eap"] for x in s), s
    assert all(x["delay_ms"] is not None for x in s)
