"""Adaptive medoid search against the full ranking, on zoos with a designed medoid.

Run: ``python benchmarks/adaptive.py`` (N = 50, 100, 200 with 5 seeds each, plus
N = 1,000 with 3 seeds), ``--sizes``/``--seeds``/``--large-seeds`` to change that,
``--bundled`` to rank zoos/infogan_cr both ways and add that to the JSON, ``--replot``
to redraw the figure from the JSON. Writes benchmarks/results/adaptive.json and adaptive.png.

Zoos come from :func:`~modelcentrality.testing.make_structured_zoo`: in-memory synthetic
models (16-pixel observations, K = 6 factors) where one model is disentangled and the
others have entanglement in [0.3, 1], so the disentangled one is the medoid by design.
Every ranking uses the same very reduced protocol (100 votes, group size 10, scale set
200): the comparison is adaptive against full *under that protocol*, not against the
paper protocol. For N <= 200 the full ranking (every ordered pair, same evaluator) is
computed for each seed as the reference; at N = 1,000 only the designed medoid is known.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import numpy as np
from common import RESULTS, save_result

from modelcentrality import load_zoo, rank
from modelcentrality.io._files import write_json
from modelcentrality.testing import make_structured_zoo

PROTOCOL = {"votes": 100, "group_size": 10, "scale_samples": 200}
FULL_LIMIT = 200


def one_run(n: int, seed: int) -> dict:
    models = make_structured_zoo(n, random_state=seed)
    medoid = min(models, key=lambda m: m.entanglement).name
    start = time.perf_counter()
    adaptive = rank(models, search="adaptive", random_state=seed, progress=False, **PROTOCOL)
    adaptive_s = time.perf_counter() - start
    details = adaptive.details
    row = {
        "n": n,
        "seed": seed,
        "designed_medoid": medoid,
        "adaptive_top": adaptive.selected,
        "adaptive_is_medoid": adaptive.selected == medoid,
        "target_reached": adaptive.target_reached,
        "stop_reason": adaptive.stop_reason,
        "p_top": details["top_k"][0]["p_top"],
        "rounds": len(details["history"]),
        "survivors": details["history"][-1]["survivors"],
        "pair_evaluations": details["pair_evaluations"],
        "pair_fraction": details["pair_fraction"],
        "encoder_fraction": details["encoder_fraction"],
        "adaptive_s": round(adaptive_s, 2),
    }
    if n <= FULL_LIMIT:
        start = time.perf_counter()
        full = rank(models, random_state=seed, progress=False, n_boot=0, **PROTOCOL)
        row["full_s"] = round(time.perf_counter() - start, 2)
        row["full_top"] = full.selected
        row["full_is_medoid"] = full.selected == medoid
        row["same_top"] = full.selected == adaptive.selected
        ordered = np.sort(full.scores)[::-1]
        row["full_margin"] = float(ordered[0] - ordered[1])
    return row


def growth_exponent(rows: list[dict], sizes: list[int]) -> float:
    """Least-squares slope of log(mean pair evaluations) against log N."""
    means = [np.mean([r["pair_evaluations"] for r in rows if r["n"] == n]) for n in sizes]
    return float(np.polyfit(np.log(sizes), np.log(means), 1)[0])


def summarise(rows: list[dict]) -> dict:
    sizes = sorted({r["n"] for r in rows})
    per_size = {}
    for n in sizes:
        runs = [r for r in rows if r["n"] == n]
        entry = {
            "seeds": len(runs),
            "adaptive_is_medoid_rate": float(np.mean([r["adaptive_is_medoid"] for r in runs])),
            "target_reached_rate": float(np.mean([r["target_reached"] for r in runs])),
            "mean_pair_fraction": float(np.mean([r["pair_fraction"] for r in runs])),
            "max_pair_fraction": float(np.max([r["pair_fraction"] for r in runs])),
            "mean_pair_evaluations": float(np.mean([r["pair_evaluations"] for r in runs])),
            "mean_adaptive_s": float(np.mean([r["adaptive_s"] for r in runs])),
        }
        if n <= FULL_LIMIT:
            entry["same_top_rate"] = float(np.mean([r["same_top"] for r in runs]))
            entry["full_is_medoid_rate"] = float(np.mean([r["full_is_medoid"] for r in runs]))
            entry["mean_full_s"] = float(np.mean([r["full_s"] for r in runs]))
        per_size[str(n)] = entry
    compared = [n for n in sizes if n <= FULL_LIMIT]
    summary = {"per_size": per_size}
    if len(compared) >= 2:
        summary["growth_exponent_up_to_200"] = growth_exponent(rows, compared)
    if len(sizes) > len(compared) and len(sizes) >= 2:
        summary["growth_exponent_all_sizes"] = growth_exponent(rows, sizes)
    same = [r["same_top"] for r in rows if "same_top" in r]
    summary["targets"] = {
        "same_top_rate_n_le_200 (>= 0.95)": float(np.mean(same)) if same else None,
        "pair_fraction_n_200 (<= 0.10)": per_size.get("200", {}).get("mean_pair_fraction"),
        "growth_exponent (<= 1.3)": summary.get("growth_exponent_up_to_200"),
    }
    return summary


def bundled(path: str) -> dict:
    """Full and adaptive rankings of a trained zoo, both under --votes 100
    --scale-samples 2000 (a reduced protocol, not the paper's). They share a cache, as
    a user's runs would: the adaptive run reads the full run's pairs (its pair count is
    what it asked for)."""
    reduced = {"votes": 100, "scale_samples": 2000}
    models = load_zoo(path)
    cache = tempfile.mkdtemp(prefix="adaptive-bundled-")
    start = time.perf_counter()
    full = rank(models, progress=False, n_boot=0, cache_dir=cache, **reduced)
    full_s = time.perf_counter() - start
    start = time.perf_counter()
    adaptive = rank(models, search="adaptive", progress=False, cache_dir=cache, **reduced)
    return {
        "zoo": path,
        "protocol": "paper with votes 100, scale samples 2000",
        "full_top": full.selected,
        "adaptive_top": adaptive.selected,
        "same_top": full.selected == adaptive.selected,
        "adaptive_stop_reason": adaptive.stop_reason,
        "adaptive_pair_evaluations": adaptive.details["pair_evaluations"],
        "full_pairs": len(models) ** 2,
        "full_s": round(full_s, 1),
        "adaptive_s": round(time.perf_counter() - start, 1),
    }


def plot(payload: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = payload["runs"]
    sizes = sorted({r["n"] for r in rows})
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for r in rows:
        left.scatter(r["n"], r["pair_evaluations"], color="tab:blue", s=12, alpha=0.6)
    means = [np.mean([r["pair_evaluations"] for r in rows if r["n"] == n]) for n in sizes]
    left.plot(sizes, means, color="tab:blue", label="adaptive (mean over seeds)")
    grid = np.array(sizes, dtype=float)
    left.plot(grid, grid**2, color="gray", linestyle="--", label="full: N^2")
    left.plot(grid, 0.1 * grid**2, color="gray", linestyle=":", label="10% of N^2")
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("models N")
    left.set_ylabel("pair evaluations")
    fits = [
        f"{label} {payload['summary'][key]:.2f}"
        for key, label in (
            ("growth_exponent_up_to_200", "N <= 200:"),
            ("growth_exponent_all_sizes", "all N:"),
        )
        if key in payload["summary"]
    ]
    left.set_title("cost; fitted exponent " + ", ".join(fits))
    left.legend(fontsize=8)
    medoid = [payload["summary"]["per_size"][str(n)]["adaptive_is_medoid_rate"] for n in sizes]
    same = [payload["summary"]["per_size"][str(n)].get("same_top_rate", np.nan) for n in sizes]
    positions = np.arange(len(sizes))
    right.bar(positions - 0.2, medoid, width=0.4, label="adaptive top = designed medoid")
    right.bar(positions + 0.2, same, width=0.4, label="adaptive top = full ranking's top")
    right.axhline(0.95, color="gray", linestyle=":")
    right.set_xticks(positions, [str(n) for n in sizes])
    right.set_ylim(0, 1.05)
    right.set_xlabel("models N")
    right.set_ylabel("rate over seeds")
    right.set_title("top-1 agreement")
    right.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(RESULTS / "adaptive.png", dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 200])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--large", type=int, nargs="*", default=[1000])
    parser.add_argument("--large-seeds", type=int, default=3)
    parser.add_argument("--bundled", action="store_true")
    parser.add_argument("--replot", action="store_true")
    args = parser.parse_args()
    if args.replot:
        plot(json.loads((RESULTS / "adaptive.json").read_text()))
        return
    if args.bundled:
        # Added to the synthetic results, which stay as they are.
        found = bundled("zoos/infogan_cr")
        print(json.dumps(found), flush=True)
        payload = json.loads((RESULTS / "adaptive.json").read_text())
        payload["bundled"] = {**found, "command": "python benchmarks/adaptive.py --bundled"}
        write_json(RESULTS / "adaptive.json", payload)
        return
    rows = []
    plan = [(n, s) for n in args.sizes for s in range(args.seeds)]
    plan += [(n, s) for n in args.large for s in range(args.large_seeds)]
    for n, seed in plan:
        row = one_run(n, seed)
        rows.append(row)
        print(json.dumps(row), flush=True)
    payload = {
        "protocol": PROTOCOL,
        "zoo": "make_structured_zoo(N, random_state=seed): one disentangled model, others "
        "with entanglement U(0.3, 1), K = 6 factors, observations (1, 4, 4)",
        "search": "AdaptiveSearch() defaults (top 1, target 0.95)",
        "runs": rows,
        "summary": summarise(rows),
    }
    path = save_result("adaptive", payload)
    plot(payload)
    print(json.dumps(payload["summary"], indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
