"""Numba vs numpy for the vote engine's per-vote work (winning dim + vote table).

Run: ``python benchmarks/vote_kernel.py``. Writes benchmarks/results/vote_kernel.json.
The numba kernel fuses the scale division, pruning mask and argmin in one pass; numpy
needs a temporary (M, E) array and a masked copy.
"""

from __future__ import annotations

import time

import numpy as np
from common import save_result

from modelcentrality.engine._votes import vote_table, winning_dims


def numpy_winners(group_var, scale_std, prune_std):
    ratio = group_var / scale_std**2
    if prune_std is not None:
        ratio = np.where(scale_std >= prune_std, ratio, np.inf)
    return np.argmin(ratio, axis=1)


def best_time(winners, group_var, scale, prune, factors, repeats=7):
    """Best of several timings of winners + vote table."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        vote_table(winners(group_var, scale, prune), factors, group_var.shape[1], 5)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    rng = np.random.default_rng(0)
    rows = []
    winning_dims(rng.random((10, 3)), np.ones(3))  # compile outside the timings
    for n_votes, n_dims, prune in [
        (500, 10, None),
        (1000, 10, None),
        (15_000, 10, 0.05),
        (15_000, 64, 0.05),
        (200_000, 10, None),
    ]:
        group_var = rng.random((n_votes, n_dims))
        scale = rng.random(n_dims) + 0.01
        factors = rng.integers(0, 5, n_votes)
        np.testing.assert_array_equal(
            winning_dims(group_var, scale, prune), numpy_winners(group_var, scale, prune)
        )
        numba_s = best_time(winning_dims, group_var, scale, prune, factors)
        numpy_s = best_time(numpy_winners, group_var, scale, prune, factors)
        rows.append(
            {
                "votes": n_votes,
                "dims": n_dims,
                "prune_std": prune,
                "numba_s": numba_s,
                "numpy_s": numpy_s,
                "speedup": numpy_s / numba_s,
            }
        )
        print(f"M={n_votes:>7} E={n_dims:>3}: numba {numba_s * 1e6:9.1f} us, "
              f"numpy {numpy_s * 1e6:9.1f} us, x{numpy_s / numba_s:.2f}")
    path = save_result("vote_kernel", {"rows": rows})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
