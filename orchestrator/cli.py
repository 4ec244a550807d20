"""mpa-testbed: the command line. One function per verb, each calling one library function."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from .model import ModelError, load_topology


def _progress(msg: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def cmd_validate(args) -> int:
    ok = True
    for path in args.topology:
        try:
            topo = load_topology(path)
        except ModelError as exc:
            print(exc, file=sys.stderr)
            ok = False
            continue
        print(f"{path}: ok ({len(topo.domains)} domains, {len(topo.networks)} networks, "
              f"{len(topo.nodes)} nodes, {len(topo.links)} links)".replace("1 domains", "1 domain"))
        for line in counted_lines(topo.counted):
            print(f"  {line}")
    return 0 if ok else 1


def counted_lines(counted: dict[str, list[str]]) -> list[str]:
    """'nodes.mn (count: 50): mn1 ... mn50' for each entry a `count:` expanded."""
    return [f"nodes.{entry} (count: {len(names)}): "
            + (" ".join(names) if len(names) <= 3 else f"{names[0]} ... {names[-1]}")
            for entry, names in counted.items()]


def cmd_check(args) -> int:
    """Load and validate experiments (their topologies, every sweep point, the scenarios)
    without root; print each plan."""
    from .model.experiment import describe_plan, load_experiment
    ok = True
    for path in args.experiment:
        try:
            exp, confs = load_experiment(path)
        except ModelError as exc:
            print(exc, file=sys.stderr)
            ok = False
            continue
        print(f"{path}: ok")
        print("\n".join(describe_plan(exp, confs)))
    return 0 if ok else 1


def cmd_schema(args) -> int:
    from .model.topology import topology_json_schema
    text = json.dumps(topology_json_schema(), indent=2)
    if args.output:
        with open(args.output, "w") as fh:
            fh.write(text + "\n")
    else:
        print(text)
    return 0


def _need_root() -> None:
    if os.geteuid() != 0:
        sys.exit("mpa-testbed: this verb needs root (network namespaces, Open vSwitch)")


def cmd_deploy(args) -> int:
    _need_root()
    from .network.build import deploy
    t0 = time.monotonic()
    journal = deploy(args.topology, name=args.name, results=args.results, progress=_progress,
                     verify=not args.no_verify, images=not args.no_images,
                     inventory=args.inventory)
    print(f"testbed '{journal.name}' is up in {time.monotonic() - t0:.1f}s; run directory "
          f"{journal.run_dir}")
    _print_emulation(journal.emulation)
    return 0


def _print_emulation(em: dict) -> None:
    if not em or not em.get("links"):
        return
    print(f"link emulation ({em['mechanism']}):")
    for r in em.get("verification", []):
        print(f"  {'ok ' if r['ok'] else 'BAD'} {r['message']}")


def cmd_destroy(args) -> int:
    _need_root()
    from .testbed import destroy
    removed = destroy(args.name)
    print(f"removed {len(removed)} objects")
    return 0


def cmd_clean(args) -> int:
    _need_root()
    from .testbed import clean
    removed = clean(args.name)
    for r in removed:
        print(f"removed {r}")
    print(f"clean: removed {len(removed)} objects")
    return 0


def cmd_inspect(args) -> int:
    from .network.state import Journal, deployed
    from .testbed import agent_health, controller_status, processes, resolve
    if args.all:
        for name in deployed():
            j = Journal.load(name)
            print(f"{name}\t{j.status}\t{j.topology_file}\t{j.run_dir}")
        return 0
    j = resolve(args.name)
    status = controller_status(j)
    procs = processes(j)
    health = agent_health(j)
    if args.json:
        print(json.dumps({"journal": j.__dict__, "controller": status, "processes": procs,
                          "agents": health}, indent=1, default=str))
        return 0
    print(f"testbed {j.name} ({j.status}), topology {j.topology_file}\nrun directory {j.run_dir}")
    counted: dict[str, list[str]] = {}
    for node, info in j.nodes.items():
        if info.get("counted_from"):
            counted.setdefault(info["counted_from"], []).append(node)
    for line in counted_lines(counted):
        print(f"from {line}")
    for server, info in j.servers.items():          # a split testbed (network/cluster.py)
        placed = [n for n, v in [*j.nodes.items(), *j.switches.items()] if v.get("server") == server]
        how = f"over SSH, sshd {info['sshd']}" if info.get("sshd") else "this machine"
        print(f"server {server} ({how}): {', '.join(dict.fromkeys(placed))}")
    assoc = status.get("associations", {})
    auth = set(status.get("authorized", []))
    print(f"{'node':<8} {'kind':<20} {'interfaces':<44} associated")
    for node, info in j.nodes.items():
        ifs = ", ".join(f"{i['name']}={i['address'] or '-'}" for i in info["interfaces"])
        a = assoc.get(node, "")
        if a:
            a += " (authorized)" if node in auth else " (port unauthorized)"
        print(f"{node:<8} {'+'.join(info['roles']):<20} {ifs:<44} {a}")
    print("processes:")
    for p in procs:
        print(f"  {p['node']:<8} {p['pid']:>7} {p['cmd'][:90]}")
    if j.remote:
        print("on machines (deploy --inventory; PIDs there):")
    for node, r in j.remote.items():
        pids = ", ".join(f"{name} {rec['pid']}" for name, rec in
                         j.nodes[node].get("images", {}).items() if rec.get("remote"))
        print(f"  {node:<8} {r['user']}@{r['host']}:{r['port']} {r['root']}: {pids}")
    print("agents (receive loops):")
    for node, h in health.items():
        state = (h["error"] if "error" in h else "ok" if h["ok"] else
                 "DEAD: " + ", ".join(f"{n} ({h['loops'][n]['died']})" for n in h["dead"]))
        print(f"  {node:<8} {state}; malformed inputs dropped: {h.get('malformed', '-')}")
    _print_emulation(j.emulation)
    return 0


def cmd_exec(args) -> int:
    _need_root()
    from .testbed import exec_argv, resolve
    argv = exec_argv(resolve(args.name), args.node, args.command)
    os.execvp(argv[0], argv)


def cmd_graph(args) -> int:
    from .graph import render
    out = render(load_topology(args.topology), args.output)
    print(out)
    return 0


def cmd_handoff(args) -> int:
    """Ask the MN's radio to (re)associate with an AP (a real management frame)."""
    _need_root()
    from .network.build import station_request
    from .testbed import resolve
    j = resolve(args.name)
    bssid = json.loads(open(j.controller["config"]).read())
    ap = next((a for a in bssid["aps"] if a["name"] == args.ap), None)
    if ap is None:
        sys.exit(f"unknown access point '{args.ap}'")
    result = station_request(j, args.mn, "associate", ap["bssid"])
    print(json.dumps(result))
    return 0 if result.get("status") == "ok" else 1


