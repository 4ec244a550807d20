"""Nodes on machines reached over SSH (`deploy --inventory`): where their files go, how the
runner reaches them, what comes back, and what teardown removes there.

A mixed testbed: the nodes an inventory lists (deploy/inventory.py) run their images on
machines reached over SSH; every other node stays emulated. The emulated network is still
built for every node of the topology: in a rehearsal (`rehearsal: true`) a listed node's
emulated host *is* the machine (it runs an sshd of its own); with real machines, joining
them to the emulated network's links is not done here (docs/real-hardware.md).

Who does what:
- `attach(journal, inventory)` (deploy, once the emulated network is up) checks that the
  node-side root is free, journals each node's SSH target and root *before* anything is
  created there, starts the rehearsal's sshd stand-ins, makes the root's directories and
  pushes the agent bundle; returns a `Site` per node.
- `Site.translate(ctx)` turns the paths of an image's template context (the orchestrator's
  state and run directories) into the node's paths; the lifecycle renders the image locally,
  `Site.push` copies it and every file it references (certificates) there, and the
  daemon's check, start, readiness and load go through `Site.transport` (SshTransport).
- `agent_client(journal, node)`: the runner's client of a node's agent (its Unix socket, or
  one relay channel over SSH); `has_agent`.
- `fetch(journal)` copies the nodes' run directories (events, daemon logs, media logs) into
  the run directory, where the runner reads events; `teardown(journal)` stops every process
  started there by PID (checked against its start time, over SSH), fetches, and removes
  the node-side root, nothing else (network/cleanup.py calls it first).

Node-side layout, root = <workdir>/<testbed>/<node> (two nodes may share a machine):
    state/          mirrors <state dir>/<testbed>/: nodes/<node>/<image>/, pki/ (the files used)
    run/            mirrors the run directory: events/<node>.jsonl, logs/<node>/, media/
    mpa-agent.pyz   the agent bundle (PYTHONPATH of every image started there)

Nothing of the inventory reaches a shell string: commands are argument vectors, which
SshTransport shell-quotes for the remote shell (its `command_line`).
"""
from __future__ import annotations

import re
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..agents.control import AgentClient
from ..network.state import Journal, stat_start_time
from .inventory import Inventory, Target
from .mpa_agent import BUNDLE, agent_client as transport_agent_client, build_bundle
from .transport import SshTransport, Transport, TransportError

AGENT_SOCKET = ("mpa-agent", "control.sock")       # <image dir>/control.sock (node_images/mpa-agent)
_TRANSPORTS: dict[tuple[str, str], SshTransport] = {}
_CLIENTS: dict[tuple[str, str], AgentClient] = {}
_LOCK = threading.Lock()
PARALLEL_NODES = 8            # machines reached, and torn down, at once


class RemoteError(RuntimeError):
    pass


@dataclass
class Site:
    """One node on a machine: its target, its node-side root and how local paths map there."""
    node: str
    root: str                       # <workdir>/<testbed>/<node> on the machine
    python: str
    transport: SshTransport
    roots: tuple[tuple[str, str], ...]   # (local directory, node-side directory)

    @property
    def bundle(self) -> str:
        return f"{self.root}/{BUNDLE}"

    def path(self, local: str | Path) -> str:
        """The node-side path of a local path under the state or run directory."""
        return _root_pattern(self.roots).sub(lambda m: dict(self.roots)[m.group(1)], str(local))

    def local(self, remote: str) -> str:
        """The inverse of `path` (an image's `copy:` source is read locally)."""
        back = tuple((r, l) for l, r in self.roots)
        return _root_pattern(back).sub(lambda m: dict(back)[m.group(1)], remote)

    def translate(self, ctx):
        """A template context with every local path replaced by the node's (recursively;
        also inside strings such as the agent's JSON configuration), and the node's Python."""
        if isinstance(ctx, dict):
            out = {k: self.translate(v) for k, v in ctx.items()}
            if "python" in out:
                out["python"] = self.python
            return out
        if isinstance(ctx, list):
            return [self.translate(v) for v in ctx]
        return self.path(ctx) if isinstance(ctx, str) else ctx

    def referenced(self, ctx, exclude: Path) -> list[Path]:
        """Local files a context names (certificates, keys) outside `exclude` (the image's
        own directory, pushed whole): they must be on the node too."""
        found: set[Path] = set()

        def walk(v):
            if isinstance(v, dict):
                for x in v.values():
                    walk(x)
            elif isinstance(v, list):
                for x in v:
                    walk(x)
            elif isinstance(v, str):
                for local, _ in self.roots:
                    for m in re.finditer(re.escape(local) + r"/[^\s\"',;]+", v):
                        p = Path(m.group(0))
                        if p.is_file() and exclude not in p.parents:
                            found.add(p)
        walk(ctx)
        return sorted(found)

    def push(self, local_dir: Path, extra: list[Path]) -> None:
        """Copy a rendered image directory (files and empty directories, modes kept) and
        the files it references to their node-side paths."""
        for d in [local_dir, *(d for d in sorted(local_dir.rglob("*")) if d.is_dir())]:
            self.transport.makedirs(self.path(d))
        for f in [*(f for f in sorted(local_dir.rglob("*")) if f.is_file()), *extra]:
            self.transport.put(f, self.path(f), mode=f.stat().st_mode & 0o777)

    def start_time(self, pid: int) -> int | None:
        """The process's start time on the machine (/proc/<pid>/stat field 22), to tell it
        from a later process with the same PID."""
        return stat_start_time(self.transport.read_text(f"/proc/{int(pid)}/stat"))


