"""The device-array path, ONNX graphs through PyTorch, bfloat16 encoders and the
scale estimated from the vote groups."""

import json

import numpy as np
import pytest
import torch

import modelcentrality.engine._scoring as scoring
import modelcentrality.engine._similarities as similarities
from modelcentrality import load_zoo, rank
from modelcentrality.adapters.onnx_runtime import OnnxModel
from modelcentrality.adapters.onnx_torch import OnnxTorchModel, fold_weight_casts
from modelcentrality.contract._model import Model
from modelcentrality.engine import get_protocol
from modelcentrality.errors import ParameterError
from modelcentrality.io import load_model, model_folders
from modelcentrality.testing import check_model
from tests._helpers import FAST
from tests.engine.test_centrality import _torch_zoo

BUNDLED = ["zoos/infogan_cr", "zoos/infogan_cr_modified", "zoos/factorvae"]
SMALL = {"votes": 30, "scale_samples": 500, "n_boot": 0}


def _native(models):
    for model in models:
        model.native = True
    return models


def test_native_cpu_path_keeps_tensors_and_matches_the_numpy_path(monkeypatch):
    host = rank(_torch_zoo(), **FAST)

    observations, codes = [], []
    real_engine = similarities.factorvae_votes
    real_group_variances = scoring.group_variances

    def no_host_arrays(self, *args, **kwargs):
        raise AssertionError("the native path handed numpy arrays to a model")

    def engine(source, encoders, *args, **kwargs):
        def watched(encoder):
            return lambda batch: observations.append(type(batch)) or encoder(batch)

        # Screening before the engine probes on the host; the engine itself must not.
        with monkeypatch.context() as patch:
            patch.setattr(Model, "generate", no_host_arrays)
            patch.setattr(Model, "encode", no_host_arrays)
            return real_engine(source, [watched(e) for e in encoders], *args, **kwargs)

    def group_variances(values, group_size):
        codes.append(type(values))
        return real_group_variances(values, group_size)

    monkeypatch.setattr(similarities, "factorvae_votes", engine)
    monkeypatch.setattr(scoring, "group_variances", group_variances)
    device = rank(_native(_torch_zoo()), **FAST)

    assert observations and set(observations) == {torch.Tensor}
    assert codes and set(codes) == {torch.Tensor}
    # Same modules, same float32 codes, float64 reductions in torch instead of numpy.
    np.testing.assert_array_equal(device.cross, host.cross)
    np.testing.assert_array_equal(device.scores, host.scores)
    assert device.ranking == host.ranking


def _converted_outputs_match(folder, rng):
    onnx_model = load_model(folder)
    converted = OnnxTorchModel(onnx_model)
    latents = onnx_model.sample_prior(3, rng)
    observations = onnx_model.generate(latents)
    np.testing.assert_allclose(converted.generate(latents), observations, rtol=0, atol=1e-5)
    for ours, theirs in zip(
        converted.encode_with_logvar(observations), onnx_model.encode_with_logvar(observations)
    ):
        assert (ours is None) == (theirs is None)
        if theirs is not None:
            np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5)


@pytest.mark.parametrize("zoo", BUNDLED)
def test_converted_bundled_graphs_equal_onnx_runtime(zoo):
    rng = np.random.default_rng(0)
    for folder in model_folders(zoo):
        _converted_outputs_match(folder, rng)


def test_converted_synthetic_graphs_equal_onnx_runtime(synthetic_zoo_master):
    rng = np.random.default_rng(1)
    for folder in model_folders(synthetic_zoo_master):
        _converted_outputs_match(folder, rng)


def test_float16_weights_are_folded_not_left_as_casts():
    import onnx

    graph = onnx.load("zoos/infogan_cr/infogan_cr_s0/encoder.onnx")
    assert any(node.op_type == "Cast" for node in graph.graph.node)
    folded = fold_weight_casts(graph)
    weights = {t.name for t in folded.graph.initializer}
    assert not any(n.op_type == "Cast" and n.input[0] in weights for n in folded.graph.node)
    assert all(
        t.data_type == onnx.TensorProto.FLOAT
        for t in folded.graph.initializer
        if t.name.endswith(".weight")
    )


