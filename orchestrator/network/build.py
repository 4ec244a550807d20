"""Build a testbed from its plan with Mininet, and leave it running.

This module (with the rest of `network/`) is the only place that imports Mininet. Mininet's
Host, OVSSwitch and Link make the namespaces, userspace-datapath switches and veth pairs;
each host namespace is then pinned under /run/netns (`ip netns attach`) so the testbed
outlives this process, like a containerlab deploy. Everything is journaled first.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

from ..model import Topology, load_topology
from ..controller.policy import AIR_MGMT_PORT
from ..model.plan import NetworkPlan, build_plan, mac_for, radio_indices
from . import impairments
from .cleanup import teardown
from .nsexec import run_in
from .state import Journal, deployed, new_prefix

Progress = Callable[[str], None]


class DeployError(RuntimeError):
    pass


def ovs_start_argv(bridges: list[tuple[str, int, bool, list[tuple[str, int]]]],
                   controller_port: int,
                   internal: dict[str, tuple[str, int]] | None = None) -> list[str]:
    """One ovs-vsctl transaction that creates every bridge with its ports and controller:
    what Mininet's OVSSwitch.start does per switch, as an argument vector. Mininet writes its
    command line into the switch's shell through a pty, whose line discipline keeps at most
    4095 characters of a line: with ~50 ports (~80 characters each) the command was cut and
    the radio switch never reached the controller (issue 17). `bridges`: (bridge, dpid,
    controlled, [(interface, OpenFlow port)]); `internal`: bridge -> (name, OpenFlow port) of
    an internal port to add (the radio switch's management port, policy.AIR_MGMT_PORT)."""
    argv = ["ovs-vsctl", "--timeout=60"]
    for br, dpid, controlled, ports in bridges:
        argv += ["--", "--if-exists", "del-br", br, "--", "add-br", br,
                 "--", "set", "bridge", br, f"other_config:datapath-id={dpid:016x}",
                 f"fail_mode={'secure' if controlled else 'standalone'}",
                 "other-config:disable-in-band=true", "datapath_type=netdev",
                 "protocols=OpenFlow13", f"other-config:dp-desc={br}"]
        if controlled:
            argv += ["--", f"--id=@{br}c0", "create", "Controller",
                     f'target="tcp:127.0.0.1:{controller_port}"', "max_backoff=1000",
                     "--", "set", "bridge", br, f"controller=[@{br}c0]"]
        for intf, ofport in ports:
            argv += ["--", "add-port", br, intf, "--", "set", "Interface", intf,
                     f"ofport_request={ofport}"]
        if internal and br in internal:
            intf, ofport = internal[br]
            argv += ["--", "add-port", br, intf, "--", "set", "Interface", intf,
                     "type=internal", f"ofport_request={ofport}"]
    return argv


def air_mgmt_ifname(bridges: dict[str, str]) -> str:
    """The radio switch's management port (<= 13 characters: bridge names are <= 10)."""
    return f"{bridges['air']}-m"


# Per-host steps that are each a process entering a namespace (~0.1 s, mostly Python
# starting) run this many at a time: 60 hosts took 5 s for addresses and 5 s for the initial
# associations one after the other (issue 17). The first failure is raised.
PARALLEL_STEPS = 8


def _in_parallel(fn, items) -> None:
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=PARALLEL_STEPS) as pool:
        for f in [pool.submit(fn, item) for item in items]:
            f.result()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bridge_names(prefix: str, plan: NetworkPlan) -> dict[str, str]:
    """Root-namespace bridge names: prefix + a short form of the model name (<= 10 chars,
    so that '<bridge>-p<port>' fits in IFNAMSIZ)."""
    out, used = {}, set()
    for i, name in enumerate(plan.switches):
        short = name.replace("-", "")[:6]
        cand = prefix + short
        if cand in used:
            cand = f"{prefix}s{i}"
        used.add(cand)
        out[name] = cand
    return out


