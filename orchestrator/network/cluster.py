"""One emulated network split across servers, built by Mininet's cluster edition.

The engine is Mininet's own (mininet/examples/cluster.py, "Mininet: Cluster Edition", in
Debian's mininet 2.3.0): `RemoteHost` and `RemoteOVSSwitch` run their shells on their server
over SSH (mnexec makes the host's namespace there); `RemoteLink` makes a veth pair when both
ends are on one server and otherwise an SSH Ethernet tunnel, a tap device on each server
joined by OpenSSH (`ssh -o Tunnel=ethernet -w N:M`); `SwitchBinPlacer.bin` spreads the
networks when `placement.auto` is on (model/placement.py says what a topology writes).

Ours are tiny subclasses, one or two methods each (STYLE.md: Mininet's `RemoteController`):
- `ClusterHost`/`ClusterSwitch`: ssh reads the testbed's own client configuration (`-F`,
  keys and known hosts under the journal's directory; never ~/.ssh or /etc/ssh) and logs in
  as root with a key; no `sudo` on either side (Mininet's cluster runs ssh through
  `sudo -u <user>` and commands through `sudo` on the server; Debian here has no sudo). The
  shells and commands of one server share one SSH connection (a journaled master,
  OpenSSH's multiplexing), the shell's ssh is journaled the moment it runs, and the remote
  shells start PARALLEL_SHELLS at a time (`Cluster.make`).
- `ClusterLink.makeTunnel`: Mininet's hard-wires `tap9` on both servers; here the two
  servers can be one machine, and other testbeds tunnel at the same time, so each tunnel
  gets tap numbers of its own, journaled before ssh creates them, and ssh's output goes to
  a log that is waited on with a timeout (Mininet's blocking read never returns if ssh
  hangs); all tunnels open at once before the links are made (`Cluster.open_tunnels`), each
  on its own SSH connection. The tunnel's ssh runs in a session of its own: it outlives the
  deploy and is stopped by its journaled PID; its taps vanish with it (not persistent).
- Nothing of the cluster's cleanup ever runs: `ClusterCleanup.add` would register
  `ssh <server> sudo mn -c` with mininet.clean (disabled below), and `MininetCluster` (its
  precheck calls sys.exit, it writes ~/.ssh/mn) is not used. Teardown is the journal's.

`address: loopback` servers are this machine reached over SSH: the testbed starts its own
sshd (deploy/sshd.py, `PermitTunnel ethernet`, root by key only) on 127.0.0.1 and a free
port, journaled like every process. Only such servers are accepted by `deploy` for now:
after Mininet has made the objects, the testbed's own steps (naming namespaces, addresses and
routes, link emulation, daemons, agents, teardown) reach namespaces on this machine.
"""
from __future__ import annotations

import getpass
import random
import shlex
import subprocess
import threading
import time
from pathlib import Path

from mininet.examples import cluster as mn_cluster
from mininet.examples.cluster import RemoteHost, RemoteLink, RemoteOVSSwitch, SwitchBinPlacer

from ..model.placement import LOOPBACK, Placement
from ..model.plan import NetworkPlan
from .state import Journal

# never let the cluster edition register its `ssh <server> sudo mn -c` cleanup callback
mn_cluster.ClusterCleanup.add = classmethod(lambda cls, server, user="": None)

LOCAL = "localhost"          # Mininet's name for the server it runs on
TUNNEL_TIMEOUT = 20.0        # s for ssh to log in and open both taps
PARALLEL_SHELLS = 8          # remote shells started at once


class ClusterError(RuntimeError):
    pass


