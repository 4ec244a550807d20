"""The movement driver with several CTNs and a call (agents/movement.py, C.4), on a fake MN
(no root, no network): pre-configurations of two CTNs run at the same time; with binding
updates "before", once none is under way the MN re-INVITEs with every pre-configured nCoA
(strongest CTN first; one failed pre-configuration does not hold it back); after the handover the final re-INVITE with one contact goes before
the other CTNs are released, and they are released without waiting for an IKEv2 DELETE."""
import threading
import time

from orchestrator.agents.movement import PolicyDriver
from orchestrator.agents.overtaken import Departures
from orchestrator.events import EventLog
from orchestrator.mobility.policy import HANDOVER, PRE_CONFIGURE, PRE_CONFIGURED, Action

WAIT = 10.0
NCOA = {"net-a": "10.1.0.50", "net-c": "10.3.0.50"}


class FakePreconf:
    def __init__(self):
        self.active: dict[str, object] = {}
        self.lock = threading.Lock()

    def names(self):
        with self.lock:
            return list(self.active)

    def get(self, name):
        with self.lock:
            return self.active.get(name)

    def release(self, name, reason, force=False):
        with self.lock:
            self.active.pop(name)


class P:
    def __init__(self, ncoa):
        self.ncoa = ncoa


class FakeMN:
    def __init__(self, tmp_path):
        self.log = EventLog(tmp_path / "events" / "mn.jsonl", "mn", "mobile-node")
        self.config = {"information_server": None}
        self.preconf = FakePreconf()
        self.departures = Departures()
        self.calls: list[tuple] = []
        self.together = threading.Barrier(2, timeout=WAIT)   # both pre-configurations at once

    def preconfigure(self, ctn, method, timeout):
        self.together.wait()
        with self.preconf.lock:
            self.preconf.active[ctn] = P(NCOA[ctn])
        self.calls.append(("preconfigure", ctn))

    def binding_update(self, address, also=()):
        self.calls.append(("binding_update", address, tuple(also)))

    def mpa_handover(self, ctn, ap):
        self.calls.append(("mpa_handover", ctn))
        with self.preconf.lock:
            self.preconf.active.pop(ctn)
        return {"ncoa": NCOA[ctn], "switching": {"connect": {"pmksa": "mpa"}}}

    def nonmpa_handover(self, ap):
        raise AssertionError("the CTN was pre-configured")

    def handoff(self, ap):
        raise AssertionError("in a call the handover gets an address too")


def test_parallel_preconfigurations_binding_updates_and_the_final_one(tmp_path, monkeypatch):
    mn = FakeMN(tmp_path)
    releases = []
    orig = mn.preconf.release

    def release(name, reason, force=False):
        releases.append((name, force))
        mn.calls.append(("release", name))
        orig(name, reason, force)
    monkeypatch.setattr(mn.preconf, "release", release)
    d = PolicyDriver(mn, {}, {"ap-a": "net-a", "ap-b": "net-b", "ap-c": "net-c"},
                     {"net-a": "aa-a", "net-c": "aa-c"}, "ap-b", time.perf_counter_ns(),
                     binding_update="before")
    d._scan = {"ap-a": -50.0, "ap-b": -58.0, "ap-c": -60.0}
    with d.lock:
        d._dispatch([Action(1.0, PRE_CONFIGURE, "ap-c", "net-c"),
                     Action(1.0, PRE_CONFIGURE, "ap-a", "net-a")])
    deadline = time.monotonic() + WAIT
    while (not d.binding_updates or len(d.binding_updates[-1]["contacts"]) < 2) \
            and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not mn.together.broken                    # both ran at the same time
    assert [b["contacts"] for b in d.binding_updates] == [[NCOA["net-a"], NCOA["net-c"]]]
    # one re-INVITE for the two that ran together, A (the strongest) first
    with d.lock:
        d._dispatch([Action(2.0, HANDOVER, "ap-a", "net-a", "ap-b", "better-candidate",
                            PRE_CONFIGURED)])
    summary = d.stop(wait=WAIT)
    assert summary["unfinished"] == 0 and summary["handovers"][0]["status"] == "ok"
    bu = [c for c in mn.calls if c[0] == "binding_update"]
    assert bu[-1] == ("binding_update", NCOA["net-a"], ())            # the final one
    order = [c[0] for c in mn.calls]
    assert order.index("mpa_handover") < len(order) - 1 - order[::-1].index("binding_update") \
        < order.index("release")
    assert releases == [("net-c", True)]
    assert [b["when"] for b in summary["binding_updates"]][-1] == "after"
    assert summary["constants"]["binding_update"] == "before"
    mn.log.close()


