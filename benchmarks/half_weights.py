"""Do float16 weights move a trained zoo's ground-truth scores? (Bundled zoos: <= 0.01.)

Run::

    python benchmarks/half_weights.py ../zoos/infogan_cr ../zoos/infogan_cr_modified \
        ../zoos/factorvae [--apply]

For every finished model of each zoo (listed in the train-zoo manifest with scores),
a float16 copy is made in a temporary folder and scored exactly as ``train-zoo`` scored
the float32 model (FactorVAE paper protocol with the same votes and seed, and MIG); the
differences to the manifest's float32 scores are recorded. DCI is not recomputed (its
gradient boosted trees take minutes per model). Models already checked (same float32
files) are not scored again. With ``--apply``, the models whose FactorVAE and MIG moved
by at most 0.01 are converted in place. Writes benchmarks/results/half_weights.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import tempfile
from pathlib import Path

from common import RESULTS, save_result

from modelcentrality.io._half_weights import halve_model_files
from modelcentrality.reference_models.zoo_job import manifest_scores, score_model

TOLERANCE = 0.01
#: The bundled zoos' training and scoring data (their manifests' ``data``).
DATA = "dsprites"
SCORES = ["factorvae_paper", "mig"]


def files_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for name in ("encoder.onnx", "generator.onnx"):
        digest.update((folder / name).read_bytes())
    return digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("zoos", type=Path, nargs="+")
    parser.add_argument("--apply", action="store_true", help="Convert the models that pass.")
    args = parser.parse_args()
    previous_path = RESULTS / "half_weights.json"
    previous = json.loads(previous_path.read_text())["models"] if previous_path.is_file() else {}
    models = dict(previous)
    for zoo in args.zoos:
        for name, full in manifest_scores(zoo).items():
            folder = zoo / name
            if not (folder / "model.json").is_file():
                continue
            key = f"{zoo.name}/{name}"
            digest = files_hash(folder)
            done = models.get(key)
            if done and digest in (done["float32_hash"], done.get("float16_hash")):
                print(f"{key}: checked before")
            else:
                with tempfile.TemporaryDirectory() as tmp:
                    copy = Path(tmp) / name
                    shutil.copytree(folder, copy)
                    size32 = sum(p.stat().st_size for p in copy.glob("*.onnx"))
                    halve_model_files(copy)
                    size16 = sum(p.stat().st_size for p in copy.glob("*.onnx"))
                    half = score_model(copy, DATA, SCORES, {})
                    half_hash = files_hash(copy)
                done = {
                    "float32_hash": digest,
                    "float16_hash": half_hash,
                    "bytes_float32": size32,
                    "bytes_float16": size16,
                    "factorvae_float32": full["factorvae_paper"]["score"],
                    "factorvae_float16": half["factorvae_paper"]["score"],
                    "mig_float32": full["mig"]["discrete_mig"],
                    "mig_float16": half["mig"]["discrete_mig"],
                }
                done["max_abs_change"] = max(
                    abs(done["factorvae_float16"] - done["factorvae_float32"]),
                    abs(done["mig_float16"] - done["mig_float32"]),
                )
                models[key] = done
                print(f"{key}: max change {done['max_abs_change']:.4f}")
            passed = done["max_abs_change"] <= TOLERANCE
            if args.apply and passed and digest == done["float32_hash"]:
                halve_model_files(folder)
                print(f"{key}: converted")
    changes = [m["max_abs_change"] for m in models.values()]
    payload = {
        "tolerance": TOLERANCE,
        "scores_checked": SCORES,
        "max_abs_change": max(changes) if changes else None,
        "models": models,
    }
    print(f"wrote {save_result('half_weights', payload)}")


if __name__ == "__main__":
    main()
