"""Random, unguessable, prefixed ids (128 bits)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def base62(nbytes: int) -> str:
    number = int.from_bytes(secrets.token_bytes(nbytes), "big")
    digits = []
    for _ in range((nbytes * 8 * 100 + 594) // 595):  # ceil(bits / log2(62))
        number, rest = divmod(number, 62)
        digits.append(_ALPHABET[rest])
    return "".join(digits)


def new_id(prefix: str) -> str:
    return f"{prefix}_{base62(16)}"


def utcnow() -> datetime:
    """Naive UTC, the form every timestamp column holds."""
    return datetime.now(UTC).replace(tzinfo=None)


def iso(moment: datetime) -> str:
    """`2026-01-01T00:00:00Z`; isoformat is 2.5x faster than strftime, which cost 13% of
    answering a 1,000-message session (bench/store.py)."""
    if moment.tzinfo is not None:
        moment = moment.replace(tzinfo=None)  # the wall time, as strftime printed it
    return moment.isoformat(timespec="seconds") + "Z"
