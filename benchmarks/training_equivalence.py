"""Does a change to the trainers change what ``train_model`` computes? Dump, then compare.

Run this script with the Python environment of each tree (each checkout's own ``.venv``,
so that ``modelcentrality`` is imported from that checkout)::

    BEFORE/.venv/bin/python benchmarks/training_equivalence.py dump /tmp/before.npz
    .venv/bin/python benchmarks/training_equivalence.py dump /tmp/after.npz
    .venv/bin/python benchmarks/training_equivalence.py compare /tmp/before.npz /tmp/after.npz
    BEFORE/.venv/bin/python benchmarks/training_equivalence.py time   # and the same here

``dump`` trains InfoGAN-CR (crossing ``cr_start``, so the "InfoGAN (modified)" export and
the CR re-initialisation happen), FactorVAE and beta-VAE for a few iterations through
:func:`~modelcentrality.reference_models.train.train_model` (one thread, deterministic
algorithms, random binary images) and stores every checkpointed tensor (weights,
batch-norm and spectral-norm buffers, Adam moments), every ONNX weight of the exported
folders, their model.json and the last losses. ``compare`` writes
``results/training_equivalence.json``: per method and kind the largest absolute
difference and how many arrays are bit-identical. ``time`` prints the CPU seconds per
iteration of ``train_model`` at batch 64 (process time, so other jobs on the machine
count less than in wall time).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import torch
from common import save_result
from onnx import numpy_helper

from modelcentrality.reference_models.train import default_checkpoint, train_model

SEED = 7
#: Settings per method: 8 iterations at batch 16; InfoGAN-CR's regulariser from 4.
CASES = {
    "infogan-cr": {"iterations": 8, "cr_start": 4, "batch_size": 16},
    "factorvae": {"iterations": 8, "batch_size": 16},
    "beta-vae": {"iterations": 8, "batch_size": 16, "beta": 4.0},
}


def binary_images(n: int, rng: np.random.Generator) -> np.ndarray:
    return (rng.random((n, 1, 64, 64)) < 0.1).astype(np.float32)


def dump(out: Path) -> None:
    arrays: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory() as work:
        for method, settings in CASES.items():
            folder = Path(work) / "zoo" / method
            result = train_model(
                method,
                folder,
                preset="cpu",
                overrides=settings,
                seed=SEED,
                data=binary_images,
                keep_checkpoint=True,
                progress=False,
            )
            state = torch.load(default_checkpoint(folder), weights_only=True)
            for module, tensors in state["modules"].items():
                for key, value in tensors.items():
                    arrays[f"{method}/checkpoint/{module}.{key}"] = value.numpy()
            for name, optimizer in state["optimizers"].items():
                for index, entries in optimizer["state"].items():
                    for key, value in entries.items():
                        arrays[f"{method}/adam/{name}[{index}].{key}"] = value.numpy()
            exported = [folder] + ([result.modified_dir] if result.modified_dir else [])
            for model in exported:
                tag = "modified" if model != folder else "final"
                for graph in ("encoder.onnx", "generator.onnx"):
                    for tensor in onnx.load(str(model / graph)).graph.initializer:
                        arrays[f"{method}/onnx/{tag}/{graph}:{tensor.name}"] = (
                            numpy_helper.to_array(tensor)
                        )
                record = json.loads((model / "model.json").read_text())
                arrays[f"{method}/json/{tag}"] = np.array(json.dumps(record, sort_keys=True))
            arrays[f"{method}/json/losses"] = np.array(json.dumps(result.losses, sort_keys=True))
    np.savez(out, **arrays)
    print(f"{len(arrays)} arrays -> {out}")


def compare(before: Path, after: Path, trees: str) -> None:
    a, b = np.load(before), np.load(after)
    if sorted(a.files) != sorted(b.files):
        raise SystemExit(f"different arrays: {sorted(set(a.files) ^ set(b.files))[:5]}")
    kinds: dict[str, dict[str, float | int]] = {}
    for name in sorted(a.files):
        method, kind = name.split("/")[:2]
        row = kinds.setdefault(f"{method} {kind}", {"arrays": 0, "identical": 0, "max_abs": 0.0})
        row["arrays"] += 1
        row["identical"] += int(np.array_equal(a[name], b[name]))
        if a[name].dtype.kind == "f" and a[name].size:
            gap = np.abs(a[name].astype(np.float64) - b[name].astype(np.float64)).max()
            row["max_abs"] = max(row["max_abs"], float(gap))
    total = sum(row["arrays"] for row in kinds.values())
    identical = sum(row["identical"] for row in kinds.values())
    for key, row in kinds.items():
        same = f"{row['identical']}/{row['arrays']}"
        print(f"{key:24s} {same:>9s} identical, max |diff| {row['max_abs']:.3g}")
    print(f"bit-identical: {identical} of {total}")
    path = save_result(
        "training_equivalence",
        {
            "trees": trees,
            "settings": {"seed": SEED, "cases": CASES, "threads": 1, "data": "binary images"},
            "arrays": total,
            "bit_identical": identical,
            "by_kind": kinds,
        },
    )
    print(f"wrote {path}")


def time_iterations(iterations: int) -> None:
    rates = {}
    for method, extra in (("factorvae", {}), ("infogan-cr", {"cr_start": 10**6})):
        with tempfile.TemporaryDirectory() as work:
            start = time.process_time()
            train_model(
                method,
                Path(work) / "m",
                preset="cpu",
                overrides={"iterations": iterations, "checkpoint_every": 10**6, **extra},
                data=binary_images,
                progress=False,
            )
            rates[method] = round((time.process_time() - start) / iterations, 3)
    print(json.dumps({"cpu_seconds_per_iteration": rates, "batch_size": 64}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("dump").add_argument("out", type=Path)
    pair = commands.add_parser("compare")
    pair.add_argument("before", type=Path)
    pair.add_argument("after", type=Path)
    pair.add_argument("--trees", default="", help="which code made each dump, for the JSON")
    commands.add_parser("time").add_argument("--iterations", type=int, default=15)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    if args.command == "dump":
        dump(args.out)
    elif args.command == "compare":
        compare(args.before, args.after, args.trees)
    else:
        time_iterations(args.iterations)


if __name__ == "__main__":
    main()
