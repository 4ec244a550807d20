"""What the emulation says about itself (experiment/observed.py), from synthetic events: its
constants, whoever emits them, and every `*_retransmitted` event, with no list of names."""
from orchestrator.experiment.observed import (constant_columns, emulation_constants,
                                              parse_retransmitted, retransmission_columns,
                                              retransmissions)


def ev(node, event, **attrs):
    return {"node": node, "event": event, "mono_ns": 1, "attrs": attrs}


def test_constants_of_every_emitter_merged_when_they_agree():
    events = [
        ev("controller", "emulation_constants",
           datapath_settle={"value": 5, "unit": "ms", "source": "controller/app.py"},
           way_back_cap={"value": 0.5, "unit": "fraction", "source": "controller/app.py"}),
        ev("ap1", "emulation_constants",
           msg1_retransmission={"value": 100, "unit": "ms", "source": "agents/dot1x.py"}),
        ev("ap2", "emulation_constants",
           msg1_retransmission={"value": 100, "unit": "ms", "source": "agents/dot1x.py"}),
        ev("paa", "emulation_constants",
           pana_retransmission={"value": 1, "unit": "s", "source": "RFC 5191 s9"},
           garbage="not a mapping", novalue={"unit": "ms"}, listed={"value": [5], "unit": "ms"},
           nan={"value": float("nan"), "unit": "ms"}),
        ev("paa", "pana_session_established")]
    c = emulation_constants(events)
    assert set(c) == {"datapath_settle", "way_back_cap", "msg1_retransmission",
                      "pana_retransmission"}
    assert c["msg1_retransmission"] == {"value": 100.0, "unit": "ms",
                                        "source": "agents/dot1x.py", "nodes": ["ap1", "ap2"]}
    assert constant_columns(c)["constant:pana_retransmission[s]"] == 1.0


def test_constants_that_differ_between_emitters_are_kept_per_emitter():
    events = [ev("ap1", "emulation_constants", t={"value": 100, "unit": "ms", "source": "a"}),
              ev("ap2", "emulation_constants", t={"value": 50, "unit": "ms", "source": "a"})]
    assert {k: v["value"] for k, v in emulation_constants(events).items()} == {
        "t@ap1": 100.0, "t@ap2": 50.0}


def test_every_retransmission_counted_whatever_its_name():
    events = [ev("ap1", "fourway_retransmitted", sta="mn", attempt=2),
              ev("paa", "pana_retransmitted"), ev("paa", "pana_retransmitted"),
              ev("ap1", "radius_retransmitted"), ev("ap1", "fourway_done"),
              ev("x", "retransmitted_not")]
    counts = retransmissions(events)
    assert counts == {"fourway_retransmitted": 1, "pana_retransmitted": 2,
                      "radius_retransmitted": 1}
    cols = retransmission_columns(counts)
    assert cols == {"retransmissions": 4, "retransmitted": "fourway_retransmitted=1 "
                    "pana_retransmitted=2 radius_retransmitted=1"}
    assert parse_retransmitted(cols["retransmitted"]) == counts
    assert retransmission_columns({}) == {"retransmissions": 0, "retransmitted": ""}
    assert parse_retransmitted(float("nan")) == {}


def test_a_constant_may_be_a_text_and_have_no_unit():
    """As the controller reports its datapath sync method and its way-back rule."""
    events = [ev("controller", "emulation_constants",
                 datapath_sync={"value": "purge", "unit": "", "source": "$MPA_DATAPATH_SYNC"},
                 association_way_back={"value": "= measured way in, at most L/2", "unit": "",
                                        "source": "controller/app.py"},
                 eap_fragment_size={"value": None, "unit": "octets", "source": "topology"},
                 empty={"value": "  ", "unit": ""})]
    c = emulation_constants(events)
    assert c["datapath_sync"]["value"] == "purge" and set(c) == {"datapath_sync",
                                                                 "association_way_back"}
    assert constant_columns(c) == {"constant:datapath_sync": "purge",
                                   "constant:association_way_back": "= measured way in, at most L/2"}
