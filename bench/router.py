"""The smart_chat router on its labelled set: accuracy, decision time, and the offline fit.

    python bench/router.py          # accuracy (all, training split, held-out) and p50/p99 time
    python bench/router.py fit      # refit the weights on the training split only and save them

Run from the repository root with src on the path:
    PYTHONPATH=src:. .venv/bin/python bench/router.py
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from chorus.config import Settings  # noqa: E402
from chorus.modes import router  # noqa: E402
from chorus.modes.router_features import FEATURES, extract  # noqa: E402
from chorus.providers.catalog import build_catalog  # noqa: E402
from tests.data.router_set import Question, load  # noqa: E402

Sparse = list[tuple[int, float]]
L2_GRID = (0.0003, 0.001, 0.003, 0.01, 0.03, 0.1)
FOLDS = 4


def _sparse(values: Sequence[float]) -> Sparse:
    return [(i, v) for i, v in enumerate(values) if v]


def fit_softmax(rows: list[Sparse], labels: list[int], classes: int, width: int, l2: float,
                steps: int = 400) -> list[list[float]]:
    """Multinomial logistic regression, full-batch Adam, L2 on every weight but the bias."""
    w = [[0.0] * width for _ in range(classes)]
    m = [[0.0] * width for _ in range(classes)]
    v = [[0.0] * width for _ in range(classes)]
    rate, b1, b2, n = 0.05, 0.9, 0.999, len(rows)
    for step in range(1, steps + 1):
        grad = [[0.0] * width for _ in range(classes)]
        for row, label in zip(rows, labels, strict=True):
            scores = [sum(wk[i] * x for i, x in row) for wk in w]
            top = max(scores)
            exp = [math.exp(s - top) for s in scores]
            total = sum(exp)
            for k in range(classes):
                error = exp[k] / total - (k == label)
                gk = grad[k]
                for i, x in row:
                    gk[i] += error * x / n
        for k in range(classes):
            for i in range(width):
                g = grad[k][i] + (l2 * w[k][i] if i else 0.0)
                m[k][i] = b1 * m[k][i] + (1 - b1) * g
                v[k][i] = b2 * v[k][i] + (1 - b2) * g * g
                w[k][i] -= rate * (m[k][i] / (1 - b1**step)) / (
                    math.sqrt(v[k][i] / (1 - b2**step)) + 1e-8)
    return w


def fit_logistic(rows: list[Sparse], labels: list[int], width: int, l2: float) -> list[float]:
    """Binary logistic regression as a two-class softmax; returns the weights of class 1."""
    w = fit_softmax(rows, labels, 2, width, l2)
    return [b - a for a, b in zip(w[0], w[1], strict=True)]


def choose_l2(rows: list[Sparse], labels: list[int], classes: int, width: int) -> float:
    """The L2 strength with the best cross-validated log-loss, within the training split.

    Log-loss rather than accuracy: it punishes overconfidence, and the difficulty is shown to
    users as a probability.
    """
    best, best_loss = L2_GRID[0], math.inf
    for l2 in L2_GRID:
        loss, hits = 0.0, 0
        for fold in range(FOLDS):
            train = [i for i in range(len(rows)) if i % FOLDS != fold]
            w = fit_softmax([rows[i] for i in train], [labels[i] for i in train], classes,
                            width, l2, steps=250)
            for i in range(len(rows)):
                if i % FOLDS == fold:
                    p = _softmax(w, rows[i])
                    loss -= math.log(max(p[labels[i]], 1e-12))
                    hits += p.index(max(p)) == labels[i]
        print(f"  l2={l2:<6} cross-validated log-loss {loss / len(rows):.3f}, "
              f"accuracy {hits / len(rows):.3f}")
        if loss < best_loss:
            best, best_loss = l2, loss
    return best


def fit(questions: list[Question]) -> None:
    train = [q for q in questions if not q.held_out]
    random.Random(7).shuffle(train)
    features = [extract(q.text)[0] for q in train]
    rows = [_sparse(f) for f in features]
    labels = [router.CATEGORIES.index(q.category) for q in train]  # type: ignore[arg-type]
    print(f"fitting on {len(train)} training questions; category model:")
    l2 = choose_l2(rows, labels, len(router.CATEGORIES), len(FEATURES))
    category = fit_softmax(rows, labels, len(router.CATEGORIES), len(FEATURES), l2)
    probabilities = [_softmax(category, row) for row in rows]
    hard_rows = [_sparse([*f, *p]) for f, p in zip(features, probabilities, strict=True)]
    hard_labels = [int(q.hard) for q in train]
    print("difficulty model:")
    width = len(router.DIFFICULTY_INPUTS)
    hard_l2 = choose_l2(hard_rows, hard_labels, 2, width)
    difficulty = fit_logistic(hard_rows, hard_labels, width, hard_l2)
    write_weights(category, difficulty, len(train), l2, hard_l2)


def _softmax(w: list[list[float]], row: Sparse) -> list[float]:
    scores = [sum(wk[i] * x for i, x in row) for wk in w]
    top = max(scores)
    exp = [math.exp(s - top) for s in scores]
    return [e / sum(exp) for e in exp]


def _array(values: Sequence[float]) -> str:
    return "[" + ", ".join(f"{v:.5f}" for v in values) + "]"


def write_weights(category: list[list[float]], difficulty: list[float], n: int, l2: float,
                  hard_l2: float) -> None:
    lines = [
        "# Generated by `python bench/router.py fit`: multinomial logistic regression (category)",
        "# and logistic regression (difficulty) fitted on the training split of",
        f"# tests/data/router_questions.jsonl ({n} questions; held-out questions never used).",
        f"# L2 chosen by {FOLDS}-fold cross-validation on that split: category {l2}, "
        f"difficulty {hard_l2}.",
        "features = [" + ", ".join(f'"{f}"' for f in FEATURES) + "]",
        "difficulty_inputs = [" + ", ".join(f'"{f}"' for f in router.DIFFICULTY_INPUTS) + "]",
        f"difficulty = {_array(difficulty)}",
        "",
        "[category]",
        *(f"{c} = {_array(w)}" for c, w in zip(router.CATEGORIES, category, strict=True)),
    ]
    router.WEIGHTS_FILE.write_text("\n".join(lines) + "\n", encoding="utf-8")
    router.weights.cache_clear()
    print(f"wrote {router.WEIGHTS_FILE.relative_to(ROOT)}")


def measure(questions: list[Question]) -> dict[str, Any]:
    """Accuracy per split, the picks per cost preference, and the decision time."""
    pool = build_catalog(Settings()).models(test=True)
    results = [(q, router.analyse(q.text)) for q in questions]
    splits = (("all", results), ("training split", [r for r in results if not r[0].held_out]),
              ("held-out split", [r for r in results if r[0].held_out]),
              ("  of which fresh", [r for r in results if r[0].fresh]))
    accuracy = {name.strip(): {
        "n": len(subset),
        "category": round(sum(a.category == q.category for q, a in subset) / len(subset), 3),
        "easy_hard": round(sum((a.difficulty >= 0.5) == q.hard for q, a in subset)
                           / len(subset), 3)} for name, subset in splits}
    confusions = dict(Counter(f"{q.category}->{a.category}" for q, a in results
                              if q.held_out and a.category != q.category))
    picks = {str(preference): dict(Counter(
        router.route(a, pool, preference).model for _, a in results).most_common())
        for preference in (0.0, 0.5, 1.0)}
    timings: list[float] = []
    best_of: list[float] = []
    for q in questions:
        runs: list[float] = []
        for _ in range(5):
            started = time.perf_counter()
            router.route(router.analyse(q.text), pool, 0.5)
            runs.append((time.perf_counter() - started) * 1000)
        timings += runs
        best_of.append(min(runs))
    return {"accuracy": accuracy, "held_out_confusions": confusions, "picks": picks,
            "decision_ms": {"decisions": len(timings), "models": len(pool),
                            "load_average": round(os.getloadavg()[0], 1),
                            "every_run": _percentiles(timings),
                            "best_of_5": _percentiles(best_of)}}


def evaluate(questions: list[Question]) -> None:
    found = measure(questions)
    for name, values in found["accuracy"].items():
        print(f"{name:16} n={values['n']:3}  category accuracy {values['category']:.3f}  "
              f"easy/hard accuracy {values['easy_hard']:.3f}")
    print("held-out confusions (label -> predicted):", found["held_out_confusions"])
    for preference, picks in found["picks"].items():
        print(f"cost_preference {preference}: {picks}")
    timing = found["decision_ms"]
    print(f"decision time, {timing['decisions']} decisions over {timing['models']} models "
          f"(load average {timing['load_average']} on {os.cpu_count()} CPUs):")
    for name, label in (("every_run", "every run:      "),
                        ("best_of_5", "best of 5 each: ")):
        values = timing[name]
        print(f"  {label}  p50 {values['p50']:.3f} ms, p99 {values['p99']:.3f} ms, "
              f"max {values['max']:.3f} ms" + ("  (robust to other processes)"
                                              if name == "best_of_5" else ""))


def run(work: Path) -> dict[str, Any]:
    """The `router` section of `./dev bench`."""
    return measure(load())


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p99 = ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]
    return {"p50": round(statistics.median(ordered), 4), "p99": round(p99, 4),
            "max": round(ordered[-1], 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", default="evaluate", choices=("evaluate", "fit"))
    args = parser.parse_args()
    questions = load()
    if args.command == "fit":
        fit(questions)
    evaluate(questions)


if __name__ == "__main__":
    main()