def test_onnx_torch_adapter_keeps_the_contract():
    check_model(OnnxTorchModel(load_model("zoos/factorvae/factorvae_tc_weight1_s0")))


def test_onnx_torch_zoo_ranks_like_onnx_runtime(synthetic_zoo_master):
    ort_result = rank(load_zoo(synthetic_zoo_master), **SMALL)
    zoo = load_zoo(synthetic_zoo_master)
    torch_result = rank(_native([OnnxTorchModel(m) for m in zoo]), **SMALL)
    np.testing.assert_allclose(torch_result.cross, ort_result.cross, atol=0.02)
    assert torch_result.ranking[:4] == ort_result.ranking[:4]


def test_bfloat16_encoders_run_and_change_only_the_rounding(synthetic_zoo_master):
    folder = model_folders(synthetic_zoo_master)[0]
    exact = load_model(folder)
    half = load_model(folder, dtype="bfloat16")
    assert isinstance(half, OnnxTorchModel) and half.dtype == torch.bfloat16
    observations = exact.generate(exact.sample_prior(64, 0))
    ours, theirs = half.encode(observations), exact.encode(observations)
    assert ours.dtype == np.float32
    assert not np.array_equal(ours, theirs)
    scale = np.abs(theirs).max()
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=0.05 * scale)
    assert half.fingerprint() != OnnxTorchModel(exact).fingerprint()
    result = rank(load_zoo(synthetic_zoo_master, dtype="bfloat16"), **SMALL)
    assert all(name.endswith("_e0.10") for name in result.ranking[:4])


def test_cuda_request_without_cuda_is_one_line_error(synthetic_zoo_master):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ParameterError, match="^CUDA is not available: [^\n]*$"):
        load_zoo(synthetic_zoo_master, device="cuda")
    with pytest.raises(ParameterError, match="device must be"):
        load_zoo(synthetic_zoo_master, device="tpu")
    folder = model_folders(synthetic_zoo_master)[0]
    with pytest.raises(Exception, match="CUDA is not available"):
        OnnxModel(
            folder / "encoder.onnx",
            folder / "generator.onnx",
            name="m",
            latent_dim=4,
            code_dims=[0],
            prior=load_model(folder).prior,
            kind="gan",
            device="cuda",
        )


@pytest.mark.slow
def test_scale_from_groups_skips_the_scale_set_and_keeps_the_ranking(
    synthetic_zoo_master, monkeypatch
):
    zoo = load_zoo(synthetic_zoo_master)
    exact = rank(zoo, **FAST)
    rendered = []
    real = scoring.ScaleMoments.update

    def count(self, codes):
        rendered.append(len(codes))
        return real(self, codes)

    monkeypatch.setattr(scoring.ScaleMoments, "update", count)
    cheap = rank(zoo, scale_from_groups=True, **FAST)
    votes, group_size = FAST["votes"], get_protocol("paper").group_size
    # Every encoder's moments come from the groups alone: votes x L rows per cell.
    assert sum(rendered) == votes * group_size * len(zoo) ** 2
    assert cheap.protocol.scale_from_groups
    assert cheap.protocol.to_dict()["scale_from_groups"] is True
    assert "scale_from_groups" not in exact.protocol.to_dict()
    assert set(cheap.ranking[:4]) == set(exact.ranking[:4])
    np.testing.assert_allclose(cheap.cross, exact.cross, atol=0.1)


def test_cli_scale_from_groups_and_missing_cuda(synthetic_zoo_master, tmp_path, capsys):
    from modelcentrality.cli import main

    out = tmp_path / "ranking.json"
    command = ["rank", str(synthetic_zoo_master), "--votes", "30", "--scale-samples", "500"]
    status = main([*command, "--scale-from-groups", "--n-boot", "0", "--quiet", "-o", str(out)])
    assert status == 0
    assert json.loads(out.read_text())["protocol"]["scale_from_groups"] is True
    if not torch.cuda.is_available():
        capsys.readouterr()
        assert main([*command, "--device", "cuda"]) == 1
        error = capsys.readouterr().err
        assert error.count("\n") == 1 and "CUDA is not available" in error
