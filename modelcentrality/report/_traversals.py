"""Latent traversals: what each code of a generator controls."""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

from .._validation import check_int
from ..contract import Categorical, Model, Prior

#: Most columns a traversal widens to so that every class of a categorical code shows;
#: a code with more classes shows evenly spaced ones.
MAX_CLASS_COLUMNS = 16


def prior_quantiles(model: Model, columns: int, code: int = 0) -> np.ndarray:
    """``columns`` values of one code at evenly spaced quantiles of its prior.

    Quantiles are ``(c + 0.5) / columns``, so the sweep stays inside the prior's bulk
    (a normal prior is not taken out to infinity). A categorical code's quantile is its
    class number ``floor(quantile * n_classes)``: with at least ``n_classes`` columns
    every class appears, in order, each over an equal share of the columns.

    Parameters
    ----------
    model : Model
    columns : int
    code : int
        Which code (index into ``model.code_dims``); with a single :class:`Prior` every
        code has the same quantiles.

    Returns
    -------
    ndarray of shape (columns,)
        Latent values, or class numbers for a categorical code.
    """
    columns = check_int("columns", columns, minimum=2)
    code = check_int("code", code, minimum=0, maximum=model.n_codes - 1)
    quantiles = (np.arange(columns) + 0.5) / columns
    distribution = model.prior.variable(model.code_dims[code])[0]
    if isinstance(distribution, Categorical):
        return np.floor(quantiles * distribution.n_classes)
    return _continuous_quantiles(distribution, quantiles)


def _continuous_quantiles(prior: Prior, quantiles: np.ndarray) -> np.ndarray:
    if prior.type == "uniform":
        return prior.low + (prior.high - prior.low) * quantiles
    return prior.mean + prior.std * norm.ppf(quantiles)


def traversal_columns(model: Model, columns: int) -> int:
    """Columns of :func:`traversal_grid`: ``columns``, widened to the largest class count
    of a categorical code (at most :data:`MAX_CLASS_COLUMNS`) so that every class of a
    code with up to that many classes is shown."""
    columns = check_int("columns", columns, minimum=2)
    classes = [
        min(distribution.n_classes, MAX_CLASS_COLUMNS)
        for distribution in (model.prior.variable(dim)[0] for dim in model.code_dims)
        if isinstance(distribution, Categorical)
    ]
    return max([columns, *classes])


def traversal_grid(model: Model, columns: int = 9, random_state: int = 0) -> np.ndarray:
    """Generated observations sweeping each code over its prior.

    Every latent dim stays at one prior draw (from ``random_state``) except the row's
    code, which takes :func:`prior_quantiles` across the columns, so each row shows
    what one code controls. A categorical code's row sweeps its classes (its one-hot
    block or index dim); see :func:`traversal_columns` for the number of columns.

    Returns
    -------
    ndarray of shape (K, C, *observation_shape)
        K = ``model.n_codes`` rows, in ``model.code_dims`` order;
        C = :func:`traversal_columns` columns.
    """
    width = traversal_columns(model, columns)
    base = np.asarray(model.sample_prior(1, random_state)[0], dtype=np.float32)
    latents = np.tile(base, (model.n_codes, width, 1))
    for row, dim in enumerate(model.code_dims):
        values = prior_quantiles(model, width, row)
        distribution, start, span = model.prior.variable(dim)
        if isinstance(distribution, Categorical):
            latents[row, :, start : start + span] = distribution.encode(values.astype(np.int64))
        else:
            latents[row, :, dim] = values
    flat = model.generate(latents.reshape(-1, model.latent_dim).astype(np.float32))
    return np.asarray(flat).reshape(model.n_codes, width, *model.observation_shape)
