"""Train the two ``gpu`` zoos grouped on one GPU and pack them for the trip back.

Run on a machine with CUDA, with this project importable (``PYTHONPATH`` to a
``pip install --no-deps --target`` of it; nothing is installed)::

    python3 benchmarks/gpu_train_zoo.py --out OUT              # the real run (~8 min, H200)
    python3 benchmarks/gpu_train_zoo.py --out OUT --collect    # what did not fit in OUT
    python3 benchmarks/gpu_train_zoo.py --out OUT --device cpu --tiny   # a check, < 1 min

Steps (docs/training.md has the whole procedure):

1. Throughput: model-iterations/s of every trainer, one model vs grouped (K = 1, 8, 24;
   ``train_throughput.measure``), 20 iterations each after 10 of warm-up.
2. For each zoo (``factorvae-gpu`` first: its rate is the measured one, then
   ``infogan-cr-gpu``): predict its training time from step 1 and skip it if it would
   not end before ``--budget-minutes``; else ``train_zoo(..., device=...,
   skip_scores=True)`` (all models of the zoo as one group; resumable, so a rerun
   continues) and store every model's ONNX weights as float16
   (``modelcentrality.io.halve_model_files``). Scoring is left for the CPU machine:
   ``modelcentrality train-zoo factorvae-gpu -o ZOO`` there scores the unpacked zoo.
3. Pack each zoo (InfoGAN-CR's "InfoGAN (modified)" models are a zoo of their own) into
   ONE tar.gz under ``--work``, and copy archives to ``--out`` while they fit in
   ``--return-mib`` (the device tool returns at most 64 MiB and 8 files, 16 MiB each):
   an archive above ``--part-mib`` goes as numbered parts (``NAME.tar.gz.part0``, ...;
   ``cat NAME.tar.gz.part* > NAME.tar.gz``). What does not fit stays in ``--work`` and
   is listed in the JSON; ``--collect`` copies it in a second, short call.
4. ``gpu_train_zoo.json`` in ``--out``: the device, the throughput table, each zoo's
   wall time and model-iterations/s, and what was returned.

``--tiny`` trains 2 InfoGAN-CR and 4 FactorVAE models (TC discriminator of 100 units)
for 3 iterations at batch 8, after a one-iteration throughput check of FactorVAE at
batch 8 (the path the tests run on CPU).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tarfile
import time
import traceback
from pathlib import Path
from typing import Any

SCRIPT_DIR = Path(__file__).resolve().parent
#: Zoos in training order: FactorVAE's rate was measured, InfoGAN-CR's is an estimate.
ZOOS = ("factorvae-gpu", "infogan-cr-gpu")
#: Settings and seeds of --tiny (a check of the whole path, not a zoo).
TINY_SETTINGS = {"iterations": 3, "batch_size": 8, "checkpoint_every": 2}
STATE_FILE = "returned.json"
RESULT_FILE = "gpu_train_zoo.json"
MIB = 2**20


def check_imports() -> None:
    """Fail in one line when the project or a dependency cannot be imported."""
    missing = []
    for module in ("torch", "numpy", "onnx", "onnxruntime", "modelcentrality.reference_models"):
        try:
            __import__(module)
        except ImportError as exc:
            missing.append(f"{module} ({exc})")
    if missing:
        sys.exit(
            "gpu_train_zoo: cannot import " + "; ".join(missing) + ": put a "
            "'pip install --no-deps --target DIR .' of the project on PYTHONPATH"
        )


def zoo_spec(name: str, tiny: bool) -> dict[str, Any]:
    from modelcentrality.reference_models.zoo_job import load_spec

    spec = load_spec(name)
    if tiny:
        settings = dict(TINY_SETTINGS)
        if spec["method"] == "infogan-cr":
            settings["cr_start"] = 2
        else:
            # The full TC discriminator makes 66 MB checkpoints: slow to write on a CPU.
            settings["tc_units"] = 100
        spec = {**spec, "seeds": [0, 1], "settings": settings}
        if spec["grid"]:
            spec["grid"] = {key: values[:2] for key, values in spec["grid"].items()}
    return load_spec(spec)


def predicted_seconds(spec: dict[str, Any], rates: dict[str, Any], models: int) -> float | None:
    """Training time of the zoo from the measured group rates (None: not measured)."""
    from modelcentrality.reference_models.presets import make_config

    config = make_config(spec["method"], spec["preset"], spec["settings"])

    def ms_per_iteration(case: str) -> float | None:
        rows = [r for r in rates.get(case, {}).get("grouped", []) if "model_it_per_s" in r]
        if not rows:
            return None
        # The measured group closest in size; time per group iteration grows with K.
        row = min(rows, key=lambda r: abs(r["models"] - models))
        return row["ms_per_group_iteration"] * max(1.0, models / row["models"])

    if spec["method"] == "infogan-cr":
        plain, with_cr = ms_per_iteration("infogan-cr"), ms_per_iteration("infogan-cr+cr")
        if plain is None or with_cr is None:
            return None
        cr_start = min(config.cr_start, config.iterations)
        return (cr_start * plain + (config.iterations - cr_start) * with_cr) / 1000
    per_iteration = ms_per_iteration(spec["method"])
    return None if per_iteration is None else config.iterations * per_iteration / 1000


def halve_zoo(folder: Path) -> int:
    """Float16 weights for every model folder of a zoo; returns the files converted."""
    from modelcentrality.io import halve_model_files

    converted = 0
    for model in sorted(p for p in folder.iterdir() if (p / "model.json").is_file()):
        converted += halve_model_files(model) > 0
    return converted


def pack(folder: Path, archive: Path) -> Path:
    """``folder`` as one tar.gz (without checkpoints), written next to its final name."""
    partial = archive.with_name(archive.name + ".tmp")
    with tarfile.open(partial, "w:gz") as tar:
        tar.add(folder, arcname=folder.name, filter=_no_checkpoints)
    partial.replace(archive)
    return archive


def _no_checkpoints(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    return None if "/.checkpoints" in f"/{info.name}" else info


def pieces(archive: Path, part_bytes: int) -> list[tuple[str, int, int]]:
    """(file name, offset, length) of the files ``archive`` is returned as."""
    size = archive.stat().st_size
    if size <= part_bytes:
        return [(archive.name, 0, size)]
    return [
        (f"{archive.name}.part{i}", start, min(part_bytes, size - start))
        for i, start in enumerate(range(0, size, part_bytes))
    ]


def copy_out(
    archives: list[Path], out: Path, work: Path, budget_bytes: int, part_bytes: int
) -> dict[str, Any]:
    """Copy the archives not sent yet (whole, or as parts) to ``out``, in order, while
    they fit in ``budget_bytes``; ``work/returned.json`` remembers what was sent, so
    that --collect sends the rest."""
    state_path = work / STATE_FILE
    state = json.loads(state_path.read_text()) if state_path.is_file() else {"returned": []}
    used, sent, left = 0, [], []
    for archive in archives:
        if archive.name in state["returned"]:
            continue
        parts = pieces(archive, part_bytes)
        size = sum(length for _, _, length in parts)
        if used + size > budget_bytes:
            left.append(archive.name)
            continue
        with archive.open("rb") as source:
            for name, start, length in parts:
                source.seek(start)
                (out / name).write_bytes(source.read(length))
        used += size
        sent.append({"archive": archive.name, "files": [name for name, _, _ in parts]})
        state["returned"].append(archive.name)
    state_path.write_text(json.dumps(state, indent=2))
    return {"sent": sent, "left_on_device": left, "bytes": used}


def train_and_pack(
    name: str, spec: dict[str, Any], args: argparse.Namespace, entry: dict[str, Any]
) -> list[str]:
    """Train one zoo grouped (skipping scores), halve its weights and pack it (and its
    modified zoo); records timings in ``entry``; returns the archive names."""
    from modelcentrality.reference_models.zoo_job import train_zoo

    folder = args.work / name.replace("-", "_")
    begin = time.monotonic()
    manifest = train_zoo(
        spec,
        folder,
        device=args.device,
        skip_scores=True,
        bf16=args.bf16,
        progress=False,
        log=lambda line: print(line, flush=True),
    )
    seconds = time.monotonic() - begin
    # Unscored models are listed under "pending" until a later run scores them.
    trained = manifest["models"] + manifest.get("pending", [])
    settings = trained[0]["settings"]
    models = len(trained)
    entry.update(
        {
            "wall_s": round(seconds, 1),
            "iterations": settings["iterations"],
            "model_it_per_s_wall": round(models * settings["iterations"] / seconds, 1),
            "settings": settings,
        }
    )
    zoos = [folder]
    if spec["method"] == "infogan-cr":
        zoos.append(folder.with_name(folder.name + "_modified"))
    archives = []
    for zoo in zoos:
        halve_zoo(zoo)
        archives.append(pack(zoo, args.work / f"{zoo.name}.tar.gz").name)
    entry["pack_s"] = round(time.monotonic() - begin - seconds, 1)
    print(f"{name}: {models} models in {seconds:.0f} s", flush=True)
    return archives


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="folder of files to return")
    parser.add_argument("--work", type=Path, default=Path("/tmp/gpu_train_zoo"))
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="2-6 models, 3 iterations")
    parser.add_argument("--zoos", nargs="+", default=list(ZOOS), choices=list(ZOOS))
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (the CLI's default too)"
    )
    parser.add_argument("--budget-minutes", type=float, default=8.75)
    parser.add_argument(
        "--throughput-steps", type=int, default=None, help="0: skip [default: 20, tiny: 1]"
    )
    parser.add_argument("--return-mib", type=float, default=60)
    parser.add_argument("--part-mib", type=float, default=15)
    parser.add_argument("--collect", action="store_true", help="only return what is left")
    args = parser.parse_args()
    if args.throughput_steps is None:
        args.throughput_steps = 1 if args.tiny else 20
    started = time.monotonic()
    check_imports()
    sys.path.insert(0, str(SCRIPT_DIR))
    import torch
    from train_throughput import CASES, device_description, measure

    from modelcentrality.reference_models.zoo_job import model_plan

    args.out.mkdir(parents=True, exist_ok=True)
    args.work.mkdir(parents=True, exist_ok=True)
    return_bytes, part_bytes = int(args.return_mib * MIB), int(args.part_mib * MIB)
    result_path = args.work / RESULT_FILE
    if args.collect:
        result = json.loads(result_path.read_text())
        archives = [args.work / name for name in result["archives"]]
        result["collected"] = copy_out(archives, args.out, args.work, return_bytes, part_bytes)
        (args.out / RESULT_FILE).write_text(json.dumps(result, indent=2))
        print(json.dumps(result["collected"], indent=2))
        return

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("gpu_train_zoo: no CUDA device here; use --device cpu --tiny for a check")
    # Fixed shapes: let cuDNN pick the fastest grouped-convolution algorithms once.
    torch.backends.cudnn.benchmark = device.type == "cuda"
    result: dict[str, Any] = {
        "device": device_description(device),
        "torch": torch.__version__,
        "tiny": args.tiny,
        "bf16": args.bf16,
        "zoos": {},
        "archives": [],
    }
    sizes = [1, 2] if args.tiny else [1, 8, 24]
    cases = ["factorvae"] if args.tiny else list(CASES)
    result["throughput"] = {}
    if args.throughput_steps > 0:
        print(f"throughput on {result['device']['name']}: {cases}, K = {sizes}", flush=True)
        result["throughput"] = measure(
            cases,
            sizes,
            device,
            steps=args.throughput_steps,
            warmup=1 if args.tiny else 10,
            bf16=args.bf16,
            batch_size=8 if args.tiny else 64,
        )["cases"]

    def save(result: dict[str, Any]) -> None:
        result["total_s"] = round(time.monotonic() - started, 1)
        result_path.write_text(json.dumps(result, indent=2))
        shutil.copy(result_path, args.out / RESULT_FILE)

    # The JSON and a log the caller may tee into --out need the room left over.
    used = 0
    result["returned"] = {"sent": [], "left_on_device": []}
    save(result)
    budget = args.budget_minutes * 60
    for name in args.zoos:
        spec = zoo_spec(name, args.tiny)
        models = len(model_plan(spec))
        predicted = predicted_seconds(spec, result["throughput"], models)
        remaining = budget - (time.monotonic() - started)
        entry: dict[str, Any] = {"models": models, "predicted_training_s": predicted}
        result["zoos"][name] = entry
        # Export, float16 conversion and packing take about a second per exported model
        # (InfoGAN-CR exports each model twice: modified and final).
        exports = models * (2 if spec["method"] == "infogan-cr" else 1)
        if predicted is not None and predicted + exports * 1.0 > remaining:
            entry["skipped"] = f"predicted {predicted:.0f} s > {remaining:.0f} s left"
            print(f"{name}: skipped, {entry['skipped']}", flush=True)
            continue
        try:
            result["archives"] += train_and_pack(name, spec, args, entry)
        except Exception as exc:
            # Keep going: the other zoo, the JSON and the log still come back.
            entry["error"] = traceback.format_exc()[-4000:]
            print(f"{name}: failed: {type(exc).__name__}: {exc}", flush=True)
        # Send what is packed now, so that a call stopped at its time limit still
        # returns the zoos finished before (and this JSON).
        archives = [args.work / archive for archive in result["archives"]]
        report = copy_out(archives, args.out, args.work, return_bytes - used, part_bytes)
        used += report["bytes"]
        result["returned"]["sent"] += report["sent"]
        result["returned"]["left_on_device"] = report["left_on_device"]
        save(result)
    print(json.dumps({"returned": result["returned"], "total_s": result["total_s"]}, indent=2))


if __name__ == "__main__":
    main()
