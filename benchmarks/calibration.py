"""Calibration of the 95% intervals and p_top against high-budget reference centralities.

Run: ``nice -n 10 python benchmarks/calibration.py`` (about 20-30 CPU-minutes on a
2-core machine; ``--seeds``, ``--bundled-seeds`` and ``--no-bundled`` make it shorter).
Writes benchmarks/results/calibration.json and benchmarks/results/calibration.png.

Synthetic zoos (in-memory, :func:`~modelcentrality.testing.make_leader_zoo`, 7 models):
``tied`` (the leader twice, under two names: identical models), ``near`` (two distinct
leaders about two standard errors of a precision-0.01 run apart) and ``separated``
(about eight apart). Each is ranked with ``--seeds`` seeds in two modes: the precision
search (``PrecisionSearch(0.01)``, refining the top, the README's mode) and the full search at
200 votes per pair (S = 4,000); the tied zoo also without refinement, for the cost of
refining tied leaders. The
reference is one full run at 1,500 votes per pair and S = 30,000 (seed 10,000, not
among the runs' seeds).

Bundled zoos (zoos/infogan_cr, zoos/factorvae): a reduced protocol, stated in the JSON,
because CPU is scarce: the first 4 models, L = 10, 100 votes per pair and S = 2,000 for
``--bundled-seeds`` seeds, against one reference run at 600 votes and S = 12,000.

Goals (from the issue): intervals cover the reference in >= 90% of (run, model) cases;
the identical models' intervals overlap in >= 90% of seeds; among runs claiming
p_top >= 0.95 the named leader is a reference leader in >= 90%. The reference leaders
are the models whose reference centrality is the largest; in the tied zoo both copies
(their true centralities are equal). Also recorded: the precision search's encoder
passes with refinement over those without (goal with tied leaders: <= 2).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from common import RESULTS, save_result

from modelcentrality import PrecisionSearch, load_zoo, rank
from modelcentrality.testing import make_leader_zoo

SYNTHETIC = {"tied": ("tied", 0), "near": ("distinct", 0), "separated": ("distinct", 3)}
REFERENCE_SEED = 10_000
MODES = {
    "precision": {"search": PrecisionSearch(0.01)},
    "precision_no_refine": {"search": PrecisionSearch(0.01, refine_top=False)},
    "full_200_votes": {"votes": 200},
}
ROOT = Path(__file__).resolve().parent.parent
BUNDLED = {"infogan_cr": ROOT / "zoos" / "infogan_cr", "factorvae": ROOT / "zoos" / "factorvae"}
BUNDLED_RUN = {"votes": 100, "group_size": 10, "scale_samples": 2000}
BUNDLED_REFERENCE = {"votes": 600, "group_size": 10, "scale_samples": 12_000}


def run_record(result) -> dict:
    """What one run claims."""
    return {
        "scores": result.scores.tolist(),
        "ci": result.scores_ci.tolist(),
        "std": result.uncertainty.std.tolist(),
        "p_top": result.p_top.tolist(),
        "selected": result.selected,
        "tied": list(result.tied),
        "encoder_passes": int(result.encoder_passes),
        "votes": sorted({int(v) for v in np.unique(result.votes)}),
        "scale_samples": result.protocol.scale_samples,
        "stop_reason": result.stop_reason,
    }


def summarise(names, reference, leaders, runs, twins=None) -> dict:
    """Coverage, overlap of identical models, p_top claims and spread ratios."""
    reference = np.asarray(reference)
    ci = np.array([run["ci"] for run in runs])
    scores = np.array([run["scores"] for run in runs])
    std = np.array([run["std"] for run in runs])
    covered = (ci[:, :, 0] <= reference) & (reference <= ci[:, :, 1])
    claims = [run for run in runs if max(run["p_top"]) >= 0.95]
    named = [names[int(np.argmax(run["p_top"]))] for run in claims]
    out = {
        "runs": len(runs),
        "coverage": float(covered.mean()),
        "coverage_per_model": dict(zip(names, covered.mean(axis=0).round(3).tolist())),
        "claims_p_top_095": len(claims),
        "claims_right": float(np.mean([name in leaders for name in named])) if claims else None,
        # Across-seed spread of each centrality over the standard error runs claim.
        "spread_over_claimed_se": dict(
            zip(names, (scores.std(axis=0, ddof=1) / std.mean(axis=0)).round(2).tolist())
        ),
        "mean_interval_width": float(np.mean(ci[:, :, 1] - ci[:, :, 0])),
        "mean_claimed_se": float(std.mean()),
        "mean_encoder_passes": float(np.mean([run["encoder_passes"] for run in runs])),
        "ties_reported": int(sum(bool(run["tied"]) for run in runs)),
    }
    if twins is not None:
        a, b = (names.index(name) for name in twins)
        overlap = (ci[:, a, 0] <= ci[:, b, 1]) & (ci[:, b, 0] <= ci[:, a, 1])
        out["identical_overlap"] = float(overlap.mean())
    return out


def synthetic(seeds: int) -> dict:
    zoos = {}
    for label, (leaders, world) in SYNTHETIC.items():
        models = make_leader_zoo(leaders, random_state=world)
        names = [model.name for model in models]
        start = time.perf_counter()
        ref = rank(models, random_state=REFERENCE_SEED, votes=1500, scale_samples=30_000,
                   progress=False, n_boot=0)
        reference_s = time.perf_counter() - start
        top = [names[i] for i in np.flatnonzero(ref.scores == ref.scores.max())]
        reference_leaders = ["lead", "twin"] if leaders == "tied" else top
        zoo = {
            "names": names,
            "reference": ref.scores.tolist(),
            "reference_leaders": reference_leaders,
            "reference_seconds": round(reference_s, 1),
            "modes": {},
        }
        for mode, options in MODES.items():
            if mode == "precision_no_refine" and leaders != "tied":
                continue
            start = time.perf_counter()
            runs = [
                run_record(rank(models, random_state=seed, progress=False, **options))
                for seed in range(seeds)
            ]
            zoo["modes"][mode] = {
                "options": options,
                "seconds": round(time.perf_counter() - start, 1),
                "summary": summarise(
                    names, ref.scores, reference_leaders, runs,
                    ("lead", "twin") if leaders == "tied" else None,
                ),
                "runs": runs,
            }
            print(label, mode, zoo["modes"][mode]["summary"], flush=True)
        if "precision_no_refine" in zoo["modes"]:
            refined, plain = (zoo["modes"][m]["runs"] for m in MODES if m.startswith("prec"))
            ratios = [a["encoder_passes"] / b["encoder_passes"] for a, b in zip(refined, plain)]
            zoo["refine_cost_ratio"] = {"max": max(ratios), "mean": float(np.mean(ratios))}
        zoos[label] = zoo
    return zoos


def bundled(seeds: int) -> dict:
    zoos = {}
    for label, path in BUNDLED.items():
        models = list(load_zoo(path))[:4]
        names = [model.name for model in models]
        start = time.perf_counter()
        ref = rank(models, random_state=REFERENCE_SEED, progress=False, n_boot=0,
                   **BUNDLED_REFERENCE)
        reference_s = time.perf_counter() - start
        leaders = [names[int(np.argmax(ref.scores))]]
        start = time.perf_counter()
        runs = [
            run_record(rank(models, random_state=seed, progress=False, **BUNDLED_RUN))
            for seed in range(seeds)
        ]
        zoos[label] = {
            "names": names,
            "reference": ref.scores.tolist(),
            "reference_leaders": leaders,
            "reference_seconds": round(reference_s, 1),
            "seconds": round(time.perf_counter() - start, 1),
            "summary": summarise(names, ref.scores, leaders, runs),
            "runs": runs,
        }
        print(label, zoos[label]["summary"], flush=True)
    return zoos


def pooled(synthetic_zoos: dict, bundled_zoos: dict) -> dict:
    """The three goals over every run of every zoo and mode."""
    summaries = [mode["summary"] for zoo in synthetic_zoos.values()
                 for mode in zoo["modes"].values()]
    summaries += [zoo["summary"] for zoo in bundled_zoos.values()]
    cases = sum(s["runs"] * len(s["coverage_per_model"]) for s in summaries)
    claims = sum(s["claims_p_top_095"] for s in summaries)
    right = sum(s["claims_right"] * s["claims_p_top_095"]
                for s in summaries if s["claims_p_top_095"])
    overlaps = [s["identical_overlap"] for s in summaries if "identical_overlap" in s]
    return {
        "coverage": sum(s["coverage"] * s["runs"] * len(s["coverage_per_model"])
                        for s in summaries) / cases,
        "identical_overlap_min": min(overlaps) if overlaps else None,
        "claims_p_top_095": claims,
        "claims_right": right / claims if claims else None,
        "tied_refine_cost_ratio_max": synthetic_zoos["tied"]["refine_cost_ratio"]["max"]
        if "tied" in synthetic_zoos else None,
    }


def figure(synthetic_zoos: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    labels, values = [], []
    for zoo_label, zoo in synthetic_zoos.items():
        for mode, data in zoo["modes"].items():
            labels.append(f"{zoo_label}\n{mode.replace('_', ' ')}")
            values.append(data["summary"]["coverage"])
    axes[0].bar(range(len(values)), values, color="tab:blue")
    axes[0].axhline(0.9, color="k", ls="--", lw=1, label="goal 0.90")
    axes[0].set_xticks(range(len(values)), labels, fontsize=6, rotation=60)
    axes[0].set_ylim(0.5, 1.0)
    axes[0].set_ylabel("coverage of the reference")
    axes[0].legend(fontsize=8)
    tied = synthetic_zoos["tied"]
    names = tied["names"]
    a, b = names.index("lead"), names.index("twin")
    for offset, (index, colour) in enumerate(((a, "tab:blue"), (b, "tab:orange"))):
        runs = tied["modes"]["precision"]["runs"]
        seeds = np.arange(len(runs)) + (offset - 0.5) * 0.3
        centre = np.array([run["scores"][index] for run in runs])
        ci = np.array([run["ci"][index] for run in runs])
        axes[1].errorbar(seeds, centre, yerr=[centre - ci[:, 0], ci[:, 1] - centre], fmt="o",
                         ms=3, color=colour, label=names[index])
    axes[1].axhline(tied["reference"][a], color="k", lw=1, label="reference")
    axes[1].set_xlabel("seed")
    axes[1].set_ylabel("centrality, 95% interval")
    axes[1].set_title("identical models, precision 0.01", fontsize=9)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--bundled-seeds", type=int, default=10)
    parser.add_argument("--no-bundled", action="store_true")
    args = parser.parse_args()
    start = time.perf_counter()
    synthetic_zoos = synthetic(args.seeds)
    payload = {
        "seeds": args.seeds,
        "bundled_seeds": 0 if args.no_bundled else args.bundled_seeds,
        "bundled_protocol": {"models": 4, "run": BUNDLED_RUN, "reference": BUNDLED_REFERENCE},
        "pooled": pooled(synthetic_zoos, {}),
        "seconds": round(time.perf_counter() - start, 1),
        "synthetic": synthetic_zoos,
        "bundled": {},
    }
    # Saved before the long bundled part, and again with it.
    save_result("calibration", payload)
    figure(synthetic_zoos, RESULTS / "calibration.png")
    if not args.no_bundled:
        payload["bundled"] = bundled(args.bundled_seeds)
        payload["pooled"] = pooled(synthetic_zoos, payload["bundled"])
        payload["seconds"] = round(time.perf_counter() - start, 1)
        save_result("calibration", payload)
    print("pooled", payload["pooled"])

if __name__ == "__main__":
    main()
