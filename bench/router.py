"""The smart_chat router measured: difficulty against real outcomes (APGR, leave-subjects-out),
calibration, categories on the labelled set, and decision time.

    python bench/router.py                 # everything below; --repeats N subject partitions
    python bench/router.py fit             # refit the category model (training split) first

The difficulty model itself is fitted by bench/fit_router.py; here it is refitted inside each
fold, on the training subjects only, and scored on the held-out subjects.
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
import tomllib
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

import numpy as np  # noqa: E402

from bench import fit_router  # noqa: E402
from chorus.config import Settings  # noqa: E402
from chorus.modes import router  # noqa: E402
from chorus.modes.router_features import FEATURES, read  # noqa: E402
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
    """The category model, on the training split; the difficulty model is kept as it is."""
    train = [q for q in questions if not q.held_out]
    random.Random(7).shuffle(train)
    rows = [_sparse(read(q.text).features) for q in train]
    labels = [router.CATEGORIES.index(q.category) for q in train]  # type: ignore[arg-type]
    print(f"fitting on {len(train)} training questions; category model:")
    l2 = choose_l2(rows, labels, len(router.CATEGORIES), len(FEATURES))
    category = fit_softmax(rows, labels, len(router.CATEGORIES), len(FEATURES), l2)
    fit_router.write_weights(
        dict(zip(router.CATEGORIES, category, strict=True)), fit_router.read_model(),
        f"Category L2 {l2} by {FOLDS}-fold cross-validation on {len(train)} training questions.")
    print(f"wrote {router.WEIGHTS_FILE.relative_to(ROOT)}")


def _softmax(w: list[list[float]], row: Sparse) -> list[float]:
    scores = [sum(wk[i] * x for i, x in row) for wk in w]
    top = max(scores)
    exp = [math.exp(s - top) for s in scores]
    return [e / sum(exp) for e in exp]


def measure(questions: list[Question]) -> dict[str, Any]:
    """Category accuracy per split, the picks per cost preference, and the decision time."""
    pool = build_catalog(Settings()).models(test=True)
    results = [(q, router.analyse(q.text)) for q in questions]
    splits = (("all", results), ("training split", [r for r in results if not r[0].held_out]),
              ("held-out split", [r for r in results if r[0].held_out]),
              ("  of which fresh", [r for r in results if r[0].fresh]))
    accuracy = {name.strip(): {
        "n": len(subset),
        "category": round(sum(a.category == q.category for q, a in subset) / len(subset), 3)}
        for name, subset in splits}
    confusions = dict(Counter(f"{q.category}->{a.category}" for q, a in results
                              if q.held_out and a.category != q.category))
    picks = {str(preference): dict(Counter(
        router.route(a, pool, preference).model for _, a in results).most_common())
        for preference in (0.0, 0.5, 1.0)}
    return {"accuracy": accuracy, "held_out_confusions": confusions, "picks": picks,
            "decision_ms": timing([q.text for q in questions], pool)}


def timing(texts: Sequence[str], pool: Sequence[Any]) -> dict[str, Any]:
    """analyse + route per question, 5 runs each: wall time of every run, each question's best
    of 5, and the CPU time of this thread (both robust to other processes on a shared machine)."""
    timings: list[float] = []
    best_of: list[float] = []
    cpu: list[float] = []
    for text in texts:
        runs: list[float] = []
        for _ in range(5):
            started, started_cpu = time.perf_counter(), time.thread_time()
            router.route(router.analyse(text), pool, 0.5)
            runs.append((time.perf_counter() - started) * 1000)
            cpu.append((time.thread_time() - started_cpu) * 1000)
        timings += runs
        best_of.append(min(runs))
    return {"decisions": len(timings), "models": len(pool),
            "load_average": round(os.getloadavg()[0], 1),
            "every_run": _percentiles(timings), "best_of_5": _percentiles(best_of),
            "cpu_time": _percentiles(cpu)}


# ---- difficulty against real outcomes --------------------------------------------------------

OLD_WEIGHTS = Path(__file__).with_name("router_old_difficulty.toml")
REPEATS = 3
K = 5
ROUTERS = ("length", "old router", "new router")


def old_difficulty(text: str) -> float:
    """The difficulty smart_chat computed before this model (hand-labelled, not outcomes)."""
    weights = tomllib.loads(OLD_WEIGHTS.read_text(encoding="utf-8"))["difficulty"]
    features = read(text).features
    probabilities = router.classify(features)
    return router._sigmoid(router._dot(
        weights, [*features, *(probabilities[c] for c in router.CATEGORIES)]))


def cross_validate(data: fit_router.Outcomes, repeats: int = REPEATS) -> dict[str, Any]:
    """Grouped K-fold by subject, `repeats` random partitions: each fold's difficulty model is
    fitted (features' weights, L2, calibration) on the other folds' subjects only."""
    x = fit_router.feature_matrix(data.prompts)
    length = fit_router.lengths(data.prompts)
    fixed = {"length": np.array([len(p) for p in data.prompts], dtype=np.float64),
             "old router": np.array([old_difficulty(p) for p in data.prompts])}
    folds: list[dict[str, Any]] = []
    pooled = {name: np.zeros(len(data.prompts)) for name in ROUTERS}
    shown = np.zeros(len(data.prompts))
    for repeat in range(repeats):
        fold_of = fit_router.subject_folds(data.subjects, K, seed=repeat)
        for fold in range(K):
            test = fold_of == fold
            model = fit_router.fit(data.take(~test), x[~test])
            scores = {**{n: v[test] for n, v in fixed.items()},
                      "new router": fit_router.routing_difficulty(model, x[test], length[test])}
            weak, strong = data.weak[test], data.strong[test]
            folds.append({
                "repeat": repeat, "fold": fold, "n": int(test.sum()),
                "subjects": sorted({data.subjects[i] for i in np.flatnonzero(test)}),
                "weak_acc": float(weak.mean()), "strong_acc": float(strong.mean()),
                "l2": model.l2, "strong_l2": model.strong_l2,
                "apgr": {n: fit_router.apgr(v, weak, strong) for n, v in scores.items()}})
            if repeat == 0:
                for name, values in scores.items():
                    pooled[name][test] = values
                shown[test] = fit_router.probability(model, x[test])
    return {"folds": folds, "pooled": pooled, "summary": _summary(folds),
            "pooled_apgr": {n: fit_router.apgr(v, data.weak, data.strong)
                            for n, v in pooled.items()},
            "calibration": calibration_table(shown, 1 - data.weak)}


def _summary(folds: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    gaps = np.array([f["strong_acc"] - f["weak_acc"] for f in folds])
    out: dict[str, dict[str, float]] = {}
    for name in ROUTERS:
        values = np.array([f["apgr"][name] for f in folds])
        out[name] = {"mean": float(values.mean()), "median": float(np.median(values)),
                     "gap_weighted": float((values * gaps).sum() / gaps.sum()),
                     "min": float(values.min()), "max": float(values.max())}
    return out


def calibration_table(predicted: Any, wrong: Any, bins: int = 10) -> list[dict[str, Any]]:
    """Out-of-fold predicted P(weak wrong) in bins of 0.1 against the observed rate."""
    out: list[dict[str, Any]] = []
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        inside = (predicted >= low) & ((predicted < high) if b < bins - 1 else predicted <= 1)
        if inside.any():
            out.append({"bin": f"{low:.1f}-{high:.1f}", "n": int(inside.sum()),
                        "predicted": float(predicted[inside].mean()),
                        "observed": float(wrong[inside].mean())})
    return out


def report_apgr(found: dict[str, Any]) -> None:
    print(f"APGR, leave-subjects-out: grouped {K}-fold by subject, "
          f"{len(found['folds']) // K} random partitions; each fold scored by a model fitted on "
          f"the other folds' subjects only")
    print(f"{'rep':>3} {'fold':>4} {'n':>5} {'weak':>5} {'strong':>6}  "
          + "  ".join(f"{n:>10}" for n in ROUTERS) + "  subjects")
    for f in found["folds"]:
        print(f"{f['repeat']:>3} {f['fold']:>4} {f['n']:>5} {f['weak_acc']:5.3f} "
              f"{f['strong_acc']:6.3f}  " + "  ".join(f"{f['apgr'][n]:10.3f}" for n in ROUTERS)
              + "  " + ", ".join(f["subjects"]))
    for stat in ("mean", "median", "gap_weighted", "min", "max"):
        print(f"{stat:>26}  " + "  ".join(f"{found['summary'][n][stat]:10.3f}" for n in ROUTERS))
    repeats = len(found["folds"]) // K
    means = {n: [statistics.fmean(f["apgr"][n] for f in found["folds"] if f["repeat"] == r)
                 for r in range(repeats)] for n in ROUTERS}
    print(f"{'mean of each partition':>26}  " + "  ".join(
        f"{n:>10}" for n in ROUTERS))
    for r in range(repeats):
        print(f"{r:>26}  " + "  ".join(f"{means[n][r]:10.3f}" for n in ROUTERS))
    if repeats > 1:
        print(f"{'spread (sd) of those':>26}  " + "  ".join(
            f"{statistics.stdev(means[n]):10.3f}" for n in ROUTERS))
    print(f"{'pooled out-of-fold (rep 0)':>26}  "
          + "  ".join(f"{found['pooled_apgr'][n]:10.3f}" for n in ROUTERS))
    print("calibration of the new router's difficulty (out-of-fold, rep 0):")
    print(f"  {'P(weak wrong)':>13} {'n':>5} {'predicted':>9} {'observed':>8}")
    for row in found["calibration"]:
        print(f"  {row['bin']:>13} {row['n']:>5} {row['predicted']:9.3f} {row['observed']:8.3f}")


def evaluate(questions: list[Question], data: Path, repeats: int) -> None:
    found = measure(questions)
    for name, values in found["accuracy"].items():
        print(f"{name:16} n={values['n']:3}  category accuracy {values['category']:.3f}")
    print("held-out confusions (label -> predicted):", found["held_out_confusions"])
    for preference, picks in found["picks"].items():
        print(f"cost_preference {preference}: {picks}")
    report_timing(found["decision_ms"], "labelled questions")
    if data.exists():
        outcomes = fit_router.load_outcomes(data)
        pool = build_catalog(Settings()).models(test=True)
        report_timing(timing(outcomes.prompts[::8], pool), "real questions (every 8th)")
        report_apgr(cross_validate(outcomes, repeats))
    else:
        print(f"{data} not found: no APGR")


def report_timing(values: dict[str, Any], what: str) -> None:
    print(f"decision time (analyse + route), {what}: {values['decisions']} decisions over "
          f"{values['models']} models (load average {values['load_average']} on "
          f"{os.cpu_count()} CPUs):")
    for name, label in (("every_run", "every run:      "), ("best_of_5", "best of 5 each: "),
                        ("cpu_time", "CPU time:       ")):
        row = values[name]
        print(f"  {label}  p50 {row['p50']:.3f} ms, p99 {row['p99']:.3f} ms, "
              f"max {row['max']:.3f} ms")


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
    parser.add_argument("--data", type=Path, default=fit_router.DATA)
    parser.add_argument("--repeats", type=int, default=REPEATS)
    args = parser.parse_args()
    questions = load()
    if args.command == "fit":
        fit(questions)
    evaluate(questions, args.data, args.repeats)


if __name__ == "__main__":
    main()
