"""Wire formats and state machines (EAP, EAP-TLS, RADIUS key attributes, ...).

Modules here are pure: bytes in, bytes and state out, no sockets and no files. I/O lives
in the agents that drive them.
"""
