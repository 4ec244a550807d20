"""agents/multi_interface.ReactiveHandover (RFC 6252 C.5.2's reactive handover in the MN)
with a scripted management port: stale notifications are discarded, the link-down starts
the steps in order, a cancelled wait frees the port, a failing step is reported."""
import threading
import time

from orchestrator.agents.multi_interface import ReactiveHandover
from orchestrator.events import EventLog
from orchestrator.protocols import mgmt


class Port:
    def __init__(self, queued=()):
        self.frames = list(queued)
        self.readers = 0

    def drain(self):
        n, self.frames = len(self.frames), []
        return n

    def next_of(self, kind, timeout):
        self.readers += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.frames:
                msg = self.frames.pop(0)
                if msg.type == kind:
                    return msg, time.perf_counter_ns()
            time.sleep(0.005)
        return None, None


def _lost():
    return mgmt.Mgmt("disassociated", "02:00:00:00:00:01", "02:00:00:00:00:0a", 0, "link_lost")


def test_link_down_runs_the_steps_in_order(tmp_path):
    log = EventLog(tmp_path / "mn.jsonl", "mn", "mobile-node")
    order = []
    steps = (lambda: order.append("up") or {"address": "10.20.0.2"},
             lambda: order.append("active") or {"iface": "cdma0"},
             lambda s: order.append(("bu", s["address"])) or {"elapsed_ms": 1.0})
    port = Port([_lost()])                              # a stale one, from before arming
    r = ReactiveHandover(port, "wlan0", log, steps)
    assert r.start(5.0)["discarded_frames"] == 1
    time.sleep(0.15)
    assert order == []                                  # nothing until the link goes down
    port.frames.append(_lost())
    result = r.result(5.0)
    assert result["status"] == "ok" and order == ["up", "active", ("bu", "10.20.0.2")]
    [event] = [l for l in log.path.read_text().splitlines() if "link_down_detected" in l]
    assert '"reason":"link_lost"' in event and '"iface":"wlan0"' in event


def test_cancel_frees_the_port_and_a_failing_step_is_reported(tmp_path):
    lock = threading.Lock()
    r = ReactiveHandover(Port(), "wlan0", None, (None, None, None), lock=lock)
    r.start(30.0)
    time.sleep(0.05)
    r.cancel()
    assert r.result(2.0) == {"status": "failed", "reason": "cancelled"}
    assert lock.acquire(timeout=0.5)                    # nobody holds the port any more
    lock.release()

    def boom():
        raise RuntimeError("no data session")
    port = Port()
    r = ReactiveHandover(port, "wlan0", None, (boom, None, None))
    r.start(5.0)
    port.frames.append(_lost())
    got = r.result(5.0)
    assert got["status"] == "failed" and "no data session" in got["reason"]
