"""The fuzz suite of issue 13: every parser that reads bytes from the emulated wire keeps its
contract -- any bytes in, a value or ProtocolError out (subclasses included), in bounded
time -- under a few thousand seeded mutants each (tests/support/fuzzing.py: corpus of valid
messages, hostile tokens such as digit runs past Python's int-string limit, deep JSON,
non-UTF-8, MACs recomputed for keyed protocols). A failure names the exception, the input
and its traceback; the same seed reproduces it. Long campaigns: bench/fuzz.py.
"""
from __future__ import annotations

import pytest

from tests.support.fuzzing import TARGETS, campaign

CASES = 3000


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_parser_raises_only_protocol_errors(name):
    result = campaign(TARGETS[name], CASES, seed=13)
    assert result.inputs == CASES
    detail = {k: (data[:120], tb.splitlines()[-1]) for k, (data, tb) in result.examples.items()}
    assert not result.others, f"{name}: {dict(result.others)} {detail}"
    assert result.accepted + result.rejected == CASES       # (bench/fuzz.py: the slowest)


def test_every_target_both_accepts_and_rejects():
    """A corpus that only ever yields rejections (or acceptances) tests nothing deep."""
    lazy = []
    for name, target in TARGETS.items():
        r = campaign(target, 400, seed=7)
        if r.accepted == 0 or (r.rejected == 0 and name not in _NEVER_REJECT):
            lazy.append((name, r.accepted, r.rejected))
    assert not lazy, lazy


# state machines and servers that turn bad input into events or answers, never exceptions
_NEVER_REJECT = {"eapol-4way", "pana-paa", "pana-pac", "keyinstall", "departure", "control"}


def test_the_engine_finds_what_it_is_for():
    """The mutation engine reaches the classes of bugs issue 13 found: a number past the
    int-string limit in a text protocol, deep JSON nesting, non-UTF-8."""
    import random

    from tests.support.fuzzing import HOSTILE, mutate
    rnd = random.Random(1)
    seen = {"digits": False, "deep": False, "utf8": False}
    base = b'CSeq: 12 INVITE {"a": 1}'
    for _ in range(5000):
        m = mutate(rnd, base, HOSTILE)
        seen["digits"] |= b"9" * 4400 in m
        seen["deep"] |= b"[" * 1000 in m
        try:
            m.decode()
        except UnicodeDecodeError:
            seen["utf8"] = True
    assert all(seen.values()), seen