def test_no_binding_update_after_the_move_when_the_cn_has_the_address(tmp_path):
    """One CTN, binding update through its tunnel before the move: nothing after it."""
    mn = FakeMN(tmp_path)
    mn.together = threading.Barrier(1)
    d = PolicyDriver(mn, {}, {"ap-a": "net-a", "ap-b": "net-b"}, {"net-a": "aa-a"}, "ap-b",
                     time.perf_counter_ns(), binding_update="before")
    d._prepared(Action(1.0, PRE_CONFIGURE, "ap-a", "net-a"), True)        # nothing yet
    assert d.binding_updates == []
    mn.preconfigure("net-a", "dhcp", 1.0)
    d._prepared(Action(1.0, PRE_CONFIGURE, "ap-a", "net-a"), True)
    d._handover(Action(2.0, HANDOVER, "ap-a", "net-a", "ap-b", "better-candidate",
                       PRE_CONFIGURED))
    d.stop(wait=WAIT)
    assert [(b["when"], b["contacts"]) for b in d.binding_updates] == [
        ("before", [NCOA["net-a"]])]
    mn.log.close()


def test_a_failed_preconfiguration_does_not_hold_the_binding_update_back(tmp_path):
    mn = FakeMN(tmp_path)
    mn.together = threading.Barrier(1)
    d = PolicyDriver(mn, {}, {"ap-a": "net-a", "ap-b": "net-b", "ap-c": "net-c"},
                     {"net-a": "aa-a", "net-c": "aa-c"}, "ap-b", time.perf_counter_ns(),
                     binding_update="before")
    d._preconfiguring = 2                          # A and C under way
    mn.preconfigure("net-a", "dhcp", 1.0)
    d._preconfiguring -= 1
    d._prepared(Action(1.0, PRE_CONFIGURE, "ap-a", "net-a"), True)
    assert d.binding_updates == []                 # C is still under way
    d._preconfiguring -= 1
    d._prepared(Action(1.0, PRE_CONFIGURE, "ap-c", "net-c"), False)    # C failed
    assert [b["contacts"] for b in d.binding_updates] == [[NCOA["net-a"]]]
    d.stop(wait=WAIT)
    mn.log.close()


def test_a_handover_to_another_network_overtakes_the_preparations_under_way(tmp_path):
    """The MN leaves network B: what it was preparing from there (PANA, relayed DHCP from
    its oCoA) watches B's Overtaken and ends at once, with the reason; a handover to
    another AP of the same network leaves nothing."""
    from orchestrator.mobility.policy import SAME_NETWORK
    mn = FakeMN(tmp_path)
    mn.handoff = lambda ap: {"connect": {"pmksa": "mpa"}}
    d = PolicyDriver(mn, {}, {"ap-a": "net-a", "ap-b": "net-b", "ap-b2": "net-b"},
                     {"net-a": "aa-a"}, "ap-b", time.perf_counter_ns())
    in_b = mn.departures.current
    d._handover(Action(1.0, HANDOVER, "ap-b2", "net-b", "ap-b", "better-candidate",
                       SAME_NETWORK))
    assert not in_b.is_set() and mn.departures.current is in_b
    d._handover(Action(2.0, HANDOVER, "ap-a", "net-a", "ap-b2", "better-candidate",
                       "pre-authenticated"))
    assert in_b.is_set() and mn.departures.current is not in_b
    assert in_b.reason == "overtaken by the handover to net-a (the MN left net-b)"
    d.stop(wait=WAIT)
    mn.log.close()


