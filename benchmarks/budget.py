"""Precision-targeted budget against the full paper protocol.

Run: ``python benchmarks/budget.py``. For each zoo, ranks once with the full paper
protocol and once per target precision (with and without top refinement), and records
whether the same model is selected, Kendall's tau between the two centrality vectors,
and the compute saving in encoder passes. Writes benchmarks/results/budget.json.

Zoos: synthetic ONNX zoos made here (the bundled trained zoos are not complete yet):
``two_groups`` (4 models with entanglement 0.1, 4 with 1.0) and ``graded`` (14 models,
entanglement from 0 to 1).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
from common import save_result
from scipy.stats import kendalltau

from modelcentrality import load_zoo, rank
from modelcentrality.synthetic import make_synthetic_zoo

ZOOS = {
    "two_groups": ([0.1] * 4 + [1.0] * 4, 0),
    "graded": (list(np.round(np.linspace(0.0, 1.0, 14), 3)), 1),
}
PRECISIONS = (0.01, 0.005)


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for zoo_name, (entanglements, seed) in ZOOS.items():
            path = Path(folder) / zoo_name
            make_synthetic_zoo(path, entanglements, random_state=seed)
            zoo = load_zoo(path, threads=1)
            start = time.perf_counter()
            full = rank(zoo, bootstrap=0, progress=False)
            full_s = time.perf_counter() - start
            for precision in PRECISIONS:
                for refine in (False, True):
                    start = time.perf_counter()
                    budget = rank(zoo, precision=precision, refine_top=refine, progress=False)
                    row = {
                        "zoo": zoo_name,
                        "models": len(zoo),
                        "precision": precision,
                        "refine_top": refine,
                        "same_selection": budget.selected == full.selected,
                        "kendall_tau": round(float(kendalltau(full.scores, budget.scores)[0]), 3),
                        "compute_saving": round(full.encoder_passes / budget.encoder_passes, 2),
                        "votes_per_pair": sorted({int(v) for v in np.unique(budget.votes)}),
                        "max_bootstrap_se": round(float(budget.uncertainty.std.max()), 4),
                        "full_s": round(full_s, 2),
                        "budget_s": round(time.perf_counter() - start, 2),
                    }
                    rows.append(row)
                    print(row)
    path = save_result("budget", {"rows": rows})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
