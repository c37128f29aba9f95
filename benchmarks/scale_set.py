"""How the ranking and every cross cell move as the scale set shrinks or is replaced.

Run: ``python benchmarks/scale_set.py [--zoo zoos/infogan_cr] [--votes 100]
[--scale-samples 73728 20000 5000 2000] [--no-groups] [--name scale_set]``.
Writes benchmarks/results/<name>.json after every setting (a cut-short run keeps the
finished ones).

For each S the zoo is ranked with the same seed and votes; then once with
``scale_from_groups`` (the per-dim scale estimated from the pooled vote-group
observations, no scale-set passes). Every setting is compared with the largest S:
max and mean absolute change of the cross cells, Kendall tau and Spearman rho of the
scores, whether the top pick is the same, and the wall time. Runs in this process
(``--jobs 1``): the figures are the engine's own, one setting after another.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from common import save_result
from scipy.stats import kendalltau, spearmanr

from modelcentrality import load_zoo, rank


def compare(reference, result) -> dict:
    change = np.abs(result.cross - reference.cross)
    off_diagonal = ~np.eye(len(change), dtype=bool)
    return {
        "max_abs_cross_change": float(change.max()),
        "mean_abs_cross_change": float(change[off_diagonal].mean()),
        "kendall_tau": float(kendalltau(reference.scores, result.scores).statistic),
        "spearman_rho": float(spearmanr(reference.scores, result.scores).statistic),
        "same_top": reference.ranking[0] == result.ranking[0],
        "same_ranking": list(reference.ranking) == list(result.ranking),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--zoo", default="zoos/infogan_cr")
    parser.add_argument("--votes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--scale-samples", type=int, nargs="+", default=[73_728, 20_000, 5_000, 2_000]
    )
    parser.add_argument("--no-groups", action="store_true", help="Skip scale_from_groups.")
    parser.add_argument("--name", default="scale_set")
    args = parser.parse_args()

    models = load_zoo(args.zoo)
    settings = [("scale_samples", s) for s in sorted(args.scale_samples, reverse=True)]
    if not args.no_groups:
        settings.append(("scale_from_groups", True))
    runs, reference = [], None
    for key, value in settings:
        load_before = os.getloadavg()
        start = time.perf_counter()
        result = rank(
            models,
            random_state=args.seed,
            votes=args.votes,
            bootstrap=0,
            progress=False,
            **{key: value},
        )
        seconds = time.perf_counter() - start
        reference = reference or result
        run = {
            key: value,
            "seconds": round(seconds, 1),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "scores": dict(zip(result.names, np.round(result.scores, 5).tolist())),
            "ranking": list(result.ranking),
            "cross": np.round(result.cross, 5).tolist(),
            "vs_largest_S": compare(reference, result),
        }
        runs.append(run)
        print({k: v for k, v in run.items() if k not in ("cross", "scores")}, flush=True)
        path = save_result(
            args.name,
            {
                "zoo": args.zoo,
                "votes": args.votes,
                "seed": args.seed,
                "names": result.names,
                "runs": runs,
            },
        )
    print("wrote", path)


if __name__ == "__main__":
    main()
