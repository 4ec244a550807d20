"""Management frames: round trip, and only MgmtError on malformed input (seeded fuzz)."""
import random

import pytest

from orchestrator.protocols import mgmt


def test_round_trip():
    msg = mgmt.Mgmt("assoc_request", "02:00:00:00:00:01", "02:00:00:00:00:a1", 7,
                    attrs={"t_sent_ns": 12345})
    frame = mgmt.encode("02:00:00:00:00:a1", "02:00:00:00:00:01", msg)
    assert int.from_bytes(frame[12:14], "big") == mgmt.ETH_P_MGMT
    dst, src, back = mgmt.decode(frame + b"\x00" * 20)          # Ethernet padding
    assert (dst, src, back) == ("02:00:00:00:00:a1", "02:00:00:00:00:01", msg)


def test_unknown_type_rejected():
    with pytest.raises(mgmt.MgmtError):
        mgmt.encode("02:00:00:00:00:a1", "02:00:00:00:00:01", mgmt.Mgmt("beacon", "x"))


def test_fuzz_only_mgmt_error():
    rng = random.Random(6252)
    good = mgmt.encode("02:00:00:00:00:a1", "02:00:00:00:00:01",
                       mgmt.Mgmt("authorize", "02:00:00:00:00:01", "02:00:00:00:00:a1", 1))
    for _ in range(3000):
        frame = bytearray(good)
        for _ in range(rng.randint(1, 6)):
            op = rng.random()
            if op < 0.4 and frame:
                frame[rng.randrange(len(frame))] = rng.randrange(256)
            elif op < 0.7:
                frame = frame[: rng.randrange(len(frame) + 1)]
            else:
                frame[rng.randrange(len(frame) + 1):0] = bytes([rng.randrange(256)])
        try:
            mgmt.decode(bytes(frame))
        except mgmt.MgmtError:
            pass
