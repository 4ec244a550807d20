"""Three (or four) plain network namespaces for the cellular data session, built by hand.

    mn  cdma0 ---------------------- bs0  bs  core0 ------------ aaa0  aaa
        (the mobile's cellular if.)  (packet data gateway)       (FreeRADIUS, CHAP)

With `delay_ms`, a fourth namespace `link` sits between cdma0 and bs0 and holds every frame
`delay_ms` one way (tests/support/framedelay.py: netem is absent, and NFQUEUE would not see
PPPoE frames). Names carry a random prefix; `close()` stops what was started (by PID) and
deletes the namespaces it made, and only those.

The agents run with `python3 -S` (no site packages): they carry only the standard library.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .freeradius_chap import ChapFreeRadius

REPO = Path(__file__).resolve().parents[2]
AGENT_PYTHON = "/usr/bin/python3"
CORE_BS, CORE_AAA = "10.9.0.1", "10.9.0.2"
GATEWAY, POOL, DNS = "10.20.0.1", "10.20.0.0/24", "10.20.0.53"
USERS = {"mn1": {"password": "mn1-secret"},
         "mn2": {"password": "mn2-secret", "framed_ip": "10.20.0.77"}}
RADIUS_SECRET = "cellular-nas-secret"


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(list(argv), capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip()}")
    return done


class CellularBed:
    def __init__(self, workdir: Path | None = None, delay_ms: float = 0.0,
                 users: dict | None = None):
        self.prefix = "cel" + secrets.token_hex(3)
        self.dir = Path(workdir or tempfile.mkdtemp(prefix="cellular-"))
        self.delay_ms = delay_ms
        self.users = users or USERS
        self.ns = {n: f"{self.prefix}-{n}" for n in ("mn", "bs", "aaa", "link")}
        self.made: list[str] = []
        self.procs: list[subprocess.Popen] = []
        self.radius: ChapFreeRadius | None = None

    def ns_argv(self, node: str, *argv: str) -> list[str]:
        return ["ip", "netns", "exec", self.ns[node], *argv]

    def run(self, node: str, *argv: str, check: bool = True):
        return sh(*self.ns_argv(node, *argv), check=check)

    # -- build --
    def build(self) -> CellularBed:
        nodes = ("mn", "bs", "aaa", "link") if self.delay_ms else ("mn", "bs", "aaa")
        for n in nodes:
            sh("ip", "netns", "add", self.ns[n])
            self.made.append(self.ns[n])
            self.run(n, "ip", "link", "set", "lo", "up")
        if self.delay_ms:
            self._veth("mn", "cdma0", "link", "l-mn")
            self._veth("link", "l-bs", "bs", "bs0")
        else:
            self._veth("mn", "cdma0", "bs", "bs0")
        self._veth("bs", "core0", "aaa", "aaa0")
        self.run("bs", "ip", "addr", "add", f"{CORE_BS}/24", "dev", "core0")
        self.run("aaa", "ip", "addr", "add", f"{CORE_AAA}/24", "dev", "aaa0")
        for n, ifs in (("mn", ["cdma0"]), ("bs", ["bs0", "core0"]), ("aaa", ["aaa0"]),
                       ("link", ["l-mn", "l-bs"])):
            if n in nodes:
                for i in ifs:
                    self.run(n, "ip", "link", "set", i, "up")
        self.mac = {n: self.run(n, "cat", f"/sys/class/net/{i}/address").stdout.strip()
                    for n, i in (("mn", "cdma0"), ("bs", "bs0"))}
        return self

    def _veth(self, a: str, ifa: str, b: str, ifb: str) -> None:
        sh("ip", "link", "add", ifa, "netns", self.ns[a], "type", "veth", "peer", "name", ifb,
           "netns", self.ns[b])

    # -- processes --
    def start_radius(self) -> float:
        self.radius = ChapFreeRadius(self.dir / "radius", users=self.users,
                                     clients={"gateway": CORE_BS}, listen_address=CORE_AAA,
                                     secret=RADIUS_SECRET, reject_delay=0,
                                     command_prefix=tuple(self.ns_argv("aaa")))
        self.radius.directory.mkdir(parents=True, exist_ok=True)
        self.radius.render()
        self.radius.check()
        return self.radius.start()

    def start_delay(self) -> None:
        if not self.delay_ms:
            return
        proc = self.spawn("link", sys.executable, "-m", "tests.support.framedelay",
                          "--a", "l-mn", "--b", "l-bs", "--delay-ms", str(self.delay_ms))
        assert proc.stdout.readline().strip() == "ready"

    def spawn(self, node: str, *argv: str) -> subprocess.Popen:
        proc = subprocess.Popen(self.ns_argv(node, *argv), cwd=REPO, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        self.procs.append(proc)
        return proc

    def agent(self, node: str, *args: str) -> list[str]:
        return [AGENT_PYTHON, "-S", "-m", "orchestrator.agents.cellular",
                "--events", str(self.dir / "events" / f"{node}.jsonl"), "--node", node, *args]

    def start_gateway(self, *extra: str, gateway_args: tuple[str, ...] = ()) -> subprocess.Popen:
        """`extra`: options before the subcommand (--restart ...); `gateway_args`: after."""
        proc = self.spawn("bs", *self.agent(
            "bs", *extra, "gateway", "--iface", "bs0", "--local", GATEWAY, "--pool", POOL,
            "--dns", DNS, "--radius", f"{CORE_AAA}:{self.radius.auth_port}",
            "--radius-secret", RADIUS_SECRET, *gateway_args))
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"gateway did not start: {proc.stderr.read()[-2000:]}")
        assert json.loads(line)["status"] == "ready"
        return proc

    def client(self, user: str, secret: str, *extra: str) -> subprocess.Popen:
        """The mobile's client; `extra`: options of the `client` subcommand (--hold, ...)."""
        return self.spawn("mn", *self.agent("mn", "client", "--iface", "cdma0", "--name", user,
                                            "--secret", secret, *extra))

    def stop(self, proc: subprocess.Popen, timeout: float = 10.0) -> tuple[str, str]:
        """SIGTERM to the PID we started (`ip netns exec` execs the command: same PID)."""
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            out, err = proc.communicate(timeout=5)
        return out, err

    def events(self, node: str) -> list[dict]:
        path = self.dir / "events" / f"{node}.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def close(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                self.stop(proc, 5)
        if self.radius:
            self.radius.stop()
        for ns in reversed(self.made):
            sh("ip", "netns", "del", ns, check=False)
        self.made.clear()

    def __enter__(self) -> CellularBed:
        try:
            return self.build()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc) -> None:
        self.close()


def wait_for(predicate, timeout: float = 5.0, step: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()
