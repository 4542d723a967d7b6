"""Ids: prefixed, of the documented length, every digit equally likely and drawn anew."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from unittest import mock

from hypothesis import example, given
from hypothesis import strategies as st

from chorus.store import ids


def test_every_digit_comes_from_four_byte_values_and_the_rest_are_dropped() -> None:
    kept = bytes(range(256)).translate(ids._DIGIT_OF_BYTE, ids._UNEVEN).decode()
    assert len(kept) == 248
    assert Counter(kept) == {digit: 4 for digit in ids._ALPHABET}


@given(st.lists(st.binary(min_size=30, max_size=30), min_size=1, max_size=3))
@example([b"\xff" * 30, b"\xf8" * 9 + b"\x3d" * 21])  # two draws short of 22 digits
def test_base62_maps_the_kept_bytes_and_draws_again_when_too_many_are_dropped(
        draws: list[bytes]) -> None:
    supply = iter([*draws, b"\x00" * 30])
    taken: list[bytes] = []
    with mock.patch.object(ids.os, "urandom", lambda n: taken.append(next(supply)) or taken[-1]):
        digits = ids.base62(16)
    *redrawn, used = taken
    assert len(digits) == 22  # ceil(128 / log2(62)): 131 bits
    assert digits == "".join(ids._ALPHABET[b % 62] for b in used if b < 248)[:22]
    assert all(sum(b < 248 for b in draw) < 22 for draw in redrawn)


def test_new_ids_are_prefixed_and_differ() -> None:
    made = {ids.new_id("req") for _ in range(1000)}
    assert len(made) == 1000
    assert all(i.startswith("req_") and len(i) == 26 for i in made)


def test_utcnow_is_the_naive_utc_time_to_the_microsecond() -> None:
    aware = datetime(2026, 12, 4, 21, 30, 5, 123456, tzinfo=UTC)
    with mock.patch.object(ids, "datetime", wraps=datetime) as patched:
        patched.now.return_value = aware
        now = ids.utcnow()
    assert now == aware.replace(tzinfo=None) and now.tzinfo is None
    assert type(now) is datetime
