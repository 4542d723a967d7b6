"""Simulated models for `sk_test_` keys: deterministic, plausible, streamed at a realistic pace."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterator, Sequence

import orjson

from chorus import tokens
from chorus.providers import simulated_agent as agent
from chorus.providers.simulated_roles import role_answer
from chorus.providers.wire import Refusal
from chorus.types import Message, ModelRequest, ProviderChunk, StreamEnd, TextDelta, Usage

STOPWORDS = frozenset((
    "a", "an", "the", "is", "are", "was", "were", "be", "been", "being", "of", "to", "in",
    "on", "at", "for", "with", "by", "from", "about", "as", "into", "like", "through", "after",
    "over", "between", "out", "against", "during", "without", "before", "under", "around",
    "among", "and", "or", "but", "if", "then", "else", "so", "than", "that", "this", "these",
    "those", "it", "its", "i", "you", "he", "she", "we", "they", "me", "my", "your", "our",
    "their", "what", "which", "who", "whom", "whose", "when", "where", "why", "how", "can",
    "could", "should", "would", "will", "shall", "may", "might", "must", "do", "does", "did",
    "done", "have", "has", "had", "please", "tell", "explain", "give", "show", "write", "make",
    "let", "us", "some", "any", "all", "more", "most", "other", "such", "only", "own", "same",
    "too", "very", "just", "also", "not", "no", "yes", "hi", "hello",
))

CATEGORY_WORDS: dict[str, tuple[str, ...]] = {
    "code": ("code", "python", "function", "bug", "javascript", "sql", "api", "class", "compile",
             "rust", "error", "regex", "script", "program", "typescript", "java"),
    "math": ("calculate", "equation", "integral", "derivative", "prove", "probability", "sum",
             "solve", "math", "percent", "matrix", "+", "*", "="),
    "creative": ("poem", "story", "haiku", "song", "slogan", "tagline", "lyrics", "creative",
                 "imagine", "fiction"),
    "reasoning": ("should", "compare", "tradeoff", "trade-off", "pros", "cons", "strategy",
                  "decide", "why", "versus", "vs", "better"),
}

OPENINGS = (
    "Here is a clear way to think about {topic}.",
    "Good question: {topic} comes down to a few key ideas.",
    "Let me break down {topic} step by step.",
    "In short, {topic} is best understood through its essentials.",
)

BODIES: dict[str, tuple[str, ...]] = {
    "code": (
        "Start from a small, testable function and make the data flow explicit.",
        "Handle the edge cases first: empty input, very large input and invalid values.",
        "Prefer the standard library where it fits; it is well tested and familiar to readers.",
        "Add a unit test that pins the behaviour before you optimise anything.",
    ),
    "math": (
        "Write down what is known and what is asked, then pick the rule that links them.",
        "Work one step at a time and check the units or the sign at each step.",
        "A quick sanity check with small numbers catches most slips.",
        "The result should be consistent with the limiting cases you can compute by hand.",
    ),
    "creative": (
        "A strong image in the first line sets the tone for everything after it.",
        "Concrete details carry more feeling than abstract words.",
        "Rhythm matters: vary sentence length to keep the reader moving.",
        "End on a turn that gives the reader something to carry away.",
    ),
    "reasoning": (
        "Weigh the options against what matters most here: cost, risk and time.",
        "The strongest argument for it is the long-term benefit; the strongest against is the "
        "short-term cost.",
        "Look for the assumption that, if wrong, would change the conclusion.",
        "A small experiment often settles the question faster than more debate.",
    ),
    "general": (
        "The core idea is simple once the main parts are named.",
        "It matters because it affects how decisions are made in practice.",
        "A common misconception is that it is all-or-nothing; in practice it is a spectrum.",
        "Most experts agree on the basics and differ mainly on the details.",
    ),
}

CLOSINGS = (
    "If you want, I can go deeper into any of these points.",
    "That should give you a solid starting point.",
    "Happy to expand on any part of this.",
)


def _digest(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("\x00".join(parts).encode()).digest()[:8], "big")


def topic_of(text: str, words: int = 6) -> str:
    """The content words of a question, as a short phrase."""
    found = [w for w in re.findall(r"[\w'+#.-]+", text.lower())
             if w.strip(".") not in STOPWORDS and len(w.strip(".")) > 1]
    return " ".join(w.strip(".") for w in found[:words]) or "this"


def category_of(text: str) -> str:
    lowered = text.lower()
    tokens = set(re.findall(r"[a-z]+(?:-[a-z]+)*", lowered))
    scores = {name: sum((word in tokens) if word[0].isalpha() else (word in lowered)
                        for word in words)
              for name, words in CATEGORY_WORDS.items()}
    best = max(scores, key=lambda name: scores[name])
    return best if scores[best] else "general"


def compose(model: str, messages: Sequence[Message], seed: int | None = None) -> str:
    """A deterministic answer of `model` to the conversation (and `seed`, when given)."""
    question = next((m.content for m in reversed(messages) if m.role == "user"), "")
    system = " ".join(m.content for m in messages if m.role == "system")
    played = role_answer(model, system, question)
    if played is not None:
        return played
    earlier = [m.content for m in messages if m.role == "user"][:-1]
    seed = _digest(model, system, question, *(() if seed is None else (str(seed),)))
    topic = topic_of(question)
    category = category_of(question)
    body = BODIES[category]
    picks = [body[(seed >> (4 * i)) % len(body)] for i in range(3)]
    sentences = [voice(system) + OPENINGS[seed % len(OPENINGS)].format(topic=topic)]
    if earlier:
        sentences.append(f"Building on what you asked before about {topic_of(earlier[-1], 4)}, "
                         "the same reasoning applies here.")
    sentences.extend(dict.fromkeys(picks))
    if category == "code":
        sentences.append(f"\n\n```python\ndef solve(data):\n    # {topic}\n"
                         "    return sorted(data)\n```\n")
    sentences.append(CLOSINGS[(seed >> 20) % len(CLOSINGS)])
    return " ".join(sentences).replace(" \n", "\n")


def voice(system: str) -> str:
    """`Speaking as a senior engineer: ` when a persona's system prompt sets a short role."""
    found = re.search(r"\bYou are (an? |the )?([^.,:;]+)", system)
    if found is None or len(found.group(2).split()) > 3:
        return ""
    return f"Speaking as {found.group(1) or ''}{found.group(2).strip()}: "


