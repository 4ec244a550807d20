"""Lifecycle of node images on a built testbed: select, render, check, start, wait, stop.

Stages are separate, as in IPMininet: (1) select each node's images from its roles
(`ROLE_IMAGES`), (2) render every image from the topology model into
`<journal dir>/nodes/<node>/<image>/` and run the daemon's own config check, (3) start every
daemon in its node's network namespace (its PID is journaled before anything waits on it),
(4) wait until each is ready, (5) run its `load` step. Daemon output goes to
`<run>/logs/<node>/<daemon>.log`. Any failure raises DeployError naming the node, the
image and the daemon's own words; `deploy` then tears everything down by PID.

A node of an inventory (deploy/remote.py) goes through the same stages over SSH: its images
are rendered here with the node's paths, pushed with the files they reference, and checked,
started, waited for and loaded through its SshTransport; its PIDs are journaled as the
machine's (`remote`), never among the local processes teardown kills.
"""
from __future__ import annotations

import os
import re
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from ..model.plan import NetworkPlan
from ..model.topology import Topology
from ..network.build import DeployError
from ..network.state import Journal, proc_start_time
from .context import CONTEXTS, Facts, pki_names
from .images import Image, ImageError, find_image, image_path, load_image, render_argv, render_image
from .pki import Pki
from .secrets import Secrets
from .transport import LocalTransport, Transport

Progress = Callable[[str], None]
if TYPE_CHECKING:
    from .remote import Site

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
# images a node needs only for some experiment flows (model/experiment.py FLOWS): a testbed
# deployed for other flows does not start them (issue 17: 100 MNs' charons, ~30% of an MN's
# bring-up, for flows that never set up a tunnel). The MN's charon is the proactive handover
# tunnel's end (s7.4), used by the flows that pre-configure with the tunnel (`preconfigure`):
# sip-mpa, and switch-back and movement (issue 16), which pre-configure as sip-mpa does, and
# the C.5.2 MPA flows (issue 15: the tunnel into the cellular network, s7.4).
FLOW_IMAGES: dict[str, tuple[str, ...]] = {
    "ikev2-strongswan-mn": ("sip-mpa", "switch-back", "movement", "c52-mpa-both-up",
                            "c52-mpa-activate-at-handover")}
POLL = 0.01
PARALLEL_CHECKS = 4          # images rendered and checked at once


def images_for(topo: Topology, node: str, path: list[Path],
               flows: Iterable[str] | None = None) -> list[str]:
    """The images of a node, in role order, each once; with `flows` (the experiment flows
    the testbed is for), not those FLOW_IMAGES says none of them uses."""
    wanted = None if flows is None else set(flows)
    out = [img for role in sorted(topo.roles(node)) for img in ROLE_IMAGES.get(role, ())
           if (img not in OPTIONAL_IMAGES or find_image(img, path))
           and (wanted is None or img not in FLOW_IMAGES or wanted & set(FLOW_IMAGES[img]))]
    return list(dict.fromkeys(out))


@dataclass
class Unit:
    """One image on one node, while it is being brought up."""
    node: str
    image: Image
    dest: Path
    log: Path                  # node-side (a Site's node: on the machine)
    host: Transport
    site: "Site | None" = None     # a node on a machine reached over SSH (deploy/remote.py)
    pushed: list[Path] = field(default_factory=list)   # files outside dest it needs there
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
                  extra_path: list[str | Path] | None = None,
                  flows: Iterable[str] | None = None) -> dict[str, dict[str, float]]:
    """Bring up every node's images (with `flows`: those the flows need, FLOW_IMAGES);
    returns {node: {image: seconds from start to ready}}."""
    return start_images(prepare_images(topo, plan, journal, progress, extra_path, flows),
                        journal, progress)


@dataclass
class Prepared:
    """Every image of a testbed rendered and checked, not started yet."""
    units: list[Unit]
    skipped: dict[str, list[str]] = field(default_factory=dict)   # node -> images not run
    early: list[Unit] = field(default_factory=list)               # started by start_early


# Started early, while link emulation and the initial associations are set up: the daemons
# of nodes without a radio, and those of the mobile nodes when there are at most EARLY_MNS
# (an MN agent opens its radio only for a command). An AP's agent waits for the initial
# associations: up during them it would start EAP with MNs that are not listening. Many MNs
# start last, once the network's daemons are ready: 200 daemons at once on two cores kept a
# DHCP server from binding its port within its readiness timeout (issue 17).
EARLY_MNS = 8


