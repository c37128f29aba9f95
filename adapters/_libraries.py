"""Models trained with ``pythae`` or ``disent``, wrapped through :func:`from_vae`.

Neither library is imported here: the models are read through the attributes both
libraries document, so the adapters work with any installed version that keeps them
(``pip install modelcentrality[pythae]`` or ``[disent]``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ..contract import Prior
from ..errors import ParameterError
from ._conventions import from_vae
from .pytorch import TorchModel

#: Reconstruction losses under which a decoder returns probabilities (after the
#: library's own activation); under the others (squared or absolute error, a Normal
#: likelihood) it returns unbounded reconstructions, clipped to [0, 1].
PROBABILITY_LOSSES = ("bce", "bernoulli", "c_bernoulli")


def from_pythae(
    model: Any,
    *,
    name: str,
    code_dims: Sequence[int] | None = None,
    prior: Prior | None = None,
    output: str | None = None,
    device: str | torch.device = "cpu",
    batch_size: int = 1024,
) -> TorchModel:
    """Wrap a pythae model (``VAE``, ``BetaVAE``, ``BetaTCVAE``, ``FactorVAE``, ``AE``...).

    Its ``encoder`` returns a ``ModelOutput`` with ``embedding`` (the codes) and, for
    variational models, ``log_covariance`` (the log-variance); its ``decoder`` returns
    one with ``reconstruction``. ``model_config`` gives ``latent_dim`` and
    ``input_dim`` (the observation shape).

    Parameters
    ----------
    model : pythae.models.BaseAE
    name : str
    code_dims : sequence of int, optional
        Default: every latent dim.
    prior : Prior, optional
        Default: standard normal (pythae's prior for these models).
    output : {"probs", "logits", "tanh", "clip"}, optional
        Default: "probs" for ``reconstruction_loss="bce"`` (pythae's decoders then end
        with a sigmoid), else "clip" (a squared-error reconstruction, clipped to [0, 1]).
    device, batch_size :
        Passed to :class:`TorchModel`.

    Returns
    -------
    TorchModel
    """
    config = getattr(model, "model_config", None)
    if config is None or not hasattr(model, "encoder") or not hasattr(model, "decoder"):
        raise ParameterError(
            f"from_pythae needs a pythae model (with model_config, encoder and decoder), "
            f"got {type(model).__name__}"
        )
    if output is None:
        loss = str(getattr(config, "reconstruction_loss", "mse"))
        output = "probs" if loss in PROBABILITY_LOSSES else "clip"
    input_dim = getattr(config, "input_dim", None)
    return from_vae(
        model.encoder,
        model.decoder,
        latent_dim=config.latent_dim,
        name=name,
        code_dims=code_dims,
        prior=prior,
        output=output,
        observation_shape=None if input_dim is None else tuple(input_dim),
        device=device,
        batch_size=batch_size,
    )


def from_disent(
    model: Any,
    *,
    name: str,
    code_dims: Sequence[int] | None = None,
    prior: Prior | None = None,
    output: str | None = None,
    device: str | torch.device = "cpu",
    batch_size: int = 1024,
) -> TorchModel:
    """Wrap a disent framework (``BetaVae``, ``DfcVae``, ``Ae``...) or ``AutoEncoder``.

    A framework encodes with ``encode_dists`` (a ``(posterior, prior)`` pair of
    Normals: the codes are the posterior's mean, the log-variance its scale's) or, for
    the deterministic ones, ``encode``; it decodes with ``decode``, which applies the
    activation of its reconstruction loss (``cfg.recon_loss``). A bare
    ``disent.model.AutoEncoder`` encodes with its encoder module (``(mean, logvar)``
    chunks) and decodes without any activation, so ``output`` must be given.

    Parameters
    ----------
    model : disent framework or disent.model.AutoEncoder
    name : str
    code_dims : sequence of int, optional
        Default: every latent dim (``z_size``).
    prior : Prior, optional
        Default: standard normal.
    output : {"probs", "logits", "tanh", "clip"}, optional
        A framework's default: "probs" after a BCE or Bernoulli loss's sigmoid, else
        "clip". Required for an ``AutoEncoder``: "logits" for a model trained with a
        BCE or Bernoulli loss, "clip" for a squared error.
    device, batch_size :
        Passed to :class:`TorchModel`.

    Returns
    -------
    TorchModel
    """
    autoencoder = getattr(model, "_model", model)
    if not all(hasattr(autoencoder, key) for key in ("_encoder", "_decoder", "z_size")):
        raise ParameterError(
            f"from_disent needs a disent framework or AutoEncoder, got {type(model).__name__}"
        )
    if autoencoder is model:
        if output is None:
            raise ParameterError(
                "a disent AutoEncoder decodes without an activation: pass output='logits' "
                "for a model trained with a BCE or Bernoulli loss, 'clip' for a squared error"
            )
        encoder, decoder = autoencoder._encoder, autoencoder._decoder
    else:
        if output is None:
            loss = str(getattr(getattr(model, "cfg", None), "recon_loss", "mse"))
            output = "probs" if loss.startswith(PROBABILITY_LOSSES) else "clip"
        encoder = getattr(model, "encode_dists", None) or model.encode
        decoder = model.decode
    return from_vae(
        encoder,
        decoder,
        latent_dim=autoencoder.z_size,
        name=name,
        code_dims=code_dims,
        prior=prior,
        output=output,
        observation_shape=tuple(autoencoder.x_shape),
        device=device,
        batch_size=batch_size,
    )
