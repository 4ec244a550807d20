#!/usr/bin/env python3
"""Our EAP-TLS peer against wpa_supplicant's eapol_test, on one FreeRADIUS, through a delayed
path: RADIUS round trips and time per authentication, side by side.

    .venv/bin/python bench/eap_rounds.py [--delay-ms 40] [--n 5] [--fragments 1398,1020]

A UDP relay on loopback holds every datagram `delay` ms in each direction between the client
and FreeRADIUS (a WAN between the authenticator and the AAA server, as in RFC 6252 Figure 9)
and counts the Access-Requests of each authentication. Each extra round trip costs 2 x delay:
with the same number of round trips, our peer's Tauth over a WAN is eapol_test's.
Runs on loopback only; no root needed.
"""
from __future__ import annotations

import argparse
import io
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pyrad.client import Client  # noqa: E402
from pyrad.dictionary import Dictionary  # noqa: E402

from orchestrator.deploy.pki import Pki  # noqa: E402
from orchestrator.protocols.eap_tls import EapPeer, EapTlsPeer  # noqa: E402
from orchestrator.protocols.radius_dict import TEXT as DICTIONARY  # noqa: E402
from tests.protocols.test_eap_tls_freeradius import EAPOL_TEST_CONF, authenticate  # noqa: E402
from tests.support.freeradius import FreeRadius  # noqa: E402

SERVER, IDENTITY = "aaa.home.example", "mn@home.example"


class DelayRelay:
    """127.0.0.1:port <-> server, every datagram held `delay` s each way; counts requests."""

    def __init__(self, server_port: int, delay: float):
        self.server = ("127.0.0.1", server_port)
        self.delay = delay
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.bind(("127.0.0.1", 0))
        self.port = self.front.getsockname()[1]
        self.back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.back.bind(("127.0.0.1", 0))
        self.client = None
        self.requests = 0
        self._stop = threading.Event()
        threading.Thread(target=self._pump, args=(self.front, self._to_server), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.back, self._to_client), daemon=True).start()

    def _to_server(self, data, addr):
        self.client = addr
        self.requests += data[:1] == b"\x01"             # Access-Request
        return self.back, self.server

    def _to_client(self, data, addr):
        return (self.front, self.client) if self.client else (None, None)

    def _pump(self, sock, route):
        """Every datagram arriving on `sock` goes where `route` says, `delay` s later."""
        sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                data, addr = sock.recvfrom(65535)
            except socket.timeout:
                continue
            out, dst = route(data, addr)
            if out is not None:
                threading.Timer(self.delay, out.sendto, (data, dst)).start()

    def take(self) -> int:
        n, self.requests = self.requests, 0
        return n

    def close(self):
        self._stop.set()


def ours(pki, relay, secret, tls_max, fragment_size):
    client = Client(server="127.0.0.1", authport=relay.port, secret=secret.encode(),
                    dict=Dictionary(io.StringIO(DICTIONARY)), retries=1, timeout=10,
                    enforce_ma=True)
    files = pki.clients[IDENTITY]
    peer = EapPeer(EapTlsPeer(IDENTITY, files.cert, files.key, pki.ca.cert,
                              tls_max_version=tls_max, fragment_size=fragment_size,
                              server_name=SERVER))
    t0 = time.perf_counter()
    reply, _ = authenticate(client, peer, identity=IDENTITY)
    ms = (time.perf_counter() - t0) * 1e3
    if peer.msk is None:
        raise RuntimeError("our peer did not authenticate")
    return ms, relay.take()


def eapol_test(pki, relay, secret, tls_max, tmp):
    files = pki.clients[IDENTITY]
    conf = Path(tmp, f"eapol_test-{tls_max}.conf")
    conf.write_text(EAPOL_TEST_CONF.format(identity=IDENTITY, ca=pki.ca.cert, cert=files.cert,
                                           key=files.key, disable13=0 if tls_max == "1.3" else 1))
    args = ["eapol_test", "-c", str(conf), "-a", "127.0.0.1", "-p", str(relay.port),
            "-s", secret, "-t", "30"]
    t0 = time.perf_counter()
    r = subprocess.run(args, capture_output=True, text=True, timeout=60)
    wall = (time.perf_counter() - t0) * 1e3
    if r.returncode != 0:
        raise RuntimeError(r.stdout[-2000:])
    if r.stdout.count("Sending RADIUS message") != relay.requests:
        raise RuntimeError("eapol_test's own count of Access-Requests differs from the relay's")
    ms = wall                  # includes starting the process (~10-20 ms here)
    return ms, relay.take()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--delay-ms", type=float, default=40.0, help="one way, relay <-> AAA")
    ap.add_argument("--n", type=int, default=5)
    ap.add_argument("--fragments", default="1398,1020")
    args = ap.parse_args()
    if shutil.which("eapol_test") is None:
        print("eapol_test is not installed (Debian package eapoltest)")
        return 1
    with tempfile.TemporaryDirectory(prefix="eap-rounds-") as tmp:
        pki = Pki.ensure(Path(tmp, "pki"), "Testbed CA", [SERVER], [IDENTITY])
        files = pki.servers[SERVER]
        server = FreeRadius(Path(tmp, "freeradius"), server_cert=files.cert,
                            server_key=files.key, ca_file=pki.ca.cert,
                            secret="mpa-testbed-secret", tls_max_version="1.3", reject_delay=0)
        server.render()
        server.check()
        server.start()
        relay = DelayRelay(server.auth_port, args.delay_ms / 1e3)
        rows = []
        try:
            for tls in ("1.2", "1.3"):
                runs = [eapol_test(pki, relay, server.secret, tls, tmp) for _ in range(args.n)]
                rows.append((f"eapol_test (wpa_supplicant 2.10, wall), TLS {tls}", runs))
                for frag in (int(f) for f in args.fragments.split(",")):
                    runs = [ours(pki, relay, server.secret, tls, frag) for _ in range(args.n)]
                    rows.append((f"ours, fragment_size {frag}, TLS {tls}", runs))
        finally:
            relay.close()
            server.stop()
    print(f"EAP-TLS through a relay adding {args.delay_ms:g} ms each way "
          f"(RTT {2 * args.delay_ms:g} ms), {args.n} authentications each; FreeRADIUS 3.2, "
          f"fragment_size 1024 on its side")
    print(f"{'client':46} | RADIUS round trips | median ms | expected ~ trips x RTT")
    for name, runs in rows:
        trips = sorted({t for _, t in runs})
        med = statistics.median(ms for ms, _ in runs)
        print(f"{name:46} | {','.join(map(str, trips)):>18} | {med:9.1f} | "
              f"{trips[0] * 2 * args.delay_ms:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
