"""Latent traversals: what each code dim of a generator controls."""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

from .._validation import check_int
from ..contract._model import Model


def prior_quantiles(model: Model, columns: int) -> np.ndarray:
    """``columns`` values of one latent dim at evenly spaced quantiles of its prior.

    Quantiles are ``(c + 0.5) / columns``, so the sweep stays inside the prior's bulk
    (a normal prior is not taken out to infinity).

    Returns
    -------
    ndarray of shape (columns,)
    """
    columns = check_int("columns", columns, minimum=2)
    quantiles = (np.arange(columns) + 0.5) / columns
    prior = model.prior
    if prior.type == "uniform":
        return prior.low + (prior.high - prior.low) * quantiles
    return prior.mean + prior.std * norm.ppf(quantiles)


def traversal_grid(model: Model, columns: int = 9, random_state: int = 0) -> np.ndarray:
    """Generated observations sweeping each code dim over its prior.

    Every latent dim stays at one prior draw (from ``random_state``) except the row's
    code dim, which takes :func:`prior_quantiles` across the columns, so each row shows
    what one code controls.

    Returns
    -------
    ndarray of shape (K, columns, *observation_shape)
        K = ``model.n_codes`` rows, in ``model.code_dims`` order.
    """
    values = prior_quantiles(model, columns)
    base = np.asarray(model.sample_prior(1, random_state)[0], dtype=np.float32)
    latents = np.tile(base, (model.n_codes, columns, 1))
    for row, dim in enumerate(model.code_dims):
        latents[row, :, dim] = values
    flat = model.generate(latents.reshape(-1, model.latent_dim).astype(np.float32))
    return np.asarray(flat).reshape(model.n_codes, columns, *model.observation_shape)
