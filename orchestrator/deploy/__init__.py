"""Material pushed into the testbed's hosts: per-testbed PKI, node images, transports."""
