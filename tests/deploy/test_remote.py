"""Nodes on machines (deploy/remote.py) without a machine: how a context's paths become
the node's, which files go with an image, and that a remote shell line built from hostile
words runs them as words (the line goes through a real /bin/sh and bash here)."""
import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from orchestrator.deploy.remote import Site, public_key_line
from orchestrator.deploy.sshkeys import SshKeys
from orchestrator.deploy.transport import SshTransport


@pytest.fixture
def site(tmp_path):
    state, run = tmp_path / "state" / "t", tmp_path / "results" / "runs" / "t-1"
    return Site("aaa", "/w/t/aaa", "/opt/py/bin/python3", None,
                ((str(state), "/w/t/aaa/state"), (str(run), "/w/t/aaa/run"))), state, run


def test_local_paths_become_the_nodes_and_back(site):
    s, state, run = site
    assert s.path(state / "nodes/aaa/img/x.conf") == "/w/t/aaa/state/nodes/aaa/img/x.conf"
    assert s.path(run / "events" / "aaa.jsonl") == "/w/t/aaa/run/events/aaa.jsonl"
    assert s.path(state) == "/w/t/aaa/state"
    # only whole path components: a sibling directory with the same prefix is not ours
    assert s.path(f"{state}2/x") == f"{state}2/x"
    assert s.path("/usr/sbin/freeradius") == "/usr/sbin/freeradius"
    assert s.local("/w/t/aaa/state/pki/ca.pem") == str(state / "pki/ca.pem")


def test_a_context_is_translated_everywhere_also_inside_json(site):
    s, state, run = site
    ctx = {"dir": str(state / "nodes/aaa/mpa-agent"), "python": "/venv/bin/python",
           "listen": [{"address": "10.0.0.10", "log": str(run / "logs/aaa")}],
           "agent_config": json.dumps({"ca": str(state / "pki/ca.pem"),
                                       "media_log": str(run / "media/aaa.rtp.jsonl")}),
           "port": 1812}
    out = s.translate(ctx)
    assert out["dir"] == "/w/t/aaa/state/nodes/aaa/mpa-agent"
    assert out["python"] == "/opt/py/bin/python3" and out["port"] == 1812
    assert out["listen"] == [{"address": "10.0.0.10", "log": "/w/t/aaa/run/logs/aaa"}]
    assert json.loads(out["agent_config"]) == {"ca": "/w/t/aaa/state/pki/ca.pem",
                                               "media_log": "/w/t/aaa/run/media/aaa.rtp.jsonl"}
    assert str(state) not in json.dumps(out) and str(run) not in json.dumps(out)


def test_files_a_context_names_are_pushed_with_the_image(site):
    s, state, run = site
    (state / "pki").mkdir(parents=True)
    (state / "pki/ca.pem").write_text("ca")
    (state / "pki/server.key").write_text("key")
    image = state / "nodes/aaa/aaa-freeradius"
    image.mkdir(parents=True)
    (image / "eap.conf").write_text("x")
    ctx = {"ca_cert": str(state / "pki/ca.pem"), "dir": str(image),
           "conf": f"private_key_file = {state}/pki/server.key;",
           "missing": str(state / "pki/none.pem"), "own": str(image / "eap.conf")}
    assert s.referenced(ctx, image) == [state / "pki/ca.pem", state / "pki/server.key"]


def test_public_key_line_of_an_openssh_private_key(tmp_path):
    keys = SshKeys.ensure(tmp_path, "lab")
    pub = Path(f"{keys.client_key}.pub").read_text().split()
    assert public_key_line(str(keys.client_key)) == " ".join(pub[:2])


class ShellTransport(SshTransport):
    """SshTransport whose command lines run in a local shell instead of an SSH channel:
    exactly the line a remote sshd hands to the login shell."""

    def __init__(self, shell: str):
        super().__init__("127.0.0.1")
        self.shell = shell

    def _exec(self, line, timeout, combine=False):
        r = subprocess.run([self.shell, "-c", line], capture_output=True, text=True,
                           timeout=timeout)
        return subprocess.CompletedProcess(line, r.returncode, r.stdout + (
            r.stderr if combine else ""), "" if combine else r.stderr)


HOSTILE = ["$(touch {m})", "`touch {m}`", "; touch {m}", "&& touch {m} #", "a'b\"c\\d",
           "*", "~", "line\nbreak", "--x=$HOME"]


@pytest.mark.parametrize("shell", ["sh", "bash"])
def test_hostile_words_reach_the_remote_command_as_words(tmp_path, shell):
    if not shutil.which(shell):
        pytest.skip(f"no {shell}")
    mark = tmp_path / "pwned"
    words = [w.format(m=mark) for w in HOSTILE]
    cwd = tmp_path / "a dir; $(touch pwned)"
    cwd.mkdir()
    t = ShellTransport(shell)
    # foreground: argv, environment and working directory
    r = t.run(["printf", "%s\\0", *words], env={"V": words[0]}, cwd=str(cwd))
    assert r.returncode == 0 and r.stdout.split("\0")[:-1] == words
    r = t.run(["sh", "-c", 'printf %s "$V"'], env={"V": words[0]})
    assert r.stdout == words[0]
    r = t.run(["pwd"], cwd=str(cwd))
    assert r.stdout.strip() == str(cwd)
    # background: the same words, its output in a log file with a hostile name
    log = tmp_path / "logs; touch pwned" / "out $(id).log"
    pid = t.run(["printf", "%s\\0", *words], background=True, log=str(log), cwd=str(cwd))
    assert pid > 1
    deadline = time.monotonic() + 10
    while not (log.exists() and log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert log.read_text().split("\0")[:-1] == words
    assert not mark.exists() and not (cwd / "pwned").exists() and not Path("pwned").exists()


def _journal(tmp_path, name="t", remote=None, images=None):
    from orchestrator.network.state import Journal
    return Journal(name=name, prefix="mx", topology_file="t.yaml",
                   run_dir=str(tmp_path / "run"), remote=remote or {},
                   nodes={"nar": {"netns": "none", "images": images or {}}})


def test_a_workdir_too_long_for_the_agents_socket_is_refused_before_connecting(tmp_path):
    from orchestrator.deploy.inventory import load_inventory_text
    from orchestrator.deploy.remote import RemoteError, attach
    inv = load_inventory_text("defaults: {key: k}\nnodes:\n  nar: {host: 192.0.2.1, workdir: "
                              "/var/tmp/a-rather-long-directory-name/for-the-testbed-files}\n")
    with pytest.raises(RemoteError, match="control socket .* more than a Unix socket path holds"
                                          ".*give a shorter 'workdir'"):
        attach(_journal(tmp_path, name="a-testbed-name-of-forty-characters-long"), inv)


def test_teardown_of_an_unreachable_machine_is_reported_not_fatal(tmp_path):
    """Port 1 of loopback refuses the connection: the teardown says so and goes on."""
    from orchestrator.deploy.remote import teardown
    keys = SshKeys.ensure(tmp_path / "keys", "lab")
    j = _journal(tmp_path, remote={"nar": {
        "host": "127.0.0.1", "port": 1, "user": "root", "key": str(keys.client_key),
        "known_hosts": str(keys.known_hosts), "via": None, "netns": None,
        "root": "/var/tmp/mpa-testbed/t/nar", "python": "python3"}},
        images={"mpa-agent": {"pid": 4242, "start": 1, "remote": True,
                              "stop_signal": "TERM", "stop_grace": 1}})
    out = teardown(j)
    assert len(out) == 1 and out[0].startswith("could not tear down nar over SSH: ssh "
                                               "root@127.0.0.1:1: cannot connect")