def pieces(text: str) -> list[str]:
    """Split text the way a model streams it: a word with its leading space at a time."""
    return re.findall(r"\s*\S+|\s+$", text)


def _cut(text: str, max_tokens: int) -> str:
    """The longest run of whole pieces within `max_tokens` (at least one piece)."""
    kept: list[str] = []
    for piece in pieces(text):
        if kept and tokens.count("".join([*kept, piece])) > max_tokens:
            break
        kept.append(piece)
    return "".join(kept)


class SimulatedProvider:
    """Answers like a model of the given speed, without any network."""

    def __init__(self, pace: float = 1.0, first_token_s: float = 0.25,
                 tokens_per_s: float = 60.0) -> None:
        self.pace = pace
        self.first_token_s = first_token_s
        self.tokens_per_s = tokens_per_s

    def unsupported(self, model: str, request: ModelRequest) -> Refusal | None:
        """Simulated models honour every field a request can carry."""
        return None

    async def stream(self, model: str, request: ModelRequest
                     ) -> AsyncIterator[ProviderChunk]:
        reply = agent.reply(model, request, compose(model, request.messages, request.seed))
        text, finish_reason = reply.text, reply.finish_reason
        if request.max_tokens is not None and tokens.count(text) > request.max_tokens:
            text, finish_reason = _cut(text, request.max_tokens), "length"
        if self.pace > 0:
            await asyncio.sleep(self.first_token_s * self.pace)
        delay = self.pace / self.tokens_per_s if self.pace > 0 else 0.0
        for piece in agent.json_pieces(text) if request.output else pieces(text):
            probs = (agent.logprobs(model, piece, request.top_logprobs) if request.logprobs
                     else ())
            yield TextDelta(piece, probs)
            await asyncio.sleep(delay)
        for call in reply.calls:
            yield call
        written = text + "".join(orjson.dumps(c.arguments).decode() for c in reply.calls)
        usage = Usage(tokens.count_messages([m.content for m in request.messages]),
                      tokens.count(written))
        yield StreamEnd(usage, finish_reason)
