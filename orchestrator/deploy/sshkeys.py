"""Per-testbed SSH keys, made locally with ``cryptography`` (Ed25519; no passwords).

Layout of `<journal.dir>/ssh/` (directory 0700, private keys 0600):

    id_ed25519  id_ed25519.pub     the orchestrator's client key (OpenSSH format)
    authorized_keys                that public key, for every sshd the testbed starts
    host-<node>  host-<node>.pub   one host key per node running sshd
    known_hosts                    "[address]:port ssh-ed25519 ..." for each of them
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def _write_private(path: Path, comment: str) -> str:
    """Create an Ed25519 key pair at `path` (+ .pub); returns the public line."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                            serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    pub = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                        serialization.PublicFormat.OpenSSH).decode()
    line = f"{pub} {comment}"
    Path(f"{path}.pub").write_text(line + "\n")
    return line


def ensure_key(path: Path, comment: str) -> str:
    """The public line of the key at `path`, creating the pair if missing."""
    pub = Path(f"{path}.pub")
    if path.is_file() and pub.is_file():
        return pub.read_text().strip()
    return _write_private(path, comment)


@dataclass(frozen=True)
class SshKeys:
    dir: Path

    @classmethod
    def ensure(cls, directory: str | Path, testbed: str) -> "SshKeys":
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        os.chmod(d, 0o700)
        keys = cls(d)
        pub = ensure_key(keys.client_key, f"mpa-testbed-{testbed}")
        if not keys.authorized_keys.is_file():
            keys.authorized_keys.write_text(pub + "\n")
            os.chmod(keys.authorized_keys, 0o600)
        keys.known_hosts.touch(mode=0o600, exist_ok=True)
        return keys

    @property
    def client_key(self) -> Path:
        return self.dir / "id_ed25519"

    @property
    def authorized_keys(self) -> Path:
        return self.dir / "authorized_keys"

    @property
    def known_hosts(self) -> Path:
        return self.dir / "known_hosts"

    def host_key(self, node: str) -> Path:
        """The host key of `node`'s sshd (created if missing)."""
        path = self.dir / f"host-{node}"
        ensure_key(path, f"host-{node}")
        return path

    def authorize(self, public_line: str) -> None:
        """Accept another public key (one line of authorized_keys, added once)."""
        line = " ".join(public_line.split()[:2])
        lines = self.authorized_keys.read_text().splitlines()
        if not any(" ".join(ln.split()[:2]) == line for ln in lines):
            self.authorized_keys.write_text("\n".join([*lines, line]) + "\n")

    def trust(self, node: str, address: str, port: int) -> None:
        """Record `node`'s host key for address:port in known_hosts (replacing old lines)."""
        name = address if port == 22 else f"[{address}]:{port}"
        key = " ".join(Path(f"{self.host_key(node)}.pub").read_text().split()[:2])
        lines = [ln for ln in self.known_hosts.read_text().splitlines()
                 if ln.split(" ", 1)[0] != name]
        self.known_hosts.write_text("\n".join([*lines, f"{name} {key}"]) + "\n")
