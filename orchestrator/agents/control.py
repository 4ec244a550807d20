"""The control channel: the runner commands agents and awaits their results or errors.

Who does what: `ControlServer` (inside an agent) accepts connections on a Unix socket, one
thread per connection, reads one JSON request per line and writes one JSON reply per line;
`AgentClient` (in the runner) sends a request and waits for its reply, with a timeout.

    request  {"id": "3f2a", "cmd": "associate", "args": {"ap_bssid": "02:..."}}
    reply    {"id": "3f2a", "ok": true,  "result": {...}}
             {"id": "3f2a", "ok": false, "error": "association with ... failed: timeout",
              "error_type": "CommandError"}

Why a Unix socket: it is a filesystem object, and network namespaces isolate addresses, not
the filesystem. The runner in the root namespace therefore reaches an agent inside any
Mininet host's namespace at `<journal.dir>/agents/<node>.sock`, and the control traffic
never crosses (or disturbs) the emulated network. An agent on another machine is reached
through SSH: `relay` copies the SSH channel to the agent's socket, and `AgentClient` takes
any connect function that returns such a stream (see deploy/mpa_agent.py).

Commands run concurrently (a thread per connection); a client opens one connection per
call, so calls from several runner threads never wait for each other.
"""
from __future__ import annotations

import json
import os
import selectors
import socket
import sys
import threading
import time
import traceback
import uuid
from typing import Any, Callable, Protocol

from ..protocols import jsonmsg
from .health import Loop

SUN_PATH_MAX = 107            # sockaddr_un.sun_path holds 108 bytes including the NUL
MAX_REQUEST = 1 << 20         # one request line; a longer one closes the connection


class CommandError(Exception):
    """A command failed in a way the runner should read (the message is sent as the error)."""


class AgentError(RuntimeError):
    """A command could not be completed: the agent answered with an error, did not answer
    in time, or could not be reached. `kind` is "error", "timeout" or "unreachable"."""

    def __init__(self, message: str, kind: str = "error", cmd: str | None = None):
        super().__init__(message)
        self.kind, self.cmd = kind, cmd


Handler = Callable[[str, dict, str], Any]     # (cmd, args, request id) -> JSON-able result


def check_socket_path(path: str) -> None:
    if len(os.fsencode(path)) > SUN_PATH_MAX:
        raise ValueError(f"control socket path is {len(os.fsencode(path))} bytes, more than a "
                         f"Unix socket allows ({SUN_PATH_MAX}): {path}; use a shorter state "
                         "directory (MPA_STATE_DIR) or testbed name")