def deploy(topology_file: str, name: str | None = None, results: str = "results",
           progress: Progress = lambda s: None, verify: bool = True,
           images: bool = True, flows=None, inventory: str | None = None) -> Journal:
    """Build `topology_file` and start its daemons; `flows`: the experiment flows it is for
    (only the images they need, deploy/lifecycle.py FLOW_IMAGES), None: every image;
    `inventory`: an inventory file whose nodes run their images on machines reached over
    SSH (deploy/remote.py), the others emulated."""
    topo = load_topology(topology_file)
    inv = None
    if inventory is not None:              # refused before anything is built
        from ..deploy.inventory import load_inventory
        inv = load_inventory(inventory, topo)
    plan = build_plan(topo)
    name = name or topo.name
    if name in deployed():
        raise DeployError(f"testbed '{name}' is already deployed; run "
                          f"'mpa-testbed destroy {name}' first")
    run_dir = Path(results, "runs", f"{name}-{time.strftime('%Y%m%d-%H%M%S')}").resolve()
    (run_dir / "logs").mkdir(parents=True, exist_ok=True)
    (run_dir / "events").mkdir(parents=True, exist_ok=True)
    journal = Journal(name=name, prefix=new_prefix(), topology_file=str(Path(topology_file).resolve()),
                      run_dir=str(run_dir), created_at=time.time())
    journal.save()
    try:
        _build(topo, plan, journal, progress, verify, images, flows, inv)
    except BaseException:
        progress("deploy failed: removing what was created")
        teardown(journal)
        raise
    journal.status = "up"
    journal.save()
    return journal


def _build(topo: Topology, plan: NetworkPlan, journal: Journal, progress: Progress,
           verify: bool, images: bool = True, flows=None, inventory=None) -> None:
    from mininet.node import Host

    run_dir = Path(journal.run_dir)
    bridges = bridge_names(journal.prefix, plan)
    # -- controller ----------------------------------------------------------------------
    port = _free_port()
    conf = _controller_config(plan, bridges, journal, run_dir)
    conf_path = journal.dir / "controller.json"
    conf_path.write_text(json.dumps(conf, indent=1))
    progress(f"starting os-ken controller on 127.0.0.1:{port}")
    log = open(run_dir / "logs" / "controller.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "orchestrator.controller.run", str(port)],
                            env={**os.environ, "MPA_CONTROLLER_CONFIG": str(conf_path)},
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                            cwd=Path(__file__).resolve().parents[2])
    journal.started(proc.pid, "os-ken controller")
    journal.controller = {"port": port, "pid": proc.pid, "config": str(conf_path),
                          "api_socket": journal.api_socket}
    # -- hosts -----------------------------------------------------------------------------
    mn_nodes = []
    hosts = {}
    cluster = None
    if topo.placement is not None:           # split across servers (network/cluster.py)
        from .cluster import Cluster
        cluster = Cluster(journal, topo.placement, plan)
        cluster.start(progress)
    progress(f"creating {len(plan.hosts)} hosts")
    counted_from = {n: entry for entry, names in topo.counted.items() for n in names}
    made = cluster.make(list(plan.hosts), cluster.host) if cluster else {}
    for hname, hp in plan.hosts.items():
        host = made[hname] if cluster else Host(hname)
        mn_nodes.append(host)
        journal.started(host.pid, "mininet host shell", hname)
        ns = f"mpa-{journal.prefix}-{hname}"
        journal.will_create_netns(ns)
        hosts[hname] = host
        journal.nodes[hname] = {"netns": ns, "kind": hp.kind, "roles": hp.roles,
                                "interfaces": [], "routes": [asdict(r) for r in hp.routes]}
        if cluster:
            journal.nodes[hname]["server"] = cluster.where[hname]
        if hname in counted_from:              # made by a `count:` entry (model/counts.py)
            journal.nodes[hname]["counted_from"] = counted_from[hname]
    # every namespace journaled above; named (ip netns attach) PARALLEL_STEPS at a time
    _in_parallel(lambda h: subprocess.run(["ip", "netns", "attach", journal.nodes[h]["netns"],
                                           str(hosts[h].pid)], check=True), list(hosts))
    # -- node images, stages 1-2 (render, config checks: files and processes in the hosts'
    # namespaces), while the switches, links and the network come up ------------------------
    from concurrent.futures import ThreadPoolExecutor
    background = ThreadPoolExecutor(max_workers=1)
    prepared = None
    if images:
        from ..deploy.lifecycle import prepare_images
        prepared = background.submit(prepare_images, topo, plan, journal, progress, flows=flows,
                                     bridges=bridges,
                                     exclude=inventory.nodes if inventory else ())
    try:
        switches = _network_objects(plan, journal, progress, hosts, bridges, mn_nodes, port,
                                    cluster)
    except BaseException:
        background.shutdown(wait=True)     # nothing of it outlives a failed deploy
        raise

    def early_daemons() -> None:
        """Once the switches are up: what may start before the initial associations starts
        while link emulation and the associations are set up (deploy/lifecycle.py)."""
        if prepared is not None:
            from ..deploy.lifecycle import start_early
            start_early(prepared.result(), journal, progress)

    def ap_daemons() -> None:
        """Once the MNs are associated: the APs' agents, while the links are verified."""
        if prepared is not None:
            from ..deploy.lifecycle import start_after_associations
            start_after_associations(prepared.result(), journal, progress)
    try:
        _network_up(topo, plan, journal, progress, verify, switches, bridges, port,
                    early_daemons, ap_daemons)
    finally:
        background.shutdown(wait=True)     # nothing of it outlives a failed deploy
    # -- node images: daemons inside the hosts (orchestrator/deploy/lifecycle.py) ---------------
    if prepared is not None:
        from ..deploy.lifecycle import start_images
        local = prepared.result()
        if inventory is not None:         # the machines, reached once the network is up
            from ..deploy.lifecycle import Prepared, prepare_images
            from ..deploy.remote import attach
            remote = prepare_images(topo, plan, journal, progress, flows=flows, bridges=bridges,
                                    sites=attach(journal, inventory, progress))
            local = Prepared(local.units + remote.units, {**local.skipped, **remote.skipped},
                             local.early)
        start_images(local, journal, progress)
    _check_verification(plan, journal, progress)
    # -- the testbed outlives this process: Mininet's shells are no longer needed ------------
    for node in mn_nodes:
        node.terminate()