def placement(p: Placement, plan: NetworkPlan) -> dict[str, str]:
    """Node or switch (plan names) -> server. Listed ones as listed; the radio switch on
    the first server (the controller reads its management port there); the others on the
    first server, or with `auto` by Mininet's SwitchBinPlacer: the networks' switches binned
    evenly over the servers, an AP's own bridge with the network it uplinks to, each host
    with the last non-radio switch it is linked to (SwitchBinPlacer's rule). An AP's host
    and its bridge share its name, and so a server."""
    where = {n: s for n, s in p.nodes.items() if n in plan.hosts or n in plan.switches}
    where["air"] = p.first
    if not p.auto:
        return {n: where.get(n, p.first) for n in [*plan.switches, *plan.hosts]}
    nets = [s for s, sp in plan.switches.items() if sp.role == "network" and s not in where]
    where.update(SwitchBinPlacer.bin(nets, list(p.servers)))
    linked: dict[str, str] = {}                 # node -> last non-radio switch it links to
    for lp in plan.links:
        for a, b in ((lp.a, lp.b), (lp.b, lp.a)):
            if b.is_switch and b.node != "air" and plan.switches.get(b.node, None) is not None \
                    and (not a.is_switch or plan.switches[b.node].role == "network"):
                linked[a.node] = b.node
    for s in plan.switches:                     # APs' bridges: with their network
        where.setdefault(s, where.get(linked.get(s), p.first))
    for h in plan.hosts:
        where.setdefault(h, where.get(linked.get(h), p.first))
    return where


class _OverSsh:
    """Mix-in before Mininet's RemoteMixin: the testbed's ssh configuration, root, no sudo."""

    def __init__(self, name, ssh_config: str | None = None, spawned=None, **kwargs):
        if ssh_config:
            self.sshbase = [*mn_cluster.RemoteMixin.sshbase, "-F", ssh_config]
        self.spawned = spawned          # told the PID of the shell's ssh as soon as it runs
        super().__init__(name, **kwargs)

    def _popen(self, cmd, sudo=True, tt=True, **params):
        if self.isRemote and self.sshcmd[:1] == ["sudo"]:
            self.sshcmd = self.sshcmd[4:]            # ['sudo', '-E', '-u', user] dropped
        # remote: no `sudo` before the command; local: RemoteMixin adds one when sudo=False
        proc = super()._popen(cmd, sudo=not self.isRemote, tt=tt, **params)
        if self.shell is None and self.isRemote and self.spawned:   # startShell's ssh
            self.spawned(proc.pid)
        return proc


class ClusterHost(_OverSsh, RemoteHost):
    pass


class ClusterSwitch(_OverSsh, RemoteOVSSwitch):
    pass


class ClusterLink(RemoteLink):
    """A link between nodes that may be on different servers (an SSH tap tunnel then)."""

    def __init__(self, node1, node2, cluster: "Cluster", **kwargs):
        self.cluster = cluster
        super().__init__(node1, node2, **kwargs)

    def makeTunnel(self, node1, node2, intfname1, intfname2, addr1=None, addr2=None):
        if node2.server == LOCAL:                    # ssh runs here, towards node2's server
            return self.makeTunnel(node2, node1, intfname2, intfname1, addr2, addr1)
        if node1.server != LOCAL:
            raise ClusterError(f"link {node1.name}-{node2.name} joins two servers other than "
                               "this machine; place one end on the first server")
        tunnel, taps = self.cluster.open_tunnel(node2.serverIP, f"{node1.name}-{node2.name}")
        for node, tap in zip((node1, node2), taps):
            # a switch's end stays where ssh made it (the root namespace): no session spent
            if node.inNamespace and not self.moveIntf(tap, node):
                raise ClusterError(f"could not move {tap} into {node.name}")
        for node, tap, intf, addr in ((node1, taps[0], intfname1, addr1),
                                      (node2, taps[1], intfname2, addr2)):
            out = node.cmd("ip link set", tap, "name", intf, *(["address", addr] if addr else []))
            if out.strip():
                raise ClusterError(f"renaming {tap} to {intf} on {node.name}: {out.strip()}")
        return tunnel


