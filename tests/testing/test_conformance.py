"""Conformance suites (modelcentrality.testing) run against every adapter and backend."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from modelcentrality import load_model, load_zoo, rank
from modelcentrality.contract import Model, Prior
from modelcentrality.execution import ProcessBackend
from modelcentrality.selection import PrecisionSearch
from modelcentrality.testing import check_backend, check_model

BUNDLED = Path(__file__).resolve().parents[2] / "zoos"


def test_check_model_passes_onnx_models(synthetic_zoo_master):
    for model in load_zoo(synthetic_zoo_master)[:2]:
        check_model(model)


@pytest.mark.parametrize("zoo", ["infogan_cr", "factorvae"])
def test_check_model_passes_bundled_models(zoo):
    folder = sorted(p for p in (BUNDLED / zoo).iterdir() if p.is_dir())[0]
    check_model(load_model(folder), atol=1e-4)


@pytest.mark.parametrize("native", [False, True])
def test_check_model_passes_torch_models(native):
    from modelcentrality.testing._torch_zoo import make_torch_zoo

    check_model(make_torch_zoo((0.1,), native=native)[0])


class _BatchDependent(Model):
    """Breaks the contract: an observation's code depends on the rest of its batch."""

    def __init__(self):
        super().__init__("batchy", 2, [0, 1], Prior("uniform"), "gan", (2,))

    def _generate_batch(self, latents):
        return latents

    def _encode_batch(self, observations, want_logvar):
        return observations - observations.mean(axis=0), None


def test_check_model_catches_a_broken_adapter():
    with pytest.raises(AssertionError, match="batch-dependent"):
        check_model(_BatchDependent())


def test_check_backend_passes_the_process_backend(synthetic_zoo_master):
    check_backend(ProcessBackend(n_jobs=2, threads=1), load_zoo(synthetic_zoo_master)[:3])


def test_torch_models_travel_to_process_workers():
    from modelcentrality.testing._torch_zoo import make_torch_zoo

    models = make_torch_zoo((0.1, 0.1, 1.0))
    check_backend(ProcessBackend(n_jobs=2, threads=1), models)


def test_device_path_matches_host_path(monkeypatch):
    """Chunks kept as tensors (native path) give the host path's cross matrix."""
    from modelcentrality.engine import _streaming
    from modelcentrality.testing._torch_zoo import make_torch_zoo

    reduced_types = set()
    real = _streaming.group_variances

    def spy(codes, group_size):
        reduced_types.add(type(codes).__module__.split(".")[0])
        return real(codes, group_size)

    monkeypatch.setattr("modelcentrality.engine._scoring.group_variances", spy)
    settings = {"votes": 100, "group_size": 20, "scale_samples": 1000, "n_boot": 0}
    host = rank(make_torch_zoo(native=False), **settings)
    assert reduced_types == {"numpy"}
    reduced_types.clear()
    device = rank(make_torch_zoo(native=True), **settings)
    assert reduced_types == {"torch"}
    np.testing.assert_allclose(device.cross, host.cross, atol=1e-12)
    assert device.ranking == host.ranking


def test_a_held_process_backend_packs_each_model_once(monkeypatch):
    """Every round of a precision search reuses the specs (a TorchModel's spec copies
    its modules), and a model whose weights change is packed again."""
    import torch

    from modelcentrality.adapters.pytorch import TorchModel
    from modelcentrality.testing._torch_zoo import make_torch_zoo

    packed = []
    real = TorchModel.to_spec
    monkeypatch.setattr(
        TorchModel, "to_spec", lambda self, *a, **k: packed.append(self.name) or real(self, *a, **k)
    )
    models = make_torch_zoo((0.1, 0.1, 1.0))
    settings = {"votes": 400, "group_size": 20, "scale_samples": 1000, "n_boot": 50}
    with ProcessBackend(n_jobs=2, threads=1) as backend:
        result = rank(models, search=PrecisionSearch(1e-4), backend=backend, **settings)
        assert result.votes.max() > 100  # more than one round ran
        assert sorted(packed) == ["torch0", "torch1", "torch2"]
        with torch.no_grad():
            models[0].encoder.bias.add_(0.5)
        rank(models, votes=100, group_size=20, scale_samples=1000, n_boot=0, backend=backend)
    assert sorted(packed) == ["torch0", "torch0", "torch1", "torch2"]