def _network_objects(plan: NetworkPlan, journal: Journal, progress: Progress, hosts: dict,
                     bridges: dict, mn_nodes: list, port: int, cluster=None) -> dict:
    """Bridges, links, every host's addresses and routes, and the bridges started (their
    controller at `port`); returns the switches by name. `cluster`: a split testbed's
    servers (network/cluster.py): nodes on their servers, tunnels between servers."""
    from mininet.link import Link
    from mininet.node import OVSSwitch
    # -- switches --------------------------------------------------------------------------
    switches: dict = {}
    progress(f"creating {len(plan.switches)} Open vSwitch bridges (userspace datapath)")
    opts = {s: dict(dpid=f"{sp.dpid:016x}", datapath="user", protocols="OpenFlow13",
                    failMode="secure" if sp.controlled else "standalone", inNamespace=False)
            for s, sp in plan.switches.items()}
    for sname in plan.switches:
        journal.will_create_bridge(bridges[sname])
    made = cluster.make(list(plan.switches), lambda s: cluster.switch(
        s, bridges[s], **opts[s])) if cluster else {}
    for sname, sp in plan.switches.items():
        br = bridges[sname]
        sw = made[sname] if cluster else OVSSwitch(br, **opts[sname])
        mn_nodes.append(sw)
        journal.started(sw.pid, "mininet switch shell", sname)
        switches[sname] = sw
        journal.switches[sname] = {"bridge": br, "dpid": sp.dpid, "role": sp.role,
                                   "controlled": sp.controlled}
        if cluster:
            journal.switches[sname]["server"] = cluster.where[sname]
    # -- links -----------------------------------------------------------------------------
    progress(f"creating {len(plan.links)} links")
    if cluster:
        cluster.open_tunnels(plan)
    for lp in plan.links:
        ends = []
        for end in (lp.a, lp.b):
            if end.is_switch:
                ifname = f"{bridges[end.node]}-p{end.port}"
                journal.will_create_link(ifname)
                ends.append((switches[end.node], ifname, end.port, mac_for(journal.prefix, ifname)))
            else:
                mac = next(i.mac for i in plan.hosts[end.node].interfaces if i.name == end.intf)
                ends.append((hosts[end.node], end.intf, None, mac))
        (n1, i1, p1, m1), (n2, i2, p2, m2) = ends
        (cluster.link if cluster else Link)(n1, n2, port1=p1, port2=p2, intfName1=i1,
                                            intfName2=i2, addr1=m1, addr2=m2)
    # -- start switches (ovs-vsctl), while the hosts are configured: one does not touch the
    # other (the switches' ports are the root-namespace ends of the links) ---------------------
    progress("starting switches and waiting for the controller")
    on_server = {s: cluster.where[s] if cluster else None for s in switches}
    ovs = [subprocess.Popen(
        (cluster.on(server, argv) if cluster else argv),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for server in dict.fromkeys(on_server.values())
        for argv in [ovs_start_argv(
            [(bridges[s], plan.switches[s].dpid, plan.switches[s].controlled,
              [(intf.name, sw.ports[intf]) for intf in sw.intfList()
               if sw.ports[intf] and not intf.IP()])
             for s, sw in switches.items() if on_server[s] == server], port,
            {bridges["air"]: (air_mgmt_ifname(bridges), AIR_MGMT_PORT)})]]
    # -- configure hosts -------------------------------------------------------------------
    progress("configuring addresses and routes")
    for hname, hp in plan.hosts.items():
        journal.nodes[hname]["interfaces"] = [
            {"name": iface.name, "mac": iface.mac,
             "address": str(iface.address) if iface.address else None,
             "address6": str(iface.address6) if iface.address6 else None,
             "network": iface.network, "peer": iface.peer,
             "technology": iface.technology, "start": iface.start} for iface in hp.interfaces]
    try:
        _in_parallel(lambda h: configure_host(journal.nodes[h]["netns"], plan.hosts[h]),
                     list(plan.hosts))
        journal.save()
    finally:
        errs = [(proc, proc.communicate(timeout=90)[1]) for proc in ovs]
    for proc, err in errs:
        if proc.returncode != 0:
            raise DeployError(f"ovs-vsctl could not create the bridges: {err.strip()[:500]}")
    # the radio switch's management port (a tap in the root namespace, removed with its
    # bridge; controller/app.py reads stations' management frames there): up, no IPv6 chatter
    mgmt_if = air_mgmt_ifname(bridges)
    for argv in (["sysctl", "-qw", f"net.ipv6.conf.{mgmt_if}.disable_ipv6=1"],
                 ["ip", "link", "set", mgmt_if, "up"]):
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise DeployError(f"{' '.join(argv)}: {r.stderr.strip()[:300]}")
    return switches


def _network_up(topo: Topology, plan: NetworkPlan, journal: Journal, progress: Progress,
                verify: bool, switches: dict, bridges: dict, port: int,
                switches_up=lambda: None, associated=lambda: None) -> None:
    """Switches started and connected (then `switches_up()`), link impairments, their RTT
    verified while the initial associations are made (one does not touch the other's
    links; then `associated()`, once the impairments are in place: both write the
    journal)."""
    # -- switches (started with the hosts' configuration) connected ------------------------
    _wait_connected(journal, [s for s, p in plan.switches.items() if p.controlled])
    switches_up()
    # -- link impairments and their verification, beside the initial associations: the
    # association's management frames go through the controller, not through a delay
    # element, and the delayed links carry no management frame ---------------------------
    from concurrent.futures import ThreadPoolExecutor

    applied = threading.Event()

    def emulate() -> list | None:
        try:
            journal.emulation = impairments.apply(plan, journal, progress)
            journal.save()             # the journal's only writer until `applied` is set
        finally:
            applied.set()
        return impairments.verify(plan, journal, progress) if verify else None

    def associate(sta) -> None:
        progress(f"associating {sta.name} with {sta.associate}")
        result = station_request(journal, sta.name, "associate", plan.aps[sta.associate].bssid)
        if result.get("status") != "ok":
            raise DeployError(f"initial association {sta.name} -> {sta.associate} failed: {result}")
    with ThreadPoolExecutor(max_workers=1) as pool:
        emulated = pool.submit(emulate)
        try:
            _in_parallel(associate, [sta for sta in plan.stations.values() if sta.associate])
            applied.wait()
            if not emulated.done() or emulated.exception() is None:
                associated()
        finally:
            report = emulated.result()
    if report is not None:
        journal.emulation["verification"] = report
        journal.save()


def _check_verification(plan: NetworkPlan, journal: Journal, progress: Progress) -> None:
    """Every delayed link's RTT as configured; a link measured off while the daemons were
    starting beside it (CPU the delay element shares) is measured again once they are
    ready, and only a second miss fails the deploy (both measurements are kept)."""
    report = (journal.emulation or {}).get("verification")
    if not report or all(r["ok"] for r in report):
        return
    progress("verifying the delayed links again, now that the daemons are up")
    again = impairments.verify(plan, journal, progress)
    journal.emulation["verification_during_startup"] = report
    journal.emulation["verification"] = again
    journal.save()
    bad = [r for r in again if not r["ok"]]
    if bad:
        raise DeployError("link emulation is off:\n" + "\n".join(r["message"] for r in bad))


def host_commands(hp) -> tuple[list[str], list[str], list[str], list[list[str]]]:
    """What configures a host: (`ip -batch` lines: loopback, IPv4 addresses, interfaces up
    or down, IPv4 routes; `ip -6 -batch` lines: IPv6 addresses and routes (a batch line
    takes no family option); sysctl settings; other argument vectors: checksum offload off
    per interface). Every token is a value of the plan (addresses and prefixes parsed,
    interface names made by it), checked to hold no white space: no line can become two."""
    ip, ip6 = ["link set lo up"], []
    for iface in hp.interfaces:
        if iface.address is not None:
            ip.append(f"addr add {iface.address} dev {iface.name}")
        if getattr(iface, "address6", None) is not None:
            # configured by the topology, unique by its checks: no DAD wait at bring-up
            # (an address a mobile forms on a move goes through the kernel's DAD)
            ip6.append(f"addr add {iface.address6} dev {iface.name} nodad")
        # a mobile's interface with `start: down` stays down until the MN activates it
        # (RFC 6252 C.5.2: the prepared interface brought up only at the handover)
        ip.append(f"link set {iface.name} {iface.start}")
    for r in hp.routes:
        (ip6 if getattr(r, "family", 4) == 6 else ip).append(
            f"route replace {r.prefix} via {r.via} dev {r.dev}")
    sysctl = [f"net.ipv4.ip_forward={1 if hp.forwarding else 0}"]
    sysctl += [argv[-1] for argv in ipv6_sysctls(hp)]
    other = [["ethtool", "-K", iface.name, "tx", "off"] for iface in hp.interfaces]
    for line in ip + ip6:
        if len(line.split()) != line.count(" ") + 1 or "\n" in line:
            raise DeployError(f"unexpected white space in host configuration: {line!r}")
    return ip, ip6, sysctl, other


def configure_host(netns: str, hp) -> None:
    """Addresses, routes and settings of one host with a few processes instead of one per
    setting: `ip -n <netns> -batch -` (links up first), one sysctl (IPv6 on or off before
    any IPv6 address), `ip -6 -batch -`, one ethtool per interface (a Python batch per host
    entering the namespace was ~1 s of fig9's bring-up)."""
    ip, ip6, sysctl, other = host_commands(hp)

    def batch(*family: str, lines: list[str]) -> None:
        r = subprocess.run(["ip", *family, "-n", netns, "-batch", "-"], input="\n".join(lines) + "\n",
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"in {netns}: ip {' '.join(family)} -batch failed: "
                               f"{(r.stderr or r.stdout).strip()}")
    batch(lines=ip)
    run_in(netns, ["sysctl", "-qw", *sysctl])
    if ip6:
        batch("-6", lines=ip6)
    for argv in other:
        run_in(netns, argv)


def ipv6_sysctls(hp) -> list[list[str]]:
    """IPv6 stays off on a host the topology gives none (no stray link-local traffic in the
    captures); on the others: on, forwarding on routers (RFC 8200), Router Advertisements
    accepted only on a host's interfaces on advertising networks (RFC 4861 s6.3.4), with
    stateless autoconfiguration and the kernel's DAD (RFC 4862 s5.4)."""
    if not getattr(hp, "ipv6", False):
        return [["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]]
    cmds = [["sysctl", "-qw", f"net.ipv6.conf.{scope}.{key}={value}"]
            for scope in ("default", "all")
            for key, value in (("disable_ipv6", 0), ("accept_ra", 0),
                               ("forwarding", 1 if hp.forwarding else 0))]
    for iface in hp.interfaces:
        if not iface.ipv6:
            cmds.append(["sysctl", "-qw", f"net/ipv6/conf/{iface.name}/disable_ipv6=1"])
        else:
            cmds.append(["sysctl", "-qw",
                         f"net/ipv6/conf/{iface.name}/accept_ra={1 if iface.accept_ra else 0}"])
    return cmds


def _controller_config(plan: NetworkPlan, bridges, journal: Journal, run_dir: Path) -> dict:
    ap_index, sta_index = radio_indices(plan)
    return {
        # stations' management frames reach the controller through this port of the radio
        # switch (a raw socket), not as packet-ins (controller/app.py `_mgmt_reader`)
        "air_mgmt": {"ifname": air_mgmt_ifname(bridges), "ofport": AIR_MGMT_PORT},
        "events_file": str(run_dir / "events" / "controller.jsonl"),
        "api_socket": journal.api_socket,
        "dpids": {str(sp.dpid): name for name, sp in plan.switches.items() if sp.controlled},
        "bridges": {name: bridges[name] for name, sp in plan.switches.items() if sp.controlled},
        "aps": [{"name": a.name, "index": ap_index[a.name], "bssid": a.bssid,
                 "air_port": a.air_port, "security": a.security,
                 "association_latency": a.association_latency, "network": a.network}
                for a in plan.aps.values()],
        "stations": [{"name": s.name, "index": sta_index[s.name], "mac": s.mac,
                      "air_port": s.air_port, "link_down_detection": s.link_down_detection}
                     for s in plan.stations.values()],
    }


def _wait_connected(journal: Journal, names: list[str], timeout: float = 30.0) -> None:
    from ..controller.api import call
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = call(journal.api_socket, {"op": "status"}, timeout=2)
            if set(names) <= set(last.get("switches", [])):
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise DeployError(f"switches did not connect to the controller within {timeout:.0f}s: "
                      f"expected {sorted(names)}, connected {last and last.get('switches')}; "
                      f"see {journal.run_dir}/logs/controller.log")


def station_request(journal: Journal, node: str, op: str, arg: str, timeout: float = 10) -> dict:
    """Run the layer-2 management client inside `node` (station or authenticator)."""
    info = journal.nodes[node]
    iface = "wlan0" if info["kind"] == "mobile_node" else info["interfaces"][0]["name"]
    events = Path(journal.run_dir, "events", f"{node}.jsonl")
    r = run_in(info["netns"], [sys.executable, "-m", "orchestrator.agents.l2", "--iface", iface,
                               "--events", str(events), "--node", node, op, arg],
               timeout=timeout, check=False, cwd=Path(__file__).resolve().parents[2])
    try:
        return json.loads(r.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {"status": "error", "stderr": r.stderr.strip()}
