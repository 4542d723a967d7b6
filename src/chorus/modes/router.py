"""The smart_chat router: what a question needs, how hard it is, and which model should answer."""

from __future__ import annotations

import functools
import math
import operator
import tomllib
from collections.abc import Sequence
from operator import itemgetter
from pathlib import Path
from typing import Literal

from chorus.context import TOKENS_PER_ESTIMATE, prompt_budget
from chorus.errors import InvalidRequest
from chorus.modes.router_features import (
    DIFFICULTY_FEATURES,
    FEATURES,
    difficulty_features,
    estimate_tokens,
    percentile,
    quantile,
    read,
)
from chorus.providers.catalog import ModelEntry
from chorus.records import record
from chorus.types import Message, ModelRequest

Category = Literal["code", "math", "reasoning", "creative", "facts", "long", "multilingual"]
CATEGORIES: tuple[Category, ...] = (
    "code", "math", "reasoning", "creative", "facts", "long", "multilingual")

WEIGHTS_FILE = Path(__file__).with_name("router_weights.toml")
LONG_TOKENS = 3000
"""From this many prompt tokens a question is "long" whatever else it is: a fact, not a guess."""
FOLLOW_UP_WORDS = 12
"""A question this short in a session is read together with the previous one."""

# How skill meets difficulty. skill = quality + FIT_BONUS * (fit - 0.5), where fit is the share
# of the question's needs among the model's strengths; a question of difficulty d needs
# skill NEED_EASY + (NEED_HARD - NEED_EASY) * d, and P(success) is a logistic of the margin.
# d is the calibrated chance that a small model fails, mostly between 0.1 and 0.6: need runs
# from about 0.47 (a small model will do) to about 1.04 (none is sure to).
FIT_BONUS = 0.10
NEED_EASY = 0.35
NEED_HARD = 1.50
MARGIN_SCALE = 0.03
CAPABLE = 0.5
"""A model "can do it" when its estimated chance of success is at least this."""
SPEED_WEIGHT = 0.02
EASY_BELOW = 0.2
HARD_FROM = 0.4
"""Words for the difficulty: on the real outcomes it was fitted to, a small model got 30 % of
the questions wrong."""


@record
class Weights:
    category: dict[Category, list[float]]
    difficulty: list[float]
    """On DIFFICULTY_FEATURES; the score is turned into a probability by `calibration`."""
    calibration: tuple[float, float]
    """a, b: P(a small model gets it wrong) = sigmoid(a * score + b) (Platt scaling)."""
    strong: list[float]
    """On DIFFICULTY_FEATURES: the logistic score of P(a strong model gets it wrong). The
    expected gain of a strong model over a small one is sigmoid(difficulty score) -
    sigmoid(strong score)."""
    gain_quantiles: list[float]
    length_quantiles: list[float]
    """Quantiles of the expected gain and of the length (characters) on the fitted questions:
    the mean of the two percentiles is the routing order."""
    difficulty_quantiles: list[float]
    """Quantiles of the difficulty on the fitted questions: the router acts on the one found
    at the question's place in the routing order."""


@functools.cache
def weights(path: Path = WEIGHTS_FILE) -> Weights:
    """The fitted weights, read once; they must match the features this code extracts."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    if tuple(data["features"]) != FEATURES or tuple(data["difficulty_features"]) != (
            DIFFICULTY_FEATURES):
        raise RuntimeError(f"{path.name} was fitted to other features; run bench/router.py fit "
                           f"and bench/fit_router.py")
    for name, vector, width in (
            *((f"category.{c}", data["category"][c], len(FEATURES)) for c in CATEGORIES),
            ("difficulty", data["difficulty"], len(DIFFICULTY_FEATURES)),
            ("strong", data["strong"], len(DIFFICULTY_FEATURES))):
        if len(vector) != width:  # checked once, here: the sparse category dots do not check
            raise RuntimeError(f"{path.name}: {len(vector)} {name} weights for {width} features")
    a, b = data["calibration"]
    return Weights({c: data["category"][c] for c in CATEGORIES}, data["difficulty"], (a, b),
                   data["strong"], data["gain_quantiles"], data["length_quantiles"],
                   data["difficulty_quantiles"])


@record
class Analysis:
    """What the question needs, how hard it is, and how many tokens the prompt holds."""

    category: Category
    probabilities: dict[Category, float]
    difficulty: float
    """The calibrated probability that a small, cheap model gets it wrong (shown)."""
    routing: float
    """The difficulty the router acts on: ordered by where a strong model gains most (NaN
    from `analyse(..., routing=False)`)."""
    tokens: int
    """The whole prompt: history and question."""
    question_tokens: int


def _dot(weights: Sequence[float], values: Sequence[float]) -> float:
    if len(weights) != len(values):
        raise ValueError(f"{len(weights)} weights for {len(values)} values")
    total: float = sum(map(operator.mul, weights, values))  # twice a generator's speed
    return total


def _nonzero(values: Sequence[float]) -> list[tuple[int, float]]:
    """The places and values of the nonzero features: most of a question's are 0."""
    return [(i, v) for i, v in enumerate(values) if v]


