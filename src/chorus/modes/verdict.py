"""Reading judges' answers: JSON first, then the forms models fall into when they ignore that."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, Literal

from chorus.records import record

Winner = Literal["pro", "con", "draw"]
Method = Literal["json", "embedded_json", "text"]

MAX_EMBEDDED_TRIES = 20
"""Braces tried as the start of an embedded object; a verdict is near the start or the end."""

_FENCED = re.compile(r"```(?:json|JSON)?\s*(\{.*?\})\s*```", re.DOTALL)
_WINNER_WORDS: dict[str, Winner] = {
    "pro": "pro", "con": "con", "draw": "draw", "tie": "draw", "affirmative": "pro",
    "negative": "con", "for": "pro", "against": "con", "neither": "draw",
}
_WINNER_FIELD = re.compile(
    r"\bwinner\b[\"'*\s]*(?:is|:|=|-)?[\"'*\s]*(?:the\s+)?(pro|con|draw|tie|affirmative|negative)\b",
    re.IGNORECASE)
_SIDE_WINS = re.compile(
    r"\b(pro|con|affirmative|negative)\b(?:\s+side)?\s+(?:clearly\s+)?"
    r"(?:wins|won|prevails|is the winner|has the stronger)", re.IGNORECASE)
_DRAW = re.compile(r"\b(?:it(?:'s| is) a|ends in a|declare a|result is a)\s+(draw|tie)\b",
                   re.IGNORECASE)
_CHOICE = re.compile(
    r"\b(?:best|winner|choice|pick|choose|select)\b[^0-9\n]{0,40}?\banswer\s*#?\s*(\d+)"
    r"|\banswer\s*#?\s*(\d+)\s+(?:is|was)\s+(?!not\b)(?:\w+\s+){0,2}?(?:the\s+)?"
    r"(?:best|strongest)"
    r"|\"?best\"?\s*[:=]\s*\"?(\d+)", re.IGNORECASE)


@record
class DebateVerdict:
    winner: Winner
    reasoning: str
    method: Method


@record
class Choice:
    """A judge's pick among numbered answers (0-based here), with who agrees with it."""

    index: int
    reason: str
    agreeing: tuple[int, ...]
    method: Method


def json_object(text: str) -> tuple[dict[str, Any], Method] | None:
    """The JSON object in a judge's answer: the whole answer, a fenced block, or embedded."""
    stripped = text.strip()
    try:
        whole = json.loads(stripped)
    except ValueError:
        whole = None
    if isinstance(whole, dict):
        return whole, "json"
    candidates = [m.group(1) for m in _FENCED.finditer(text)]
    starts = [i for i, char in enumerate(text) if char == "{"]
    half = MAX_EMBEDDED_TRIES // 2
    if len(starts) > MAX_EMBEDDED_TRIES:
        starts = starts[:half] + starts[-half:]
    candidates += [text[i:] for i in starts]
    decoder = json.JSONDecoder()
    for candidate in candidates:
        try:
            found, _ = decoder.raw_decode(candidate)
        except ValueError:
            continue
        if isinstance(found, dict):
            return found, "embedded_json"
    return None


def debate(text: str) -> DebateVerdict | None:
    """The winner and reasoning a debate judge gave; None if its answer names no winner."""
    parsed = json_object(text)
    if parsed is not None:
        data, method = parsed
        winner = _WINNER_WORDS.get(str(data.get("winner", "")).strip().lower())
        if winner is not None:
            reasoning = data.get("reasoning") or data.get("reason") or data.get("explanation")
            return DebateVerdict(winner, str(reasoning or "").strip(), method)
    for pattern in (_WINNER_FIELD, _SIDE_WINS, _DRAW):
        match = pattern.search(text)
        if match:
            return DebateVerdict(_WINNER_WORDS[match.group(1).lower()], text.strip(), "text")
    return None


def choice(text: str, labels: Sequence[str]) -> Choice | None:
    """Which answer a judge picked, by number (1-based in the prompt) or by label."""
    parsed = json_object(text)
    if parsed is not None:
        data, method = parsed
        best = _index(_first(data, "best", "winner", "choice", "answer"), labels)
        if best is not None:
            raw = data.get("agreeing") or data.get("agree") or []
            agreeing = {i for i in (_index(v, labels) for v in _as_list(raw)) if i is not None}
            reason = str(_first(data, "reason", "reasoning", "explanation") or "").strip()
            return Choice(best, reason, tuple(sorted(agreeing | {best})), method)
    match = _CHOICE.search(text)
    if match:
        number = int(next(g for g in match.groups() if g))
        if 1 <= number <= len(labels):
            return Choice(number - 1, text.strip(), (number - 1,), "text")
    return None


def _first(data: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if data.get(key) is not None:
            return data[key]
    return None


def _as_list(value: object) -> list[object]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _index(value: object, labels: Sequence[str]) -> int | None:
    """An answer's 0-based index from 2, "2", "Answer 2" or its label; None if out of range."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    if text in labels:
        return labels.index(text)
    digits = re.fullmatch(r"(?:answer\s*#?\s*)?(\d+)", text, re.IGNORECASE)
    if digits is None:
        return None
    number = int(digits.group(1))
    return number - 1 if 1 <= number <= len(labels) else None
