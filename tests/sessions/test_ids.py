"""Ids: prefixed, of the documented length, and every random bit kept in the digits."""

from __future__ import annotations

from unittest import mock

from hypothesis import given
from hypothesis import strategies as st

from chorus.store import ids


def decoded(digits: str) -> int:
    """The number base62 wrote, lowest digit first."""
    return sum(ids._ALPHABET.index(d) * 62 ** i for i, d in enumerate(digits))


@given(st.binary(min_size=1, max_size=40))
def test_base62_writes_the_random_number_in_full(raw: bytes) -> None:
    with mock.patch.object(ids.secrets, "token_bytes", lambda n: raw):
        digits = ids.base62(len(raw))
    assert len(digits) == -(-len(raw) * 8 * 100 // 595)  # ceil(bits / log2(62)), a digit over
    assert decoded(digits) == int.from_bytes(raw, "big")


def test_new_ids_are_prefixed_and_differ() -> None:
    made = {ids.new_id("req") for _ in range(1000)}
    assert len(made) == 1000
    assert all(i.startswith("req_") and len(i) == 26 for i in made)
