"""The one exception the protocol codecs raise on malformed or unexpected input."""


class ProtocolError(ValueError):
    """Malformed or out-of-place protocol data.

    ``reason`` is a short human-readable explanation, e.g.
    ``"EAP Length 9 exceeds the 6 octets received"``. Callers that follow RFC 3748 s4.1
    ("silently discard") catch this and drop the packet.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