def start_early(prepared: Prepared, journal: Journal, progress: Progress) -> None:
    """Start what may start before the initial associations (above); start_images waits
    for them with the others."""
    roles = {u.node: set(journal.nodes[u.node].get("roles") or ()) for u in prepared.units}
    mns = {n for n, r in roles.items() if "mobile_node" in r}
    prepared.early = [u for u in prepared.units if "access_point" not in roles[u.node]
                      and (u.node not in mns or len(mns) <= EARLY_MNS)]
    for u in prepared.early:
        _start(u, journal)
    if prepared.early:
        progress(f"images: started {len(prepared.early)} daemons before the associations")


def start_after_associations(prepared: Prepared, journal: Journal, progress: Progress) -> None:
    """Once the initial associations are made: the APs' agents (and every other daemon of
    a node that is not a mobile node), while the delayed links are still being verified;
    start_images waits for them with the others."""
    rest = [u for u in prepared.units if u not in prepared.early
            and journal.nodes[u.node]["kind"] != "mobile_node"]
    for u in rest:
        _start(u, journal)
    prepared.early += rest
    if rest:
        progress(f"images: started {len(rest)} daemons of access points")


def prepare_images(topo: Topology, plan: NetworkPlan, journal: Journal, progress: Progress,
                   extra_path: list[str | Path] | None = None,
                   flows: Iterable[str] | None = None,
                   bridges: dict[str, str] | None = None,
                   exclude: Iterable[str] = (), sites: "dict[str, Site] | None" = None) -> Prepared:
    """Stages 1-2: select, render and check every image (files and the daemons' own config
    checks in the nodes' namespaces). Needs the hosts, not the network's links or
    associations, so the deploy runs it while it starts the switches and verifies links
    (network/build.py); writes nothing to the journal but the images a node does not run.
    `bridges` (model switch -> OVS bridge; default the journal's): the APs' own switches,
    which their agents program (agents/port_driver.py), named before they exist.
    `exclude`: nodes not prepared (those of an inventory, before they are reached);
    `sites`: prepare only these nodes, on their machines (deploy/remote.py)."""
    path = image_path(extra_path)
    hosts = [n for n in plan.hosts if n not in set(exclude) and (sites is None or n in sites)]
    wanted = {n: images_for(topo, n, path, flows) for n in hosts}
    skipped = {n: [i for i in images_for(topo, n, path) if i not in wanted[n]] for n in hosts}
    skipped = {n: i for n, i in skipped.items() if i}
    if skipped:
        names = sorted({i for v in skipped.values() for i in v})
        progress(f"images: not started, no flow of this testbed ({', '.join(sorted(flows or []))}) "
                 f"uses them: {', '.join(names)} on {len(skipped)} node(s)")
    cache: dict[str, Image] = {}
    pki = Pki.ensure(journal.dir / "pki", f"{topo.name} testbed CA", *pki_names(topo))
    facts = Facts(topo, plan, pki, Secrets(journal.dir / "secrets.json"),
                  {n: i["netns"] for n, i in journal.nodes.items()}, Path(journal.run_dir),
                  bridges if bridges is not None
                  else {n: sw["bridge"] for n, sw in journal.switches.items()},
                  images=wanted)
    units: list[Unit] = []
    for node, names in wanted.items():
        for name in names:
            try:
                image = cache.get(name) or cache.setdefault(name, load_image(name, path))
            except ImageError as exc:
                raise DeployError(f"node '{node}', image '{name}': {exc}") from None
            log = Path(journal.run_dir, "logs", node, f"{image.spec.daemon}.log")
            site = (sites or {}).get(node)
            units.append(Unit(node, image, journal.dir / "nodes" / node / image.name,
                              Path(site.path(log)) if site else log,
                              site.transport if site else
                              LocalTransport(journal.nodes[node]["netns"]), site))
    checks = [(u, _render(u, facts)) for u in units]    # contexts: one at a time
    # the daemons' config checks are processes in the nodes (and a machine's images are
    # pushed to it first): PARALLEL_CHECKS at a time
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(PARALLEL_CHECKS) as pool:
        list(pool.map(lambda uc: _push_and_check(*uc),
                      [(u, c) for u, c in checks if c or u.site is not None]))
    if units:
        progress(f"images: rendered and checked {len(units)} "
                 f"({', '.join(sorted({u.image.name for u in units}))})")
    return Prepared(units, skipped)


