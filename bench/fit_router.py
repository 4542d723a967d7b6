"""Fit the smart_chat difficulty models on real outcomes; offline, with numpy and scipy.

    PYTHONPATH=src:. .venv/bin/python bench/fit_router.py [--data PATH]

Reads questions with known outcomes (columns subject, prompt, weak_correct, strong_correct),
fits on all of them and writes the difficulty part of src/chorus/modes/router_weights.toml (the
category weights are kept). bench/router.py runs the same fit inside leave-subjects-out folds to
measure it.

Features: `router_features.difficulty_features`, the shape of a question and no subject
vocabulary (lengths, answer options, numbers and symbols, cue words for people, negation,
superlatives and several steps, and how rare its words are by their byte-pair merge ranks), so
that what is learned can carry over to other subjects and kinds of question; a bag of words
learned on 28 subjects mostly learns those subjects. Two small models on them:

- the difficulty shown (`details.difficulty`): target "the weak model gets it wrong"
  (weak_correct == 0). Logistic regression, L2 chosen by log-loss over inner folds by subject;
  Platt scaling fitted on those inner out-of-fold scores, so the probability is calibrated for
  subjects the fit has not seen.
- the routing order (what APGR rewards): the expected gain of routing to the strong model,
  P(weak wrong) - P(strong wrong). A question the weak model fails is not one the strong model
  gets right if both fail (the hardest questions, or in this data high-school maths), so
  P(weak wrong) alone orders badly. P(strong wrong) is a second logistic regression, L2 by
  inner log-loss too, fitted without the subjects where the strong model is below chance (see
  `trusted`); P(weak wrong) here is the first model's uncalibrated probability. The order is
  the mean of the gain's percentile and the length's percentile (among the training
  questions), so it cannot stray far from the length baseline. The router acts on the shown
  difficulty's quantile at that place in the order, so its thresholds keep their scale.

Every choice is made on the training questions alone (L2s by log-loss over inner folds by
subject, which is stable where an inner APGR is not); the 50/50 mix with the length is fixed.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize
from scipy.special import expit

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from chorus.modes import router  # noqa: E402
from chorus.modes.router_features import DIFFICULTY_FEATURES, difficulty_features  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "routing" / "mmlu_train.csv"
L2_GRID = (0.001, 0.01, 0.1, 1.0)
QUANTILES = 101
CHANCE = 0.25
INNER_FOLDS = 4
Array = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Outcomes:
    """Questions with whether the weak and the strong model answered them correctly."""

    subjects: list[str]
    prompts: list[str]
    weak: NDArray[np.int64]
    strong: NDArray[np.int64]

    def take(self, rows: NDArray[np.bool_]) -> Outcomes:
        index = np.flatnonzero(rows)
        return Outcomes([self.subjects[i] for i in index], [self.prompts[i] for i in index],
                        self.weak[index], self.strong[index])


@dataclass(frozen=True, slots=True)
class Model:
    """Two small models: the difficulty shown (a probability) and the routing order."""

    weights: list[float]
    """P(the weak model is wrong): logistic weights on the raw features in DIFFICULTY_FEATURES
    order (the standardisation folded in)."""
    calibration: tuple[float, float]
    """a, b: P(the weak model is wrong) = sigmoid(a * score + b)."""
    l2: float
    strong: list[float]
    """P(the strong model is wrong): logistic weights on the same features. The routing order
    is by the expected gain sigmoid(weights) - sigmoid(strong)."""
    gain_quantiles: list[float]
    """The expected gains of the (trusted) training questions at 0, 1, ..., 100 %."""
    length_quantiles: list[float]
    """The training questions' lengths in characters at 0, 1, ..., 100 %."""
    difficulty_quantiles: list[float]
    """The training questions' P(the weak model is wrong) at 0, 1, ..., 100 %: the router acts
    on the difficulty found at the question's rank, so its thresholds keep their scale."""
    strong_l2: float


def load_outcomes(path: Path = DATA) -> Outcomes:
    with path.open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    return Outcomes([r["subject"] for r in rows], [r["prompt"] for r in rows],
                    np.array([int(r["weak_correct"]) for r in rows]),
                    np.array([int(r["strong_correct"]) for r in rows]))


def feature_matrix(prompts: Sequence[str]) -> Array:
    """The run-time features, computed by the run-time code."""
    return np.array([difficulty_features(p) for p in prompts], dtype=np.float64)


