"""ModelCentrality on real (small) ONNX zoos with known entanglement."""

import json
import shutil

import numpy as np
import pytest
import torch

from modelcentrality import load_zoo, rank
from modelcentrality.adapters.pytorch import export_torch_model
from modelcentrality.selection._rank import centrality_scores
from modelcentrality.testing._torch_zoo import make_torch_zoo
from tests._helpers import FAST


def test_disentangled_models_take_the_top_places(synthetic_zoo_master):
    result = rank(load_zoo(synthetic_zoo_master), **FAST)
    top = result.ranking[:4]
    assert all(name.endswith("_e0.10") for name in top), result.ranking
    # Each near-disentangled model reproduces itself perfectly and agrees with its peers.
    good = [result.names.index(n) for n in top]
    assert np.all(result.cross[np.ix_(good, good)] > 0.95)
    assert result.scores[good].min() > result.scores.max() - 0.1


@pytest.mark.slow
def test_paper_protocol_defaults_rank_correctly(synthetic_zoo_master):
    result = rank(load_zoo(synthetic_zoo_master))
    assert result.protocol.train_votes_for("gan") == 500
    assert all(name.endswith("_e0.10") for name in result.ranking[:4])


@pytest.mark.slow
def test_disentanglement_lib_protocol_ranks_correctly(synthetic_zoo_master):
    result = rank(
        load_zoo(synthetic_zoo_master), "disentanglement_lib", votes=300, scale_samples=2000
    )
    assert result.protocol.eval_votes == 5000
    assert all(name.endswith("_e0.10") for name in result.ranking[:4])


@pytest.mark.slow
def test_deterministic_and_independent_of_zoo_order(synthetic_zoo_master):
    models = load_zoo(synthetic_zoo_master)
    first = rank(models, random_state=3, **FAST)
    again = rank(models, random_state=3, **FAST)
    np.testing.assert_array_equal(first.cross, again.cross)
    reordered = rank(models[::-1], random_state=3, **FAST)
    back = [reordered.names.index(n) for n in first.names]
    np.testing.assert_array_equal(reordered.cross[np.ix_(back, back)], first.cross)
    other_seed = rank(models, random_state=4, **FAST)
    assert not np.array_equal(other_seed.cross, first.cross)


def test_centrality_is_mean_off_diagonal_similarity():
    cross = np.array([[1.0, 0.8, 0.2], [0.6, 0.9, 0.4], [0.3, 0.5, 1.0]])
    similarity, scores = centrality_scores(cross)
    np.testing.assert_allclose(similarity, similarity.T)
    np.testing.assert_allclose(scores, [(0.7 + 0.25) / 2, (0.7 + 0.45) / 2, (0.25 + 0.45) / 2])
    with pytest.raises(ValueError):
        centrality_scores(np.ones((1, 1)))


def _signed_permutation_copy(zoo_dir, name, out_dir):
    """Write model `name` again with its code dims permuted and sign-flipped."""
    import onnx
    from onnx import numpy_helper

    folder = zoo_dir / name
    generator = onnx.load(str(folder / "generator.onnx"))
    encoder = onnx.load(str(folder / "encoder.onnx"))
    weights = {t.name: numpy_helper.to_array(t) for t in generator.graph.initializer}
    w = weights["w"]  # (D, P): latent rows
    k = encoder.graph.output[0].type.tensor_type.shape.dim[1].dim_value
    perm = np.array([2, 0, 3, 1])[:k]
    signs = np.array([-1, 1, -1, 1], dtype=np.float32)[:k]
    new_w = w.copy()
    new_w[:k] = (w[:k][perm]) * signs[:, None]
    unmix = {t.name: numpy_helper.to_array(t) for t in encoder.graph.initializer}["unmix"]
    new_unmix = unmix[:, perm] * signs[None, :]
    for graph, key, value in ((generator, "w", new_w), (encoder, "unmix", new_unmix)):
        for i, tensor in enumerate(graph.graph.initializer):
            if tensor.name == key:
                graph.graph.initializer[i].CopyFrom(numpy_helper.from_array(value, key))
    target = out_dir / name
    target.mkdir(parents=True)
    onnx.save(generator, str(target / "generator.onnx"))
    onnx.save(encoder, str(target / "encoder.onnx"))
    (target / "model.json").write_text((folder / "model.json").read_text())