def start_images(prepared: Prepared, journal: Journal,
                 progress: Progress) -> dict[str, dict[str, float]]:
    """Stages 3-5: start every prepared daemon, wait until it is ready, run its load step."""
    units = prepared.units
    for n, imgs in prepared.skipped.items():
        journal.nodes[n]["images_not_started"] = imgs
    if not units:
        return {}
    # the network's daemons first, then the mobile nodes' (an agent and a charon each): with
    # 100 MNs, 200 daemons starting at once on two cores kept a DHCP server from binding its
    # port within its readiness timeout (issue 17)
    waves = [[u for u in units if journal.nodes[u.node]["kind"] != "mobile_node"],
             [u for u in units if journal.nodes[u.node]["kind"] == "mobile_node"]]
    for wave in (w for w in waves if w):
        for u in wave:
            if u not in prepared.early and u.site is None:
                _start(u, journal)
        # daemons on machines: side by side (each start is an SSH command, which starts
        # the login shell there: 0.3-0.7 s each on this machine)
        _in_threads(_start, [u for u in wave if u not in prepared.early and u.site],
                    journal)
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


def _render(unit: Unit, facts: Facts) -> list[str] | None:
    """Render one image into its node's directory; the daemon's config check to run."""
    image = unit.image
    try:
        build = CONTEXTS[image.spec.context]
    except KeyError:
        raise unit.fail(f"{image.file}: unknown context '{image.spec.context}'; known: "
                        + ", ".join(CONTEXTS)) from None
    try:
        unit.ctx = build(facts, unit.node, unit.dest)
        site = unit.site
        if site is not None:            # the node's paths; what the templates name, pushed
            referenced = site.referenced(unit.ctx, unit.dest)
            unit.ctx = site.translate(unit.ctx)
        render_image(image, unit.ctx, unit.dest, source=site.local if site else str)
        unit.env = {k: render_argv([v], unit.ctx, str(image.file))[0]
                    for k, v in image.spec.env.items()}
        if site is not None:
            unit.pushed = referenced              # pushed with the image (_push_and_check)
            unit.env["PYTHONPATH"] = site.bundle      # the agent, without an install
        return render_argv(image.spec.check, unit.ctx, str(image.file)) if image.spec.check else None
    except (ImageError, ValueError) as exc:           # ValueError: a context cannot be made
        raise unit.fail(str(exc)) from None


def _push_and_check(unit: Unit, check: list[str] | None) -> None:
    if unit.site is not None:
        unit.site.push(unit.dest, unit.pushed)
    if check:
        _check(unit, check)


def _check(unit: Unit, check: list[str]) -> None:
    r = unit.host.run(check, unit.env, timeout=60)
    check_log = _local_log(unit, ".check.log")
    check_log.write_text(f"$ {' '.join(check)}\n{r.stdout}")
    if r.returncode != 0:
        raise unit.fail(f"config check `{' '.join(check)}` failed (exit {r.returncode}):",
                        r.stdout, check_log)


_JOURNAL_LOCK = threading.Lock()        # _start runs in threads for machines' daemons


def _in_threads(fn, units: list[Unit], journal: Journal) -> None:
    if units:
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(PARALLEL_CHECKS) as pool:
            for f in [pool.submit(fn, u, journal) for u in units]:
                f.result()


def _start(u: Unit, journal: Journal) -> None:
    argv = render_argv(u.image.spec.start, u.ctx, str(u.image.file))
    u.started = time.perf_counter()
    u.pid = u.host.spawn(argv, u.env, u.log)
    start = u.site.start_time(u.pid) if u.site else proc_start_time(u.pid)
    stop = u.image.spec.stop
    with _JOURNAL_LOCK:
        if u.site is None:
            journal.started(u.pid, u.image.name, u.node)  # before anything waits on it
        journal.nodes[u.node].setdefault("images", {})[u.image.name] = {
            "pid": u.pid, "start": start,
            "dir": u.site.path(u.dest) if u.site else str(u.dest), "log": str(u.log),
            "daemon": u.image.spec.daemon, "stop_signal": stop.signal,
            "stop_grace": stop.grace, "ready_s": None, "remote": u.site is not None}
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
    load_log = _local_log(u, ".load.log")
    load_log.write_text(f"$ {' '.join(argv)}\n{r.stdout}")
    if r.returncode != 0:
        raise u.fail(f"config load `{' '.join(argv)}` failed (exit {r.returncode}):", r.stdout,
                     load_log)


def _local_log(u: Unit, suffix: str) -> Path:
    """Where the output of a check or load step goes: beside the daemon's log in the run
    directory (also for a node on a machine: the step's output came back over SSH)."""
    log = Path(u.log if u.site is None else
               Path(u.site.local(str(u.log)))).with_suffix(suffix)
    log.parent.mkdir(parents=True, exist_ok=True)
    return log


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
            if rec.get("remote"):            # on a machine: deploy/remote.py stops it
                continue
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
