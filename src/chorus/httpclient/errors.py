"""What can go wrong below HTTP."""

from __future__ import annotations


class HTTPError(Exception):
    """The exchange failed below HTTP: no connection, a timeout, a broken or cut answer."""


class ConnectError(HTTPError):
    """No connection could be made (refused, unknown host, TLS or proxy failure)."""


class Timeout(HTTPError):
    """A connect, write or read took longer than allowed."""


class ConnectTimeout(Timeout):
    """The connection (and its TLS handshake) took longer than allowed."""


class PoolTimeout(ConnectTimeout):
    """Every connection allowed to the origin stayed busy for the whole connect timeout."""


class DeadlineExceeded(Timeout):
    """The call went past its total deadline (`Timeouts.total`), however fast bytes came."""


class ProtocolError(HTTPError):
    """The connection broke, or what came back is not HTTP/1.1."""


class LimitExceeded(ProtocolError):
    """The answer went past one of the client's `Limits` (body, headers, one SSE event)."""


class NothingReceived(ProtocolError):
    """A reused connection died before any byte of the answer: the server had closed it."""
