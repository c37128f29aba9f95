"""How settled is the full paper protocol's own ranking of a zoo?

Run: ``python benchmarks/full_noise.py --zoo ../zoos/factorvae [--zoo ...] [--jobs 2]``.
Writes benchmarks/results/full_noise.json.

budget.py scores the precision-targeted mode by its agreement with the full protocol's
ranking, but that ranking carries vote noise of its own (500 or 1,000 votes per pair).
This script ranks each zoo with the full protocol (through the rank cache shared with
budget.py and selection.py, so a zoo they ranked costs nothing) and bootstraps its votes:
each model's centrality, 95% interval and p_top, the p_top of the selected model, and
Kendall's tau between the full ranking and each bootstrap replicate (median and 10th
percentile), i.e. how well the full protocol would agree with a rerun of itself on
fresh votes. An agreement between the budgeted and the full ranking well below that is
the budget's fault; one near it is the protocol's own noise.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from common import CACHE, save_result
from scipy.stats import kendalltau
from selection import manifest_ground_truth

from modelcentrality import load_zoo, rank
from modelcentrality.execution._backends import ProcessBackend

BOOTSTRAP = 500


def replicate_taus(replicates: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Kendall's tau between ``scores`` (N,) and each row of ``replicates`` (B, N)."""
    return np.array([kendalltau(scores, replicate)[0] for replicate in replicates])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--zoo", type=Path, action="append", required=True)
    parser.add_argument("--cache", type=Path, default=CACHE, help="Rank cache folder.")
    parser.add_argument("--jobs", type=int, default=1, help="Worker processes.")
    parser.add_argument("--bootstrap", type=int, default=BOOTSTRAP)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    backend = ProcessBackend(args.jobs) if args.jobs > 1 else None
    rows = []
    for path in args.zoo:
        zoo = load_zoo(path)
        full = rank(zoo, random_state=args.seed, n_boot=args.bootstrap, progress=False,
                    cache_dir=args.cache, backend=backend)
        taus = replicate_taus(full.uncertainty.replicates, full.scores)
        truth = manifest_ground_truth(path, full.names)
        order = np.argsort(-full.scores)
        row = {
            "zoo": path.name,
            "models": len(zoo),
            "selected": full.selected,
            "selected_p_top": round(float(full.uncertainty.p_top[order[0]]), 3),
            "max_bootstrap_se": round(float(full.uncertainty.std.max()), 4),
            "self_tau_median": round(float(np.median(taus)), 3),
            "self_tau_p10": round(float(np.percentile(taus, 10)), 3),
            "ranking": [
                {
                    "name": full.names[i],
                    "centrality": round(float(full.scores[i]), 4),
                    "ci95": [round(float(x), 4) for x in full.uncertainty.scores_ci[i]],
                    "p_top": round(float(full.uncertainty.p_top[i]), 3),
                    "factorvae": None if truth is None else float(truth["factorvae"][i]),
                }
                for i in order
            ],
        }
        rows.append(row)
        print({k: v for k, v in row.items() if k != "ranking"})
    path = save_result("full_noise", {"bootstrap": args.bootstrap, "rows": rows})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