class ControlServer:
    """JSON-lines request/response server on a Unix socket (runs inside the agent)."""

    def __init__(self, path: str, handler: Handler):
        check_socket_path(path)
        self.path, self.handler = path, handler
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        if os.path.exists(path):
            os.unlink(path)               # a stale socket of a previous agent on this node
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(path)
        os.chmod(path, 0o600)
        self._sock.listen(16)
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self.loop: Loop | None = Loop("control")

    def start(self) -> "ControlServer":
        self._thread = self.loop.start(self._accept_loop, "control-accept")
        return self

    def close(self) -> None:
        self._closed.set()
        self.loop.stop()
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                if self._closed.is_set():
                    return
                time.sleep(0.01)            # e.g. EMFILE: try again, do not die
                continue
            threading.Thread(target=self._serve, args=(conn,), name="control-conn",
                             daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            with conn, conn.makefile("rwb") as fh:
                while line := fh.readline(MAX_REQUEST + 1):
                    too_long = len(line) > MAX_REQUEST
                    reply = (self._answer(line) if not too_long else
                             {"id": None, "ok": False, "error": "bad request: longer than "
                              f"{MAX_REQUEST} octets", "error_type": "BadRequest"})
                    fh.write((json.dumps(reply, default=str) + "\n").encode())
                    fh.flush()
                    if too_long:
                        return
        except OSError:
            pass                          # the client gave up (timeout) and went away

    def _answer(self, line: bytes) -> dict:
        try:
            req = jsonmsg.loads(line, "request", max_depth=32, max_length=MAX_REQUEST)
            if not isinstance(req, dict) or not isinstance(req.get("cmd"), str):
                raise ValueError("expected {\"id\", \"cmd\", \"args\"}")
        except ValueError as exc:
            if self.loop is not None:
                self.loop.malformed_input(str(exc))
            return {"id": None, "ok": False, "error": f"bad request: {exc}",
                    "error_type": "BadRequest"}
        req_id, args = str(req.get("id") or uuid.uuid4().hex[:8]), req.get("args") or {}
        if not isinstance(args, dict):
            return {"id": req_id, "ok": False, "error": "bad request: 'args' must be a mapping",
                    "error_type": "BadRequest"}
        try:
            return {"id": req_id, "ok": True, "result": self.handler(req["cmd"], args, req_id)}
        except CommandError as exc:
            return {"id": req_id, "ok": False, "error": str(exc), "error_type": "CommandError"}
        except Exception as exc:          # a failing command must never take the agent down
            traceback.print_exc(file=sys.stderr)
            return {"id": req_id, "ok": False, "error": f"{type(exc).__name__}: {exc}",
                    "error_type": type(exc).__name__}


class Stream(Protocol):
    """What AgentClient needs of a connection: a socket, or a paramiko Channel."""
    def sendall(self, data: bytes) -> Any: ...
    def recv(self, n: int) -> bytes: ...
    def settimeout(self, t: float | None) -> Any: ...
    def close(self) -> Any: ...


class AgentClient:
    """The runner's side: `call("associate", ap_bssid=..., timeout=5)` -> result.

    `connect` returns a new stream to the agent (default: the Unix socket at `path`); the
    SSH transport passes one that relays through the remote host. By default every call
    opens its own connection (calls from several threads run concurrently); `persistent`
    keeps one connection and serializes calls, for connections that are costly to open
    (an SSH exec channel and a relay process).
    """

    def __init__(self, path: str, connect: Callable[[], Stream] | None = None,
                 name: str | None = None, persistent: bool = False):
        self.path, self.name = path, name or path
        self._connect = connect or self._connect_unix
        self.persistent = persistent
        self._stream: Stream | None = None
        self._lock = threading.Lock()

    def _connect_unix(self) -> Stream:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(self.path)
        except OSError:
            s.close()
            raise
        return s

    def call(self, cmd: str, /, timeout: float = 10.0, **args) -> Any:
        return self.request(cmd, args, timeout)

    def request(self, cmd: str, args: dict | None = None, timeout: float = 10.0) -> Any:
        """Send one command and wait at most `timeout` seconds for its reply."""
        req_id = uuid.uuid4().hex[:12]
        if not self.persistent:
            reply = self._exchange(self._open(cmd), req_id, cmd, args, timeout, keep=False)
        else:
            with self._lock:
                stream, self._stream = self._stream or self._open(cmd), None
                reply = self._exchange(stream, req_id, cmd, args, timeout, keep=True)
                self._stream = stream            # kept only after a complete exchange
        if reply.get("id") != req_id:
            raise AgentError(f"agent {self.name} answered request {reply.get('id')!r}, "
                             f"expected {req_id!r}", "error", cmd)
        if not reply.get("ok"):
            raise AgentError(f"{self.name}: {cmd} failed: {reply.get('error')}", "error", cmd)
        return reply.get("result")

    def close(self) -> None:
        with self._lock:
            if self._stream is not None:
                self._stream.close()
                self._stream = None

    def _open(self, cmd: str) -> Stream:
        try:
            return self._connect()
        except OSError as exc:
            raise AgentError(f"agent {self.name} is unreachable ({exc}); is it running? "
                             "see its log in <run>/logs/<node>/", "unreachable", cmd) from None

    def _exchange(self, stream: Stream, req_id: str, cmd: str, args: dict | None,
                  timeout: float, keep: bool) -> dict:
        """Send one request line, read one reply line; the stream is closed on any failure
        (and after the exchange unless `keep`)."""
        deadline = time.monotonic() + timeout
        ok = False
        try:
            stream.settimeout(max(deadline - time.monotonic(), 0.001))
            stream.sendall((json.dumps({"id": req_id, "cmd": cmd, "args": args or {}})
                            + "\n").encode())
            buf = b""
            while not buf.endswith(b"\n"):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise socket.timeout
                stream.settimeout(left)
                chunk = stream.recv(65536)
                if not chunk:
                    raise AgentError(f"agent {self.name} closed the connection before "
                                     f"answering '{cmd}' (is it running? see its log)",
                                     "unreachable", cmd)
                buf += chunk
            ok = True
        except (socket.timeout, TimeoutError):
            raise AgentError(f"agent {self.name} did not answer '{cmd}' within {timeout:g}s "
                             "(the command may still be running there)", "timeout", cmd) from None
        except OSError as exc:
            raise AgentError(f"lost agent {self.name} during '{cmd}': {exc}", "unreachable",
                             cmd) from None
        finally:
            if not (ok and keep):
                stream.close()
        try:
            return json.loads(buf)
        except ValueError:
            raise AgentError(f"agent {self.name} sent a reply that is not JSON: {buf[:200]!r}",
                             "error", cmd) from None

    def wait_ready(self, timeout: float = 10.0, alive: Callable[[], bool] | None = None) -> dict:
        """Poll `hello` until the agent answers (readiness). `alive` lets the caller stop
        early when the agent process has died. Returns the hello reply."""
        deadline = time.monotonic() + timeout
        last: AgentError | None = None
        while time.monotonic() < deadline:
            try:
                return self.call("hello", timeout=max(min(2.0, deadline - time.monotonic()), 0.05))
            except AgentError as exc:
                if exc.kind != "unreachable":
                    raise
                last = exc
            if alive is not None and not alive():
                raise AgentError(f"agent {self.name} exited before it was ready", "unreachable",
                                 "hello")
            time.sleep(0.01)
        raise AgentError(f"agent {self.name} was not ready within {timeout:g}s ({last})",
                         "timeout", "hello")


def relay(path: str) -> int:
    """Copy stdin/stdout to the Unix socket `path` and back (the far end of an SSH channel)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError as exc:
        print(f"relay: cannot connect to agent socket {path}: {exc}", file=sys.stderr)
        return 2
    sel = selectors.DefaultSelector()
    sel.register(0, selectors.EVENT_READ, "stdin")
    sel.register(sock, selectors.EVENT_READ, "sock")
    while True:
        for key, _ in sel.select():
            if key.data == "stdin":
                data = os.read(0, 65536)
                if not data:
                    sel.unregister(0)
                    sock.shutdown(socket.SHUT_WR)
                else:
                    sock.sendall(data)
            else:
                data = sock.recv(65536)
                if not data:
                    return 0
                os.write(1, data)


def main(argv: list[str] | None = None) -> int:
    import argparse
    ap = argparse.ArgumentParser(prog="python -m orchestrator.agents.control",
                                 description="talk to an mpa-agent's control socket")
    sub = ap.add_subparsers(dest="op", required=True)
    r = sub.add_parser("relay", help="copy stdin/stdout to the socket (used over SSH)")
    r.add_argument("socket")
    c = sub.add_parser("call", help="send one command and print its result as JSON")
    c.add_argument("socket")
    c.add_argument("cmd")
    c.add_argument("args", nargs="?", default="{}", help="JSON mapping of arguments")
    c.add_argument("--timeout", type=float, default=10.0)
    args = ap.parse_args(argv)
    if args.op == "relay":
        return relay(args.socket)
    try:
        print(json.dumps(AgentClient(args.socket).request(args.cmd, json.loads(args.args),
                                                          args.timeout)))
    except AgentError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
