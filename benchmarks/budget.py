"""Precision-targeted budget against the full paper protocol.

Run: ``python benchmarks/budget.py`` (synthetic zoos) or
``python benchmarks/budget.py --zoo zoos/infogan_cr --zoo zoos/factorvae --jobs 2``
(trained zoos; writes budget_trained.json). For each zoo, ranks once with the full
paper protocol and once per target precision (with and without top refinement), and
records whether the same model is selected, Kendall's tau between the two centrality
vectors, and the compute saving in encoder passes. Writes benchmarks/results/budget.json.

The full-protocol ranking of a trained zoo goes through the rank cache shared with
selection.py (``--cache``); its encoder passes are counted from the protocol, as a
fresh run would spend them. The budgeted runs always start from nothing.

Synthetic zoos, made here: ``two_groups`` (4 models with entanglement 0.1, 4 with 1.0)
and ``graded`` (14 models, entanglement from 0 to 1).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from common import CACHE, save_result
from scipy.stats import kendalltau

from modelcentrality import PrecisionSearch, load_zoo, rank
from modelcentrality.engine._scoring import source_observation_count
from modelcentrality.engine._sources import GeneratedFactors
from modelcentrality.engine._votes import get_protocol
from modelcentrality.execution._backends import ProcessBackend
from modelcentrality.testing._synthetic import make_synthetic_zoo

ZOOS = {
    "two_groups": ([0.1] * 4 + [1.0] * 4, 0),
    "graded": (list(np.round(np.linspace(0.0, 1.0, 14), 3)), 1),
}
PRECISIONS = (0.01, 0.005)


def compare(
    zoo_name: str, zoo, backend, cache: Path | None, precisions: list[float]
) -> list[dict]:
    """Full paper protocol against every precision target on one zoo."""
    rows = []
    start = time.perf_counter()
    full = rank(zoo, n_boot=0, progress=False, cache_dir=cache, backend=backend)
    full_s = time.perf_counter() - start
    paper = get_protocol("paper")
    full_passes = sum(
        source_observation_count(GeneratedFactors(model), paper) * len(zoo) for model in zoo
    )
    for precision in precisions:
        for refine in (False, True):
            start = time.perf_counter()
            budget = rank(
                zoo,
                search=PrecisionSearch(precision, refine_top=refine),
                progress=False,
                backend=backend,
            )
            row = {
                "zoo": zoo_name,
                "models": len(zoo),
                "precision": precision,
                "refine_top": refine,
                "same_selection": budget.selected == full.selected,
                "kendall_tau": round(float(kendalltau(full.scores, budget.scores)[0]), 3),
                "compute_saving": round(full_passes / budget.encoder_passes, 2),
                "votes_per_pair": sorted({int(v) for v in np.unique(budget.votes)}),
                "max_bootstrap_se": round(float(budget.uncertainty.std.max()), 4),
                "full_s": None if cache is not None else round(full_s, 2),
                "budget_s": round(time.perf_counter() - start, 2),
                "full_selected": full.selected,
                "budget_selected": budget.selected,
            }
            rows.append(row)
            print(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--zoo", type=Path, action="append",
                        help="A trained zoo (repeatable); default: the synthetic zoos.")
    parser.add_argument("--cache", type=Path, default=CACHE,
                        help="Rank cache for the full-protocol runs of trained zoos.")
    parser.add_argument("--jobs", type=int, default=1, help="Worker processes.")
    parser.add_argument("--precisions", type=float, nargs="+", default=list(PRECISIONS))
    parser.add_argument("--name", help="Result file name (default: budget or budget_trained).")
    args = parser.parse_args()
    backend = ProcessBackend(args.jobs) if args.jobs > 1 else None
    threads = 1 if args.jobs > 1 else None
    rows = []
    if args.zoo:
        for path in args.zoo:
            zoo = load_zoo(path, threads=threads)
            rows += compare(path.name, zoo, backend, args.cache, args.precisions)
        name = args.name or "budget_trained"
    else:
        with tempfile.TemporaryDirectory() as folder:
            for zoo_name, (entanglements, seed) in ZOOS.items():
                path = Path(folder) / zoo_name
                make_synthetic_zoo(path, entanglements, random_state=seed)
                zoo = load_zoo(path, threads=threads)
                rows += compare(zoo_name, zoo, backend, None, args.precisions)
        name = args.name or "budget"
    path = save_result(name, {"rows": rows})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