def _sparse_dot(weights: Sequence[float], nonzero: list[tuple[int, float]]) -> float:
    """_dot over the nonzero values only, in the same order, so equal to the bit: a zero value
    adds +-0.0 (the weights are finite) to a sum that starts at +0.0 and so is never -0.0."""
    total = 0.0
    for i, v in nonzero:
        total += weights[i] * v
    return total


def _sigmoid(x: float) -> float:
    # max(-60.0, min(60.0, x)) without the two calls: the same value, NaN included (60.0)
    x = x if x < 60.0 else 60.0
    return 1 / (1 + math.exp(-(x if x > -60.0 else -60.0)))


_FOREIGN_EVIDENCE = itemgetter(*(FEATURES.index(f) for f in (
    "kw_translate", "sc_any", "foreign_sw", "accents")))
_TOPICAL_EVIDENCE = itemgetter(*(FEATURES.index(f) for f in (
    *(name for name in FEATURES if name.startswith("kw_")), "fence", "code_lines", "operators",
    "trace", "math_syntax", "numbers")))
_SHORT = FEATURES.index("short")
_MULTILINGUAL = CATEGORIES.index("multilingual")
_SMALL_TALK: dict[Category, float] = {c: 1.0 if c == "facts" else 0.0 for c in CATEGORIES}


def classify(features: Sequence[float]) -> dict[Category, float]:
    """Category probabilities (softmax) from one feature vector.

    `multilingual` needs some sign of another language (another script, foreign stopwords,
    accents, or words about translating): without one, "Hi" or "Thanks!" is English, however
    short it is; and a short message with no sign of any topic is small talk (`facts`).
    """
    foreign = any(_FOREIGN_EVIDENCE(features))
    if not foreign and features[_SHORT] and not any(_TOPICAL_EVIDENCE(features)):
        # "Hi", "Thanks!": no topic at all is small talk, a quick exchange
        return dict(_SMALL_TALK)
    nonzero = _nonzero(features)
    scores = [_sparse_dot(w, nonzero) for w in weights().category.values()]  # CATEGORIES order
    if not foreign:
        scores[_MULTILINGUAL] = -math.inf
    top = max(scores)
    exp = [math.exp(s - top) for s in scores]
    total = sum(exp)
    return {c: e / total for c, e in zip(CATEGORIES, exp, strict=True)}


def difficulty(question: str) -> float:
    """The calibrated probability that a small, cheap model answers `question` wrongly."""
    return difficulties(question)[0]


def routing_difficulty(question: str) -> float:
    """The difficulty the router acts on, ordered by where a strong model gains most."""
    return difficulties(question)[1]


def difficulties(question: str) -> tuple[float, float]:
    """The difficulty shown and the difficulty the router acts on, from one feature pass.

    Questions a small model often gets wrong are not the ones a strong model most often gets
    right instead (on some kinds of question both fail). The routing order is the mean of two
    percentiles, the expected gain of a strong model (P(small wrong) - P(strong wrong)) and
    the length; its value is the fitted questions' difficulty at that place in the order, so
    the router's thresholds keep their scale.
    """
    return _difficulties(difficulty_features(question), len(question))


def _difficulties(features: Sequence[float], length: int,
                  routing: bool = True) -> tuple[float, float]:
    """The difficulty shown and, when `routing`, the one the router acts on (else NaN)."""
    fitted = weights()
    score = _dot(fitted.difficulty, features)
    a, b = fitted.calibration
    if not routing:
        return _sigmoid(a * score + b), math.nan
    gain = _sigmoid(score) - _sigmoid(_dot(fitted.strong, features))
    rank = (percentile(fitted.gain_quantiles, gain)
            + percentile(fitted.length_quantiles, float(length))) / 2
    return _sigmoid(a * score + b), quantile(fitted.difficulty_quantiles, rank)


