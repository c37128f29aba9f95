"""Training throughput: one model at a time vs K models grouped (model-iterations/s).

Run (from this folder)::

    python train_throughput.py                        # CUDA if present, else CPU
    python train_throughput.py --device cpu --sizes 1 4 8 --steps 2 --warmup 1 --threads 1

For each trainer (``factorvae``, ``infogan-cr`` before the contrastive regulariser,
``infogan-cr+cr`` with it, ``beta-vae``) and each group size K, K models (seeds 0..K-1,
settings of the ``gpu`` preset, batch 64) are trained for ``--warmup`` iterations, then
timed over ``--steps`` iterations (the device synchronised before and after); the rate
is K * steps / seconds. K = 1 is the single-model trainer (``modelcentrality train``
runs a group of one model, without vmap).

Draws follow the trainer's defaults (numpy on CPU, on-device on CUDA). On-device draws
use a bank of 65,536 random binary images instead of the 737,280 dSprites images: the
gather costs the same, and the benchmark skips the rendering. Options to try on a GPU:
``--bf16`` (bfloat16 autocast), ``--tf32`` (TensorFloat-32 matmuls), ``--compile``
(torch.compile of every vmapped module call; an error is recorded, not raised). On
CUDA, one iteration per group size runs under ``torch.cuda.set_sync_debug_mode("warn")``
and the operations that made the host wait are recorded (the design has none).
Writes benchmarks/results/<name>.json (default train_throughput_<device type>.json).
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from typing import Any

import numpy as np
import torch
from common import machine, save_result

from modelcentrality.reference_models.grouped import DeviceImages, GroupedTrainer
from modelcentrality.reference_models.presets import make_config
from modelcentrality.reference_models.train import TRAINERS, make_data
from modelcentrality.reference_models.training import DataFn, Trainer

#: Benchmark name -> (trainer, setting overrides): infogan-cr+cr has the regulariser on
#: from the first iteration (cr_start 0), the others never reach it.
CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "factorvae": ("factorvae", {}),
    "infogan-cr": ("infogan-cr", {"cr_start": 10**9, "iterations": 10**9}),
    "infogan-cr+cr": ("infogan-cr", {"cr_start": 0}),
    "beta-vae": ("beta-vae", {}),
}
IMAGE_BANK = 65_536


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def trainers_for(case: str, size: int, data: DataFn, batch_size: int = 64) -> list[Trainer]:
    method, overrides = CASES[case]
    config = make_config(method, "gpu", {**overrides, "batch_size": batch_size})
    return [TRAINERS[method](config, data, seed) for seed in range(size)]


def host_syncs(group: GroupedTrainer) -> dict[str, Any]:
    """Run one iteration with CUDA's sync debug mode on: the operations that made the host
    wait for the device (none is the design)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            group.train_step(group.draw())
            group.step += 1
        finally:
            torch.cuda.set_sync_debug_mode("default")
    messages = [str(w.message) for w in caught if "synchroniz" in str(w.message)]
    return {"count": len(messages), "first": messages[:3]}


def time_grouped(
    case: str,
    size: int,
    data: DataFn,
    device: torch.device,
    images: DeviceImages | None,
    steps: int,
    warmup: int,
    bf16: bool,
    compile_: bool,
    batch_size: int,
) -> dict[str, Any]:
    trainers = trainers_for(case, size, data, batch_size)
    group = GroupedTrainer(trainers, device=device, images=images, bf16=bf16)
    if compile_:
        for stack in group.stacks.values():
            stack.compile()
    for _ in range(warmup):
        group.train_step(group.draw())
        group.step += 1
    syncs = host_syncs(group) if device.type == "cuda" else None
    synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        losses = group.train_step(group.draw())
        group.step += 1
    synchronize(device)
    seconds = time.perf_counter() - start
    finite = all(bool(torch.isfinite(v).all()) for v in losses.values())
    result = {
        "models": size,
        "draws": group.draws,
        "seconds": seconds,
        "ms_per_group_iteration": 1000 * seconds / steps,
        "model_it_per_s": size * steps / seconds,
        "losses_finite": finite,
    }
    if device.type == "cuda":
        result["host_syncs_per_iteration"] = syncs
        result["peak_memory_gb"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
        torch.cuda.reset_peak_memory_stats(device)
    return result


def measure(
    cases: list[str],
    sizes: list[int],
    device: torch.device,
    *,
    steps: int,
    warmup: int,
    bf16: bool = False,
    compile_: bool = False,
    batch_size: int = 64,
) -> dict[str, Any]:
    """Rates of every case and group size. Returns {"cases": {case: {"grouped": [...]}}}."""
    data = make_data("dsprites")
    images = None
    if device.type == "cuda":
        bank = np.random.default_rng(0).random((IMAGE_BANK, 64, 64)) < 0.043
        images = DeviceImages(bank.astype(np.uint8), device)
    results: dict[str, Any] = {}
    for case in cases:
        entry: dict[str, Any] = {"grouped": []}
        for size in sizes:
            try:
                entry["grouped"].append(
                    time_grouped(
                        case, size, data, device, images, steps, warmup, bf16, compile_, batch_size
                    )
                )
            except Exception as exc:  # recorded: e.g. torch.compile failing on this build
                entry["grouped"].append({"models": size, "error": f"{type(exc).__name__}: {exc}"})
        results[case] = entry
        for row in entry["grouped"]:
            if "model_it_per_s" in row:
                label = f"K={row['models']}"
                print(f"{case:14s} {label:7s} {row['model_it_per_s']:9.1f} model-it/s", flush=True)
    return {"cases": results}


def device_description(device: torch.device) -> dict[str, Any]:
    if device.type == "cuda":
        return {"type": "cuda", "name": torch.cuda.get_device_name(device)}
    return {"type": "cpu", "name": machine()["cpu"], "threads": torch.get_num_threads()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--sizes", nargs="+", type=int, default=[1, 4, 8, 24])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast")
    parser.add_argument("--tf32", action="store_true", help="TensorFloat-32 matmuls (CUDA)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the modules")
    parser.add_argument("--name", default=None, help="result file name (no .json)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.tf32:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    device = torch.device(args.device)
    load_before = os.getloadavg()
    result = measure(
        args.cases,
        args.sizes,
        device,
        steps=args.steps,
        warmup=args.warmup,
        bf16=args.bf16,
        compile_=args.compile,
    )
    payload = {
        "device": device_description(device),
        "batch_size": 64,
        "steps": args.steps,
        "warmup": args.warmup,
        "options": {"bf16": args.bf16, "tf32": args.tf32, "compile": args.compile},
        # Other jobs share a CPU machine: its 1-minute load average before and after.
        "load_average": [round(load_before[0], 1), round(os.getloadavg()[0], 1)],
        **result,
    }
    path = save_result(args.name or f"train_throughput_{device.type}", payload)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