def fit_logistic(x: Array, y: Array, l2: float) -> Array:
    """Logistic regression with soft labels; column 0 is the unpenalised bias."""
    n = len(y)
    penalty = np.ones(x.shape[1])
    penalty[0] = 0.0

    def loss(w: Array) -> tuple[float, Array]:
        z = x @ w
        value = float(np.sum(np.logaddexp(0, z) - y * z) / n + 0.5 * l2 * (penalty * w) @ w)
        grad = x.T @ (1 / (1 + np.exp(-z)) - y) / n + l2 * penalty * w
        return value, grad

    found = minimize(loss, np.zeros(x.shape[1]), jac=True, method="L-BFGS-B")
    return np.asarray(found.x, dtype=np.float64)


def fit_ridge(x: Array, y: Array, l2: float) -> Array:
    """Least squares with an L2 penalty (per question) on every weight but the bias."""
    penalty = np.eye(x.shape[1]) * l2 * len(y)
    penalty[0, 0] = 0.0
    return np.asarray(np.linalg.solve(x.T @ x + penalty, x.T @ y), dtype=np.float64)


def fit_standardised(x: Array, y: Array, l2: float, ridge: bool = False) -> Array:
    """Fitted on standardised columns (so one L2 suits all), returned for raw columns:
    logistic regression, or with `ridge` least squares."""
    mean, spread = x[:, 1:].mean(axis=0), x[:, 1:].std(axis=0)
    spread[spread == 0] = 1.0
    scaled = x.copy()
    scaled[:, 1:] = (x[:, 1:] - mean) / spread
    w = fit_ridge(scaled, y, l2) if ridge else fit_logistic(scaled, y, l2)
    raw = w.copy()
    raw[1:] = w[1:] / spread
    raw[0] = w[0] - float(np.sum(w[1:] * mean / spread))
    return raw


def subject_folds(subjects: Sequence[str], k: int, seed: int) -> NDArray[np.int64]:
    """A fold number per row; all rows of a subject share one fold (subjects shuffled by seed,
    then dealt to the fold with the fewest rows so far)."""
    names = sorted(set(subjects))
    order = np.random.default_rng(seed).permutation(len(names))
    counts = {s: 0 for s in names}
    for s in subjects:
        counts[s] += 1
    load = [0] * k
    fold_of: dict[str, int] = {}
    for i in order:
        fold = int(np.argmin(load))
        fold_of[names[i]] = fold
        load[fold] += counts[names[i]]
    return np.array([fold_of[s] for s in subjects])


def quantiles(values: Array) -> list[float]:
    """The values at 0, 1, ..., 100 %."""
    return [float(v) for v in np.quantile(values, np.linspace(0, 1, QUANTILES))]


def percentile(edges: Sequence[float], values: Array) -> Array:
    """Where each value falls among `edges` (quantiles), in 0..1, linear between two edges;
    numpy's twin of chorus.modes.router_features.percentile, which the run-time uses."""
    edge = np.asarray(edges, dtype=np.float64)
    i = np.searchsorted(edge, values, side="right")
    inside = (i > 0) & (i < len(edge))
    j = np.clip(i, 1, len(edge) - 1)
    low, high = edge[j - 1], edge[j]
    step = np.where(high > low, high - low, 1.0)
    part = (j - 1 + (values - low) / step) / (len(edge) - 1)
    return np.where(inside, part, np.where(i == 0, 0.0, 1.0))


def lengths(prompts: Sequence[str]) -> Array:
    return np.array([len(p) for p in prompts], dtype=np.float64)


def _log_loss(p: Array, y: Array) -> float:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def _inner_scores(x: Array, y: Array, folds: NDArray[np.int64], l2: float) -> Array:
    scores = np.zeros(len(y))
    for fold in np.unique(folds):
        test = folds == fold
        scores[test] = x[test] @ fit_standardised(x[~test], y[~test], l2)
    return scores


def fit_platt(scores: Array, wrong: Array) -> tuple[float, float]:
    w = fit_logistic(np.column_stack([np.ones(len(scores)), scores]), wrong, 1e-6)
    return float(w[1]), float(w[0])


