"""Scrubbing secrets out of text: log lines, and upstream error messages before they reach a
client or the database. One set of rules for both, so that what a log would hide is hidden
everywhere."""

from __future__ import annotations

import re
from collections.abc import Iterable

# Shapes of secrets that must never leave the server, whatever the message: our keys, bearer
# tokens, OpenAI/Anthropic-style keys and Google API keys.
SECRET_PATTERNS = (
    (re.compile(r"sk_(live|test)_[0-9A-Za-z]+"), r"sk_\1_[redacted]"),
    (re.compile(r"(?i)\b(bearer)\s+[^\s'\",;]+"), r"\1 [redacted]"),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{12,}"), "sk-[redacted]"),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{20,}"), "AIza[redacted]"),
)
SECRET_HINTS = ("sk_live_", "sk_test_", "sk-", "AIza")
"""With "bearer" in any case, one of them is in every string one of SECRET_PATTERNS matches:
most strings need no substitution (an access line's CPU halved, bench/accesslog.py)."""
MIN_SECRET_CHARS = 6
"""Shorter configured secrets are not scrubbed one by one: they would blank ordinary words."""


def scrubbable(secrets: Iterable[str | None]) -> list[str]:
    """The configured secrets worth scrubbing one by one, longest first."""
    return sorted({s for s in secrets if s and len(s) >= MIN_SECRET_CHARS}, key=len,
                  reverse=True)


def suspect(text: str, secrets: Iterable[str] = ()) -> bool:
    """Whether `redact` may change `text`: a configured secret or the start of a secret's shape
    is in it. Substring tests: about a third of the CPU of one regular expression's search."""
    return (any(secret in text for secret in secrets)
            or any(hint in text for hint in SECRET_HINTS) or "bearer" in text.lower())


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every known secret (from `scrubbable`) and every secret-shaped token
    replaced."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "[redacted]")
    if suspect(text):
        for pattern, replacement in SECRET_PATTERNS:
            text = pattern.sub(replacement, text)
    return text