class Cluster:
    """The servers of one split testbed: their sshd (for loopback servers), the ssh
    configuration that reaches them, and Mininet node objects placed on them."""

    def __init__(self, journal: Journal, p: Placement, plan: NetworkPlan):
        for name, server in p.servers.items():
            if name != p.first and server.address != LOOPBACK:
                raise ClusterError(
                    f"placement.servers.{name}: only 'address: loopback' servers (this machine "
                    "over SSH) can be deployed for now; on other machines the testbed's own "
                    "steps after Mininet's (addresses, daemons, agents, teardown) would have to "
                    "go through that server's SSH (README 'Across several servers')")
            if server.address == LOOPBACK and server.user != getpass.getuser():
                raise ClusterError(f"placement.servers.{name}: a loopback server logs in as "
                                   f"the user mpa-testbed runs as ({getpass.getuser()}), not "
                                   f"'{server.user}'")
        self.journal, self.p = journal, p
        self.where = placement(p, plan)
        for lp in plan.links:
            ends = {self.where[lp.a.node], self.where[lp.b.node]}
            if len(ends) == 2 and p.first not in ends:
                raise ClusterError(
                    f"{lp.source or 'a link'} ({lp.a.node} - {lp.b.node}) joins servers "
                    f"{' and '.join(sorted(ends))}: a tunnel starts on the first server "
                    f"('{p.first}'); place one end there")
        self.ssh_dir = journal.dir / "ssh"
        self.config = self.ssh_dir / "ssh_config"
        self.alias = {s: f"{journal.prefix}-{s}" for s in p.servers if s != p.first}
        self.sshd: dict[str, object] = {}
        self.ready: dict[str, list] = {}        # alias -> tunnels opened ahead of their links
        self.lock = threading.Lock()            # journal writes from the shells' threads
        self.log_dir = Path(journal.run_dir, "logs")

    def start(self, progress=lambda s: None) -> None:
        """Start an sshd for every loopback server and write the ssh configuration."""
        from ..deploy.sshd import start_server_sshd
        from ..deploy.sshkeys import SshKeys
        keys = SshKeys.ensure(self.ssh_dir, self.journal.name)
        blocks = []
        for server, alias in self.alias.items():
            progress(f"server '{server}': this machine over SSH (a private sshd)")
            sshd = self.sshd[server] = start_server_sshd(self.journal, server)
            blocks.append("\n".join([
                f"Host {alias}", f"  HostName {sshd.address}", f"  Port {sshd.port}",
                f"  User {self.p.servers[server].user}", f"  IdentityFile {keys.client_key}",
                "  IdentitiesOnly yes", f"  UserKnownHostsFile {keys.known_hosts}",
                "  StrictHostKeyChecking yes", "  BatchMode yes", "  ConnectTimeout 10",
                "  ServerAliveInterval 5", "  LogLevel ERROR",
                f"  ControlPath {self.ssh_dir / f'cm-{server}'}", "  ControlMaster no", ""]))
        self.config.write_text("\n".join(blocks))
        for server in self.alias:
            self._master(server)
        self.journal.servers = {s: {"alias": self.alias.get(s), **(
            {"sshd": f"{self.sshd[s].address}:{self.sshd[s].port}"} if s in self.sshd else {})}
            for s in self.p.servers}
        self.journal.save()

    def _master(self, server: str) -> None:
        """One SSH connection to `server` that the shells and commands for its nodes share
        (OpenSSH's connection multiplexing: a login each was ~0.3 s of a remote node's
        bring-up). Journaled; its sessions end with it."""
        sock = self.ssh_dir / f"cm-{server}"
        log = self.log_dir / f"server-{server}" / "ssh-master.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            proc = subprocess.Popen(["ssh", "-F", str(self.config), "-M", "-N", "-o",
                                     "ControlPersist=no", self.alias[server]],
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                    start_new_session=True)
        self.journal.started(proc.pid, f"ssh connection to server {server}")
        deadline = time.monotonic() + TUNNEL_TIMEOUT
        while not sock.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise ClusterError(f"no SSH connection to server '{server}' (exit "
                                   f"{proc.poll()}): {log.read_text(errors='replace')[-300:]}")
            time.sleep(0.01)

    def _server_args(self, node: str) -> dict:
        server = self.where[node]
        if server == self.p.first:
            return {"server": LOCAL, "serverIP": "127.0.0.1", "user": "root"}

        def spawned(pid: int) -> None:
            with self.lock:
                self.journal.started(pid, f"ssh to {node}'s server", node)
        return {"server": server, "serverIP": self.alias[server], "user": "root",
                "ssh_config": str(self.config), "spawned": spawned}

    def make(self, names: list[str], make) -> dict:
        """`make(name)` for each name: those on this machine one after the other, those on
        other servers PARALLEL_SHELLS at a time (each waits for its shell's prompt over
        SSH; Mininet makes them one after the other)."""
        from concurrent.futures import ThreadPoolExecutor
        out = {n: make(n) for n in names if self.where[n] == self.p.first}
        remote = [n for n in names if self.where[n] != self.p.first]
        with ThreadPoolExecutor(max_workers=PARALLEL_SHELLS) as pool:
            for n, obj in zip(remote, pool.map(make, remote)):
                out[n] = obj
        return {n: out[n] for n in names}

    def host(self, name: str):
        return ClusterHost(name, **self._server_args(name))

    def switch(self, name: str, bridge: str, **kwargs):
        return ClusterSwitch(bridge, **self._server_args(name), **kwargs)

    def link(self, node1, node2, **kwargs):
        return ClusterLink(node1, node2, cluster=self, **kwargs)

    def on(self, server: str, argv: list[str]) -> list[str]:
        """`argv` to run on `server` (through ssh unless it is this machine); each word
        quoted for the remote shell."""
        if server == self.p.first:
            return list(argv)
        return ["ssh", "-F", str(self.config), "-n", self.alias[server], shlex.join(argv)]

    def open_tunnels(self, plan: NetworkPlan) -> None:
        """Open the tunnels of every link between servers at once (a login each, ~0.3 s
        here), before Mininet makes the links one after the other and takes them in order."""
        pending = []
        for lp in plan.links:
            a, b = self.where[lp.a.node], self.where[lp.b.node]
            if a != b:
                other = b if a == self.p.first else a
                pending.append(self._spawn(self.alias[other], f"{lp.a.node}-{lp.b.node}"))
        for t in self._wait(pending):
            self.ready.setdefault(t[3], []).append(t[:2])

    def open_tunnel(self, alias: str, what: str) -> tuple[subprocess.Popen, tuple[str, str]]:
        """An SSH Ethernet tunnel to the server `alias`: (the ssh process, (local tap,
        remote tap)); one opened by `open_tunnels` if any is left."""
        if self.ready.get(alias):
            return self.ready[alias].pop(0)
        return self._wait([self._spawn(alias, what)])[0][:2]

    def _spawn(self, alias: str, what: str) -> tuple:
        """Start ssh for one tunnel: its taps are journaled before ssh creates them, the
        process after; (process, taps, log, alias, what)."""
        while True:
            n1, n2 = (random.randrange(10**6, 2**31 - 2) for _ in range(2))
            taps = (f"tap{n1}", f"tap{n2}")
            if not any(Path(f"/sys/class/net/{t}").exists() for t in taps):
                break
        for tap in taps:
            self.journal.will_create_link(tap)
        log_path = self.log_dir / f"tunnel-{n1}.log"
        with open(log_path, "ab") as log:
            log.write(f"{what}: tap{n1} <-> {alias}:tap{n2}\n".encode())
            proc = subprocess.Popen(
                ["ssh", "-F", str(self.config), "-n", "-o", "ControlPath=none",
                 "-o", "Tunnel=ethernet",
                 "-o", "ExitOnForwardFailure=yes", "-w", f"{n1}:{n2}", alias, "echo @"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        self.journal.started(proc.pid, f"ssh tunnel {what}")
        return proc, taps, log_path, alias, what

    @staticmethod
    def _wait(tunnels: list[tuple]) -> list[tuple]:
        """Until each tunnel's remote command has answered (both taps exist then)."""
        deadline = time.monotonic() + TUNNEL_TIMEOUT
        waiting = list(tunnels)
        while waiting:
            for t in list(waiting):
                proc, _, log_path, _, what = t
                out = log_path.read_bytes().split(b"\n", 1)[1]
                if b"@" in out:
                    waiting.remove(t)
                elif proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    raise ClusterError(f"SSH tunnel for {what} did not come up (exit "
                                       f"{proc.poll()}): "
                                       f"{out.decode(errors='replace').strip()[:300]}")
            time.sleep(0.01)
        return tunnels
