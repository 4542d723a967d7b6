"""Fast local token estimates: tiktoken on vendored BPE files, else four characters a token."""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

_DATA = Path(__file__).parent / "data"
_O200K_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
_O200K_PATTERN = "|".join([
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""\p{N}{1,3}""",
    r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
    r"""\s*[\r\n]+""",
    r"""\s+(?!\S)""",
    r"""\s+""",
])


class _Encoder(Protocol):
    def encode_ordinary(self, text: str) -> list[int]: ...


@functools.cache
def _encoding() -> _Encoder | None:
    """Load o200k_base once from the package's own copy; None when tiktoken cannot."""
    try:
        import tiktoken
        from tiktoken.load import load_tiktoken_bpe

        ranks = load_tiktoken_bpe(str(_DATA / "o200k_base.tiktoken"), expected_hash=_O200K_SHA256)
        return tiktoken.Encoding(name="o200k_base", pat_str=_O200K_PATTERN, mergeable_ranks=ranks,
                                 special_tokens={"<|endoftext|>": 199999})
    except Exception:  # the estimate must never fail a request; log why and fall back
        log.warning("tiktoken unavailable, estimating tokens as characters / 4", exc_info=True)
        return None


def count(text: str) -> int:
    """Tokens in `text` by o200k_base; the provider's own usage stays authoritative."""
    if not text:
        return 0
    encoding = _encoding()
    if encoding is None or len(text) > 200_000:
        return max(1, len(text) // 4)
    return len(encoding.encode_ordinary(text))


def ids(text: str) -> list[int] | None:
    """The o200k_base token ids of `text`, None without tiktoken. An id is the token's merge
    rank: common text merges early, so a high id is a rare piece of text."""
    encoding = _encoding()
    return None if encoding is None else encoding.encode_ordinary(text)


def count_messages(contents: list[str]) -> int:
    """Prompt tokens for a chat: each message costs its text plus a few framing tokens."""
    return sum(count(c) + 4 for c in contents) + 3
