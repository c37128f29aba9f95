"""Speed of ``udr_scores`` (Lasso and Spearman) on zoos of synthetic representations.

Run: ``python benchmarks/udr_speed.py``. Writes benchmarks/results/udr_speed.json.

Each model encodes n = 1000 observations into 10 dims: a model-specific mixture of 6
shared ground-truth factors (a signed permutation blended with a random rotation, so
some models are disentangled and some are not), 4 weak nuisance dims, plus noise.
For N = 10 the timings also include a pair-by-pair implementation in the style of
disentanglement_lib (one Lasso fit per ordered pair; one ``scipy.stats.spearmanr``
call per pair of dims), which must give the same pairwise matrix.
"""

from __future__ import annotations

import os
import time
import warnings
from functools import partial

import numpy as np
from common import save_result
from scipy.stats import spearmanr
from sklearn.linear_model import Lasso

from modelcentrality.baselines._udr import relative_strength, udr_scores

SAMPLES = 1000
DIMS = 10
FACTORS = 6


def synthetic_representations(n_models: int, rng: np.random.Generator) -> list[np.ndarray]:
    truth = rng.uniform(-1, 1, size=(SAMPLES, FACTORS))
    reps = []
    for _ in range(n_models):
        mix = np.zeros((FACTORS, DIMS))
        columns = rng.permutation(DIMS)[:FACTORS]
        mix[np.arange(FACTORS), columns] = rng.choice([-1.0, 1.0], FACTORS)
        rotation = np.linalg.qr(rng.normal(size=(FACTORS, FACTORS)))[0]
        blend = rng.uniform(0, 1)
        mix = (1 - blend) * mix + blend * rotation @ mix
        nuisance = 0.05 * rng.normal(size=(SAMPLES, DIMS))
        reps.append(truth @ mix + nuisance + 0.1 * rng.normal(size=(SAMPLES, DIMS)))
    return reps


def pair_by_pair(reps: list[np.ndarray], method: str) -> np.ndarray:
    """Reference loop: every ordered pair separately, as disentanglement_lib does."""
    zs = [(r - r.mean(0)) / r.std(0) for r in reps]
    count = len(zs)
    out = np.full((count, count), np.nan)
    for a in range(count):
        for b in range(count):
            if a == b:
                continue
            if method == "lasso":
                matrix = np.abs(Lasso(alpha=0.1).fit(zs[a], zs[b]).coef_).T
            else:
                matrix = np.array([[abs(spearmanr(x, y)[0]) for y in zs[b].T] for x in zs[a].T])
            out[a, b] = relative_strength(matrix)
    return out


def timed(function, repeats: int) -> tuple[float, object]:
    best, value = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        value = function()
        best = min(best, time.perf_counter() - start)
    return best, value


def main() -> None:
    # The host is shared: the load average tells how far timings sit above an idle machine.
    load_before = os.getloadavg()
    rows = []
    for n_models in (10, 50):
        reps = synthetic_representations(n_models, np.random.default_rng(n_models))
        for method in ("lasso", "spearman"):
            for n_jobs in (1, 2) if method == "lasso" else (1,):
                repeats = 2 if n_models == 50 and method == "lasso" else 3
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    seconds, result = timed(
                        partial(udr_scores, reps, method=method, n_jobs=n_jobs), repeats
                    )
                row = {
                    "models": n_models,
                    "samples": SAMPLES,
                    "dims": DIMS,
                    "method": method,
                    "n_jobs": n_jobs,
                    "pair_matrices": n_models * (n_models - 1),
                    "seconds": seconds,
                    "repeats_best_of": repeats,
                    "warnings": sorted({type(w.message).__name__ for w in caught}),
                    "score_range": [float(result.scores.min()), float(result.scores.max())],
                }
                if n_models == 10 and n_jobs == 1:
                    loop_s, loop = timed(partial(pair_by_pair, reps, method), 1)
                    row["pair_by_pair_seconds"] = loop_s
                    row["pair_by_pair_max_abs_diff"] = float(np.nanmax(abs(loop - result.pairwise)))
                rows.append(row)
                print(row)
    path = save_result(
        "udr_speed",
        {"load_average_before": load_before, "load_average_after": os.getloadavg(), "rows": rows},
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