def apgr(difficulty: Array, weak: NDArray[np.int64], strong: NDArray[np.int64]) -> float:
    """Average performance gap recovered: hardest first, the top k of n go to the strong model;
    the mean over k = 0..n of (accuracy - weak accuracy) / (strong - weak accuracy), with tied
    difficulties taken in their average order (a straight line across the tie)."""
    gap = float(np.mean(strong) - np.mean(weak))
    if gap == 0:
        raise ValueError("the strong and the weak model are equally accurate here")
    n = len(difficulty)
    values, inverse = np.unique(-np.asarray(difficulty), return_inverse=True)
    gains = np.bincount(inverse, weights=(strong - weak).astype(np.float64),
                        minlength=len(values))
    sizes = np.bincount(inverse, minlength=len(values)).astype(np.float64)
    before = np.concatenate([[0.0], np.cumsum(gains)[:-1]])
    # Inside a tie of m questions the recovered gain rises linearly; the k = 0 point and the
    # m points of each tie give the mean over k = 0..n of the cumulative gain.
    area = float(np.sum(sizes * before + gains * (sizes + 1) / 2))
    return area / (n + 1) / n / gap


def grouped_apgr(difficulty: Array, weak: NDArray[np.int64], strong: NDArray[np.int64],
                 folds: NDArray[np.int64]) -> float:
    """APGR of each fold weighted by its gap: the folds' recovered gain over their total gap."""
    gaps = [float(np.mean(strong[folds == f]) - np.mean(weak[folds == f]))
            for f in np.unique(folds)]
    values = [apgr(difficulty[folds == f], weak[folds == f], strong[folds == f])
              for f in np.unique(folds)]
    return sum(v * g for v, g in zip(values, gaps, strict=True)) / sum(gaps)


def choose_l2(x: Array, y: Array, subjects: Sequence[str]) -> tuple[float, Array]:
    """The L2 with the best log-loss over inner folds by subject, and those out-of-fold
    scores."""
    folds = subject_folds(subjects, min(INNER_FOLDS, len(set(subjects))), seed=0)
    best: tuple[float, float, Array] | None = None
    for l2 in L2_GRID:
        scores = _inner_scores(x, y, folds, l2)
        loss = _log_loss(expit(scores), y)
        if best is None or loss < best[0]:
            best = (loss, l2, scores)
    assert best is not None
    return best[1], best[2]


def fit(data: Outcomes, x: Array | None = None) -> Model:
    """Everything fitted from `data` alone; L2s and calibration by inner folds of its subjects.

    The probability: logistic regression of "the weak model is wrong", L2 by inner log-loss,
    Platt-scaled on inner out-of-fold scores. The order (what APGR measures): the expected
    gain P(weak wrong) - P(strong wrong), the second a logistic regression on the trusted
    subjects, its percentile averaged with the length's percentile.
    """
    x = feature_matrix(data.prompts) if x is None else x
    wrong = np.asarray(1 - data.weak, dtype=np.float64)
    l2, scores = choose_l2(x, wrong, data.subjects)
    weights = options_when_absent(fit_standardised(x, wrong, l2), x)
    calibration = fit_platt(scores, wrong)
    a, b = calibration
    shown = expit(a * (x @ weights) + b)
    keep = trusted(data)
    kept = data.take(keep)
    strong_wrong = np.asarray(1 - kept.strong, dtype=np.float64)
    strong_l2, _ = choose_l2(x[keep], strong_wrong, kept.subjects)
    strong = options_when_absent(fit_standardised(x[keep], strong_wrong, strong_l2), x[keep])
    gain = expit(x[keep] @ weights) - expit(x[keep] @ strong)
    return Model(weights.tolist(), calibration, l2, strong.tolist(), quantiles(gain),
                 quantiles(lengths(kept.prompts)), quantiles(shown), strong_l2)


OPTION_COLUMNS = [i for i, name in enumerate(DIFFICULTY_FEATURES) if name.startswith("option")]
HAS_OPTIONS = DIFFICULTY_FEATURES.index("options")


def options_when_absent(w: Array, x: Array) -> Array:
    """When every fitted question has answer options, a question without them is scored as an
    average one with options: otherwise its option features, all zero, would be read as the
    most extreme options ever seen. The options indicator's weight (nothing to learn from a
    constant column) takes the difference, so a question with options scores as before."""
    if x.shape[1] != len(DIFFICULTY_FEATURES) or not np.all(x[:, HAS_OPTIONS] == 1):
        return w
    average = float(x[:, OPTION_COLUMNS].mean(axis=0) @ w[OPTION_COLUMNS])
    out = w.copy()
    out[0] += average
    out[HAS_OPTIONS] -= average
    return out


def trusted(data: Outcomes) -> NDArray[np.bool_]:
    """Rows of subjects where the strong model beats chance (one in four options): below it, a
    strong model's answers are systematically wrong, which says more about the recorded
    answers than about the questions, and teaches "a strong model does not help here"."""
    subjects = np.array(data.subjects)
    below = [s for s in set(data.subjects) if data.strong[subjects == s].mean() < CHANCE]
    return np.asarray(~np.isin(subjects, below), dtype=np.bool_)


