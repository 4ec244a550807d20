"""A private FreeRADIUS that checks CHAP (RFC 2865 s5.3) for a PPP NAS, e.g. the cellular
packet data gateway: `FreeRadius` (copy, render, check, start, stop by PID) with the `chap`
and `files` modules instead of EAP, users with a Cleartext-Password (and optionally a
Framed-IP-Address), one listener on `listen_address` and the NAS clients given.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .freeradius import FreeRadius

SITE = """\
server default {{
    listen {{
        type = auth
        ipaddr = {address}
        port = {auth_port}
    }}
    authorize {{
        chap
        files
    }}
    authenticate {{
        Auth-Type CHAP {{
            chap
        }}
    }}
    post-auth {{
        ok
    }}
}}
"""

CLIENT = """\
client {name} {{
    ipaddr = {network}
    secret = {secret}
    require_message_authenticator = yes
    nas_type = other
}}
"""


def _quote(value: str) -> str:
    if any(c in value for c in '"\\\n'):
        raise ValueError(f"{value!r}: no quotes, backslashes or newlines in test credentials")
    return f'"{value}"'


@dataclass
class ChapFreeRadius(FreeRadius):
    """`users`: name -> {"password": ..., "framed_ip": ... (optional)};
    `clients`: name -> address or prefix of a NAS allowed to ask (with `secret`)."""

    server_cert: Path = Path("/nonexistent")
    server_key: Path = Path("/nonexistent")
    ca_file: Path = Path("/nonexistent")
    users: dict[str, dict] = field(default_factory=dict)
    clients: dict[str, str] = field(default_factory=lambda: {"localhost": "127.0.0.1"})
    listen_address: str = "127.0.0.1"

    def render(self) -> Path:
        raddb = super().render()
        mods = raddb / "mods-enabled"
        (mods / "eap").unlink()
        for module in ("chap", "files"):
            os.symlink(f"../mods-available/{module}", mods / module)
        (raddb / "sites-enabled" / "default").write_text(
            SITE.format(address=self.listen_address, auth_port=self.auth_port))
        (raddb / "clients.conf").write_text("".join(
            CLIENT.format(name=name, network=net, secret=self.secret)
            for name, net in self.clients.items()))
        lines = []
        for name, user in self.users.items():
            lines.append(f"{_quote(name)} Cleartext-Password := {_quote(user['password'])}")
            if user.get("framed_ip"):
                lines.append(f"\tFramed-IP-Address = {user['framed_ip']}")
            lines.append("")
        authorize = raddb / "mods-config" / "files" / "authorize"
        authorize.unlink()
        authorize.write_text("\n".join(lines) + "\n")
        return raddb
