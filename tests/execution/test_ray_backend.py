"""The Ray backend gives exactly the local backend's results, on a local Ray instance."""

import json
import sys

import numpy as np
import pytest

from modelcentrality import ModelCentralityError, ModelError, load_zoo, rank
from modelcentrality.adapters.onnx_runtime import OnnxModel
from modelcentrality.cli import main
from modelcentrality.engine._scoring import source_observation_count
from modelcentrality.engine._sources import GeneratedFactors
from modelcentrality.engine._votes import get_protocol
from modelcentrality.execution._backends import LocalBackend
from modelcentrality.execution._ray import RayBackend, import_ray
from tests._helpers import FAST, InMemoryModel, from_bytes, run_tasks

# modelcentrality.ray_backend imports ray lazily, so the imports above work without it.
ray = pytest.importorskip("ray")


@pytest.fixture(scope="module", autouse=True)
def ray_instance():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def local_result(synthetic_zoo_master):
    return rank(load_zoo(synthetic_zoo_master), random_state=5, n_boot=0, **FAST)


@pytest.mark.parametrize("load", ["path", "bytes"])
def test_same_cross_matrix_as_local_backend(synthetic_zoo_master, local_result, load, tmp_path):
    backend = RayBackend(load=load)
    result = rank(
        load_zoo(synthetic_zoo_master),
        random_state=5,
        n_boot=0,
        cache_dir=tmp_path,
        backend=backend,
        **FAST,
    )
    np.testing.assert_array_equal(result.cross, local_result.cross)
    np.testing.assert_array_equal(result.revised_cross, local_result.revised_cross)
    assert result.ranking == local_result.ranking
    # Every pair was checkpointed as its task finished.
    assert len(list(tmp_path.glob("*/*.npz"))) == len(result.names) ** 2
    # The instance this test module started is left running.
    assert ray.is_initialized()


def test_partial_tasks_report_pairs_and_progress(synthetic_zoo_master):
    models = load_zoo(synthetic_zoo_master)[:4]
    protocol = get_protocol("paper").with_overrides(**FAST)
    tasks = [(0, [0, 2]), (3, [1])]

    def collect(backend):
        return run_tasks(backend, models, tasks, protocol, 2)

    local_pairs, local_progress = collect(LocalBackend())
    ray_pairs, ray_progress = collect(RayBackend(load="bytes"))
    assert set(ray_pairs) == {(0, 0), (0, 2), (3, 1)}
    for key, result in local_pairs.items():
        assert ray_pairs[key].score == result.score
        np.testing.assert_array_equal(ray_pairs[key].train_table, result.train_table)
    # One progress report per task (in finishing order): its observations x encoders.
    per_source = [source_observation_count(GeneratedFactors(m), protocol) for m in models]
    assert sorted(ray_progress) == sorted([2 * per_source[0], per_source[3]])
    assert sum(ray_progress) == sum(local_progress)


def test_onnx_model_from_bytes_matches_files(synthetic_zoo_master):
    model = load_zoo(synthetic_zoo_master)[0]
    rebuilt = from_bytes(model)
    assert rebuilt.encoder_path is None and rebuilt.generator_path is None
    assert rebuilt.fingerprint() == model.fingerprint()
    latents = model.sample_prior(16, random_state=0)
    np.testing.assert_array_equal(
        rebuilt.encode(rebuilt.generate(latents)), model.encode(model.generate(latents))
    )
    with pytest.raises(ModelError, match=r"cannot load the encoder \(ONNX bytes\)"):
        OnnxModel(
            b"not onnx",
            model.onnx_bytes()[1],
            name="x",
            latent_dim=6,
            code_dims=[0],
            prior=model.prior,
            kind="gan",
        )


def test_unregistered_models_cannot_be_distributed(synthetic_zoo_master):
    models = [*load_zoo(synthetic_zoo_master)[:2], InMemoryModel()]
    protocol = get_protocol("paper").with_overrides(**FAST)
    with pytest.raises(ModelCentralityError, match="in_memory.*cannot send a InMemoryModel"):
        RayBackend().run(models, [(0, [1, 2])], protocol, 0, lambda *a: None)


def test_missing_file_on_worker_names_the_model(synthetic_zoo):
    models = load_zoo(synthetic_zoo)[:3]
    # The driver's sessions are loaded; the workers will not find this file.
    (synthetic_zoo / models[1].name / "encoder.onnx").unlink()
    with pytest.raises(ModelError, match=f"model '{models[1].name}'.*same path on every worker"):
        rank(models, n_boot=0, backend=RayBackend(load="path"), **FAST)
    assert ray.is_initialized()


def test_cli_ray_backend_matches_local(synthetic_zoo_master, tmp_path):
    outputs = {}
    for name, extra in (("local", []), ("ray", ["--backend", "ray", "--ray-load", "bytes"])):
        out = tmp_path / f"{name}.json"
        args = ["rank", str(synthetic_zoo_master), "-o", str(out), "--quiet", "--n-boot", "0"]
        args += ["--votes", str(FAST["votes"]), "--scale-samples", str(FAST["scale_samples"])]
        assert main(args + extra) == 0
        outputs[name] = json.loads(out.read_text())
    assert outputs["ray"]["cross"] == outputs["local"]["cross"]
    assert outputs["ray"]["ranking"] == outputs["local"]["ranking"]


def test_ray_options_need_ray_backend(synthetic_zoo_master, capsys):
    assert main(["rank", str(synthetic_zoo_master), "--address", "auto"]) == 2
    assert "--address and --ray-load need --backend ray" in capsys.readouterr().err


def test_missing_ray_is_a_one_line_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ModelCentralityError, match=r"pip install 'modelcentrality\[ray\]'"):
        import_ray()


def test_backend_conformance_with_onnx_and_pytorch_models(synthetic_zoo_master):
    from modelcentrality.testing import check_backend
    from modelcentrality.testing._torch_zoo import make_torch_zoo

    check_backend(RayBackend(load="path"), load_zoo(synthetic_zoo_master)[:3])
    check_backend(RayBackend(load="bytes"), make_torch_zoo((0.1, 0.1, 1.0)))
