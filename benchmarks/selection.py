"""Model selection compared with ground truth, as the paper's Table 3.

Run on a zoo with a ground-truth dataset::

    python benchmarks/selection.py --zoo zoos/infogan_cr --jobs 2
    python benchmarks/selection.py --synthetic            # a zoo with known entanglement

Ground truth of a trained zoo comes from its ``manifest.json`` (written by
``modelcentrality train-zoo``: FactorVAE paper protocol, MIG, DCI with the spec's
predictor), which must have been scored on the dataset's current images (its
``ground_truth_version``), or is computed here (``--ground-truth compute``, DCI with
random forests); the result records the version. Cross matrices go through the rank
cache (``--cache``), so that budget.py and reruns reuse every finished pair;
``--ranking-from RESULT.json`` reuses the ranking of an earlier result instead (it
depends on the models only), e.g. after the ground truth was recomputed on new images.

Selectors: ModelCentrality (paper protocol unless --votes/--scale-samples), UDR Lasso,
UDR Spearman, a uniformly random choice, and the supervised oracle. For each, over R
random sub-zoos of half the models (and over the whole zoo): the ground-truth FactorVAE
score (paper protocol) of the model it selects, with MIG and DCI disentanglement of that
model, and Kendall's tau / Spearman's rho between its scores and the ground truth.
Cross matrices and UDR pair matrices are computed once on the whole zoo; a sub-zoo's
scores come from their sub-matrices, exactly as ranking the sub-zoo alone would give.
Writes benchmarks/results/selection_<name>.json, selection_<name>.png (selector bars)
and similarity_<name>.png (the zoo's similarity matrix ordered by centrality).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from common import CACHE, RESULTS, save_result
from scipy.stats import kendalltau, spearmanr

from modelcentrality import PrecisionSearch, load_zoo, rank
from modelcentrality.baselines._udr import encode_representation, udr_scores
from modelcentrality.datasets import get_dataset
from modelcentrality.execution._backends import ProcessBackend
from modelcentrality.metrics import evaluate
from modelcentrality.reference_models.zoo_job import manifest_scores
from modelcentrality.selection._rank import centrality_scores
from modelcentrality.testing._synthetic import SyntheticDataset, make_synthetic_zoo

SELECTORS = ("ModelCentrality", "UDR Lasso", "UDR Spearman", "random", "oracle")
PUBLISHED = {  # Lin et al. (ICML 2020), Table 3: score of the model each selector picks.
    "InfoGAN-CR": {"UDR Lasso": 0.86, "UDR Spearman": 0.84, "ModelCentrality": 0.92,
                   "supervised h.p. choice": 0.90},
    "FactorVAE": {"UDR Lasso": 0.81, "UDR Spearman": 0.79, "ModelCentrality": 0.84,
                  "supervised h.p. choice": 0.83},
}


def ground_truth(models, dataset, scale: float, seed: int) -> dict[str, np.ndarray]:
    """FactorVAE (paper protocol), MIG and DCI disentanglement of every model."""
    columns: dict[str, list[float]] = {"factorvae": [], "mig": [], "dci": []}
    settings = {"factorvae": {"protocol": "paper"}, "dci": {"predictor": "random_forest"}}
    for model in models:
        scores = evaluate(model.encode, dataset, ["factorvae", "mig", "dci"], seed,
                          sample_multiplier=scale, settings=settings)
        columns["factorvae"].append(scores["factorvae"]["score"])
        columns["mig"].append(scores["mig"]["discrete_mig"])
        columns["dci"].append(scores["dci"]["disentanglement"])
        print(f"ground truth {model.name}: FactorVAE {columns['factorvae'][-1]:.3f}")
    return {key: np.array(values) for key, values in columns.items()}


def manifest_ground_truth(zoo: Path, names: list[str]) -> dict[str, np.ndarray] | None:
    """FactorVAE, MIG and DCI of every model from the zoo's train-zoo manifest.

    None when there is no manifest or a model has no scores in it.
    """
    entries = manifest_scores(zoo)
    if any(name not in entries for name in names):
        return None
    return {
        "factorvae": np.array([entries[n]["factorvae_paper"]["score"] for n in names]),
        "mig": np.array([entries[n]["mig"]["discrete_mig"] for n in names]),
        "dci": np.array([entries[n]["dci"]["disentanglement"] for n in names]),
    }


def manifest_version(zoo: Path, current: str) -> str:
    """The ground-truth version of a zoo's manifest; exits when it is not ``current``."""
    path = zoo / "manifest.json"
    if not path.is_file():  # a ZOO_modified zoo's scores live in ZOO/manifest.json
        path = zoo.with_name(zoo.name.removesuffix("_modified")) / "manifest.json"
    models = json.loads(path.read_text())["models"]
    versions = {e.get("ground_truth_version") for e in models if e["status"] == "done"}
    if versions != {current}:
        raise SystemExit(
            f"{zoo}: manifest ground truth is {sorted(map(str, versions))}, the dataset is "
            f"{current}; rescore it (benchmarks/dsprites_rescore_zoos.py) or use "
            "--ground-truth compute"
        )
    return current


