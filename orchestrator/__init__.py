"""mpa-testbed: emulated testbed orchestrator for MPA (RFC 6252)."""
