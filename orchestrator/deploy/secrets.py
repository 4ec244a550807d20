"""Per-testbed shared secrets (RADIUS client <-> server), generated, never hard-coded.

Kept in `<journal dir>/secrets.json` (mode 0600) so that a test or a researcher can read
the secret of a pair, e.g. to run eapol_test against an AAA server by hand.
"""
from __future__ import annotations

import json
import os
import secrets
from pathlib import Path


class Secrets:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.values: dict[str, str] = json.loads(self.path.read_text())
        except FileNotFoundError:
            self.values = {}

    @staticmethod
    def key(kind: str, server: str, client: str) -> str:
        return f"{kind} {server} <- {client}"

    def pair(self, kind: str, server: str, client: str) -> str:
        """The secret `client` and `server` share for `kind` (e.g. 'radius'); made once."""
        key = self.key(kind, server, client)
        if key not in self.values:
            self.values[key] = secrets.token_hex(16)
            self._save()
        return self.values[key]

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(self.values, fh, indent=1)
        os.replace(tmp, self.path)


def radius_secret(journal_dir: str | Path, server: str, client: str) -> str:
    """The RADIUS secret between `client` and AAA `server` of a deployed testbed."""
    values = Secrets(Path(journal_dir) / "secrets.json").values
    try:
        return values[Secrets.key("radius", server, client)]
    except KeyError:
        raise LookupError(f"no RADIUS secret between client '{client}' and server '{server}'"
                          " (is the client one of the server's RADIUS clients?)") from None