def earlier_ranking(path: Path, names: list[str]) -> SimpleNamespace:
    """The ModelCentrality ranking stored in an earlier selection result of the same zoo.

    The ranking depends on the models only (their own generated images), not on the
    dataset, so it stays valid when the ground truth is recomputed on new images.
    """
    earlier = json.loads(path.read_text())
    if earlier["models"] != names:
        raise SystemExit(f"{path} ranks other models than the zoo holds")
    cross = np.asarray(earlier["cross"], dtype=np.float64)
    similarity, _ = centrality_scores(cross)
    scores = np.asarray(earlier["centrality"], dtype=np.float64)
    protocol = earlier["protocol"]
    return SimpleNamespace(
        names=names,
        cross=cross,
        similarity=similarity,
        scores=scores,
        scores_ci=np.asarray(earlier["centrality_ci"], dtype=np.float64),
        p_top=np.asarray(earlier["p_top"], dtype=np.float64),
        order=np.argsort(-scores, kind="stable"),
        encoder_passes=earlier["encoder_passes"],
        protocol=SimpleNamespace(to_dict=lambda: protocol),
    )


def udr_from_pairwise(pairwise: np.ndarray, subset: np.ndarray) -> np.ndarray:
    """UDR scores of a sub-zoo: median over the other members of each model's column."""
    sub = pairwise[np.ix_(subset, subset)]
    return np.array([np.median(np.delete(sub[:, b], b)) for b in range(len(subset))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--zoo", type=Path)
    parser.add_argument("--data", default="dsprites")
    parser.add_argument("--synthetic", action="store_true")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--votes", type=int)
    parser.add_argument("--scale-samples", type=int)
    parser.add_argument("--precision", type=float,
                        help="Rank in the precision-targeted mode instead of the full protocol.")
    parser.add_argument("--cache", type=Path, default=CACHE, help="Rank cache folder.")
    parser.add_argument("--jobs", type=int, default=1, help="Worker processes for ranking.")
    parser.add_argument("--ground-truth", choices=["manifest", "compute"], default="manifest",
                        help="Take a trained zoo's ground truth from its manifest (when it has "
                        "every model) or compute it here.")
    parser.add_argument("--udr-samples", type=int, default=1000)
    parser.add_argument("--gt-scale", type=float, default=1.0,
                        help="Multiply the ground-truth metrics' sample counts.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ranking-from", type=Path,
                        help="Reuse the ModelCentrality ranking of an earlier selection result "
                        "of the same zoo (it does not depend on the dataset) instead of "
                        "ranking again.")
    args = parser.parse_args()
    if args.synthetic == (args.zoo is not None):
        parser.error("give exactly one of --zoo and --synthetic")

    with tempfile.TemporaryDirectory() as folder:
        if args.synthetic:
            name = "synthetic"
            zoo_path = Path(folder) / "zoo"
            entanglements = list(np.round(np.linspace(0.0, 1.0, 12), 3)) + [1.0] * 4
            world = make_synthetic_zoo(zoo_path, entanglements, random_state=args.seed)
            dataset = SyntheticDataset(world)
        else:
            name = args.zoo.name
            zoo_path = args.zoo
            dataset = get_dataset(args.data)
        models = load_zoo(zoo_path, threads=1 if args.jobs > 1 else None)
        truth = None
        if not args.synthetic and args.ground_truth == "manifest":
            truth = manifest_ground_truth(zoo_path, [m.name for m in models])
        truth_source = "manifest" if truth is not None else "computed"
        truth_version = dataset.ground_truth_version
        if truth is not None:
            truth_version = manifest_version(zoo_path, truth_version)
        else:
            truth = ground_truth(models, dataset, args.gt_scale, args.seed)
        backend = ProcessBackend(args.jobs) if args.jobs > 1 else None
        start = time.perf_counter()
        if args.ranking_from is not None:
            result = earlier_ranking(args.ranking_from, [m.name for m in models])
        else:
            result = rank(models, random_state=args.seed, votes=args.votes,
                          scale_samples=args.scale_samples,
                          search="full" if args.precision is None
                          else PrecisionSearch(args.precision),
                          cache_dir=None if args.synthetic else args.cache, backend=backend)
        rank_seconds = time.perf_counter() - start
        observations = dataset.sample_observations(args.udr_samples, args.seed)
        encoded = [encode_representation(m, observations) for m in models]
        pairwise = {
            method: udr_scores([c for c, _ in encoded], [k for _, k in encoded],
                               method=method, random_state=args.seed).pairwise
            for method in ("lasso", "spearman")
        }

    n = len(models)
    rng = np.random.default_rng(args.seed)
    subsets = [np.arange(n)] + [np.sort(rng.choice(n, n // 2, replace=False))
                                for _ in range(args.repeats)]
    picks: dict[str, list[dict[str, float]]] = {s: [] for s in SELECTORS}
    for index, subset in enumerate(subsets):
        scores = {
            "ModelCentrality": centrality_scores(result.cross[np.ix_(subset, subset)])[1],
            "UDR Lasso": udr_from_pairwise(pairwise["lasso"], subset),
            "UDR Spearman": udr_from_pairwise(pairwise["spearman"], subset),
            "random": rng.random(len(subset)),
            "oracle": truth["factorvae"][subset],
        }
        for selector, values in scores.items():
            chosen = subset[int(np.argmax(values))]
            target = truth["factorvae"][subset]
            picks[selector].append({
                "whole_zoo": index == 0,
                "factorvae": float(truth["factorvae"][chosen]),
                "mig": float(truth["mig"][chosen]),
                "dci": float(truth["dci"][chosen]),
                "kendall_tau": float(kendalltau(values, target)[0]),
                "spearman_rho": float(spearmanr(values, target)[0]),
            })
    summary = {}
    for selector, rows in picks.items():
        repeats = [r for r in rows if not r["whole_zoo"]]
        summary[selector] = {
            "whole_zoo": rows[0],
            **{f"{key}_mean": float(np.nanmean([r[key] for r in repeats]))
               for key in ("factorvae", "mig", "dci", "kendall_tau", "spearman_rho")},
            **{f"{key}_std": float(np.nanstd([r[key] for r in repeats]))
               for key in ("factorvae", "mig", "dci", "kendall_tau", "spearman_rho")},
        }
        s = summary[selector]
        print(f"{selector:16} FactorVAE of pick {s['factorvae_mean']:.3f} +- "
              f"{s['factorvae_std']:.3f}, tau {s['kendall_tau_mean']:.2f}")
    payload_ranking_from = None if args.ranking_from is None else str(args.ranking_from)
    payload = {
        "zoo": name,
        "models": [m.name for m in models],
        "ground_truth": {k: v.tolist() for k, v in truth.items()},
        "ground_truth_source": truth_source,
        "ground_truth_version": truth_version,
        "ranking_from": payload_ranking_from,
        "protocol": result.protocol.to_dict(),
        "encoder_passes": int(result.encoder_passes),
        "rank_seconds_with_cache": round(rank_seconds, 1),
        "centrality": result.scores.tolist(),
        "centrality_ci": result.scores_ci.tolist(),
        "p_top": result.p_top.tolist(),
        "cross": result.cross.tolist(),
        "settings": vars(args) | {"zoo": None if args.zoo is None else str(args.zoo),
                                   "cache": str(args.cache),
                                   "ranking_from": payload_ranking_from},
        "repeats": args.repeats,
        "sub_zoo_size": n // 2,
        "summary": summary,
        "published_table3": PUBLISHED,
    }
    path = save_result(f"selection_{name}", payload)
    plot(summary, name, RESULTS / f"selection_{name}.png")
    plot_similarity(result, truth["factorvae"], name, RESULTS / f"similarity_{name}.png")
    print(f"wrote {path}")


def plot(summary: dict, name: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 3.5))
    means = [summary[s]["factorvae_mean"] for s in SELECTORS]
    stds = [summary[s]["factorvae_std"] for s in SELECTORS]
    axes.bar(SELECTORS, means, yerr=stds, capsize=4, color="tab:blue")
    axes.set_ylabel("ground-truth FactorVAE\nof the selected model")
    axes.set_title(f"Model selection on the {name} zoo (half-zoo repeats)")
    axes.set_ylim(0, 1.05)
    axes.tick_params(axis="x", labelsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def plot_similarity(result, factorvae: np.ndarray, name: str, path: Path) -> None:
    """The similarity matrix with rows and columns ordered by centrality, best first."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = list(result.order)
    similarity = result.similarity[np.ix_(order, order)].copy()
    np.fill_diagonal(similarity, np.nan)
    labels = [f"{result.names[i]} ({factorvae[i]:.2f})" for i in order]
    size = 3 + 0.35 * len(order)
    figure, axes = plt.subplots(figsize=(size + 1.5, size))
    image = axes.imshow(similarity, cmap="viridis")
    axes.set_xticks(range(len(order)), labels, rotation=90, fontsize=7)
    axes.set_yticks(range(len(order)), labels, fontsize=7)
    axes.set_title(f"{name}: similarity d[i, j], ordered by centrality\n"
                   "(label: ground-truth FactorVAE)", fontsize=9)
    figure.colorbar(image, ax=axes, fraction=0.046)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
