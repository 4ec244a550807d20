"""Run a private FreeRADIUS 3.2 for tests: copy, render, check, start, wait ready, stop.

The system configuration (/etc/freeradius/3.0) is copied into a directory of our own and
edited there: paths point into that directory, ``user``/``group`` are commented out,
proxying is off, only the modules EAP-TLS needs are enabled, and one virtual server
listens on 127.0.0.1 at the ports given (never the default 1812). The daemon runs in the
foreground and is stopped by the PID we started.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

SYSTEM_RADDB = Path("/etc/freeradius/3.0")
KEEP_MODULES = ("always", "eap")  # mods-enabled entries we keep; the rest are dropped

SITE = """\
server default {{
    listen {{
        type = auth
        ipaddr = 127.0.0.1
        port = {auth_port}
    }}
    listen {{
        type = acct
        ipaddr = 127.0.0.1
        port = {acct_port}
    }}
    authorize {{
        eap {{
            ok = return
        }}
    }}
    authenticate {{
        eap
    }}
    preacct {{
        ok
    }}
    accounting {{
        ok
    }}
    post-auth {{
        # the EAP Session-Id on the wire (RFC 4072 EAP-Key-Name), so that tests can compare
        # the peer's Session-Id with the server's (RFC 5216 s2.3, RFC 9190 s2.3)
        update reply {{
            &EAP-Key-Name := &reply:EAP-Session-Id
        }}
        Post-Auth-Type REJECT {{
            eap
        }}
    }}
}}
"""

EAP_MODULE = """\
eap {{
    default_eap_type = tls
    timer_expire = 60
    ignore_unknown_eap_types = no
    max_sessions = ${{max_requests}}
    tls-config tls-common {{
        private_key_file = {server_key}
        certificate_file = {server_cert}
        ca_file = {ca_file}
        fragment_size = {fragment_size}
        include_length = yes
        cipher_list = "DEFAULT"
        tls_min_version = "{tls_min_version}"
        tls_max_version = "{tls_max_version}"
        ecdh_curve = ""
        cache {{
            enable = no
        }}
        verify {{
        }}
        ocsp {{
            enable = no
        }}
    }}
    tls {{
        tls = tls-common
    }}
}}
"""

CLIENTS = """\
client localhost {{
    ipaddr = 127.0.0.1
    secret = {secret}
    require_message_authenticator = yes
    nas_type = other
}}
"""


def free_udp_port() -> int:
    """A currently unused UDP port on 127.0.0.1, chosen by the kernel (never 1812)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in (1812, 1813, 1645, 1646, 18120):
            return port


@dataclass
class FreeRadius:
    """One private FreeRADIUS instance; `render`, `check`, `start`, `stop`."""

    directory: Path
    server_cert: Path
    server_key: Path
    ca_file: Path
    secret: str = "testing123"
    auth_port: int = field(default_factory=free_udp_port)
    acct_port: int = field(default_factory=free_udp_port)
    tls_min_version: str = "1.2"
    tls_max_version: str = "1.3"
    fragment_size: int = 1024  # FreeRADIUS counts the whole EAP packet
    reject_delay: int = 1  # seconds before an Access-Reject (FreeRADIUS default 1)
    debug: bool = False
    command_prefix: tuple[str, ...] = ()  # e.g. ("ip", "netns", "exec", NS): where it runs
    process: subprocess.Popen | None = None

    def __post_init__(self) -> None:
        while self.acct_port == self.auth_port:
            self.acct_port = free_udp_port()

    @property
    def raddb(self) -> Path:
        return self.directory / "raddb"

    @property
    def log_path(self) -> Path:
        return self.directory / "radiusd.out"

    def render(self) -> Path:
        """Copy the system configuration and rewrite it for this instance."""
        raddb = self.raddb
        if raddb.exists():
            shutil.rmtree(raddb)
        shutil.copytree(SYSTEM_RADDB, raddb, symlinks=True)
        for sub in ("log", "run", "radacct"):
            (self.directory / sub).mkdir(exist_ok=True)
        conf = (raddb / "radiusd.conf").read_text()
        replacements = {
            r"^raddbdir = .*$": f"raddbdir = {raddb}",
            r"^logdir = .*$": f"logdir = {self.directory / 'log'}",
            r"^run_dir = .*$": f"run_dir = {self.directory / 'run'}",
            r"^radacctdir = .*$": f"radacctdir = {self.directory / 'radacct'}",
            r"^proxy_requests\s*=.*$": "proxy_requests = no",
            r"^\$INCLUDE proxy.conf$": "#$INCLUDE proxy.conf",
            r"^(\s*)(user|group) = ": r"\1#\2 = ",
            r"^(\s*)reject_delay = .*$": rf"\g<1>reject_delay = {self.reject_delay}",
        }
        for pattern, repl in replacements.items():
            conf, n = re.subn(pattern, repl, conf, flags=re.M)
            if n == 0:
                raise RuntimeError(f"radiusd.conf: no line matches {pattern!r}")
        (raddb / "radiusd.conf").write_text(conf)
        for entry in (raddb / "mods-enabled").iterdir():
            if entry.name not in KEEP_MODULES:
                entry.unlink()
        (raddb / "mods-enabled" / "eap").unlink()
        (raddb / "mods-enabled" / "eap").write_text(
            EAP_MODULE.format(
                server_key=self.server_key,
                server_cert=self.server_cert,
                ca_file=self.ca_file,
                fragment_size=self.fragment_size,
                tls_min_version=self.tls_min_version,
                tls_max_version=self.tls_max_version,
            )
        )
        for entry in (raddb / "sites-enabled").iterdir():
            entry.unlink()
        (raddb / "sites-enabled" / "default").write_text(
            SITE.format(auth_port=self.auth_port, acct_port=self.acct_port)
        )
        (raddb / "clients.conf").write_text(CLIENTS.format(secret=self.secret))
        return raddb

    def check(self) -> None:
        """``freeradius -C``: parse the configuration and load modules, then exit."""
        result = subprocess.run(
            ["freeradius", "-C", "-X", "-d", str(self.raddb)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
            raise RuntimeError(f"freeradius -C failed for {self.raddb}:\n{tail}")

    def start(self, timeout: float = 10.0) -> float:
        """Start in the foreground and wait for "Ready to process requests"; return seconds."""
        args = [*self.command_prefix, "freeradius", "-f", "-d", str(self.raddb)]
        args += ["-X"] if self.debug else ["-l", "stdout"]
        t0 = time.perf_counter()
        with open(self.log_path, "wb") as out:
            self.process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        deadline = t0 + timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"freeradius exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            if b"Ready to process requests" in self.log_path.read_bytes():
                return time.perf_counter() - t0
            time.sleep(0.01)
        self.stop()
        raise RuntimeError(f"freeradius not ready after {timeout} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM to the PID we started; SIGKILL to that PID if it lingers."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])
