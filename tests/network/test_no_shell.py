"""Nothing from YAML reaches a shell (issue 13): per-host commands are argument vectors run
one after the other by a small Python program inside the namespace (nsexec.run_all_in), and
no module builds a command line for a shell (the SSH transport's remote command strings are
built with shlex.join / shlex.quote, the one place a string is unavoidable)."""
import json
import re
import subprocess
import sys
from pathlib import Path

from orchestrator.network.nsexec import _BATCH

REPO = Path(__file__).resolve().parents[2]


def test_arguments_are_taken_literally_and_the_first_failure_stops(tmp_path):
    name = "q||touch${IFS}p;echo x`id`"          # what an interface name once could hold
    cmds = [["touch", str(tmp_path / name)], ["false"], ["touch", str(tmp_path / "never")]]
    r = subprocess.run([sys.executable, "-c", _BATCH, json.dumps(cmds)], capture_output=True,
                       text=True, cwd=tmp_path)
    assert r.returncode == 1 and r.stderr.startswith("false failed (1)")
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_no_module_hands_a_string_to_a_shell():
    shell = re.compile(r"shell\s*=\s*True|os\.system\(|os\.popen\(|[\"'](?:/bin/)?(?:ba)?sh[\"'],\s*[\"']-\w*c")
    offenders = [f"{p.relative_to(REPO)}:{n}" for p in (REPO / "orchestrator").rglob("*.py")
                 for n, line in enumerate(p.read_text().splitlines(), 1) if shell.search(line)]
    assert offenders == []


def test_host_configuration_lines_hold_one_command_each():
    """Addresses and routes go to `ip -batch` (network/build.py host_commands): lines made
    of the plan's values, none of which may hold white space that would start another."""
    from ipaddress import IPv4Interface
    from types import SimpleNamespace as NS

    import pytest

    from orchestrator.model import load_topology
    from orchestrator.model.plan import build_plan
    from orchestrator.network.build import DeployError, host_commands
    plan = build_plan(load_topology(REPO / "topologies" / "fig9-l2-preauth-roaming.yaml"))
    ip, ip6, sysctl, other = host_commands(plan.hosts["par"])
    assert ip6 == []                                          # an IPv4-only topology
    assert ip[0] == "link set lo up" and "addr add 10.2.0.1/24 dev eth0" in ip
    assert all(line.split()[0] in ("link", "addr", "route") for line in ip)
    assert sysctl == ["net.ipv4.ip_forward=1", "net.ipv6.conf.all.disable_ipv6=1"]
    assert other and all(argv[:2] == ["ethtool", "-K"] for argv in other)
    bad = NS(interfaces=[NS(name="eth0\nroute flush all", address=IPv4Interface("10.0.0.1/24"),
                            start="up")], routes=[], forwarding=False)
    with pytest.raises(DeployError):
        host_commands(bad)