def analyse(question: str, history: Sequence[Message] = (), *, routing: bool = True
            ) -> Analysis:
    """Read the question (and, for a short follow-up, the one before it); no model call.
    Without `routing` (for a model the caller named) the routing difficulty is not worked
    out: NaN."""
    reading = read(question)
    question_tokens = reading.tokens
    probabilities = classify(reading.features)
    hardness, acted_on = _difficulties(reading.difficulty, len(question), routing)
    previous = (next((m.content for m in reversed(history) if m.role == "user"), None)
                if history else None)
    if previous is not None and len(question.split()) <= FOLLOW_UP_WORDS:
        before = read(previous)
        earlier = classify(before.features)
        probabilities = {c: (probabilities[c] + earlier[c]) / 2 for c in CATEGORIES}
        earlier_hardness, earlier_routing = _difficulties(before.difficulty, len(previous),
                                                          routing)
        hardness = (hardness + earlier_hardness) / 2
        acted_on = (acted_on + earlier_routing) / 2
    prompt_tokens = question_tokens + (
        estimate_tokens("\n".join(m.content for m in history)) + 4 * len(history)
        if history else 0)
    if prompt_tokens >= LONG_TOKENS:
        probabilities = {c: p / 2 + (0.5 if c == "long" else 0.0)
                         for c, p in probabilities.items()}
    category = max(CATEGORIES, key=probabilities.__getitem__)
    return Analysis(category, probabilities, hardness, acted_on, prompt_tokens, question_tokens)


@record
class Candidate:
    entry: ModelEntry
    fit: float
    skill: float
    success: float
    score: float

    @property
    def capable(self) -> bool:
        return self.success >= CAPABLE


@record
class Decision:
    model: str
    analysis: Analysis
    cost_preference: float
    reason: str
    candidates: tuple[Candidate, ...]
    """Every model that fits the context window, best score first."""


def _spread(values: list[float]) -> list[float]:
    """Each value placed in [0, 1] between the pool's lowest and highest."""
    low, high = min(values), max(values)
    return [(v - low) / (high - low) if high > low else 1.0 for v in values]


Fit = Literal["all", "question", "shortened"]
"""What of the prompt the chosen models' windows hold (chorus.context fits the rest)."""


def fitting(analysis: Analysis, pool: Sequence[ModelEntry], max_tokens: int | None = None
            ) -> tuple[list[ModelEntry], Fit]:
    """Models whose window holds the whole conversation; else the new message; else the widest.

    The same budget as chorus.context, which drops or summarises earlier turns that do not fit
    and shortens a message that alone does not fit: routing prefers not to need either.
    """
    request = ModelRequest(messages=(), max_tokens=max_tokens)
    budgets = {m.id: prompt_budget(m, request) / TOKENS_PER_ESTIMATE.get(m.dialect, 1.0)
               for m in pool}
    for need, fit in ((analysis.tokens, "all"), (analysis.question_tokens, "question")):
        models = [m for m in pool if budgets[m.id] >= need]
        if models:
            return models, fit  # type: ignore[return-value]
    widest = max(budgets.values())
    return [m for m in pool if budgets[m.id] == widest], "shortened"


def score(analysis: Analysis, models: Sequence[ModelEntry], cost_preference: float
          ) -> list[Candidate]:
    """Every model given, best first: chance of success and skill traded against price."""
    fits = [sum(p for c, p in analysis.probabilities.items() if c in m.strengths)
            for m in models]
    skills = [m.quality + FIT_BONUS * (fit - 0.5) for m, fit in zip(models, fits, strict=True)]
    # Beyond the strongest model's skill every model is as hopeless as every other: the
    # strongest is then the one that can (just) do it.
    need = min(NEED_EASY + (NEED_HARD - NEED_EASY) * analysis.routing, max(skills))
    successes = [_sigmoid((s - need) / MARGIN_SCALE) for s in skills]
    skill_rank = _spread(skills)
    cheapness = [1 - x for x in _spread([math.log(m.blended_price + 0.01) for m in models])]
    speed = _spread([math.log(max(m.speed, 1.0)) for m in models])
    any_capable = any(s >= CAPABLE for s in successes)
    c = cost_preference
    out: list[Candidate] = []
    for i, model in enumerate(models):
        # Quality side: the chance of getting it right, plus skill itself, which matters more
        # the harder the question. Cost side: the cheapest model that can do it wins outright.
        quality = successes[i] + skill_rank[i] * (0.3 + analysis.routing)
        if any_capable:
            cost = (1.0 + cheapness[i]) if successes[i] >= CAPABLE else successes[i]
        else:
            cost = successes[i] + 0.1 * cheapness[i]
        # Speed only breaks near-ties in between: at 0 and 1 the answer is exact.
        value = (1 - c) * quality + c * cost + 4 * SPEED_WEIGHT * c * (1 - c) * speed[i]
        out.append(Candidate(model, fits[i], skills[i], successes[i], value))
    return sorted(out, key=lambda x: (-x.score, x.entry.blended_price, x.entry.id))


