"""The shortcuts that make reading a question cheap give the same numbers as the plain way."""

from __future__ import annotations

import re

from chorus.modes import router, router_features
from chorus.modes.router_features import LEXICONS, lexicons
from tests.data.router_set import load

ODD = ["", " ", "\n", "12345", "x^2 + y²", "∫x dx ≤ 3", "$5 or 5 %", "aBcDe", "a_b_c", "__init__",
       "getAByName(x)", "Error: line 3", "c++ and c# on .net", "你好 写一个函数", "Привет, функция",
       "café résumé", "A. one\nB. two", "emoji 😀 NOT EXCEPT", "x == y && a != b", "1) 2) 3)"]


def texts() -> list[str]:
    return [q.text for q in load()] + ODD


def test_the_sparse_dot_is_the_dot_to_the_bit() -> None:
    """Zero features are skipped, the rest added in the same order: the same float."""
    fitted = router.weights()
    for text in texts()[::3]:
        features = router_features.read(text).features
        nonzero = router._nonzero(features)
        for weights in fitted.category.values():
            assert router._sparse_dot(weights, nonzero) == router._dot(weights, features)


def test_the_rewritten_expressions_match_what_the_originals_did() -> None:
    math = re.compile(r"\d\s*[-+*/\u00d7\u00f7^]\s*\(?\d|[\^²³∫∑√≤≥≠∞±°]|\d\s?%|[$€£¥]\s?\d")
    digits = re.compile(r"\d+")
    for text in texts():
        lower = text.lower()
        assert router_features._MATH.findall(lower) == math.findall(lower)
        assert router_features._DIGITS.findall(text) == digits.findall(text)


def test_a_cheap_check_never_skips_a_match() -> None:
    """Each regular expression is run only when a cheaper scan says it can match."""
    for text in texts():
        if router_features._IDENTIFIER.search(text):
            assert router_features._IDENTIFIER_START.search(text)
        if router_features._TRACE.search(text):
            assert any(word in text for word in router_features._TRACE_WORDS)
        if router_features._NEGATION_UPPER.search(text):
            assert router_features._ANY_NEGATION.search(text)
        if any(op in text for op in router_features._OPERATORS):
            assert router_features._ANY_OPERATOR.search(text)
        for key, keyed in lexicons().substrings:
            if any(substring in text for substring, _ in keyed):
                assert key in text


def test_a_phrase_that_ends_the_text_counts_once_for_each_longer_size() -> None:
    """As phrases were always counted (by the next 2, 3, ... words): the weights fit that."""
    easy = list(LEXICONS).index("d_easy")
    longest = lexicons().longest

    def hits(text: str) -> int:
        lower = text.lower()
        return router_features._lexical(lower, router_features._WORD.findall(lower), False)[easy]

    assert hits("say it in a few words") == longest - 3 + 1
    assert hits("say it in a few words now") == 1
    assert hits("in a few words, in a few words") == 1 + longest - 3 + 1
