"""An OpenSSH server inside an emulated host: the SSH transport exercised for real.

`start_sshd(journal, node)` runs Debian's /usr/sbin/sshd in the node's network namespace
with a private configuration in `<journal.dir>/ssh/` (never /etc/ssh, never port 22 of the
machine): a host key made for this testbed and node, our own authorized_keys, public-key
authentication only, listening on the node's address at a non-default port (2222).

Management network: sshd listens on the node's existing interface address, so SSH, SFTP
and control traffic travel over the emulated network itself (the honest, simple option:
one topology, nothing added). Management traffic therefore shares links, switches and
emulated delays with experiment traffic: push and start agents before a measurement,
not during one. On real machines `inventory.yaml` may point at a separate management
interface instead (docs/real-hardware.md).

Who does what: `start_sshd` writes the config, runs sshd's own check (`sshd -t`), starts
`sshd -D -e` (foreground, log to stderr -> `<run>/logs/<node>/sshd.log`), journals its PID
and waits for "Server listening"; `stop_sshd` stops it by PID; `ssh_transport` returns an
`SshTransport` whose TCP connection starts in another node's namespace.
"""
from __future__ import annotations

import getpass
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from ..network.state import Journal
from .sshkeys import SshKeys
from .transport import LocalTransport, SshTransport

SSHD = "/usr/sbin/sshd"
DEFAULT_PORT = 2222
PRIVSEP_DIR = Path("/run/sshd")


class SshdError(RuntimeError):
    pass


@dataclass
class Sshd:
    node: str
    netns: str
    address: str
    port: int
    pid: int
    config: Path
    log: Path
    user: str
    keys: SshKeys


def node_address(journal: Journal, node: str) -> str:
    """The first IPv4 address of `node` (without prefix length)."""
    for iface in journal.nodes[node]["interfaces"]:
        if iface.get("address"):
            return iface["address"].split("/")[0]
    raise SshdError(f"node '{node}' has no IPv4 address to listen on; give one of its "
                    "links an address in the topology")


def sshd_config(address: str, port: int, keys: SshKeys, node: str, user: str,
                pidfile: Path, tunnel: str = "no") -> str:
    """`tunnel`: PermitTunnel ('ethernet' for the SSH tap tunnels of a split testbed,
    network/cluster.py)."""
    return "\n".join([
        f"# private sshd of node {node} (mpa-testbed, orchestrator/deploy/sshd.py)",
        f"ListenAddress {address}",
        f"Port {port}",
        f"HostKey {keys.host_key(node)}",
        f"PidFile {pidfile}",
        f"AuthorizedKeysFile {keys.authorized_keys}",
        f"AllowUsers {user}",
        "AuthenticationMethods publickey",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password",
        "UsePAM no",
        # the state directory may live under /tmp (world-writable): sshd's ownership walk
        # would reject our authorized_keys there; the files are ours and 0600
        "StrictModes no",
        "AllowTcpForwarding no",
        "AllowStreamLocalForwarding no",
        "AllowAgentForwarding no",
        "X11Forwarding no",
        f"PermitTunnel {tunnel}",
        "PermitUserEnvironment no",
        "UseDNS no",
        "PrintMotd no",
        "LogLevel VERBOSE",
        "Subsystem sftp internal-sftp",
        "",
    ])


def _ensure_privsep_dir() -> None:
    """sshd chroots its unprivileged child into /run/sshd (compiled in). Debian's ssh.service
    creates it (RuntimeDirectory=sshd); where no system sshd was ever started, create the
    same empty root-owned 0755 directory. It is shared, never removed, and nothing else of
    the machine's sshd is touched."""
    if not PRIVSEP_DIR.is_dir():
        PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
        os.chmod(PRIVSEP_DIR, 0o755)


