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


class ProtocolError(HTTPError):
    """The connection broke, or what came back is not HTTP/1.1."""


class NothingReceived(ProtocolError):
    """A reused connection died before any byte of the answer: the server had closed it."""
