"""LocalTransport in the test's own namespace (no root), and the per-testbed SSH keys."""
import signal
import socket
import sys

import paramiko
import pytest

from orchestrator.deploy.sshkeys import SshKeys
from orchestrator.deploy.transport import LocalTransport, SshTransport, TransportError


@pytest.fixture
def local():
    return LocalTransport(None)


def test_run_waits_and_interleaves_output(local):
    r = local.run(["sh", "-c", "echo out; echo err >&2; exit 3"], env={"X": "1"})
    assert r.returncode == 3 and r.stdout == "out\nerr\n"
    assert local.run(["sh", "-c", 'echo "$X"'], env={"X": "seen"}).stdout == "seen\n"


def test_background_process_lifecycle(local, tmp_path):
    log = tmp_path / "logs" / "n" / "sleeper.log"
    pid = local.spawn([sys.executable, "-c", "import time; print('up', flush=True); time.sleep(30)"],
                      log=log)
    assert local.alive(pid) and local.exit_code(pid) is None
    for _ in range(200):
        if "up" in local.read_text(log):
            break
        __import__("time").sleep(0.01)
    assert local.read_text(log) == "up\n"
    assert local.stop(pid, grace=2)
    assert not local.alive(pid) and local.exit_code(pid) == -signal.SIGTERM
    assert not local.kill(pid)


def test_files_and_ports(local, tmp_path):
    src = tmp_path / "a.txt"
    src.write_text("hello")
    local.put(src, str(tmp_path / "deep" / "b.txt"), mode=0o600)
    local.get(str(tmp_path / "deep" / "b.txt"), tmp_path / "back" / "c.txt")
    assert (tmp_path / "back" / "c.txt").read_text() == "hello"
    assert local.exists(tmp_path / "deep" / "b.txt") and not local.exists(tmp_path / "none")
    assert local.read_text(tmp_path / "none") == ""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert local.port_bound("tcp", port)        # via `ss`: no child of ours is alive
    assert not local.port_bound("tcp", port)


def test_ssh_keys_are_openssh_ed25519_that_paramiko_loads(tmp_path):
    keys = SshKeys.ensure(tmp_path / "ssh", "t1")
    key = paramiko.Ed25519Key.from_private_key_file(str(keys.client_key))
    assert keys.authorized_keys.read_text().split()[:2] == ["ssh-ed25519", key.get_base64()]
    assert (keys.client_key.stat().st_mode & 0o777) == 0o600
    keys.trust("ap1", "10.8.1.2", 2222)
    keys.trust("ap1", "10.8.1.2", 2222)                 # replaced, not duplicated
    keys.trust("ap2", "10.8.1.3", 22)
    hosts = paramiko.HostKeys(str(keys.known_hosts))
    assert set(hosts.keys()) == {"[10.8.1.2]:2222", "10.8.1.3"}
    host = paramiko.Ed25519Key.from_private_key_file(str(keys.host_key("ap1")))
    assert hosts.lookup("[10.8.1.2]:2222")["ssh-ed25519"] == host
    assert SshKeys.ensure(tmp_path / "ssh", "t1").client_key.read_bytes() == \
        keys.client_key.read_bytes()                    # kept, not regenerated


def test_ssh_transport_refuses_to_run_without_known_hosts(tmp_path):
    t = SshTransport("127.0.0.1", 1, "root", tmp_path / "key", tmp_path / "known_hosts")
    with pytest.raises(TransportError, match="known_hosts file .* not found; unknown hosts are refused"):
        t.run(["true"])
