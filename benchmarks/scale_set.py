"""How the ranking and every cross cell move as the scale set shrinks or is replaced.

Run: ``python benchmarks/scale_set.py [--zoo zoos/infogan_cr] [--votes 100]
[--scale-samples 73728 20000 5000 2000] [--no-groups] [--verify] [--name scale_set]``.
Writes benchmarks/results/<name>.json after every source model (a cut-short run keeps
what it finished, marked ``complete: false``).

All settings are computed in one pass that shares every encoder pass they have in
common, so the grid costs what its largest S costs alone:

- the vote groups (``--votes`` per model, L = 100) do not depend on S: they are drawn,
  rendered and encoded once per pair;
- the scale set of each S is a prefix of the largest one, because the prior is sampled
  row by row from the scale seed (``rank(scale_samples=S)`` draws exactly that prefix);
  its moments are merged over the same 4096-row chunk boundaries as the engine's;
- ``scale_from_groups``: the moments of the pooled group codes (no scale set).

Each setting's cross matrix and scores are compared with the largest S: max and mean
absolute change of the off-diagonal cross cells, Kendall tau of the scores, top pick
and full ranking. ``--verify`` first checks, on a 3-model synthetic zoo, that this pass
reproduces ``rank`` for every setting (up to the encoder's batch-size rounding).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from common import save_result
from scipy.stats import kendalltau

from modelcentrality import load_zoo, rank
from modelcentrality._seeding import keyed_rng
from modelcentrality.engine import get_protocol
from modelcentrality.engine._centrality import centrality_scores
from modelcentrality.engine._scoring import CHUNK_OBSERVATIONS, _draw_votes
from modelcentrality.engine._sources import GeneratedFactors
from modelcentrality.engine._streaming import ScaleMoments, group_variances
from modelcentrality.engine._votes import score_votes
from modelcentrality.testing._synthetic import make_synthetic_zoo

REPO = Path(__file__).resolve().parent.parent
GROUPS = "groups"


def source_row(source, encoders, protocol, sizes, seed) -> dict:
    """Scores of ``encoders`` on ``source`` for every S in ``sizes`` and for GROUPS."""
    rng = keyed_rng(seed, source.name)
    scale_seed, train_seed, eval_seed, _ = rng.integers(2**63, size=4)
    generated = GeneratedFactors(source)
    n_train = protocol.train_votes_for(source.kind)
    train_factors, train_draws = _draw_votes(generated, protocol, n_train, train_seed)
    eval_factors, eval_draws = _draw_votes(generated, protocol, protocol.eval_votes, eval_seed)
    factors = np.concatenate([train_factors, eval_factors])
    draws = np.concatenate([train_draws, eval_draws])
    scale_draws = generated.draw_scale_set(max(sizes), np.random.default_rng(scale_seed))
    keys = [*sizes, GROUPS]
    moments = {key: [ScaleMoments() for _ in encoders] for key in keys}
    for start in range(0, len(scale_draws), CHUNK_OBSERVATIONS):
        observations = source.generate(scale_draws[start : start + CHUNK_OBSERVATIONS])
        for j, encoder in enumerate(encoders):
            codes = encoder.encode(observations)
            for size in sizes:
                if start < size:
                    moments[size][j].update(codes[: size - start])
    group_size = protocol.group_size
    per_chunk = max(1, CHUNK_OBSERVATIONS // group_size)
    n_votes = len(factors)
    group_var = [np.empty((n_votes, 0))] * len(encoders)
    parts = [[] for _ in encoders]
    for first in range(0, n_votes, per_chunk):
        last = min(n_votes, first + per_chunk)
        observations = source.generate(draws[first * group_size : last * group_size])
        for j, encoder in enumerate(encoders):
            codes = encoder.encode(observations)
            moments[GROUPS][j].update(codes)
            parts[j].append(group_variances(codes, group_size))
    group_var = [np.concatenate(p) for p in parts]
    return {
        key: [
            score_votes(group_var[j], moments[key][j].std(), factors, source.n_codes,
                        n_train, protocol.prune_std).score
            for j in range(len(encoders))
        ]
        for key in keys
    }


def cross_matrices(models, protocol, sizes, seed, on_row=None) -> dict:
    keys = [*sizes, GROUPS]
    cross = {key: np.full((len(models), len(models)), np.nan) for key in keys}
    for i, source in enumerate(models):
        row = source_row(source, models, protocol, sizes, seed)
        for key in keys:
            cross[key][i] = row[key]
        if on_row is not None:
            on_row(i, cross)
    return cross


def verify(seed: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        make_synthetic_zoo(Path(folder) / "z", (0.1, 0.5, 1.0), random_state=0)
        models = load_zoo(Path(folder) / "z")
        sizes = [3000, 1000]
        protocol = get_protocol("paper").with_overrides(votes=60)
        ours = cross_matrices(models, protocol, sizes, seed)
        for key in [*sizes, GROUPS]:
            options = {"scale_from_groups": True} if key == GROUPS else {"scale_samples": key}
            theirs = rank(models, random_state=seed, votes=60, n_boot=0, progress=False,
                          **options).cross
            np.testing.assert_allclose(ours[key], theirs, atol=1e-9, err_msg=str(key))
    print("verified: one pass == rank() for every setting")


def compare(reference: np.ndarray, cross: np.ndarray, names: list[str]) -> dict:
    off = ~np.eye(len(cross), dtype=bool)
    change = np.abs(cross - reference)[off]
    ref_scores, scores = centrality_scores(reference)[1], centrality_scores(cross)[1]
    ref_rank = [names[k] for k in np.argsort(-ref_scores, kind="stable")]
    this_rank = [names[k] for k in np.argsort(-scores, kind="stable")]
    return {
        "max_abs_cross_change": round(float(change.max()), 5),
        "mean_abs_cross_change": round(float(change.mean()), 5),
        "max_abs_score_change": round(float(np.abs(scores - ref_scores).max()), 5),
        "kendall_tau": round(float(kendalltau(ref_scores, scores).statistic), 4),
        "same_top": ref_rank[0] == this_rank[0],
        "same_ranking": ref_rank == this_rank,
        "ranking": this_rank,
        "scores": dict(zip(names, np.round(scores, 5).tolist())),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--zoo", default="zoos/infogan_cr")
    parser.add_argument("--votes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--scale-samples", type=int, nargs="+", default=[73_728, 20_000, 5_000, 2_000]
    )
    parser.add_argument("--verify", action="store_true")
    parser.add_argument("--name", default="scale_set")
    args = parser.parse_args()
    if args.verify:
        verify(args.seed)
    models = load_zoo(REPO / args.zoo)
    names = [m.name for m in models]
    sizes = sorted(set(args.scale_samples), reverse=True)
    protocol = get_protocol("paper").with_overrides(votes=args.votes)
    load_before = os.getloadavg()
    start = time.perf_counter()

    def save(i: int, cross: dict) -> None:
        done = i + 1
        payload = {
            "zoo": args.zoo,
            "votes": args.votes,
            "seed": args.seed,
            "scale_samples": sizes,
            "names": names,
            "complete": done == len(models),
            "source_rows_done": done,
            "seconds": round(time.perf_counter() - start, 1),
            "encoder_passes": done * len(models) * (args.votes * protocol.group_size
                                                    + max(sizes)),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "cross": {str(k): np.round(c[:done], 5).tolist() for k, c in cross.items()},
        }
        if done == len(models):
            reference = cross[sizes[0]]
            payload["vs_largest_S"] = {
                str(k): compare(reference, c, names) for k, c in cross.items()
            }
            for key, row in payload["vs_largest_S"].items():
                print(key, {k: v for k, v in row.items() if k != "scores"})
        print(f"source {done}/{len(models)} done, {payload['seconds']} s", flush=True)
        save_result(args.name, payload)

    cross_matrices(models, protocol, sizes, args.seed, save)


if __name__ == "__main__":
    main()