@pytest.mark.slow
def test_signed_permutation_of_code_dims_leaves_scores_unchanged(synthetic_zoo, tmp_path):
    name = "m01_e0.10"
    before = rank(load_zoo(synthetic_zoo), **FAST)
    permuted_dir = tmp_path / "permuted"
    _signed_permutation_copy(synthetic_zoo, name, permuted_dir)
    shutil.rmtree(synthetic_zoo / name)
    shutil.copytree(permuted_dir / name, synthetic_zoo / name)
    after = rank(load_zoo(synthetic_zoo), **FAST)
    i = before.names.index(name)
    others = [j for j in range(len(before.names)) if j != i]
    # As an encoder on the same generated groups, the permuted model scores identically.
    np.testing.assert_array_equal(after.cross[others, i], before.cross[others, i])
    # As a source it draws different (equally distributed) groups: equal up to noise.
    assert abs(after.scores[i] - before.scores[i]) < 0.03
    assert set(after.ranking[:4]) == set(before.ranking[:4])


def _torch_zoo(n_models=4):
    return make_torch_zoo((0.1, 0.1, 1.0, 1.0)[:n_models])


def test_onnx_and_pytorch_adapters_agree(tmp_path):
    torch_models = _torch_zoo()
    for model in torch_models:
        export_torch_model(model, tmp_path / model.name)
    onnx_models = load_zoo(tmp_path)
    from_torch = rank(torch_models, **FAST)
    from_onnx = rank(onnx_models, **FAST)
    assert from_onnx.names == from_torch.names
    np.testing.assert_allclose(from_onnx.cross, from_torch.cross, atol=0.01)
    assert from_onnx.ranking[:2] == from_torch.ranking[:2]
    assert set(from_torch.ranking[:2]) == {"torch0", "torch1"}


def test_torch_fingerprint_follows_weight_changes(monkeypatch):
    import modelcentrality.adapters.pytorch as pytorch_adapter

    model = _torch_zoo(1)[0]
    first = model.fingerprint()
    hashes = []
    real_sha256 = pytorch_adapter.hashlib.sha256
    monkeypatch.setattr(
        pytorch_adapter.hashlib, "sha256", lambda *a: hashes.append(1) or real_sha256(*a)
    )
    assert model.fingerprint() == first
    assert not hashes  # unchanged weights are not hashed again
    original = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    with torch.no_grad():
        model.encoder.bias.add_(1.0)
    changed = model.fingerprint()
    assert changed != first and hashes
    model.encoder.load_state_dict(original)
    assert model.fingerprint() == first


def test_result_json_has_documented_keys(synthetic_zoo_master, tmp_path):
    result = rank(load_zoo(synthetic_zoo_master), random_state=7, **FAST)
    path = tmp_path / "out" / "result.json"
    result.to_json(path)
    payload = json.loads(path.read_text())
    for key in ("names", "scores", "ranking", "cross", "similarity", "protocol", "seed",
                "version", "skipped", "self_consistency"):
        assert key in payload
    assert payload["seed"] == 7
    assert payload["ranking"][0] == result.selected
    assert np.array(payload["cross"]).shape == (8, 8)


@pytest.mark.slow
def test_cache_resumes_and_grows_zoo(synthetic_zoo, tmp_path, monkeypatch):
    import modelcentrality.engine._similarities as backends

    cache = tmp_path / "cache"
    spare = tmp_path / "spare"
    shutil.move(synthetic_zoo / "m07_e1.00", spare)
    first = rank(load_zoo(synthetic_zoo), cache_dir=cache, **FAST)

    calls = []
    real = backends.factorvae_votes

    def counting(source, encoders, *args, **kwargs):
        calls.append((source.model.name, len(encoders)))
        return real(source, encoders, *args, **kwargs)

    monkeypatch.setattr(backends, "factorvae_votes", counting)
    again = rank(load_zoo(synthetic_zoo), cache_dir=cache, **FAST)
    assert calls == []
    np.testing.assert_array_equal(again.cross, first.cross)

    shutil.move(spare, synthetic_zoo / "m07_e1.00")
    grown = rank(load_zoo(synthetic_zoo), cache_dir=cache, **FAST)
    # 7 old sources meet 1 new encoder, and the new source meets all 8 encoders.
    assert sorted(n for _, n in calls) == [1] * 7 + [8]
    uncached = rank(load_zoo(synthetic_zoo), **FAST)
    np.testing.assert_array_equal(grown.cross, uncached.cross)

    # A damaged entry is detected and recomputed.
    entry = next(cache.rglob("*.npz"))
    entry.write_bytes(b"not a zip")
    repaired = rank(load_zoo(synthetic_zoo), cache_dir=cache, **FAST)
    np.testing.assert_array_equal(repaired.cross, uncached.cross)
