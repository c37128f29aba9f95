"""The reference zoos committed under zoos/: valid, small, scored and rankable."""

import json
from pathlib import Path

import numpy as np
import onnx
import pytest

from modelcentrality import load_zoo, rank
from modelcentrality.datasets import DSprites, dataset_version
from modelcentrality.io._zoo import model_folders
from modelcentrality.metrics import evaluate_zoo
from modelcentrality.reference_models.zoo_job import manifest_scores
from modelcentrality.report import read_ground_truth

ZOOS = Path(__file__).resolve().parents[2] / "zoos"
BUNDLED = ["infogan_cr", "infogan_cr_modified", "factorvae"]
SIZE_LIMIT = 40 * 2**20


def test_committed_zoos_fit_the_size_limit():
    files = [p for p in ZOOS.rglob("*") if p.is_file() and ".checkpoints" not in p.parts]
    assert sum(p.stat().st_size for p in files) <= SIZE_LIMIT


@pytest.mark.parametrize("zoo", BUNDLED)
def test_every_model_loads_and_is_scored(zoo):
    folders = model_folders(ZOOS / zoo)
    scores = manifest_scores(ZOOS / zoo)
    assert {folder.name for folder in folders} == set(scores)
    models = load_zoo(ZOOS / zoo)
    assert not models.skipped
    for name, entry in scores.items():
        for metric in ("factorvae_paper", "mig", "dci"):
            assert metric in entry, f"{zoo}/{name} lacks {metric}"
        assert 0 <= entry["factorvae_paper"]["score"] <= 1
        for path in (ZOOS / zoo / name).glob("*.onnx"):
            kinds = {t.data_type for t in onnx.load(str(path)).graph.initializer}
            assert onnx.TensorProto.FLOAT16 in kinds, f"{path} is not stored in float16"
    factorvae = [entry["factorvae_paper"]["score"] for entry in scores.values()]
    if len(factorvae) >= 4:
        # Selection is only a test of anything if the zoo spans a range of quality.
        assert max(factorvae) - min(factorvae) >= 0.15


@pytest.mark.slow
def test_bundled_models_rank():
    models = load_zoo(ZOOS / "infogan_cr")[:3]
    result = rank(models, votes=10, scale_samples=1000, n_boot=0, progress=False)
    assert sorted(result.ranking) == sorted(m.name for m in models)
    assert np.all((result.scores > 0) & (result.scores <= 1))


def test_zoo_tables_match_the_manifests():
    import importlib.util

    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("zoo_tables", root / "docs" / "zoo_tables.py")
    zoo_tables = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(zoo_tables)
    block = zoo_tables.BLOCK.search((root / zoo_tables.PAGE).read_text())
    assert block, f"{zoo_tables.PAGE} lacks the zoos table block"
    assert block.group(2) == zoo_tables.zoo_tables(), "run: python docs/zoo_tables.py"


@pytest.mark.parametrize("zoo", ["infogan_cr", "factorvae"])
def test_manifests_record_training_and_ground_truth_versions(zoo):
    path = ZOOS / zoo / "manifest.json"
    manifest = json.loads(path.read_text())
    current = dataset_version(manifest["spec"]["data"])
    for entry in manifest["models"]:
        assert entry["ground_truth_version"] == current, entry["name"]
        assert entry["training_data_version"] == "dsprites/procedural-v1", entry["name"]
    assert "trained on dsprites/procedural-v1" in manifest["note"]
    truth = read_ground_truth(path)
    assert truth.version == current and truth.version_warning() is None


def test_evaluate_records_the_ground_truth_version():
    models = load_zoo(ZOOS / "infogan_cr")[:1]
    evaluation = evaluate_zoo(models, DSprites(), ["mig"], settings={"mig": {"n_train": 300}})
    record = evaluation.to_dict()
    assert record["ground_truth_version"] == DSprites().ground_truth_version
    assert set(record["results"]) == {models[0].name}
