"""pythae and disent models through from_pythae/from_disent: check_model, export, rank.

pythae is part of the test set-up (``make setup-test``). disent is not: its framework
classes import torchvision, whose package-index build does not load with the CPU torch
wheel pinned here, so its tests use the library when it imports and, always, a stand-in
that reproduces its models' attributes and output types.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import types

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import distributions, nn  # noqa: E402

from modelcentrality import load_zoo, rank  # noqa: E402
from modelcentrality.adapters import export_torch_model, from_disent, from_pythae  # noqa: E402
from modelcentrality.errors import ParameterError  # noqa: E402
from modelcentrality.testing import check_model  # noqa: E402

SHAPE = (1, 8, 8)
TINY = {"votes": 20, "group_size": 10, "scale_samples": 200, "n_boot": 0}


def _export_check_rank(models, tmp_path):
    """Every model keeps the contract; the exported zoo ranks all three."""
    for model in models:
        check_model(model)
        export_torch_model(model, tmp_path / "zoo" / model.name)
    zoo = load_zoo(tmp_path / "zoo")
    result = rank(zoo, random_state=0, **TINY)
    assert sorted(result.ranking) == sorted(m.name for m in models)
    assert np.isfinite(result.scores).all()
    return zoo


def _import_pythae():
    """pythae.models; in CI, where make setup-test installs it, a missing one fails."""
    if importlib.util.find_spec("pythae") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("pythae is required in CI (make setup-test installs it)")
        pytest.skip("pythae is not installed (pip install modelcentrality[pythae])")
    return importlib.import_module("pythae.models")


def test_pythae_models_rank_after_export(tmp_path):
    models_module = _import_pythae()
    torch.manual_seed(0)
    made = [
        models_module.VAE(models_module.VAEConfig(
            input_dim=SHAPE, latent_dim=3, reconstruction_loss="bce")),
        models_module.BetaVAE(models_module.BetaVAEConfig(
            input_dim=SHAPE, latent_dim=3, beta=4.0, reconstruction_loss="bce")),
        models_module.BetaTCVAE(models_module.BetaTCVAEConfig(
            input_dim=SHAPE, latent_dim=3, beta=6.0)),
    ]
    models = [from_pythae(model, name=f"pythae{i}") for i, model in enumerate(made)]
    assert models[0].observation_shape == SHAPE and models[0].latent_dim == 3
    observations = models[0].generate(models[0].sample_prior(4, 0))
    with torch.no_grad():
        expected = made[0].encoder(torch.from_numpy(observations))
    codes, logvar = models[0].encode_with_logvar(observations)
    np.testing.assert_allclose(codes, expected.embedding.numpy(), atol=1e-5)
    np.testing.assert_allclose(logvar, expected.log_covariance.numpy(), atol=1e-5)
    zoo = _export_check_rank(models, tmp_path)
    assert all(m.kind == "vae" and m.logvar_output == "logvar" for m in zoo)


def test_a_pythae_autoencoder_has_codes_without_log_variance():
    models_module = _import_pythae()
    model = from_pythae(
        models_module.AE(models_module.AEConfig(input_dim=SHAPE, latent_dim=2)), name="ae"
    )
    codes, logvar = model.encode_with_logvar(model.generate(model.sample_prior(3, 0)))
    assert codes.shape == (3, 2) and logvar is None


# A stand-in for disent (0.8): the attributes and output types of disent.model's
# AutoEncoder, DisentEncoder and DisentDecoder, and of a VAE framework around them.


class StandInEncoder(nn.Module):
    """``forward(x, chunk=True)``: the (mean, logvar) chunks of a [mean | logvar] head."""

    def __init__(self, z_size: int, z_multiplier: int = 2) -> None:
        super().__init__()
        self.x_shape, self.z_size, self.z_multiplier = SHAPE, z_size, z_multiplier
        self.linear = nn.Linear(int(np.prod(SHAPE)), z_size * z_multiplier)

    def forward(self, x, chunk=True):
        z = self.linear(x.flatten(1))
        return z.split(self.z_size, dim=-1) if chunk else z


class StandInDecoder(nn.Module):
    """``forward(z)``: the reconstruction without an activation."""

    def __init__(self, z_size: int) -> None:
        super().__init__()
        self.x_shape, self.z_size = SHAPE, z_size
        self.linear = nn.Linear(z_size, int(np.prod(SHAPE)))

    def forward(self, z):
        return self.linear(z).reshape(-1, *SHAPE)


class StandInAutoEncoder(nn.Module):
    def __init__(self, encoder: StandInEncoder, decoder: StandInDecoder) -> None:
        super().__init__()
        self._encoder, self._decoder = encoder, decoder
        self.x_shape, self.z_size = decoder.x_shape, decoder.z_size

    def forward(self, x):
        raise RuntimeError("forward(...) has been disabled")

    def encode(self, x, chunk=False):
        return self._encoder(x, chunk=chunk)

    def decode(self, z):
        return self._decoder(z)


class StandInVae(nn.Module):
    """A framework: ``encode_dists`` -> (posterior, prior) Normals; ``decode`` activates."""

    def __init__(self, model: StandInAutoEncoder, recon_loss: str) -> None:
        super().__init__()
        self._model = model
        self.cfg = types.SimpleNamespace(recon_loss=recon_loss)

    def encode_dists(self, x):
        mean, logvar = self._model.encode(x, chunk=True)
        posterior = distributions.Normal(mean, torch.exp(0.5 * logvar))
        return posterior, distributions.Normal(torch.zeros_like(mean), torch.ones_like(mean))

    def decode(self, z):
        raw = self._model.decode(z)
        return torch.sigmoid(raw) if self.cfg.recon_loss == "bce" else raw


def _stand_in(seed: int, recon_loss: str | None = "bce"):
    torch.manual_seed(seed)
    autoencoder = StandInAutoEncoder(StandInEncoder(3), StandInDecoder(3))
    return autoencoder if recon_loss is None else StandInVae(autoencoder, recon_loss)


def test_disent_frameworks_rank_after_export(tmp_path):
    frameworks = [_stand_in(seed) for seed in range(3)]
    models = [from_disent(f, name=f"disent{i}") for i, f in enumerate(frameworks)]
    observations = models[0].generate(models[0].sample_prior(4, 0))
    codes, logvar = models[0].encode_with_logvar(observations)
    with torch.no_grad():
        mean, expected_logvar = frameworks[0]._model.encode(torch.from_numpy(observations), True)
    np.testing.assert_allclose(codes, mean.numpy(), atol=1e-5)
    np.testing.assert_allclose(logvar, expected_logvar.numpy(), atol=1e-4)
    _export_check_rank(models, tmp_path)


def test_a_disent_autoencoder_needs_its_decoder_activation_named():
    autoencoder = _stand_in(0, recon_loss=None)
    with pytest.raises(ParameterError, match="output='logits'"):
        from_disent(autoencoder, name="ae")
    model = from_disent(autoencoder, name="ae", output="logits")
    latents = model.sample_prior(3, 0)
    with torch.no_grad():
        expected = torch.sigmoid(autoencoder.decode(torch.from_numpy(latents))).numpy()
    np.testing.assert_allclose(model.generate(latents), expected, atol=1e-6)
    check_model(model)


def test_a_squared_error_disent_framework_is_clipped():
    model = from_disent(_stand_in(0, recon_loss="mse"), name="mse")
    observations = model.generate(model.sample_prior(16, 0))
    assert observations.min() >= 0 and observations.max() <= 1


def test_other_objects_are_refused_by_name():
    with pytest.raises(ParameterError, match="from_disent needs a disent framework"):
        from_disent(nn.Linear(2, 2), name="x")
    with pytest.raises(ParameterError, match="from_pythae needs a pythae model"):
        from_pythae(nn.Linear(2, 2), name="x")


def _import_disent():
    """disent's modules, or a skip naming why they do not import here."""
    if importlib.util.find_spec("disent") is None:
        pytest.skip("disent is not installed (pip install modelcentrality[disent])")
    try:
        model = importlib.import_module("disent.model")
        ae = importlib.import_module("disent.model.ae")
    except Exception as exc:  # a torchvision built for another torch raises RuntimeError
        pytest.skip(f"disent does not import here: {type(exc).__name__}: {exc}")
    return model, ae


def test_real_disent_autoencoders_rank_after_export(tmp_path):
    model_module, ae = _import_disent()
    models = []
    for seed in range(3):
        torch.manual_seed(seed)
        autoencoder = model_module.AutoEncoder(
            encoder=ae.EncoderConv64(x_shape=(1, 64, 64), z_size=3, z_multiplier=2),
            decoder=ae.DecoderConv64(x_shape=(1, 64, 64), z_size=3),
        )
        models.append(from_disent(autoencoder, name=f"disent{seed}", output="logits"))
    _export_check_rank(models, tmp_path)