def score(model: Model, x: Array) -> Array:
    return np.asarray(x @ np.array(model.weights), dtype=np.float64)


def probability(model: Model, x: Array) -> Array:
    """The difficulty shown: P(the weak model is wrong)."""
    a, b = model.calibration
    return np.asarray(1 / (1 + np.exp(-(a * score(model, x) + b))), dtype=np.float64)


def gain(model: Model, x: Array) -> Array:
    """The expected gain of the strong model: P(weak wrong) - P(strong wrong)."""
    return np.asarray(expit(score(model, x)) - expit(x @ np.array(model.strong)),
                      dtype=np.float64)


def rank(model: Model, x: Array, length: Array) -> Array:
    """The routing order: the mean of the expected gain's and the length's percentiles."""
    return (percentile(model.gain_quantiles, gain(model, x))
            + percentile(model.length_quantiles, length)) / 2


def routing_difficulty(model: Model, x: Array, length: Array) -> Array:
    """What the router acts on: the training questions' difficulty at the question's rank."""
    position = rank(model, x, length) * (len(model.difficulty_quantiles) - 1)
    return np.interp(position, np.arange(len(model.difficulty_quantiles)),
                     model.difficulty_quantiles)


def _array(values: Sequence[float]) -> str:
    return "[" + ", ".join(f"{v:.5f}" for v in values) + "]"


def write_weights(category: dict[str, list[float]], model: Model, note: str,
                  path: Path = router.WEIGHTS_FILE) -> None:
    """The whole weights file: category model (bench/router.py fit) and difficulty (here)."""
    lines = [
        "# Generated by bench/router.py fit (category: multinomial logistic regression on the",
        "# training split of tests/data/router_questions.jsonl) and bench/fit_router.py",
        "# (difficulty: logistic regression on real outcomes, Platt-calibrated to P(the weak",
        "# model gets it wrong); strong: the same for the strong model, for the routing order).",
        f"# {note}",
        "features = [" + ", ".join(f'"{f}"' for f in router.FEATURES) + "]",
        "difficulty_features = [" + ", ".join(f'"{f}"' for f in DIFFICULTY_FEATURES) + "]",
        f"difficulty = {_array(model.weights)}",
        f"calibration = {_array(model.calibration)}",
        f"difficulty_l2 = {model.l2}",
        f"strong = {_array(model.strong)}",
        f"gain_quantiles = {_array(model.gain_quantiles)}",
        f"length_quantiles = {_array(model.length_quantiles)}",
        f"difficulty_quantiles = {_array(model.difficulty_quantiles)}",
        f"strong_l2 = {model.strong_l2}",
        "",
        "[category]",
        *(f"{c} = {_array(category[c])}" for c in router.CATEGORIES),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    router.weights.cache_clear()


def read_category(path: Path = router.WEIGHTS_FILE) -> dict[str, list[float]]:
    return dict(tomllib.loads(path.read_text(encoding="utf-8"))["category"])


def read_model(path: Path = router.WEIGHTS_FILE) -> Model:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    a, b = data["calibration"]
    return Model(data["difficulty"], (a, b), data["difficulty_l2"], data["strong"],
                 data["gain_quantiles"], data["length_quantiles"],
                 data["difficulty_quantiles"], data["strong_l2"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    data = load_outcomes(args.data)
    model = fit(data)
    category = read_category()
    a, b = model.calibration
    write_weights(category, model, f"Fitted on {len(data.prompts)} questions of "
                  f"{len(set(data.subjects))} subjects; L2 {model.l2}.")
    print(f"fitted on {len(data.prompts)} questions: L2 {model.l2}, calibration "
          f"a={a:.3f} b={b:.3f}, strong L2 {model.strong_l2}; "
          f"wrote {router.WEIGHTS_FILE.relative_to(ROOT)}")
    print(f"  {'feature':22} {'P(weak wrong)':>13} {'P(strong wrong)':>15}")
    for name, w, g in zip(DIFFICULTY_FEATURES, model.weights, model.strong, strict=True):
        print(f"  {name:22} {w:+13.3f} {g:+15.3f}")
    predicted = float(np.mean(probability(model, feature_matrix(data.prompts))))
    print(f"mean predicted P(weak wrong) {predicted:.3f}, observed {1 - np.mean(data.weak):.3f}")

if __name__ == "__main__":
    main()
