"""Engine throughput on an accelerator against the bare encoder rate of the same run.

Run on a CUDA machine: ``python benchmarks/gpu_speed.py [--out DIR]`` (the paper
protocol, N = 6, 12, 24, float32 and bfloat16). The same code path runs on the CPU
with tiny sizes: ``python benchmarks/gpu_speed.py --device cpu --tiny``. Writes
``gpu_speed.json`` into ``--out``, else ``$OUT`` when set, else benchmarks/results.
docs/gpu.md says how to run it on a lent GPU.

a. bare encoder rate: observations per second of one encoder module's forward pass on
   a rendered chunk already on the device, at the engine's batch size (``raw``), and
   of the engine's own encoder calls (``encode_native``: the same plus validation);
b. engine rate: encoder passes per second of wall time of ``rank`` on N in-memory
   TorchModels of the bundled VAE architecture (random weights: speed does not depend
   on them), and the ratio a/b, for every N and dtype;
c. the bundled ONNX zoos through the PyTorch route (``load_zoo(device=...)``), in
   float32 and bfloat16: wall time, rate, and how the bfloat16 scores and ranking
   differ from float32's;
d. a projection to N = 50 under the paper protocol from the largest N's engine rate.

A run skips (and records) a step whose projected time exceeds what is left of
``--budget-s``, so it ends within a lent machine's time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from common import RESULTS, machine

from modelcentrality import load_zoo, rank
from modelcentrality.adapters.onnx_torch import OnnxTorchModel
from modelcentrality.adapters.pytorch import TorchModel
from modelcentrality.contract._model import Prior
from modelcentrality.engine import get_protocol
from modelcentrality.engine._scoring import CHUNK_OBSERVATIONS
from modelcentrality.io._files import write_json
from modelcentrality.reference_models.networks import VAEDecoder, VAEEncoder

REPO = Path(__file__).resolve().parent.parent
BUNDLED = ("infogan_cr", "infogan_cr_modified", "factorvae")


def vae_models(n: int, device: str, dtype: str, batch_size: int) -> list[TorchModel]:
    models = []
    for index in range(n):
        torch.manual_seed(index)
        models.append(
            TorchModel(
                VAEEncoder(10),
                VAEDecoder(10),
                name=f"vae{index:02d}",
                latent_dim=10,
                code_dims=range(10),
                prior=Prior("normal"),
                kind="vae",
                observation_shape=(1, 64, 64),
                device=device,
                batch_size=batch_size,
                native=True,
                dtype=dtype,
            )
        )
    return models


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def bare_rates(models, device: str, seconds: float, rows: int = CHUNK_OBSERVATIONS) -> dict:
    """obs/s of the raw encoder forward and of the engine's encoder calls, one chunk."""
    source = models[0]
    chunk = source.generate_native(source.sample_prior(rows, 0))
    rates = {}
    for label, call in (
        ("raw", lambda m: m._encode_native(chunk)),
        ("encode_native", lambda m: m.encode_native(chunk)),
    ):
        call(source)
        synchronize(device)
        done, start = 0, time.perf_counter()
        while not done or time.perf_counter() - start < seconds:
            for model in models:
                call(model)
                done += len(chunk)
            synchronize(device)
        rates[label] = done / (time.perf_counter() - start)
    return rates


def passes(kinds: list[str], protocol) -> int:
    per_source = [
        protocol.train_votes_for(kind) * protocol.group_size + protocol.scale_samples
        for kind in kinds
    ]
    return sum(per_source) * len(kinds)


class Budget:
    def __init__(self, seconds: float) -> None:
        self.end = time.perf_counter() + seconds
        self.skipped: list[str] = []

    def allows(self, label: str, estimate_s: float | None) -> bool:
        left = self.end - time.perf_counter()
        if estimate_s is not None and estimate_s > left:
            self.skipped.append(f"{label}: projected {estimate_s:.0f} s, {left:.0f} s left")
            print("skip", self.skipped[-1], flush=True)
            return False
        return left > 0