class BufferingMN(FakeMN):
    """The fake MN of C.4's buffering alternative: its MPA handover reports what the nAR
    flushed, as agents/handover.py does."""
    def mpa_handover(self, ctn, ap, buffering_period_ms=None):
        self.calls.append(("mpa_handover", ctn, buffering_period_ms))
        with self.preconf.lock:
            self.preconf.active.pop(ctn)
        return {"ncoa": NCOA[ctn], "buffering": buffering_period_ms is not None,
                "buffered_packets": 2, "switching": {"connect": {"pmksa": "mpa"}}}


def test_binding_update_at_the_handover_then_buffering_at_the_chosen_ctn(tmp_path):
    """binding_update 'handover' (C.4's buffering alternative): no re-INVITE while the two
    CTNs are pre-configured; at the handover one re-INVITE from the chosen CTN's nCoA alone,
    then the MPA handover asks its access router to buffer (the cap passed on), and no
    re-INVITE after the move: the CN already has that one address."""
    mn = BufferingMN(tmp_path)
    d = PolicyDriver(mn, {}, {"ap-a": "net-a", "ap-b": "net-b", "ap-c": "net-c"},
                     {"net-a": "aa-a", "net-c": "aa-c"}, "ap-b", time.perf_counter_ns(),
                     binding_update="handover", buffering_ms=1000.0)
    d._scan = {"ap-a": -62.0, "ap-b": -58.0, "ap-c": -50.0}      # C the strongest now
    with d.lock:
        d._dispatch([Action(1.0, PRE_CONFIGURE, "ap-c", "net-c"),
                     Action(1.0, PRE_CONFIGURE, "ap-a", "net-a")])
    deadline = time.monotonic() + WAIT
    while len(mn.preconf.names()) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    with d.lock:
        d._dispatch([Action(2.0, HANDOVER, "ap-a", "net-a", "ap-b", "better-candidate",
                            PRE_CONFIGURED)])
    summary = d.stop(wait=WAIT)
    assert summary["unfinished"] == 0
    assert [c for c in mn.calls if c[0] != "preconfigure"] == [
        ("binding_update", NCOA["net-a"], ()), ("mpa_handover", "net-a", 1000.0)]
    assert [(b["when"], b["contacts"]) for b in summary["binding_updates"]] == [
        ("handover", [NCOA["net-a"]])]
    [h] = summary["handovers"]
    assert h["buffering"] is True and h["buffered_packets"] == 2 and h["binding_update_ms"] >= 0
    assert summary["constants"]["buffering_ms"] == 1000.0
    assert mn.preconf.names() == []                  # C released after the commit
    mn.log.close()


def test_a_failed_binding_update_at_the_handover_is_repeated_after_the_move(tmp_path):
    """The CN did not take the nCoA before the move: the final re-INVITE goes after it."""
    mn = BufferingMN(tmp_path)
    mn.together = threading.Barrier(1)
    sent = []

    def binding_update(address, also=()):
        sent.append(address)
        if len(sent) == 1:
            from orchestrator.agents.control import CommandError
            raise CommandError("408 request timeout")
    mn.binding_update = binding_update
    d = PolicyDriver(mn, {}, {"ap-a": "net-a", "ap-b": "net-b"}, {"net-a": "aa-a"}, "ap-b",
                     time.perf_counter_ns(), binding_update="handover", buffering_ms=500.0)
    mn.preconfigure("net-a", "dhcp", 1.0)
    d._handover(Action(2.0, HANDOVER, "ap-a", "net-a", "ap-b", "better-candidate",
                       PRE_CONFIGURED))
    d.stop(wait=WAIT)
    assert [(b["when"], b["status"]) for b in d.binding_updates] == [
        ("handover", "failed"), ("after", "ok")]
    assert sent == [NCOA["net-a"], NCOA["net-a"]]
    mn.log.close()


def test_buffering_needs_the_stream_at_the_ncoa_before_the_move(tmp_path):
    import pytest
    mn = FakeMN(tmp_path)
    for bu, ms in (("after", 500.0), (None, 500.0), ("handover", 0.0), ("handover", 20_000.0)):
        with pytest.raises(ValueError, match="buffering_ms needs"):
            PolicyDriver(mn, {}, {"ap-b": "net-b"}, {}, "ap-b", 0, binding_update=bu,
                         buffering_ms=ms)
    mn.log.close()
