"""What one call may take: its timeouts, and the sizes an answer may reach."""

from __future__ import annotations

from chorus.records import record


@record
class Timeouts:
    connect: float
    """Seconds to open a connection (TLS and proxy included), or to wait for a free one."""
    read: float
    """Seconds without a byte of the answer."""
    write: float
    total: float | None = None
    """Seconds for the whole call, from the request to the answer's last byte; None: no bound
    beyond the others. Bytes trickling in do not extend it."""


@record
class Limits:
    """Caps on an answer, so that a hostile or broken server costs a bounded amount of memory."""

    body_bytes: int = 32 * 2**20
    """One answer's body after gzip/deflate decoding (its framing may take as much again)."""
    header_bytes: int = 64 * 2**10
    """An answer's status line and headers, interim (1xx) answers and trailers included."""
    header_count: int = 100
    """Header lines of an answer, trailers included."""
    event_chars: int = 2 * 2**20
    """One server-sent event: its lines up to the blank line that ends it, in characters."""
    connections_per_origin: int = 256
    """Open connections to one origin; a call finding them all busy waits for one."""


DEFAULT_LIMITS = Limits()
