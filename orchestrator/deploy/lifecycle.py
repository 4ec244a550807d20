"""Lifecycle of node images on a built testbed: select, render, check, start, wait, stop.

Stages are separate, as in IPMininet: (1) select each node's images from its roles
(`ROLE_IMAGES`), (2) render every image from the topology model into
`<journal dir>/nodes/<node>/<image>/` and run the daemon's own config check, (3) start every
daemon in its node's network namespace (its PID is journaled before anything waits on it),
(4) wait until each is ready, (5) run its `load` step. Daemon output goes to
`<run>/logs/<node>/<daemon>.log`. Any failure raises DeployError naming the node, the
image and the daemon's own words; `deploy` then tears everything down by PID.
"""
from __future__ import annotations

import os
import re
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..model.plan import NetworkPlan
from ..model.topology import Topology
from ..network.build import DeployError
from ..network.state import Journal, proc_start_time
from .context import CONTEXTS, Facts, pki_names
from .images import Image, ImageError, find_image, image_path, load_image, render_argv, render_image
from .pki import Pki
from .secrets import Secrets
from .transport import LocalTransport

Progress = Callable[[str], None]

# role (a node's kind or a co-located role) -> the images a node with that role runs.
# The one table to extend; an image in OPTIONAL_IMAGES is used only where it exists.
ROLE_IMAGES: dict[str, tuple[str, ...]] = {
    "aaa_server": ("aaa-freeradius",),
    "configuration_agent": ("dhcp-dnsmasq",),
    "access_router": ("ikev2-strongswan", "mpa-agent"),
    "authentication_agent": ("mpa-agent",),
    "access_point": ("mpa-agent",),
    "mobile_node": ("ikev2-strongswan-mn", "mpa-agent"),
    "correspondent_node": ("mpa-agent",),
    "information_server": ("mpa-agent",),
    "packet_data_gateway": ("mpa-agent",),
    "home_agent": ("mpa-agent",),
}
OPTIONAL_IMAGES = {"mpa-agent"}      # written in parallel (issue 3): node_images/mpa-agent
POLL = 0.01


def images_for(topo: Topology, node: str, path: list[Path]) -> list[str]:
    """The images of a node, in role order, each once."""
    out = [img for role in sorted(topo.roles(node)) for img in ROLE_IMAGES.get(role, ())
           if img not in OPTIONAL_IMAGES or find_image(img, path)]
    return list(dict.fromkeys(out))


@dataclass
class Unit:
    """One image on one node, while it is being brought up."""
    node: str
    image: Image
    dest: Path
    log: Path
    host: LocalTransport
    ctx: dict = field(default_factory=dict)
    env: dict = field(default_factory=dict)
    pid: int | None = None
    started: float = 0.0
    ready_s: float | None = None

    def fail(self, what: str, output: str = "", log: Path | None = None) -> DeployError:
        text = f"node '{self.node}', image '{self.image.name}': {what}"
        if output.strip():
            text += "\n" + daemon_says(output)
        return DeployError(text + f"\n(config in {self.dest}; full output in {log or self.log})")


def deploy_images(topo: Topology, plan: NetworkPlan, journal: Journal, progress: Progress,
                  extra_path: list[str | Path] | None = None) -> dict[str, dict[str, float]]:
    """Bring up every node's images; returns {node: {image: seconds from start to ready}}."""
    path = image_path(extra_path)
    wanted = {n: images_for(topo, n, path) for n in plan.hosts}
    cache: dict[str, Image] = {}
    pki = Pki.ensure(journal.dir / "pki", f"{topo.name} testbed CA", *pki_names(topo))
    facts = Facts(topo, plan, pki, Secrets(journal.dir / "secrets.json"),
                  {n: i["netns"] for n, i in journal.nodes.items()}, Path(journal.run_dir))
    units: list[Unit] = []
    for node, names in wanted.items():
        for name in names:
            try:
                image = cache.get(name) or cache.setdefault(name, load_image(name, path))
            except ImageError as exc:
                raise DeployError(f"node '{node}', image '{name}': {exc}") from None
            units.append(_prepare(node, image, facts, journal))
    if not units:
        return {}
    progress(f"images: rendered and checked {len(units)} "
             f"({', '.join(sorted({u.image.name for u in units}))})")
    # the network's daemons first, then the mobile nodes' (an agent and a charon each): with
    # 100 MNs, 200 daemons starting at once on two cores kept a DHCP server from binding its
    # port within its readiness timeout (issue 17)
    waves = [[u for u in units if journal.nodes[u.node]["kind"] != "mobile_node"],
             [u for u in units if journal.nodes[u.node]["kind"] == "mobile_node"]]
    for wave in (w for w in waves if w):
        for u in wave:
            _start(u, journal)
        progress(f"images: started {len(wave)} daemons"
                 f"{' of mobile nodes' if wave is waves[1] else ''}; waiting until they are ready")
        _wait_ready(wave)
    for u in units:
        _load(u)
        journal.nodes[u.node]["images"][u.image.name]["ready_s"] = u.ready_s
    journal.save()
    slowest = max(units, key=lambda u: u.ready_s or 0)
    progress(f"images: all ready (slowest {slowest.node}/{slowest.image.name} "
             f"{slowest.ready_s * 1000:.0f} ms)")
    return {n: {u.image.name: u.ready_s for u in units if u.node == n}
            for n in dict.fromkeys(u.node for u in units)}