def _root_pattern(roots) -> re.Pattern:
    """Any of the roots' directories, as a whole path component prefix."""
    alts = "|".join(re.escape(a) for a, _ in sorted(roots, key=lambda r: -len(r[0])))
    return re.compile(rf"({alts})(?=/|$|[\s\"',;])")


# -- bring-up ----------------------------------------------------------------------------------
def node_root(target: Target, testbed: str) -> str:
    """<workdir>/<testbed>/<node>: per node, as two nodes may share a machine."""
    return f"{target.workdir.rstrip('/')}/{testbed}/{target.node}"


def attach(journal: Journal, inventory: Inventory, progress=lambda s: None) -> dict[str, Site]:
    """Reach every node of the inventory (after starting the rehearsal's sshd stand-ins),
    journal it, make its node-side root and push the agent bundle; returns the Sites."""
    from .sshd import start_sshd
    known_hosts = None
    if inventory.rehearsal:
        progress(f"rehearsal: starting an sshd in the emulated hosts of "
                 f"{', '.join(inventory.nodes)}")
        for node in inventory.nodes:
            t = inventory.target(node)
            sshd = start_sshd(journal, node, port=t.port, address=t.host, user=t.user,
                              authorize=public_key_line(t.key))
            known_hosts = str(sshd.keys.known_hosts)
    # the nodes are independent: reached, journaled and prepared side by side
    from concurrent.futures import ThreadPoolExecutor
    lock = threading.Lock()
    with tempfile.TemporaryDirectory(prefix="mpa-bundle-") as tmp, \
            ThreadPoolExecutor(max_workers=PARALLEL_NODES) as pool:
        bundle = build_bundle(Path(tmp) / BUNDLE)
        return dict(zip(inventory.nodes, pool.map(
            lambda n: _attach_node(journal, inventory, n, known_hosts, bundle, lock, progress),
            inventory.nodes)))


def _attach_node(journal: Journal, inventory: Inventory, node: str, known_hosts: str | None,
                 bundle: Path, lock: threading.Lock, progress) -> Site:
    t = inventory.target(node)
    netns = journal.nodes[t.via]["netns"] if t.via else None
    transport = SshTransport(t.host, t.port, t.user, t.key, known_hosts or t.known_hosts,
                             netns=netns)
    root = node_root(t, journal.name)
    site = Site(node, root, t.python, transport,
                ((str(journal.dir), f"{root}/state"), (str(journal.run_dir), f"{root}/run")))
    sock = f"{root}/state/nodes/{node}/{'/'.join(AGENT_SOCKET)}"
    if len(sock.encode()) > 107:
        raise RemoteError(f"node '{node}': the agent's control socket {sock} would be "
                          f"{len(sock.encode())} bytes, more than a Unix socket path "
                          "holds (107): give a shorter 'workdir' in the inventory")
    if transport.exists(root):
        transport.close()
        raise RemoteError(f"node '{node}' ({transport}): {root} already exists there (left "
                          f"by an earlier testbed named '{journal.name}'?); remove it or "
                          "deploy under another name")
    with lock:
        journal.remote[node] = {"host": t.host, "port": t.port, "user": t.user,
                                "key": t.key, "known_hosts": transport.known_hosts,
                                "via": t.via, "netns": netns, "root": root,
                                "python": t.python}
        journal.save()                    # before anything is created there
    with _LOCK:
        _TRANSPORTS[(journal.name, node)] = transport
    for d in ("state", "run/events", f"run/logs/{node}", "run/media"):
        transport.makedirs(f"{root}/{d}")
    transport.put(bundle, site.bundle, mode=0o644)
    progress(f"{node}: reached over SSH ({transport}), files under {root}")
    return site




def public_key_line(key_file: str) -> str:
    """'ssh-ed25519 AAAA...' of an OpenSSH private key (what a rehearsal's sshd accepts)."""
    from cryptography.hazmat.primitives import serialization
    try:
        key = serialization.load_ssh_private_key(Path(key_file).read_bytes(), None)
    except (OSError, ValueError) as exc:
        raise RemoteError(f"cannot read the private key {key_file}: {exc}") from None
    return key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                         serialization.PublicFormat.OpenSSH).decode()


