"""The controller's kept threads: requests handed to workers, delayed calls from one thread."""
import logging
import threading
import time

from orchestrator.controller.app import _Workers
from orchestrator.later import Later

LOG = logging.getLogger("test")


def test_workers_survive_a_failing_call_and_run_the_next():
    done = threading.Event()
    w = _Workers(2, LOG)

    def boom():
        raise RuntimeError("bad frame")
    w.submit(boom)
    w.submit(done.set)
    assert done.wait(2)


def test_workers_run_calls_concurrently():
    """An association sleeping its latency must not hold another station's request."""
    barrier = threading.Barrier(3, timeout=2)
    w = _Workers(3, LOG)
    for _ in range(3):
        w.submit(barrier.wait)
    barrier_ok = threading.Event()
    w.submit(barrier_ok.set)
    assert barrier_ok.wait(3)


def test_later_calls_in_due_order_not_before_their_time():
    got = []
    later = Later("test", LOG)
    t0 = time.monotonic()
    later.call(0.15, lambda: got.append(("b", time.monotonic() - t0)))
    later.call(0.05, lambda: got.append(("a", time.monotonic() - t0)))
    later.call(0.10, lambda: 1 / 0)                 # a failing call stops nothing
    deadline = time.monotonic() + 3
    while len(got) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [name for name, _ in got] == ["a", "b"]
    assert got[0][1] >= 0.05 and got[1][1] >= 0.15