def _prepare(node: str, image: Image, facts: Facts, journal: Journal) -> Unit:
    dest = journal.dir / "nodes" / node / image.name
    log = Path(journal.run_dir, "logs", node, f"{image.spec.daemon}.log")
    unit = Unit(node, image, dest, log, LocalTransport(journal.nodes[node]["netns"]))
    try:
        build = CONTEXTS[image.spec.context]
    except KeyError:
        raise unit.fail(f"{image.file}: unknown context '{image.spec.context}'; known: "
                        + ", ".join(CONTEXTS)) from None
    try:
        unit.ctx = build(facts, node, dest)
        render_image(image, unit.ctx, dest)
        unit.env = {k: render_argv([v], unit.ctx, str(image.file))[0]
                    for k, v in image.spec.env.items()}
        check = render_argv(image.spec.check, unit.ctx, str(image.file)) if image.spec.check else None
    except (ImageError, ValueError) as exc:           # ValueError: a context cannot be made
        raise unit.fail(str(exc)) from None
    if check:
        r = unit.host.run(check, unit.env, timeout=60)
        log.parent.mkdir(parents=True, exist_ok=True)
        check_log = log.with_suffix(".check.log")
        check_log.write_text(f"$ {' '.join(check)}\n{r.stdout}")
        if r.returncode != 0:
            raise unit.fail(f"config check `{' '.join(check)}` failed (exit {r.returncode}):",
                            r.stdout, check_log)
    return unit


def _start(u: Unit, journal: Journal) -> None:
    argv = render_argv(u.image.spec.start, u.ctx, str(u.image.file))
    u.started = time.perf_counter()
    u.pid = u.host.spawn(argv, u.env, u.log)
    journal.started(u.pid, u.image.name, u.node)          # before anything waits on it
    stop = u.image.spec.stop
    journal.nodes[u.node].setdefault("images", {})[u.image.name] = {
        "pid": u.pid, "start": proc_start_time(u.pid), "dir": str(u.dest), "log": str(u.log),
        "daemon": u.image.spec.daemon, "stop_signal": stop.signal, "stop_grace": stop.grace,
        "ready_s": None}
    journal.save()


def _wait_ready(units: list[Unit]) -> None:
    pending = list(units)
    while pending:
        now = time.perf_counter()
        for u in list(pending):
            code = u.host.exit_code(u.pid)
            if code is not None:
                raise u.fail(f"exited with code {code} before it was ready; its output:",
                             u.host.read_text(u.log))
            if _is_ready(u):
                u.ready_s = time.perf_counter() - u.started
                pending.remove(u)
            elif now - u.started > u.image.spec.ready.timeout:
                raise u.fail(f"not ready after {u.image.spec.ready.timeout:g}s "
                             f"(waiting for {_conditions(u)}); its output:", u.host.read_text(u.log))
        time.sleep(POLL)


def _is_ready(u: Unit) -> bool:
    ready, where = u.image.spec.ready, str(u.image.file)
    if ready.file and not u.host.exists(render_argv([ready.file], u.ctx, where)[0]):
        return False
    if ready.log and not re.search(ready.log, u.host.read_text(u.log), re.M):
        return False
    if ready.port:
        proto, port = render_argv([ready.port], u.ctx, where)[0].split("/", 1)
        if not u.host.port_bound(proto, port):
            return False
    return True


def _conditions(u: Unit) -> str:
    r = u.image.spec.ready
    parts = [f"log /{r.log}/" if r.log else "", f"port {r.port}" if r.port else "",
             f"file {r.file}" if r.file else ""]
    return ", ".join(p for p in parts if p)


def _load(u: Unit) -> None:
    if not u.image.spec.load:
        return
    argv = render_argv(u.image.spec.load, u.ctx, str(u.image.file))
    r = u.host.run(argv, u.env, timeout=60)
    load_log = u.log.with_suffix(".load.log")
    load_log.write_text(f"$ {' '.join(argv)}\n{r.stdout}")
    if r.returncode != 0:
        raise u.fail(f"config load `{' '.join(argv)}` failed (exit {r.returncode}):", r.stdout,
                     load_log)


_COMPLAINT = re.compile(r"error|fail|bad |invalid|unknown|cannot|can't|unable|not found|"
                        r"missing|EOF|abort|denied|expected", re.I)


def daemon_says(output: str, lines: int = 12) -> str:
    """The daemon's own complaint: its lines that read like one (else its last lines)."""
    all_lines = [ln for ln in output.rstrip().splitlines() if ln.strip()]
    picked = [ln for ln in all_lines if _COMPLAINT.search(ln)] or all_lines
    return "\n".join("    " + ln for ln in picked[-lines:])


def stop_images(journal: Journal) -> list[str]:
    """Stop every image process of the testbed by its PID: its stop signal, then SIGKILL
    after its grace time. Returns what was stopped."""
    procs = []
    for node, info in journal.nodes.items():
        for name, rec in info.get("images", {}).items():
            if proc_start_time(rec["pid"]) == rec["start"] and _running(rec["pid"]):
                procs.append((node, name, rec))
                _kill(rec["pid"], getattr(signal, "SIG" + rec["stop_signal"]))
    deadline = time.monotonic() + max((r["stop_grace"] for _, _, r in procs), default=0)
    while time.monotonic() < deadline and any(_running(r["pid"]) for _, _, r in procs):
        time.sleep(0.02)
    for _, _, rec in procs:
        if _running(rec["pid"]):
            _kill(rec["pid"], signal.SIGKILL)
    return [f"{name} on {node} (pid {rec['pid']})" for node, name, rec in procs]


def _running(pid: int) -> bool:
    """Alive and not a zombie (a daemon we spawned stays a zombie until reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
