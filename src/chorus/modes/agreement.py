"""Agreement between answers without a model: normalised votes, word overlap, a local union."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from chorus.records import record

SHORT_WORDS = 20
"""An answer of at most this many words is short: consensus votes on it instead of judging."""
AGREE_AT = 0.3
"""Word overlap (Jaccard of content words) from which two long answers count as agreeing."""
SAME_POINT_AT = 0.6
"""Word overlap from which two sentences count as the same point in a local union."""

STOPWORDS = frozenset((
    "a", "an", "the", "is", "are", "was", "were", "be", "been", "of", "to", "in", "on", "at",
    "for", "with", "by", "from", "as", "and", "or", "but", "if", "so", "than", "that", "this",
    "these", "those", "it", "its", "i", "you", "we", "they", "he", "she", "my", "your", "our",
    "their", "what", "which", "who", "how", "can", "could", "should", "would", "will", "do",
    "does", "did", "have", "has", "had", "not", "no", "yes", "about", "there", "here", "also",
    "just", "very", "answer", "approximately", "roughly", "around",
))

Level = Literal["unanimous", "majority", "split", "none"]


@record
class Agreement:
    """The answer that agrees most with the others (an index) and all that agree with it."""

    index: int
    agreeing: tuple[int, ...]


@dataclass(slots=True)
class Point:
    """A distinct point of a union, and the models that made it (in `details` as it is)."""

    point: str
    models: list[str] = field(default_factory=list)


def words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKC", text).lower()
    folded = re.sub(r"(?<=\d),(?=\d{3}\b)", "", folded)
    return [_number(t) for t in re.findall(r"\d+(?:\.\d+)?|[^\W_]+", folded)]


def content_words(text: str) -> set[str]:
    return {w for w in words(text) if w not in STOPWORDS}


def normalised(text: str, question: str) -> str:
    """A short answer reduced to what it says beyond the question: `The capital is Paris.` and
    `paris` both become `paris`."""
    tokens = words(text)
    asked = set(words(question))
    kept = [t for t in tokens if t not in STOPWORDS and t not in asked]
    return " ".join(kept or tokens)


def is_short(texts: Sequence[str]) -> bool:
    return all(len(t.split()) <= SHORT_WORDS for t in texts)


def vote(texts: Sequence[str], question: str) -> Agreement:
    """The most common normalised answer; a tie goes to the earliest answer in request order."""
    forms = [normalised(t, question) for t in texts]
    counts = Counter(forms)
    best = max(range(len(forms)), key=lambda i: (counts[forms[i]], -i))
    return Agreement(best, tuple(i for i, f in enumerate(forms) if f == forms[best]))


def similarity(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def most_agreeing(texts: Sequence[str]) -> Agreement:
    """The answer with the highest mean word overlap with the others; ties go to the earliest."""
    sets = [content_words(t) for t in texts]
    count = len(sets)
    if count == 1:
        return Agreement(0, (0,))
    means = [sum(similarity(sets[i], sets[j]) for j in range(count) if j != i) / (count - 1)
             for i in range(count)]
    best = max(range(count), key=lambda i: (round(means[i], 9), -i))
    agreeing = tuple(i for i in range(count)
                     if i == best or similarity(sets[i], sets[best]) >= AGREE_AT)
    return Agreement(best, agreeing)


def level(agreeing: int, voters: int) -> Level:
    if agreeing >= voters:
        return "unanimous"
    if agreeing * 2 > voters:
        return "majority"
    return "split" if agreeing > 1 else "none"


def split_points(text: str) -> list[str]:
    """Sentences and list items of an answer; a fenced code block stays one point."""
    out: list[str] = []
    for part in re.split(r"(```.*?```)", text, flags=re.DOTALL):
        if part.startswith("```"):
            out.append(part.strip())
            continue
        for line in part.splitlines():
            line = re.sub(r"^\s*(?:[-*•]|\d+[.)]|#+)\s*", "", line).strip()
            out += [s.strip() for s in re.split(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])", line)
                    if s.strip()]
    return out


def local_union(answers: Sequence[tuple[str, str]]) -> list[Point]:
    """Every distinct sentence of (label, text) answers, with the labels that made it."""
    points: list[tuple[set[str], Point]] = []
    for label, text in answers:
        for sentence in split_points(text):
            key = content_words(sentence)
            if not key:
                continue
            same = next((p for k, p in points if similarity(k, key) >= SAME_POINT_AT), None)
            if same is None:
                points.append((key, Point(sentence, [label])))
            elif label not in same.models:
                same.models.append(label)
    return [p for _, p in points]


def render(points: Sequence[Point]) -> str:
    return "\n".join(f"- {p.point} [{', '.join(p.models)}]" for p in points)


_POINT_LINE = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+(.+?)\s*\[([^\[\]]+)\]\s*\.?\s*$")


def parse_points(text: str, labels: Sequence[str]) -> list[Point]:
    """The `- point [model-a, model-b]` lines of an aggregator's union; unknown names dropped."""
    points: list[Point] = []
    for line in text.splitlines():
        match = _POINT_LINE.match(line)
        if match is None:
            continue
        named = [n.strip().strip("`*") for n in match.group(2).split(",")]
        points.append(Point(match.group(1).strip(), [n for n in named if n in labels]))
    return points


def _number(token: str) -> str:
    """`4.50` and `4.5`, `7.0` and `7` vote together."""
    if re.fullmatch(r"\d+\.\d+", token):
        return token.rstrip("0").rstrip(".")
    return token
