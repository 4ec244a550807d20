"""An AP or AR with several PAAs in its domain (a campus: one per access network) checks each
PAA's key installation with that PAA's secret and Sequence (issue 17: the first PAA's secret
was used for every datagram, so the others' PSK_ap were refused and handovers fell back to a
full EAP authentication)."""
import json
import os

from orchestrator.agents.keyinstall import KeyInstallServer, receivers_by_address
from orchestrator.events import EventLog
from orchestrator.protocols import keyinstall as ki

BSSID = bytes.fromhex("020000000a01")
PEERS = {"127.0.0.2": "secret-of-paa-a", "127.0.0.5": "secret-of-paa-a",   # PAA a, 2 addresses
         "127.0.0.3": "secret-of-paa-b"}


def request(secret: str, sequence: int, sta: bytes) -> bytes:
    return ki.encode_request(secret.encode(), ki.InstallRequest(
        ki.TargetKind.ACCESS_POINT, sequence, os.urandom(ki.NONCE_LENGTH), 60, sta, BSSID,
        1, 1, bytes(range(32))))


def test_each_paa_is_checked_with_its_own_secret_and_sequence(tmp_path):
    log = EventLog(tmp_path / "ap.jsonl", "ap", "access-point")
    installed = []
    receivers = receivers_by_address(PEERS, ki.TargetKind.ACCESS_POINT, BSSID)
    assert receivers["127.0.0.2"] is receivers["127.0.0.5"]         # one PAA, one Sequence
    assert receivers["127.0.0.2"] is not receivers["127.0.0.3"]
    server = KeyInstallServer("127.0.0.1", 0, receivers, lambda sta, key: installed.append(sta), log)
    try:
        sta = [bytes([2, 0, 0, 0, 0, i]) for i in range(5)]
        server.datagram(request("secret-of-paa-a", 1000, sta[0]), ("127.0.0.2", 9), [])
        # PAA b's clock is behind PAA a's: its own Sequence, not a's, decides what is a replay
        server.datagram(request("secret-of-paa-b", 10, sta[1]), ("127.0.0.3", 9), [])
        server.datagram(request("secret-of-paa-a", 1001, sta[2]), ("127.0.0.5", 9), [])
        server.datagram(request("secret-of-paa-a", 2000, sta[3]), ("127.0.0.3", 9), [])  # b's address, a's secret
        server.datagram(request("secret-of-paa-a", 3000, sta[4]), ("127.0.0.4", 9), [])  # no PAA
    finally:
        server.stop()
    assert installed == ["02:00:00:00:00:00", "02:00:00:00:00:01", "02:00:00:00:00:02"]
    rejected = [json.loads(line)["attrs"] for line in log.path.read_text().splitlines()
                if json.loads(line)["event"] == "keyinstall_rejected"]
    assert [r["source"] for r in rejected] == ["127.0.0.3:9", "127.0.0.4:9"]
    assert "MAC" in rejected[0]["reason"] and "not from an address of a PAA" in rejected[1]["reason"]
