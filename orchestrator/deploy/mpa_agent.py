"""Pushing and running the mpa-agent on a node through any transport.

Who does what: `build_bundle` makes a zipapp of the `orchestrator` package (the agent
needs only the standard library, so `python3 mpa-agent.pyz` runs on any host with Python
>= 3.11); `start_agent` pushes it into a directory on the node, starts the agent in the
background, and waits for its `hello`; `AgentProcess` commands it (`client`), fetches its
events and log back into the run directory, and stops it by PID.

Node-side layout under `remote_dir`:

    mpa-agent.pyz   control.sock   events/<node>.jsonl   logs/mpa-agent.log

With a `LocalTransport` the runner talks to control.sock directly (a Unix socket is
reachable from the root namespace); with an `SshTransport` each call goes through an
exec channel running `python3 -m orchestrator.agents.control relay control.sock`.
"""
from __future__ import annotations

import json
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from ..agents.control import AgentClient, AgentError, check_socket_path
from .transport import Transport

PACKAGE = Path(__file__).resolve().parents[1]          # .../orchestrator
BUNDLE = "mpa-agent.pyz"
_MAIN = "from orchestrator.agents.agent import main\nraise SystemExit(main())\n"


def build_bundle(dest: str | Path) -> Path:
    """Write the agent zipapp to `dest` (deterministic: same sources, same bytes)."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(PACKAGE.rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            arc = "orchestrator/" + path.relative_to(PACKAGE).as_posix()
            zf.writestr(zipfile.ZipInfo(arc, (2020, 1, 1, 0, 0, 0)), path.read_bytes())
        zf.writestr(zipfile.ZipInfo("__main__.py", (2020, 1, 1, 0, 0, 0)), _MAIN)
    tmp.replace(dest)
    return dest


@dataclass
class AgentProcess:
    """A running agent on a node, as seen from the runner."""
    node: str
    role: str
    transport: Transport
    pid: int
    client: AgentClient
    events_path: str                 # node-side paths
    log_path: str
    hello: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)

    def call(self, cmd: str, /, timeout: float = 10.0, **args):
        return self.client.request(cmd, args, timeout)

    def fetch(self, run_dir: str | Path) -> dict[str, Path]:
        """Copy the agent's event log and output into the run directory (idempotent):
        `<run>/events/<node>.agent.jsonl`, `<run>/logs/<node>/mpa-agent.log`. Nothing to do
        for files that already are there (a local agent writes its events in place)."""
        out = {"events": Path(run_dir, "events", f"{self.node}.agent.jsonl"),
               "log": Path(run_dir, "logs", self.node, "mpa-agent.log")}
        if Path(self.events_path).parent == Path(run_dir, "events") and self.transport.local:
            out["events"] = Path(self.events_path)
        elif self.transport.exists(self.events_path):
            self.transport.get(self.events_path, out["events"])
        if self.transport.exists(self.log_path):
            self.transport.get(self.log_path, out["log"])
        return out

    def stop(self, grace: float = 3.0) -> bool:
        """SIGTERM (the agent writes agent_stopped and exits), SIGKILL after `grace`."""
        self.client.close()
        return self.transport.stop(self.pid, grace)


def start_agent(transport: Transport, node: str, role: str, remote_dir: str,
                python: str = "python3", config: dict | None = None,
                events: str | None = None, control: str | None = None,
                ready_timeout: float = 15.0) -> AgentProcess:
    """Push the agent bundle to `remote_dir` on the node, start it, wait for `hello`.

    `events` and `control` default to `remote_dir`/events/<node>.jsonl and
    `remote_dir`/control.sock; a local agent may write straight into the run directory.
    The caller journals the PID (`journal.started`) when the node is on this machine (an
    emulated host, also over SSH); a PID on another machine must not go into the journal,
    whose teardown kills local PIDs.
    """
    remote_dir = remote_dir.rstrip("/")
    sock = control or f"{remote_dir}/control.sock"
    events = events or f"{remote_dir}/events/{node}.jsonl"
    log = f"{remote_dir}/logs/mpa-agent.log"
    remote_bundle = f"{remote_dir}/{BUNDLE}"
    check_socket_path(sock)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mpa-bundle-") as tmp:
        transport.put(build_bundle(Path(tmp) / BUNDLE), remote_bundle, mode=0o644)
    t_pushed = time.perf_counter()
    argv = [python, remote_bundle, "--role", role, "--node", node, "--events", events,
            "--control", sock]
    if config:
        argv += ["--config", json.dumps(config)]
    pid = transport.spawn(argv, env={"PYTHONDONTWRITEBYTECODE": "1"}, cwd=remote_dir, log=log)
    t_spawned = time.perf_counter()
    client = agent_client(transport, sock, node, python, remote_bundle)
    proc = AgentProcess(node, role, transport, pid, client, events, log)
    try:
        proc.hello = client.wait_ready(ready_timeout, alive=lambda: transport.alive(pid))
    except AgentError as exc:
        output = transport.read_text(log).strip()
        transport.stop(pid, 1.0)
        raise AgentError(f"{exc}; agent output on {node} ({log}):\n{output[-1500:]}",
                         exc.kind, "hello") from None
    t_ready = time.perf_counter()
    proc.timings = {"push_s": t_pushed - t0, "spawn_s": t_spawned - t_pushed,
                    "hello_s": t_ready - t_spawned, "total_s": t_ready - t0}
    return proc


def agent_client(transport: Transport, sock: str, node: str, python: str = "python3",
                 bundle: str | None = None) -> AgentClient:
    """A control client for the agent at `sock` on the node behind `transport`."""
    if transport.local:
        return AgentClient(sock, name=node)
    relay = [python, "-m", "orchestrator.agents.control", "relay", sock]
    env = {"PYTHONPATH": bundle, "PYTHONDONTWRITEBYTECODE": "1"} if bundle else None
    # one relay channel for all calls: opening one costs an exec (the user's shell start-up)
    return AgentClient(sock, connect=lambda: transport.open_pipe(relay, env), name=node,
                       persistent=True)