def start_sshd(journal: Journal, node: str, port: int = DEFAULT_PORT,
               address: str | None = None, timeout: float = 10.0, user: str | None = None,
               authorize: str | None = None) -> Sshd:
    """`user`: the login it allows (default: the orchestrator's own user); `authorize`: a
    public key line it accepts as well as the testbed's own key (an inventory's key, in a
    rehearsal: deploy/remote.py)."""
    if node not in journal.nodes:
        raise SshdError(f"unknown node '{node}'; nodes: {', '.join(journal.nodes)}")
    return _launch(journal, node, journal.nodes[node]["netns"],
                   address or node_address(journal, node), port, timeout, user=user,
                   authorize=authorize)


def start_server_sshd(journal: Journal, server: str, timeout: float = 10.0) -> Sshd:
    """This machine as server `server` of a split testbed (network/cluster.py): an sshd in
    the root namespace on 127.0.0.1 and a free port, allowing Ethernet tunnels (`ssh -w`),
    root by key only. Its log is `<run>/logs/server-<server>/sshd.log`."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return _launch(journal, f"server-{server}", None, "127.0.0.1", port, timeout,
                   tunnel="ethernet")


def _launch(journal: Journal, node: str, netns: str | None, address: str, port: int,
            timeout: float, tunnel: str = "no", user: str | None = None,
            authorize: str | None = None) -> Sshd:
    """Write `node`'s sshd configuration, check it (`sshd -t`), start sshd in `netns`
    (None: the root namespace), journal its PID and wait until it listens."""
    if not os.path.exists(SSHD):
        raise SshdError(f"{SSHD} not found: install Debian's openssh-server "
                        "(scripts/setup.sh lists it)")
    user = user or getpass.getuser()
    keys = SshKeys.ensure(journal.dir / "ssh", journal.name)
    if authorize:
        keys.authorize(authorize)
    config = journal.dir / "ssh" / f"sshd-{node}.conf"
    pidfile = journal.dir / "ssh" / f"sshd-{node}.pid"
    config.write_text(sshd_config(address, port, keys, node, user, pidfile, tunnel))
    log = Path(journal.run_dir, "logs", node, "sshd.log")
    _ensure_privsep_dir()
    host = LocalTransport(netns)
    check = host.run([SSHD, "-t", "-f", str(config)], timeout=30)
    if check.returncode != 0:
        raise SshdError(f"node '{node}': sshd rejected its configuration {config} "
                        f"(sshd -t, exit {check.returncode}): {check.stdout.strip()}")
    pid = host.spawn([SSHD, "-D", "-e", "-f", str(config)], log=log)
    journal.started(pid, "sshd", node)
    listening = re.compile(rf"Server listening on {re.escape(address)} port {port}\b")
    deadline = time.monotonic() + timeout
    while not listening.search(host.read_text(log)):
        code = host.exit_code(pid)
        if code is not None:
            raise SshdError(f"node '{node}': sshd exited ({code}) before listening on "
                            f"{address}:{port}: {host.read_text(log).strip()[-800:]}")
        if time.monotonic() > deadline:
            host.stop(pid)
            raise SshdError(f"node '{node}': sshd not listening on {address}:{port} after "
                            f"{timeout:g}s; see {log}")
        time.sleep(0.01)
    keys.trust(node, address, port)
    return Sshd(node, netns, address, port, pid, config, log, user, keys)


def stop_sshd(sshd: Sshd, grace: float = 3.0) -> bool:
    """Stop the server by its PID (sessions still open keep their own processes until they
    close; teardown removes anything left in the namespace)."""
    return LocalTransport(sshd.netns).stop(sshd.pid, grace)


def ssh_transport(journal: Journal, sshd: Sshd, from_node: str) -> SshTransport:
    """An SSH transport to `sshd` whose connection starts inside `from_node`'s namespace."""
    return SshTransport(sshd.address, sshd.port, sshd.user, sshd.keys.client_key,
                        sshd.keys.known_hosts, netns=journal.nodes[from_node]["netns"])


def accepted_from(sshd: Sshd) -> list[str]:
    """Client addresses sshd accepted a public key from (its own log)."""
    text = Path(sshd.log).read_text(errors="replace") if Path(sshd.log).exists() else ""
    return re.findall(r"Accepted publickey for \S+ from (\S+) port", text)

