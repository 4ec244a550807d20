"""The controller's API: JSON lines over a Unix socket in the testbed's state directory.

Requests: {"op": "status"} | {"op": "detach", "sta": NAME}. One JSON reply per request.
Used by `inspect` and by the experiment runner (root namespace; agents inside the emulated
hosts use management frames instead).
"""
from __future__ import annotations

import json
import os
import socket
import threading


def serve_api(path: str, app) -> None:
    if os.path.exists(path):
        os.unlink(path)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(8)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=_handle, args=(conn, app), daemon=True).start()


def _handle(conn: socket.socket, app) -> None:
    with conn, conn.makefile("rwb") as fh:
        for line in fh:
            try:
                req = json.loads(line)
                op = req.get("op")
                if op == "status":
                    reply = app.status()
                elif op == "detach":
                    reply = app.detach(req["sta"])
                else:
                    reply = {"error": f"unknown op {op!r}"}
            except Exception as exc:          # the API must never take the controller down
                reply = {"error": f"{type(exc).__name__}: {exc}"}
            fh.write((json.dumps(reply) + "\n").encode())
            fh.flush()


def call(path: str, request: dict, timeout: float = 10.0) -> dict:
    """Client side (runner, CLI)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall((json.dumps(request) + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    return json.loads(buf)