# -- the runner's side -----------------------------------------------------------------------
def transport(journal: Journal, node: str) -> SshTransport:
    """The (cached) SSH transport to a node of the journal's inventory."""
    key = (journal.name, node)
    with _LOCK:
        if key not in _TRANSPORTS:
            r = journal.remote[node]
            _TRANSPORTS[key] = SshTransport(r["host"], r["port"], r["user"], r["key"],
                                            r["known_hosts"], netns=r["netns"])
        return _TRANSPORTS[key]


def agent_socket(journal: Journal, node: str) -> str:
    local = Path(journal.dir, "nodes", node, *AGENT_SOCKET)
    r = journal.remote.get(node)
    return f"{r['root']}/state/nodes/{node}/{'/'.join(AGENT_SOCKET)}" if r else str(local)


def has_agent(journal: Journal, node: str) -> bool:
    if node in journal.remote:
        return "mpa-agent" in journal.nodes[node].get("images", {})
    return Path(agent_socket(journal, node)).exists()


def agent_client(journal: Journal, node: str) -> AgentClient:
    """A client of the node's agent: its Unix socket, or (a node of the inventory) one
    persistent relay channel over SSH, kept for the testbed's life."""
    if node not in journal.remote:
        return AgentClient(agent_socket(journal, node))
    key = (journal.name, node)
    with _LOCK:
        client = _CLIENTS.get(key)
    if client is None:
        r = journal.remote[node]
        client = transport_agent_client(transport(journal, node), agent_socket(journal, node),
                                        node, r["python"], f"{r['root']}/{BUNDLE}")
        with _LOCK:
            client = _CLIENTS.setdefault(key, client)
    return client


def fetch(journal: Journal) -> list[Path]:
    """Copy every file of the nodes' run directories into the run directory (events,
    daemon logs, media logs); returns the local paths written."""
    return [p for node in journal.remote for p in fetch_node(journal, node)]


def fetch_node(journal: Journal, node: str) -> list[Path]:
    t, base = transport(journal, node), f"{journal.remote[node]['root']}/run"
    out = []
    for rel in t.files(base):
        dest = Path(journal.run_dir, rel)
        t.get(f"{base}/{rel}", dest)
        out.append(dest)
    return out


# -- teardown --------------------------------------------------------------------------------
def teardown(journal: Journal) -> list[str]:
    """Stop what the testbed started on each node (its stop signal, SIGKILL after its grace
    time), fetch the node's run directory, remove its node-side root. Best effort per node:
    an unreachable machine is reported, not fatal (the rest of the teardown goes on)."""
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=PARALLEL_NODES) as pool:
        per_node = list(pool.map(lambda n: _teardown_node(journal, n), list(journal.remote)))
    return [line for lines in per_node for line in lines]


def _teardown_node(journal: Journal, node: str) -> list[str]:
    removed: list[str] = []
    r = journal.remote[node]
    key = (journal.name, node)
    try:
        t = transport(journal, node)
        with _LOCK:
            client = _CLIENTS.pop(key, None)
        if client is not None:
            client.close()
        removed += _stop(journal, node, t)
        try:                              # after the stop: the agents' last events
            fetched = fetch_node(journal, node)
            removed += [f"fetched {len(fetched)} files from {node}"] if fetched else []
        except (OSError, TransportError) as exc:
            removed.append(f"could not fetch from {node}: {exc}")
        if t.exists(r["root"]):
            t.run(["rm", "-rf", "--", r["root"]], timeout=60)
            removed.append(f"{r['root']} on {node} ({t})")
        # <workdir>/<testbed>, once no other node of the testbed has files there
        t.rmdir(str(Path(r["root"]).parent))
    except (OSError, TransportError, RemoteError) as exc:
        removed.append(f"could not tear down {node} over SSH: {exc}")
    finally:
        with _LOCK:
            tr = _TRANSPORTS.pop(key, None)
        if tr is not None:
            tr.close()
    return removed




def _stop(journal: Journal, node: str, t: Transport) -> list[str]:
    """Stop the node's images started over SSH, by PID and start time: one `kill` per
    signal, liveness read over SFTP, SIGKILL after the longest grace time."""
    procs = [(name, rec) for name, rec in journal.nodes.get(node, {}).get("images", {}).items()
             if rec.get("remote") and rec["start"] is not None
             and stat_start_time(t.read_text(f"/proc/{int(rec['pid'])}/stat")) == rec["start"]]
    for sig in sorted({rec["stop_signal"] for _, rec in procs}):
        t.run(["kill", f"-{sig}", *(str(int(r["pid"])) for _, r in procs
                                     if r["stop_signal"] == sig)], timeout=30)
    deadline = time.monotonic() + max((r["stop_grace"] for _, r in procs), default=0)
    left = list(procs)
    while left and time.monotonic() < deadline:
        time.sleep(0.02)
        left = [(n, r) for n, r in left if t.alive(r["pid"])]
    if left:
        t.run(["kill", "-KILL", *(str(int(r["pid"])) for _, r in left)], timeout=30)
    return [f"{name} on {node} (pid {rec['pid']} over SSH)" for name, rec in procs]
