"""Fit the smart_chat difficulty model on real outcomes; offline, with numpy and scipy.

    PYTHONPATH=src:. .venv/bin/python bench/fit_router.py [--data PATH]

Reads questions with known outcomes (columns subject, prompt, weak_correct, strong_correct),
fits on all of them and writes the `difficulty` and `calibration` of
src/chorus/modes/router_weights.toml (the category weights are kept). bench/router.py runs the
same fit inside leave-subjects-out folds to measure it.

The model. Features: `router_features.difficulty_features`, the shape of a question and no
subject vocabulary (lengths, answer options, numbers and symbols, people in a scenario, the kind
of ask), so that what is learned can carry over to other subjects and kinds of question; a bag
of words learned on 28 subjects mostly learns those subjects. Target: the weak model gets it
wrong (weak_correct == 0): that is what the router must know (can the cheap model answer?) and
what `details.difficulty` promises. Logistic regression, L2 chosen by log-loss over inner folds
by subject; then Platt scaling fitted on those inner out-of-fold scores, so the probability is
calibrated for subjects the fit has not seen.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from chorus.modes import router  # noqa: E402
from chorus.modes.router_features import DIFFICULTY_FEATURES, difficulty_features  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "routing" / "mmlu_train.csv"
L2_GRID = (0.001, 0.01, 0.1, 1.0)
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
    weights: list[float]
    """On the raw features in DIFFICULTY_FEATURES order (the standardisation folded in)."""
    calibration: tuple[float, float]
    """a, b: P(the weak model is wrong) = sigmoid(a * score + b)."""
    l2: float


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


def fit_standardised(x: Array, y: Array, l2: float) -> Array:
    """Fitted on standardised columns (so one L2 suits all), returned for raw columns."""
    mean, spread = x[:, 1:].mean(axis=0), x[:, 1:].std(axis=0)
    spread[spread == 0] = 1.0
    scaled = x.copy()
    scaled[:, 1:] = (x[:, 1:] - mean) / spread
    w = fit_logistic(scaled, y, l2)
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


def fit(data: Outcomes, x: Array | None = None) -> Model:
    """Everything fitted from `data` alone: L2 and calibration by inner folds of its subjects."""
    x = feature_matrix(data.prompts) if x is None else x
    wrong = np.asarray(1 - data.weak, dtype=np.float64)
    folds = subject_folds(data.subjects, min(INNER_FOLDS, len(set(data.subjects))), seed=0)
    best: tuple[float, float, Array] | None = None
    for l2 in L2_GRID:
        scores = _inner_scores(x, wrong, folds, l2)
        loss = _log_loss(1 / (1 + np.exp(-scores)), wrong)
        if best is None or loss < best[0]:
            best = (loss, l2, scores)
    assert best is not None
    _, l2, scores = best
    return Model(fit_standardised(x, wrong, l2).tolist(), fit_platt(scores, wrong), l2)


def score(model: Model, x: Array) -> Array:
    return np.asarray(x @ np.array(model.weights), dtype=np.float64)


def probability(model: Model, x: Array) -> Array:
    a, b = model.calibration
    return np.asarray(1 / (1 + np.exp(-(a * score(model, x) + b))), dtype=np.float64)


def _array(values: Sequence[float]) -> str:
    return "[" + ", ".join(f"{v:.5f}" for v in values) + "]"


def write_weights(category: dict[str, list[float]], model: Model, note: str,
                  path: Path = router.WEIGHTS_FILE) -> None:
    """The whole weights file: category model (bench/router.py fit) and difficulty (here)."""
    lines = [
        "# Generated by bench/router.py fit (category: multinomial logistic regression on the",
        "# training split of tests/data/router_questions.jsonl) and bench/fit_router.py",
        "# (difficulty: logistic regression on real outcomes, Platt-calibrated to P(the weak",
        f"# model gets it wrong)). {note}",
        "features = [" + ", ".join(f'"{f}"' for f in router.FEATURES) + "]",
        "difficulty_features = [" + ", ".join(f'"{f}"' for f in DIFFICULTY_FEATURES) + "]",
        f"difficulty = {_array(model.weights)}",
        f"calibration = {_array(model.calibration)}",
        f"difficulty_l2 = {model.l2}",
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
    return Model(data["difficulty"], (a, b), data["difficulty_l2"])


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
          f"a={a:.3f} b={b:.3f}; wrote {router.WEIGHTS_FILE.relative_to(ROOT)}")
    for name, w in zip(DIFFICULTY_FEATURES, model.weights, strict=True):
        print(f"  {name:16} {w:+.3f}")
    predicted = float(np.mean(probability(model, feature_matrix(data.prompts))))
    print(f"mean predicted P(weak wrong) {predicted:.3f}, observed {1 - np.mean(data.weak):.3f}")

if __name__ == "__main__":
    main()
