"""Transports: how the orchestrator reaches a node to push files and run processes.

Who does what:
- `Transport` is the interface: `put`/`get` copy files, `run` starts a command (waiting for
  it, or in the background returning its PID), `kill`/`alive` act on a PID.
- `LocalTransport(netns)` reaches an emulated host: commands run with `ip netns exec`,
  files go through the shared filesystem.
- `SshTransport(host, port, user, key_path, known_hosts)` reaches a machine over SSH with
  paramiko: files by SFTP, commands in an exec channel, background processes with
  `nohup setsid ... & echo $!`. Keys only (no passwords, no agent), and the server must be
  in `known_hosts` (unknown or changed host keys are refused).

The emulated case exercises SSH for real: `netns=` makes paramiko's TCP connection start
inside that Mininet host's network namespace (a socket created by a thread that entered
the namespace with setns(2)), so SSH crosses the emulated network from one host to another
while paramiko itself runs in the orchestrator's process.
"""
from __future__ import annotations

import ctypes
import os
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import threading
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Sequence

CLONE_NEWNET = 0x40000000


class TransportError(RuntimeError):
    pass


class Transport(ABC):
    """Where a node's files live and its processes run.

    `run` output: stdout and stderr interleaved in `CompletedProcess.stdout` (as a terminal
    shows them; a daemon's config check may write its complaint to either).
    """

    #: True when the orchestrator can reach the node's Unix sockets and files directly
    local: bool = False

    @abstractmethod
    def put(self, local: str | Path, remote: str, mode: int | None = None) -> None:
        """Copy a local file to `remote` (parent directories are created)."""

    @abstractmethod
    def get(self, remote: str, local: str | Path) -> None:
        """Copy `remote` to a local file (parent directories are created)."""

    @abstractmethod
    def run(self, argv: Sequence[str], env: dict | None = None, background: bool = False,
            cwd: str | None = None, log: str | Path | None = None,
            timeout: float = 60.0) -> int | subprocess.CompletedProcess:
        """Run `argv` on the node. Foreground: wait, return a CompletedProcess (text output).
        Background: detach it (own session, stdin from /dev/null, output appended to the
        node-side file `log`) and return its PID. `env` adds variables to the environment."""

    @abstractmethod
    def kill(self, pid: int, sig: int = signal.SIGTERM) -> bool:
        """Send `sig` to `pid`; False if there is no such process."""

    @abstractmethod
    def alive(self, pid: int) -> bool:
        """True while `pid` runs (a zombie counts as gone)."""

    @abstractmethod
    def read_text(self, path: str | Path) -> str:
        """A node-side text file ("" if it does not exist yet)."""

    @abstractmethod
    def exists(self, path: str | Path) -> bool:
        """Whether a node-side path exists."""

    def spawn(self, argv: Sequence[str], env: dict | None = None,
              log: str | Path | None = None, cwd: str | None = None) -> int:
        """Start `argv` in the background; returns its PID."""
        return self.run(argv, env, background=True, cwd=cwd, log=log)

    def exit_code(self, pid: int) -> int | None:
        """None while `pid` runs; else its exit status (-1 when the status is unknown)."""
        return None if self.alive(pid) else -1

    def port_bound(self, proto: str, port: int | str) -> bool:
        """Whether something listens on `proto` ("tcp"/"udp") `port` on the node."""
        flag = {"tcp": "-Hltn", "udp": "-Hlun"}[proto]
        r = self.run(["ss", flag, f"sport = :{int(port)}"], timeout=10)
        return r.returncode == 0 and bool(r.stdout.strip())

    def stop(self, pid: int, grace: float = 3.0) -> bool:
        """SIGTERM, wait up to `grace` seconds, then SIGKILL. True if it is gone."""
        if not self.kill(pid, signal.SIGTERM):
            return True
        if self.wait_gone(pid, grace):
            return True
        self.kill(pid, signal.SIGKILL)
        return self.wait_gone(pid, grace)

    def wait_gone(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.alive(pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---- local: an emulated host's namespace ------------------------------------------------
class LocalTransport(Transport):
    """A Mininet host on this machine: `ip netns exec <netns>`, shared filesystem.
    `netns=None` runs in the orchestrator's own namespace."""
    local = True

    def __init__(self, netns: str | None):
        self.netns = netns
        self._children: dict[int, subprocess.Popen] = {}

    def __repr__(self) -> str:
        return f"LocalTransport({self.netns})"

    def _argv(self, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.netns, *argv] if self.netns else list(argv)

    def put(self, local, remote, mode=None):
        Path(remote).parent.mkdir(parents=True, exist_ok=True)
        if Path(local).resolve() != Path(remote).resolve():
            shutil.copyfile(local, remote)
        if mode is not None:
            os.chmod(remote, mode)

    def get(self, remote, local):
        Path(local).parent.mkdir(parents=True, exist_ok=True)
        if Path(local).resolve() != Path(remote).resolve():
            shutil.copyfile(remote, local)

    def run(self, argv, env=None, background=False, cwd=None, log=None, timeout=60.0):
        full_env = {**os.environ, **(env or {})}
        if not background:
            return subprocess.run(self._argv(argv), stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, errors="replace",
                                  env=full_env, cwd=cwd, timeout=timeout)
        if log:
            Path(log).parent.mkdir(parents=True, exist_ok=True)
        out = open(log, "ab") if log else subprocess.DEVNULL
        try:
            # `ip netns exec` execs the command, so the PID is the command's own
            proc = subprocess.Popen(self._argv(argv), stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, env=full_env, cwd=cwd,
                                    start_new_session=True)
        finally:
            if log:
                out.close()
        self._children[proc.pid] = proc
        return proc.pid

    def kill(self, pid, sig=signal.SIGTERM):
        try:
            os.kill(pid, sig)
            return True
        except ProcessLookupError:
            return False

    def alive(self, pid):
        child = self._children.get(pid)
        if child is not None:
            return child.poll() is None          # also reaps our own child
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        return state != "Z"

    def exit_code(self, pid):
        child = self._children.get(pid)
        if child is not None:
            return child.poll()
        return super().exit_code(pid)

    def read_text(self, path):
        try:
            return Path(path).read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def exists(self, path):
        return Path(path).exists()

    def port_bound(self, proto, port):
        """Reads the namespace's socket table through a live child of ours when there is
        one (/proc/<pid>/net is that process's namespace view); otherwise asks `ss`."""
        pid = next((p for p, c in self._children.items() if c.poll() is None), None)
        if pid is None:
            return super().port_bound(proto, port)
        want, listening = f"{int(port):04X}", {"tcp": "0A", "udp": "07"}[proto]
        for table in (proto, proto + "6"):
            try:
                lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
            except OSError:
                continue
            for ln in lines:
                f = ln.split()
                if f[1].rsplit(":", 1)[1] == want and f[3] == listening:
                    return True
        return False


# ---- SSH: a real machine, or an emulated host running sshd ---------------------------------
def connect_from_netns(netns: str | None, address: tuple[str, int], timeout: float) -> socket.socket:
    """A TCP connection to `address` that starts inside the named network namespace.

    Network namespaces are per thread: a short-lived thread enters `netns` with setns(2),
    creates and connects the socket, and exits; the socket keeps its namespace. Needs
    CAP_SYS_ADMIN (root).
    """
    if netns is None:
        return socket.create_connection(address, timeout=timeout)
    result: dict = {}

    def work():
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns into {netns}: {os.strerror(err)}")
            finally:
                os.close(fd)
            result["sock"] = socket.create_connection(address, timeout=timeout)
        except OSError as exc:
            result["error"] = exc

    t = threading.Thread(target=work, name=f"connect-in-{netns}")
    t.start()
    t.join()
    if "error" in result:
        raise result["error"]
    return result["sock"]


class SshTransport(Transport):
    """A node reached over SSH (paramiko). `netns` is for the emulated case: the namespace of
    the host the SSH client side sits in."""

    def __init__(self, host: str, port: int = 22, user: str = "root",
                 key_path: str | Path = "", known_hosts: str | Path = "",
                 netns: str | None = None, connect_timeout: float = 10.0):
        self.host, self.port, self.user = host, port, user
        self.key_path, self.known_hosts = str(key_path), str(known_hosts)
        self.netns, self.connect_timeout = netns, connect_timeout
        self._client = None
        self._sftp = None
        self._lock = threading.Lock()
        # one SFTP session, one request at a time: paramiko's SFTPClient hung with requests
        # from several threads (the lifecycle pushes a node's images side by side)
        self._sftp_lock = threading.RLock()

    def __repr__(self) -> str:
        via = f" from netns {self.netns}" if self.netns else ""
        return f"SshTransport({self.user}@{self.host}:{self.port}{via})"

    # -- connection --------------------------------------------------------------------
    def client(self):
        with self._lock:
            if self._client is None or not self._client.get_transport() or \
                    not self._client.get_transport().is_active():
                self._client = self._connect()
                self._sftp = None
            return self._client

    def _connect(self):
        import paramiko
        where = f"{self.user}@{self.host}:{self.port}"
        if not self.known_hosts or not Path(self.known_hosts).is_file():
            raise TransportError(f"ssh {where}: known_hosts file {self.known_hosts!r} not "
                                 "found; unknown hosts are refused (add the host's key to it)")
        if not self.key_path or not Path(self.key_path).is_file():
            raise TransportError(f"ssh {where}: private key {self.key_path!r} not found")
        try:
            sock = connect_from_netns(self.netns, (self.host, self.port), self.connect_timeout)
        except OSError as exc:
            raise TransportError(f"ssh {where}: cannot connect: {exc}"
                                 + (f" (from netns {self.netns})" if self.netns else "")) from None
        client = paramiko.SSHClient()
        client.load_host_keys(self.known_hosts)
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            client.connect(self.host, port=self.port, username=self.user,
                           key_filename=self.key_path, look_for_keys=False, allow_agent=False,
                           sock=sock, timeout=self.connect_timeout,
                           banner_timeout=self.connect_timeout,
                           auth_timeout=self.connect_timeout)
        except paramiko.BadHostKeyException as exc:
            client.close()                      # stops paramiko's thread, then the socket
            sock.close()
            raise TransportError(f"ssh {where}: host key does not match {self.known_hosts} "
                                 f"({exc}); if the host was re-installed, update that file") from None
        except paramiko.SSHException as exc:
            client.close()
            sock.close()
            hint = ""
            if "not found in known_hosts" in str(exc):
                hint = f"; add the host's public key to {self.known_hosts}"
            elif isinstance(exc, paramiko.AuthenticationException):
                hint = (f"; is the public key of {self.key_path} in the authorized_keys of "
                        f"{self.user} there?")
            raise TransportError(f"ssh {where}: {exc}{hint}") from None
        return client

    def sftp(self):
        client = self.client()
        with self._lock:
            if self._sftp is None:
                self._sftp = client.open_sftp()
            return self._sftp

    def close(self):
        with self._lock:
            if self._sftp is not None:
                self._sftp.close()
            if self._client is not None:
                self._client.close()
            self._client = self._sftp = None

    # -- files -----------------------------------------------------------------------------
    def put(self, local, remote, mode=None):
        with self._sftp_lock:
            self._mkdir_p(str(Path(remote).parent))
            sftp = self.sftp()
            sftp.put(str(local), remote)
            sftp.chmod(remote, mode if mode is not None else os.stat(local).st_mode & 0o777)

    def get(self, remote, local):
        Path(local).parent.mkdir(parents=True, exist_ok=True)
        try:
            with self._sftp_lock:
                self.sftp().get(remote, str(local))
        except FileNotFoundError:
            raise TransportError(f"ssh {self.host}: no file {remote} to fetch") from None

    def read_text(self, path):
        try:
            with self._sftp_lock, self.sftp().open(str(path), "r") as fh:
                return fh.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def exists(self, path):
        try:
            with self._sftp_lock:
                self.sftp().stat(str(path))
            return True
        except FileNotFoundError:
            return False

    def makedirs(self, path: str) -> None:
        """mkdir -p over SFTP (no command, so no login shell)."""
        with self._sftp_lock:
            self._mkdir_p(str(path))

    def rmdir(self, path: str) -> bool:
        """Remove an empty directory over SFTP; False if it is not empty or not there."""
        try:
            with self._sftp_lock:
                self.sftp().rmdir(str(path))
            return True
        except OSError:
            return False

    def files(self, base: str) -> list[str]:
        """Paths (relative to `base`) of the regular files below the node-side directory
        `base`; [] if it does not exist."""

        def walk(rel: str) -> list[str]:
            try:
                with self._sftp_lock:
                    entries = self.sftp().listdir_attr(f"{base}/{rel}" if rel else base)
            except FileNotFoundError:
                return []
            out = []
            for e in entries:
                sub = f"{rel}/{e.filename}" if rel else e.filename
                if stat.S_ISDIR(e.st_mode):
                    out += walk(sub)
                elif stat.S_ISREG(e.st_mode):
                    out.append(sub)
            return out
        return walk("")

    def _mkdir_p(self, path: str) -> None:
        sftp = self.sftp()
        missing = []
        p = Path(path)
        while str(p) not in ("/", "."):
            try:
                sftp.stat(str(p))
                break
            except FileNotFoundError:
                missing.append(str(p))
                p = p.parent
        for d in reversed(missing):
            try:
                sftp.mkdir(d)
            except OSError as exc:
                # made meanwhile by another session (two nodes on one machine)? SFTP says
                # only "Failure"
                try:
                    made = stat.S_ISDIR(sftp.stat(d).st_mode)
                except OSError:
                    made = False
                if not made:
                    raise TransportError(f"ssh {self.host}: cannot make directory {d}: "
                                         f"{exc}") from None

    # -- processes ---------------------------------------------------------------------------
    def command_line(self, argv: Sequence[str], env: dict | None = None,
                     cwd: str | None = None) -> str:
        cmd = shlex.join(argv)
        if env:
            cmd = "env " + " ".join(shlex.quote(f"{k}={v}") for k, v in env.items()) + " " + cmd
        if cwd:
            cmd = f"cd {shlex.quote(cwd)} && {cmd}"
        return cmd

    def run(self, argv, env=None, background=False, cwd=None, log=None, timeout=60.0):
        if background:
            inner = self.command_line(argv, env)
            out = shlex.quote(str(log)) if log else "/dev/null"
            # setsid: own session (survives the SSH session); with no job control the
            # background job is not a group leader, so setsid does not fork and $! is the
            # command's own PID (nohup and setsid both exec).
            # the background job must be this one simple command, not an && list (that
            # would be a subshell, and $! its PID)
            line = f"nohup setsid {inner} >>{out} 2>&1 </dev/null & echo $!"
            if cwd:
                line = f"cd {shlex.quote(cwd)} || exit 1; {line}"
            if log:
                line = f"mkdir -p {shlex.quote(str(Path(log).parent))} || exit 1; {line}"
            r = self._exec(line, timeout)
            try:
                return int(r.stdout.strip().splitlines()[-1])
            except (ValueError, IndexError):
                raise TransportError(f"ssh {self.host}: starting {argv[0]} printed no PID: "
                                     f"{(r.stderr or r.stdout).strip()}") from None
        r = self._exec(self.command_line(argv, env, cwd), timeout, combine=True)
        return subprocess.CompletedProcess(list(argv), r.returncode, r.stdout, None)

    def _exec(self, line: str, timeout: float, combine: bool = False) -> subprocess.CompletedProcess:
        chan = self.client().get_transport().open_session(timeout=self.connect_timeout)
        try:
            chan.settimeout(timeout)
            chan.set_combine_stderr(combine)
            chan.exec_command(line)
            chan.shutdown_write()
            out, err = bytearray(), bytearray()
            deadline = time.monotonic() + timeout
            while not (chan.exit_status_ready() and not chan.recv_ready()
                       and not chan.recv_stderr_ready()):
                if time.monotonic() > deadline:
                    raise TransportError(f"ssh {self.host}: '{line}' did not finish in {timeout:g}s")
                if chan.recv_ready():
                    out += chan.recv(65536)
                elif chan.recv_stderr_ready():
                    err += chan.recv_stderr(65536)
                else:
                    time.sleep(0.002)
            rc = chan.recv_exit_status()
        finally:
            chan.close()
        return subprocess.CompletedProcess(line, rc, out.decode(errors="replace"),
                                           err.decode(errors="replace"))

    def open_pipe(self, argv: Sequence[str], env: dict | None = None):
        """A paramiko Channel connected to `argv`'s stdin and stdout (socket-like)."""
        chan = self.client().get_transport().open_session(timeout=self.connect_timeout)
        chan.exec_command(self.command_line(argv, env))
        return chan

    def kill(self, pid, sig=signal.SIGTERM):
        return self._exec(f"kill -{int(sig)} {int(pid)}", 10).returncode == 0

    def alive(self, pid):
        """Read over SFTP (/proc/<pid>/stat's state), not by a command: an exec channel
        starts the user's shell, 0.3-0.7 s each on a loaded machine."""
        text = self.read_text(f"/proc/{int(pid)}/stat")
        try:
            return text.rsplit(")", 1)[1].split()[0] != "Z"
        except IndexError:
            return False