def cmd_port(args) -> int:
    """Authorize / unauthorize a station at an AP, as its authenticator would."""
    _need_root()
    from .network.build import station_request
    from .testbed import resolve
    j = resolve(args.name)
    mac = next(i["mac"] for i in j.nodes[args.sta]["interfaces"] if i["name"] == "wlan0")
    result = station_request(j, args.ap, "authorize" if args.op == "authorize" else "deauthorize", mac)
    print(json.dumps(result))
    return 0 if result.get("status") == "ok" else 1


def agent_args(pairs: list[str]) -> dict:
    """`key=value` words -> command arguments; a value is read as JSON when it parses
    (numbers, true/false/null, lists), else kept as a string: `ctn=net-a`,
    `buffering_period_ms=200`, `timeout=5.0`."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.isidentifier():
            raise ValueError(f"expected key=value, got {pair!r}")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def cmd_agent(args) -> int:
    """Send one command to a node's mpa-agent (its roles' commands: `hello` lists them)."""
    _need_root()
    from .agents.control import AgentError
    from .deploy.remote import agent_client, has_agent
    from .testbed import resolve
    j = resolve(args.name)
    if args.node not in j.nodes:
        sys.exit(f"unknown node '{args.node}'; nodes: {', '.join(sorted(j.nodes))}")
    try:
        cmd_args = agent_args(args.args)
    except ValueError as exc:
        sys.exit(f"mpa-testbed agent: {exc}")
    if not has_agent(j, args.node):
        sys.exit(f"{args.node} runs no mpa-agent")
    try:       # its control socket, or over SSH for a node of an inventory (deploy/remote.py)
        result = agent_client(j, args.node).request(args.cmd, cmd_args, args.timeout)
    except AgentError as exc:
        print(f"mpa-testbed agent: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=1, default=str))
    return 0


def cmd_smoke(args) -> int:
    _need_root()
    from .smoke import smoke
    out = smoke(args.topology, results=args.results, progress=_progress)
    print(open(f"{args.results}/smoke/{__import__('pathlib').Path(args.topology).stem}.md").read())
    bad = [s for s in out["stations"].values()
           if s["ping_before_authorization"]["received"] or len(s["ping_after_authorization_ms"]) < 3]
    return 1 if bad else 0


def cmd_run(args) -> int:
    """Run an experiment (or --resume its latest run), then build its report."""
    if args.dry_run:
        args.experiment = [args.experiment]
        return cmd_check(args)
    _need_root()
    from .experiment.runner import execute, new_run, resume_run
    run = (resume_run(args.experiment, args.results) if args.resume
           else new_run(args.experiment, args.results, args.repetitions))
    run.inventory = args.inventory
    if args.inventory:          # the run's directory keeps what it ran with
        import shutil
        shutil.copyfile(args.inventory, run.dir / "inventory.yaml")
    t0 = time.monotonic()
    run_dir = execute(run, progress=_progress)
    print(f"run {run_dir} done in {time.monotonic() - t0:.0f}s")
    try:
        from .analysis.report import report
    except ImportError:
        return 0
    report(run_dir)
    print(f"report: {run_dir}/README.md")
    return 0


def cmd_report(args) -> int:
    """Tables and figures from existing records (no root, no Mininet)."""
    from .analysis.report import report, report_all, summary
    if args.summary:                  # each run wrote its own report when it ended
        print(f"summary: {summary(args.results)}")
    elif args.all:
        print(f"summary: {report_all(args.results)}")
    else:
        written = report(args.run_dir)
        print(f"report: {Path(args.run_dir) / 'README.md'} ({len(written)} files: "
              f"{sum(1 for k in written if k.startswith('tables/'))} tables, "
              f"{sum(1 for k in written if k.startswith('figures/'))} figures)")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="mpa-testbed", description=__doc__)
    sub = p.add_subparsers(dest="verb", required=True)
    s = sub.add_parser("validate", help="validate topology files")
    s.add_argument("topology", nargs="+")
    s.set_defaults(fn=cmd_validate)
    s = sub.add_parser("check", help="validate experiment files without root and print "
                                     "their plans (configurations x scenarios x repetitions)")
    s.add_argument("experiment", nargs="+")
    s.set_defaults(fn=cmd_check)
    s = sub.add_parser("schema", help="print the JSON Schema of topology files")
    s.add_argument("-o", "--output")
    s.set_defaults(fn=cmd_schema)
    s = sub.add_parser("deploy", help="build a topology and leave it running")
    s.add_argument("topology")
    s.add_argument("--name")
    s.add_argument("--results", default="results")
    s.add_argument("--no-verify", action="store_true", help="skip the RTT check of delayed links")
    s.add_argument("--no-images", action="store_true",
                   help="build the network only: start no node images (daemons, agents)")
    s.add_argument("--inventory", help="inventory file: its nodes run their images on machines "
                   "reached over SSH, the others emulated (docs/real-hardware.md)")
    s.set_defaults(fn=cmd_deploy)
    for verb, fn, helptext in (("destroy", cmd_destroy, "tear down a deployed testbed"),
                               ("clean", cmd_clean, "remove what testbeds left (all, or one)")):
        s = sub.add_parser(verb, help=helptext)
        s.add_argument("name", nargs="?")
        s.set_defaults(fn=fn)
    s = sub.add_parser("inspect", help="nodes, addresses, associations, processes")
    s.add_argument("name", nargs="?")
    s.add_argument("--all", action="store_true")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_inspect)
    s = sub.add_parser("exec", help="run a command inside a node")
    s.add_argument("node")
    s.add_argument("command", nargs=argparse.REMAINDER)
    s.add_argument("--name")
    s.set_defaults(fn=cmd_exec)
    s = sub.add_parser("graph", help="draw a topology (PNG or SVG)")
    s.add_argument("topology")
    s.add_argument("-o", "--output", default=None)
    s.set_defaults(fn=cmd_graph)
    s = sub.add_parser("handoff", help="MN requests (re)association with an AP")
    s.add_argument("mn")
    s.add_argument("ap")
    s.add_argument("--name")
    s.set_defaults(fn=cmd_handoff)
    s = sub.add_parser("port", help="authorize/unauthorize a station's 802.1X port at an AP")
    s.add_argument("op", choices=["authorize", "unauthorize"])
    s.add_argument("ap")
    s.add_argument("sta")
    s.add_argument("--name")
    s.set_defaults(fn=cmd_port)
    s = sub.add_parser("agent", help="send a command to a node's mpa-agent "
                                     "(e.g. 'agent mn call cn=cn', 'agent mn hello')")
    s.add_argument("node")
    s.add_argument("cmd")
    s.add_argument("args", nargs="*", metavar="key=value")
    s.add_argument("--timeout", type=float, default=60.0)
    s.add_argument("--name")
    s.set_defaults(fn=cmd_agent)
    s = sub.add_parser("smoke", help="deploy, check reachability and handoffs, destroy")
    s.add_argument("topology")
    s.add_argument("--results", default="results")
    s.set_defaults(fn=cmd_smoke)
    s = sub.add_parser("run", help="run an experiment file (results/<experiment>/<run-id>/)")
    s.add_argument("experiment")
    s.add_argument("--results", default="results")
    s.add_argument("--repetitions", type=int, help="override the file's repetitions")
    s.add_argument("--resume", action="store_true", help="continue the latest run")
    s.add_argument("--inventory", help="inventory file: its nodes on machines reached over SSH "
                   "(as deploy --inventory)")
    s.add_argument("--dry-run", action="store_true",
                   help="validate and print the plan (as `check`), run nothing")
    s.set_defaults(fn=cmd_run)
    s = sub.add_parser("report", help="rebuild tables and figures from records")
    s.add_argument("run_dir", nargs="?")
    s.add_argument("--all", action="store_true", help="every experiment's latest run + summary")
    s.add_argument("--summary", action="store_true",
                   help="only results/summary.md, from the latest runs' existing reports")
    s.add_argument("--results", default="results")
    s.set_defaults(fn=cmd_report)
    args = p.parse_args(argv)
    try:
        return args.fn(args)
    except ModelError as exc:
        print(exc, file=sys.stderr)
        return 1
    except (LookupError, RuntimeError) as exc:
        print(f"mpa-testbed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