def timed_rank(models, protocol, options) -> tuple[float, object]:
    start = time.perf_counter()
    result = rank(models, protocol, n_boot=0, progress=False, **options)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--sizes", type=int, nargs="+", default=[6, 12, 24])
    parser.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"])
    parser.add_argument("--batch-size", type=int, default=8192)
    parser.add_argument("--votes", type=int, help="Override the paper protocol's votes.")
    parser.add_argument("--scale-samples", type=int, help="Override the paper protocol's S.")
    parser.add_argument(
        "--zoos",
        nargs="*",
        default=list(BUNDLED),
        help="Bundled zoos ranked through the PyTorch route.",
    )
    parser.add_argument("--budget-s", type=float, default=480.0)
    parser.add_argument("--bare-s", type=float, default=3.0, help="Seconds per bare rate.")
    parser.add_argument(
        "--tiny",
        action="store_true",
        help="Sizes 2 and 3, 2 votes, S = 200, 2 models per zoo: a smoke run.",
    )
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (host work).")
    parser.add_argument("--out", help="Output folder (default: $OUT, else benchmarks/results).")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    bare_rows = CHUNK_OBSERVATIONS
    group_size = None
    if args.tiny:
        args.sizes, args.votes, args.scale_samples, args.bare_s = [2], 2, 100, 0.0
        group_size, bare_rows = 10, 64
    protocol = get_protocol("paper").with_overrides(
        votes=args.votes, scale_samples=args.scale_samples, group_size=group_size
    )
    budget = Budget(args.budget_s)
    payload: dict = {
        "command": "python " + " ".join([os.path.relpath(__file__)] + sys.argv[1:]),
        "machine": {
            **machine(),
            "platform": platform.platform(),
            "accelerator": torch.cuda.get_device_name() if args.device.startswith("cuda") else None,
        },
        "device": args.device,
        "batch_size": args.batch_size,
        "chunk_observations": CHUNK_OBSERVATIONS,
        "protocol": protocol.to_dict(),
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
        "vae": [],
        "zoos": [],
    }
    out = Path(args.out or os.environ.get("OUT") or RESULTS)
    out.mkdir(parents=True, exist_ok=True)

    def save() -> None:
        payload["skipped"] = budget.skipped
        write_json(out / "gpu_speed.json", payload)

    for dtype in args.dtypes:
        rate = None
        for n in args.sizes:
            total = passes(["vae"] * n, protocol)
            label = f"vae N={n} {dtype}"
            if not budget.allows(label, None if rate is None else total / rate):
                continue
            models = vae_models(n, args.device, dtype, args.batch_size)
            bare = bare_rates(models, args.device, args.bare_s, bare_rows)
            seconds, result = timed_rank(models, protocol, {})
            rate = result.encoder_passes / seconds
            row = {
                "models": n,
                "dtype": dtype,
                "seconds": round(seconds, 2),
                "encoder_passes": int(result.encoder_passes),
                "engine_obs_per_s": round(rate),
                "bare_encoder_obs_per_s": round(bare["raw"]),
                "encode_native_obs_per_s": round(bare["encode_native"]),
                "fraction_of_bare_encoder": round(rate / bare["raw"], 3),
            }
            payload["vae"].append(row)
            print(row, flush=True)
            save()
        if rate is not None:
            total = passes(["vae"] * 50, protocol)
            payload.setdefault("projection_n50", {})[dtype] = {
                "encoder_passes": total,
                "seconds_at_largest_n_rate": round(total / rate, 1),
            }
            save()

    reference: dict[str, dict] = {}
    for dtype in args.dtypes:
        for name in args.zoos:
            # What load_zoo(device="cuda") builds, on any device (on the CPU load_zoo
            # would pick ONNX Runtime in float32).
            models = [
                OnnxTorchModel(
                    model,
                    device=args.device,
                    batch_size=args.batch_size,
                    native=True,
                    dtype=dtype,
                )
                for model in load_zoo(REPO / "zoos" / name)[: 2 if args.tiny else None]
            ]
            kinds = [m.kind for m in models]
            last = next((r for r in reversed(payload["vae"]) if r["dtype"] == dtype), None)
            estimate = passes(kinds, protocol) / last["engine_obs_per_s"] if last else None
            if not budget.allows(f"zoo {name} {dtype}", estimate):
                continue
            seconds, result = timed_rank(models, protocol, {})
            row = {
                "zoo": name,
                "dtype": dtype,
                "adapter": type(models[0]).__name__,
                "seconds": round(seconds, 2),
                "encoder_passes": int(result.encoder_passes),
                "engine_obs_per_s": round(result.encoder_passes / seconds),
                "ranking": list(result.ranking),
                "scores": dict(zip(result.names, np.round(result.scores, 5).tolist())),
                "cross": np.round(result.cross, 5).tolist(),
            }
            if dtype == "float32":
                reference[name] = {"result": result}
            elif name in reference:
                exact = reference[name]["result"]
                row["vs_float32"] = {
                    "max_abs_score_change": round(
                        float(np.abs(result.scores - exact.scores).max()), 5
                    ),
                    "max_abs_cross_change": round(
                        float(np.abs(result.cross - exact.cross).max()), 5
                    ),
                    "same_top": result.ranking[0] == exact.ranking[0],
                    "same_ranking": list(result.ranking) == list(exact.ranking),
                }
            payload["zoos"].append(row)
            print({k: v for k, v in row.items() if k not in ("cross", "scores")}, flush=True)
            save()
    payload["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    save()
    print("wrote", out / "gpu_speed.json")
    print(json.dumps({"skipped": budget.skipped}))


if __name__ == "__main__":
    main()
