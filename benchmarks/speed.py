"""Speed of ModelCentrality against the encoder ceiling and a naive pipeline.

Run: ``python benchmarks/speed.py [--sizes 5 10 20] [--naive-sizes 5 10] [--votes 20]
[--scale-samples 2000] [--jobs 2 [--jobs-sizes 10 20]] [--name speed] [--replot]``.
Writes benchmarks/results/<name>.json and benchmarks/results/<name>_scaling.png.

Models are dSprites-architecture InfoGAN-CR networks (generator: FC 128, FC 1024, three
4x4 stride-2 deconvs and an output deconv to 1x64x64; encoder: four 4x4 stride-2 convs
32-32-64-64, FC 128, Q head 128 -> 5) with random weights, exported to ONNX; the speed of
a forward pass does not depend on the weights.

a. ceiling: observations per second of one encoder under ONNX Runtime, best over batch
   sizes and thread counts;
b. achieved: encoder passes per second of wall time during a full ``rank`` (which also
   pays for the generator passes and the vote arithmetic), as a fraction of (a), and as
   a fraction of the bare encoder rate measured side by side (the same models' encode
   calls on one rendered chunk, with the engine's threads, batch and chunk size, right
   before and after the ranking; ``fraction_of_bare_encoder``);
c. wall time of ``rank`` for several N, and of a naive pipeline that mirrors the
   original code: for every ordered pair, a fresh scale set and fresh vote groups are
   generated from model i and encoded by model j one group of L observations at a time;
d. the exponent of time ~ N^p fitted over the sizes, and peak RSS of this process;
e. with ``--jobs J``: the same ``rank`` with J worker processes (``--jobs`` of the CLI),
   one ONNX Runtime thread each, against the single process with all cores' threads.
The load average of the machine before and after is recorded: other jobs slow all
pipelines alike but make the ceiling fraction pessimistic.
The paper protocol (500 votes x 100 + 73,728 per pair) is out of reach at these N on a
laptop, so both pipelines run the same reduced protocol (given on the command line);
the per-pair cost of either pipeline is linear in votes x L + S.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from common import RESULTS, save_result

from modelcentrality import load_zoo, rank
from modelcentrality.adapters.pytorch import export_model
from modelcentrality.contract._model import Prior
from modelcentrality.engine._scoring import CHUNK_OBSERVATIONS
from modelcentrality.engine._votes import PAPER, score_votes, vote_factors
from modelcentrality.execution._backends import ProcessBackend
from modelcentrality.reference_models.networks import CodeEncoder, Discriminator, Generator

ZOO = Path(__file__).resolve().parent.parent / "build" / "speed-zoo"


def make_zoo(n_models: int) -> Path:
    """dSprites-architecture random models m000..m{n-1}, reused between runs."""
    for index in range(n_models):
        folder = ZOO / f"m{index:03d}"
        if (folder / "model.json").is_file():
            continue
        torch.manual_seed(index)
        export_model(
            CodeEncoder(Discriminator(5)),
            Generator(10),
            folder,
            latent_dim=10,
            code_dims=range(5),
            prior=Prior("uniform"),
            kind="gan",
            observation_shape=(1, 64, 64),
        )
    return ZOO


def ceiling(zoo: Path) -> dict:
    """Best encoder throughput over batch sizes and thread counts."""
    observations = (np.random.default_rng(0).random((4096, 1, 64, 64)) > 0.9).astype(np.float32)
    rows = []
    for threads in (1, 2):
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        session = ort.InferenceSession(
            str(zoo / "m000" / "encoder.onnx"), options, providers=["CPUExecutionProvider"]
        )
        for batch in (100, 256, 1024, 4096):
            session.run(None, {"observations": observations[:batch]})
            start = time.perf_counter()
            done = 0
            while time.perf_counter() - start < 2.0:
                for first in range(0, len(observations), batch):
                    session.run(None, {"observations": observations[first : first + batch]})
                done += len(observations)
            rate = done / (time.perf_counter() - start)
            rows.append({"threads": threads, "batch_size": batch, "obs_per_s": round(rate)})
            print(f"ceiling: threads {threads} batch {batch:>5}: {rate:8.0f} obs/s")
    best = max(rows, key=lambda row: row["obs_per_s"])
    return {"best": best, "sweep": rows}


def bare_encoder_rate(models, seconds: float = 3.0) -> float:
    """obs/s of the engine's own encoder calls (same models, threads, batch and chunk
    size as in ``rank``) on one rendered chunk, cycling through the models."""
    chunk = models[0].generate(models[0].sample_prior(CHUNK_OBSERVATIONS, 0))
    models[0].encode(chunk)
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for model in models:
            model.encode(chunk)
            done += len(chunk)
    return done / (time.perf_counter() - start)


def naive_rank(models, votes: int, group_size: int, scale_samples: int, seed: int) -> np.ndarray:
    """The original code's loop: per pair, fresh sets, one encoder call per group."""
    n = len(models)
    cross = np.zeros((n, n))
    rng = np.random.default_rng(seed)
    for i, source in enumerate(models):
        k = source.n_codes
        for j, encoder in enumerate(models):
            scale_obs = source.generate(source.sample_prior(scale_samples, rng))
            scale_std = encoder.encode(scale_obs).std(axis=0)
            factors = vote_factors(votes, k, "round_robin", rng)
            group_var = []
            for factor in factors:
                latents = source.sample_prior(group_size, rng)
                latents[:, source.code_dims[factor]] = latents[0, source.code_dims[factor]]
                codes = encoder.encode(source.generate(latents))
                group_var.append(codes.var(axis=0))
            cross[i, j] = score_votes(np.array(group_var), scale_std, factors, k, votes).score
    return cross


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5, 10, 20])
    parser.add_argument("--naive-sizes", type=int, nargs="*", default=[5, 10])
    parser.add_argument("--votes", type=int, default=20)
    parser.add_argument("--scale-samples", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=0,
                        help="Also time rank with this many worker processes (0: no).")
    parser.add_argument("--jobs-sizes", type=int, nargs="+",
                        help="Sizes timed with --jobs as well (default: all of --sizes).")
    parser.add_argument("--name", default="speed", help="Result file name.")
    parser.add_argument("--replot", action="store_true",
                        help="Only redraw <name>_scaling.png from <name>.json.")
    args = parser.parse_args()
    if args.replot:
        rows = json.loads((RESULTS / f"{args.name}.json").read_text())["rows"]
        plot(rows, RESULTS / f"{args.name}_scaling.png")
        return
    load_before = os.getloadavg()
    group_size = PAPER.group_size
    jobs_sizes = set(args.sizes if args.jobs_sizes is None else args.jobs_sizes)
    zoo = make_zoo(max(args.sizes + args.naive_sizes))
    limits = ceiling(zoo)
    all_models = load_zoo(zoo)
    per_pair = args.votes * group_size + args.scale_samples
    rows = []
    for n_models in sorted(set(args.sizes) | set(args.naive_sizes)):
        models = all_models[:n_models]
        row: dict = {"models": n_models, "observations_per_pair": per_pair}
        if n_models in args.sizes:
            # The side-by-side ceiling: the same encoder calls alone, right before and
            # after the ranking (the machine's load drifts), averaged.
            bare_before = bare_encoder_rate(models)
            start = time.perf_counter()
            result = rank(models, votes=args.votes, scale_samples=args.scale_samples,
                          n_boot=0, progress=False)
            seconds = time.perf_counter() - start
            bare = (bare_before + bare_encoder_rate(models)) / 2
            row.update(
                bare_encoder_obs_per_s=round(bare),
                fraction_of_bare_encoder=round(result.encoder_passes / seconds / bare, 3),
                load_average_1min=round(os.getloadavg()[0], 2),
            )
            row.update(
                engine_s=round(seconds, 2),
                encoder_passes=result.encoder_passes,
                achieved_obs_per_s=round(result.encoder_passes / seconds),
                fraction_of_ceiling=round(
                    result.encoder_passes / seconds / limits["best"]["obs_per_s"], 3
                ),
            )
        if n_models in args.sizes and n_models in jobs_sizes and args.jobs > 1:
            start = time.perf_counter()
            rank(load_zoo(zoo, threads=1)[:n_models], votes=args.votes,
                 scale_samples=args.scale_samples, n_boot=0, progress=False,
                 backend=ProcessBackend(args.jobs, threads=1))
            row["engine_jobs_s"] = round(time.perf_counter() - start, 2)
            row["jobs_speedup"] = round(row["engine_s"] / row["engine_jobs_s"], 2)
        if n_models in args.naive_sizes:
            start = time.perf_counter()
            naive_rank(models, args.votes, group_size, args.scale_samples, 0)
            row["naive_s"] = round(time.perf_counter() - start, 2)
        if "engine_s" in row and "naive_s" in row:
            row["speedup"] = round(row["naive_s"] / row["engine_s"], 2)
        rows.append(row)
        print(row)
    timed = [r for r in rows if "engine_s" in r]
    exponent = None
    if len(timed) >= 2:
        exponent = float(np.polyfit(np.log([r["models"] for r in timed]),
                                    np.log([r["engine_s"] for r in timed]), 1)[0])
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    paper_pair = 500 * group_size + PAPER.scale_samples
    payload = {
        "protocol": {"votes": args.votes, "group_size": group_size,
                     "scale_samples": args.scale_samples},
        "ceiling": limits,
        "rows": rows,
        "time_exponent": None if exponent is None else round(exponent, 3),
        "jobs": args.jobs,
        "load_average_1_5_15_before": [round(x, 2) for x in load_before],
        "load_average_1_5_15_after": [round(x, 2) for x in os.getloadavg()],
        "peak_rss_mb": round(peak_mb, 1),
        "paper_protocol_estimate": {
            "observations_per_pair": paper_pair,
            "note": "engine time at the paper protocol ~ engine_s * paper/this observations "
                    "per pair",
            "scale_factor": round(paper_pair / per_pair, 2),
        },
    }
    path = save_result(args.name, payload)
    plot(rows, RESULTS / f"{args.name}_scaling.png")
    if exponent is not None:
        print(f"time ~ N^{exponent:.2f}")
    print(f"peak RSS {peak_mb:.0f} MB; wrote {path}")


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(5, 4))
    for key, label in (
        ("engine_s", "modelcentrality"),
        ("engine_jobs_s", "modelcentrality, worker processes"),
        ("naive_s", "naive (original loop)"),
    ):
        points = [(r["models"], r[key]) for r in rows if key in r]
        if points:
            axes.loglog(*zip(*points), "o-", label=label)
    sizes = sorted({r["models"] for r in rows})
    axes.set_xticks(sizes, [str(n) for n in sizes])
    axes.set_xticks([], minor=True)
    axes.set_xlabel("models N")
    axes.set_ylabel("wall time (s)")
    axes.set_title("Ranking time vs zoo size (same reduced protocol)")
    axes.legend()
    axes.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
