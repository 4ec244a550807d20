"""The control channel and the agent process, without root: Unix sockets in a tmp dir."""
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from orchestrator.agents.agent import Agent, Role, command
from orchestrator.events import EventLog
from orchestrator.agents.control import AgentClient, AgentError, CommandError, ControlServer
from orchestrator.deploy.mpa_agent import build_bundle

REPO = Path(__file__).resolve().parents[2]


def start_agent(tmp_path, role="correspondent", node="cn", python=(sys.executable,),
                extra=(), cwd=REPO):
    events, sock = tmp_path / "events" / f"{node}.jsonl", tmp_path / f"{node}.sock"
    argv = [*python, "--role", role, "--node", node, "--events", str(events),
            "--control", str(sock), *extra]
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    return proc, events, sock


def records(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


@pytest.fixture
def agent(tmp_path):
    t0 = time.perf_counter()
    proc, events, sock = start_agent(tmp_path, python=(sys.executable, "-m",
                                                       "orchestrator.agents.agent"))
    client = AgentClient(str(sock), name="cn")
    hello = client.wait_ready(10, alive=lambda: proc.poll() is None)
    print(f"agent start-to-hello: {(time.perf_counter() - t0) * 1000:.0f} ms")
    yield proc, client, events, hello
    if proc.poll() is None:
        proc.terminate()
        proc.wait(10)


def test_hello_says_who_and_where(agent):
    proc, _, _, hello = agent
    assert hello["role"] == "correspondent" and hello["node"] == "cn"
    assert hello["pid"] == proc.pid
    assert {"hello", "ping"} <= set(hello["commands"])
    assert isinstance(hello["interfaces"], list)
    assert all("name" in i for i in hello["interfaces"])


def test_ping_is_answered_with_the_monotonic_clock(agent):
    _, client, _, _ = agent
    before = time.perf_counter_ns()
    assert before <= client.call("ping")["mono_ns"] <= time.perf_counter_ns()


def test_unknown_command_is_an_error_that_lists_the_known_ones(agent):
    _, client, _, _ = agent
    with pytest.raises(AgentError) as err:
        client.call("associat")
    assert err.value.kind == "error"
    assert "unknown command 'associat' for role correspondent; known: bicast, calls, health, hello, ping" in str(err.value)


def test_wrong_arguments_are_an_error_with_the_usage(agent):
    _, client, _, _ = agent
    with pytest.raises(AgentError, match=r"unexpected keyword argument 'bssid'.*usage: ping\(\)"):
        client.call("ping", bssid="x")


def test_every_command_is_an_event_and_sigterm_stops_the_agent(agent):
    proc, client, events, _ = agent
    client.call("ping")
    with pytest.raises(AgentError):
        client.call("nope")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    recs = records(events)
    names = [r["event"] for r in recs]
    assert names[0] == "agent_started" and names[-1] == "agent_stopped"
    assert recs[-1]["attrs"]["reason"] == "SIGTERM"
    ping = [r for r in recs if r["attrs"].get("cmd") == "ping"]
    assert [r["event"] for r in ping] == ["command_start", "command_done"]
    assert ping[0]["attrs"]["id"] == ping[1]["attrs"]["id"]
    assert [r["event"] for r in recs if r["attrs"].get("cmd") == "nope"] == ["command_failed"]
    assert all(r["node"] == "cn" and r["role"] == "correspondent" for r in recs)
    assert not Path(client.path).exists()          # the socket is removed on exit


def test_a_command_that_fails_in_the_role_reports_its_reason(tmp_path):
    proc, _, sock = start_agent(tmp_path, "mobile-node", "mn",
                                python=(sys.executable, "-m", "orchestrator.agents.agent"),
                                extra=("--config", '{"iface": "no-such0"}'))
    try:
        client = AgentClient(str(sock), name="mn")
        client.wait_ready(10)
        with pytest.raises(AgentError, match="cannot open interface 'no-such0' on mn"):
            client.call("associate", ap_bssid="02:00:00:00:00:01")
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize("extra, message", [
    (("--config", '{"ifcae": "eth0"}'), "unknown config key(s) ifcae for role mobile-node"),
    (("--config", "{nope"), "--config is not valid JSON"),
])
def test_bad_config_stops_the_agent_with_a_message(tmp_path, extra, message):
    proc, _, _ = start_agent(tmp_path, "mobile-node", "mn", extra=extra,
                             python=(sys.executable, "-m", "orchestrator.agents.agent"))
    out, _ = proc.communicate(timeout=10)
    assert proc.returncode != 0 and message in out


def test_unknown_role_lists_the_roles(tmp_path):
    proc, _, _ = start_agent(tmp_path, "mobile", "mn",
                             python=(sys.executable, "-m", "orchestrator.agents.agent"))
    out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 2
    assert "unknown role(s) mobile; known: access-point, access-router, correspondent, " \
           "information-server, mobile-node, paa" in out


def test_colocated_roles_share_one_agent(tmp_path):
    """RFC 6252 C.5.3: the PAA is co-located on the nAR."""
    proc, events, sock = start_agent(tmp_path, "access-router,paa", "nar",
                                     python=(sys.executable, "-m", "orchestrator.agents.agent"))
    try:
        hello = AgentClient(str(sock)).wait_ready(10, alive=lambda: proc.poll() is None)
    finally:
        proc.terminate()
        proc.wait(10)
    assert hello["role"] == "access-router,paa"
    assert {"hello", "ping", "mn_ar_key", "tconf_status"} <= set(hello["commands"])
    assert records(events)[0]["role"] == "access-router,paa"


def test_two_roles_defining_one_command_cannot_share_an_agent(tmp_path):
    class A(Role):
        name = "a"

        @command()
        def start(self):
            return "a"

    class B(Role):
        name = "b"

        @command()
        def start(self):
            return "b"

    log = EventLog(tmp_path / "e.jsonl", "n", "a,b")
    with pytest.raises(ValueError, match="roles a and b both define command 'start'"):
        Agent([A("n", {}, log), B("n", {}, log)], log)
    assert Agent([A("n", {}, log)], log).dispatch("start", {}, "1") == "a"


def test_the_zipapp_runs_on_the_standard_library_alone(tmp_path):
    """What is pushed to a node: `python -I -S mpa-agent.pyz` (no site-packages, no cwd)."""
    bundle = build_bundle(tmp_path / "mpa-agent.pyz")
    assert build_bundle(tmp_path / "again.pyz").read_bytes() == bundle.read_bytes()
    proc, events, sock = start_agent(tmp_path, "paa", "nar", cwd=tmp_path,
                                     python=(sys.executable, "-I", "-S", str(bundle)))
    try:
        hello = AgentClient(str(sock)).wait_ready(10, alive=lambda: proc.poll() is None)
        assert hello["role"] == "paa"
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0, out
    assert records(events)[-1]["event"] == "agent_stopped"


def test_relay_carries_commands_like_an_ssh_channel(agent, tmp_path):
    """`control relay SOCKET` is what runs at the far end of an SSH exec channel."""
    _, client, _, _ = agent
    ours, theirs = socket.socketpair()
    relay = subprocess.Popen([sys.executable, "-m", "orchestrator.agents.control", "relay",
                              client.path], stdin=theirs, stdout=theirs, cwd=REPO)
    theirs.close()
    via = AgentClient(client.path, connect=lambda: ours, persistent=True, name="cn via relay")
    assert via.call("hello")["role"] == "correspondent"
    assert "mono_ns" in via.call("ping")                 # same connection, second call
    via.close()
    assert relay.wait(10) == 0


# ---- ControlServer / AgentClient in-process --------------------------------------------------
@pytest.fixture
def server(tmp_path):
    release = threading.Event()

    def handler(cmd, args, req_id):
        if cmd == "slow":
            release.wait(5)
            return "finally"
        if cmd == "fail":
            raise CommandError("it did not work: do X")
        if cmd == "crash":
            raise KeyError("boom")
        return {"cmd": cmd, "args": args}

    srv = ControlServer(str(tmp_path / "s.sock"), handler).start()
    yield srv, release
    release.set()
    srv.close()


def test_timeout_raises_agent_error_and_the_server_lives_on(server):
    srv, release = server
    client = AgentClient(srv.path)
    t0 = time.monotonic()
    with pytest.raises(AgentError) as err:
        client.call("slow", timeout=0.2)
    assert err.value.kind == "timeout" and 0.2 <= time.monotonic() - t0 < 1.0
    assert "did not answer 'slow' within 0.2s" in str(err.value)
    release.set()
    assert client.call("echo", x=1) == {"cmd": "echo", "args": {"x": 1}}


def test_commands_run_concurrently(server):
    srv, release = server
    client = AgentClient(srv.path)
    slow = {}
    t = threading.Thread(target=lambda: slow.setdefault("r", client.call("slow", timeout=5)))
    t.start()
    time.sleep(0.05)
    assert client.call("echo", timeout=1)["cmd"] == "echo"   # not stuck behind 'slow'
    release.set()
    t.join(5)
    assert slow["r"] == "finally"


def test_errors_come_back_as_agent_errors(server):
    srv, _ = server
    client = AgentClient(srv.path)
    with pytest.raises(AgentError, match="fail failed: it did not work: do X"):
        client.call("fail")
    with pytest.raises(AgentError, match=r"crash failed: KeyError: 'boom'"):
        client.call("crash")


def test_bad_request_lines_get_an_error_reply(server):
    srv, _ = server
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(srv.path)
        s.sendall(b"not json\n[1]\n")
        fh = s.makefile("rb")
        replies = [json.loads(fh.readline()) for _ in range(2)]
    assert all(r["ok"] is False and r["error"].startswith("bad request") for r in replies)


def test_unreachable_agent(tmp_path):
    with pytest.raises(AgentError) as err:
        AgentClient(str(tmp_path / "none.sock"), name="ghost").call("hello")
    assert err.value.kind == "unreachable" and "agent ghost is unreachable" in str(err.value)
    with pytest.raises(AgentError, match="not ready within 0.3s"):
        AgentClient(str(tmp_path / "none.sock")).wait_ready(0.3)


def test_socket_path_too_long_is_explained(tmp_path):
    with pytest.raises(ValueError, match="more than a Unix socket allows"):
        ControlServer(str(tmp_path / ("x" * 120) / "a.sock"), lambda *a: None)