def require_models(pool: Sequence[ModelEntry]) -> None:
    if not pool:
        raise InvalidRequest("no model is configured: set a provider key or use a sk_test_ key")


def route(analysis: Analysis, pool: Sequence[ModelEntry], cost_preference: float,
          max_tokens: int | None = None) -> Decision:
    """The model for this question from `pool`, among those whose window holds the most."""
    require_models(pool)
    models, fit = fitting(analysis, pool, max_tokens)
    candidates = score(analysis, models, cost_preference)
    best = candidates[0]
    return Decision(best.entry.id, analysis, cost_preference,
                    explain(analysis, cost_preference, candidates, len(pool), fit),
                    tuple(candidates))


def _price(entry: ModelEntry) -> str:
    return f"${entry.blended_price:.2f}/M tokens"


NEEDS: dict[Category, str] = {
    "code": "coding", "math": "maths", "reasoning": "reasoning", "creative": "creative-writing",
    "facts": "quick-facts", "long": "long-input", "multilingual": "non-English",
}


def hardness(difficulty: float) -> str:
    """The difficulty in words: what the probability means, and a level."""
    level = "easy" if difficulty < EASY_BELOW else "hard" if difficulty >= HARD_FROM else (
        "moderately hard")
    return (f"{level} (an estimated {difficulty:.0%} chance that a small, cheap model gets it "
            f"wrong)")


def explain(analysis: Analysis, cost_preference: float, candidates: Sequence[Candidate],
            pool_size: int, fit: Fit = "all") -> str:
    """A readable sentence or three: why this model, and why not the obvious alternatives."""
    best = candidates[0]
    strength = (f"{analysis.category} is among its strengths"
                if analysis.category in best.entry.strengths
                else f"{analysis.category} is not among its strengths but its overall quality "
                     f"makes up for it")
    lean = ("quality first" if cost_preference < 0.34 else
            "price first" if cost_preference > 0.66 else "balancing quality and price")
    text = (f"A {NEEDS[analysis.category]} question, {hardness(analysis.difficulty)}, "
            f"routed as a {analysis.routing:.0%} one by where a strong model gains most; "
            f"at cost preference {cost_preference:.2f} ({lean}) "
            f"{best.entry.id} fits best: {strength}; quality {best.entry.quality:.2f}, "
            f"{_price(best.entry)}, {best.success:.0%} estimated chance of a good answer.")
    strongest = max(candidates, key=lambda x: (x.skill, -x.entry.blended_price))
    cheapest = min(candidates, key=lambda x: (x.entry.blended_price, -x.skill))
    notes: list[str] = []
    if strongest is not best:
        notes.append(f"{strongest.entry.id} is stronger ({strongest.success:.0%}) but costs "
                     f"{_price(strongest.entry)}")
    if cheapest is not best and cheapest is not strongest:
        why = "less likely to get it right" if cheapest.success < best.success else "slower"
        notes.append(f"{cheapest.entry.id} is cheaper ({_price(cheapest.entry)}) but "
                     f"{why} ({cheapest.success:.0%})")
    if len(candidates) < pool_size:
        notes.append(f"{pool_size - len(candidates)} model(s) left out: the prompt "
                     f"(~{analysis.tokens} tokens) does not fit their context window")
    text += " Alternatives: " + "; ".join(notes) + "." if notes else ""
    if fit == "question":
        text += (f" No model holds the whole conversation (~{analysis.tokens} tokens): "
                 f"the earliest turns will be summarised or left out.")
    elif fit == "shortened":
        text += (f" No model holds the message itself (~{analysis.question_tokens} tokens): "
                 f"it will be shortened to fit the widest window.")
    return text
