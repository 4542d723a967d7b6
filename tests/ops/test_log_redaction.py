"""The scrubber's quick check: a string skips the secret patterns only when none can match."""

from __future__ import annotations

import pytest

from chorus.logs import Redactor
from chorus.redact import SECRET_PATTERNS, suspect

LEAKS = ["Authorization: Bearer abc.def-123", "BEARER abc", "bearer\tabc",
         "key sk_live_a1B2c3D4e5", "key sk_test_a1B2c3D4e5", "sk-proj-abcdefghijklmnop1234",
         "AIzaSyA1234567890abcdefghijkl", "prefix AIzaSyA1234567890abcdefghijkl suffix"]


@pytest.mark.parametrize("text", LEAKS)
def test_every_secret_shape_is_caught_by_the_quick_check(text: str) -> None:
    assert any(pattern.search(text) for pattern, _ in SECRET_PATTERNS)
    assert suspect(text)
    cleaned = Redactor().clean(text)
    assert isinstance(cleaned, str) and "[redacted]" in cleaned


def test_ordinary_text_passes_unchanged() -> None:
    redactor = Redactor(["prov-Zq8xY2mW7vK4nB1cR9tL"])
    for text in ("/v1/chat/completions", "req_V6WsTF1jVaS0MJfZ9442J7", "smart_chat", "a sk b"):
        assert redactor.clean(text) == text
    assert redactor.clean("upstream key prov-Zq8xY2mW7vK4nB1cR9tL") == "upstream key [redacted]"


def test_a_flat_event_is_checked_joined_and_scrubbed_field_by_field() -> None:
    redactor = Redactor(["prov-Zq8xY2mW7vK4nB1cR9tL"])
    clean = {"event": "request", "path": "/v1/chat", "status": 200, "latency_ms": 1.5}
    assert redactor(None, "info", dict(clean)) == clean
    leaky = {**clean, "detail": "upstream key prov-Zq8xY2mW7vK4nB1cR9tL", "note": "BEARER abc"}
    scrubbed = redactor(None, "info", leaky)
    assert scrubbed["detail"] == "upstream key [redacted]"
    assert scrubbed["note"] == "BEARER [redacted]" and scrubbed["path"] == "/v1/chat"
