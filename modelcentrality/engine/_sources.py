"""Factor sources: where FactorVAE votes come from.

A factor source draws, for each vote, a group of L observations with one factor held
fixed, plus a scale set of S observations. Drawing is split in two steps so that all
random draws happen up front (cheap, small arrays) and rendering can be streamed in
chunks of any size without changing the result:

- ``draw_groups`` / ``draw_scale_set`` return *draws*, one row per observation, in the
  source's own parametrisation (latent vectors for a model, factor indices for a dataset);
- ``render`` turns a chunk of draws into observations.

:class:`GeneratedFactors` is ModelCentrality's source: a model's own generator with its
code dims as the factors. Ground-truth datasets provide another source (see
``modelcentrality.datasets``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from ..contract import MixedPrior, Model


class FactorSource(ABC):
    """Something that can draw observation groups with one factor held fixed.

    Attributes
    ----------
    n_factors : int
        K, the number of factors votes are taken over.
    observation_shape : tuple of int
    kind : str
        "gan", "vae" or "data"; the paper protocol takes 1000 votes for VAE sources.
    """

    n_factors: int
    observation_shape: tuple[int, ...]
    kind: str = "data"

    @abstractmethod
    def draw_groups(
        self, factors: np.ndarray, group_size: int, rng: np.random.Generator
    ) -> np.ndarray:
        """Draws for every vote's group.

        Parameters
        ----------
        factors : ndarray of shape (M,)
            Factor held fixed in each vote.
        group_size : int
            L.

        Returns
        -------
        ndarray of shape (M * L, P)
            Rows ``v * L`` to ``(v + 1) * L - 1`` belong to vote v.
        """

    @abstractmethod
    def draw_scale_set(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draws for the scale set, shape (n, P)."""

    @abstractmethod
    def render(self, draws: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Observations for a chunk of draws, shape (B, *observation_shape)."""


class GeneratedFactors(FactorSource):
    """A model's own generator as the factor source (ModelCentrality's traversals).

    A vote on factor k fixes latent dim ``code_dims[k]`` at one prior draw for the whole
    group and resamples every other latent dim (codes and noise) from the prior. With a
    :class:`~modelcentrality.contract.MixedPrior` the factor is the whole variable that
    starts at ``code_dims[k]``: a categorical code is held at one class (all its one-hot
    dims) while everything else is resampled.

    Parameters
    ----------
    model : Model
    native : bool
        Render on the model's own device (:meth:`~modelcentrality.contract.Model.
        generate_native`): observations stay there for encoders on the same device.
    """

    def __init__(self, model: Model, native: bool = False) -> None:
        self.model = model
        self.native = native
        self.n_factors = model.n_codes
        self.observation_shape = model.observation_shape
        self.kind = model.kind

    def draw_groups(
        self, factors: np.ndarray, group_size: int, rng: np.random.Generator
    ) -> np.ndarray:
        model = self.model
        n_votes = len(factors)
        if isinstance(model.prior, MixedPrior):
            return _draw_mixed_groups(model, factors, group_size, rng)
        latents = model.prior.sample((n_votes, group_size, model.latent_dim), rng)
        fixed_values = model.prior.sample((n_votes,), rng)
        fixed_dims = np.asarray(model.code_dims)[factors]
        latents[np.arange(n_votes), :, fixed_dims] = fixed_values[:, None]
        return latents.reshape(n_votes * group_size, model.latent_dim)

    def draw_scale_set(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.model.prior.sample((n, self.model.latent_dim), rng)

    def render(self, draws: np.ndarray, rng: np.random.Generator) -> Any:
        if self.native:
            return self.model.generate_native(draws)
        return self.model.generate(draws)


def _draw_mixed_groups(
    model: Model, factors: np.ndarray, group_size: int, rng: np.random.Generator
) -> np.ndarray:
    """Vote groups of a model with a :class:`MixedPrior`, shape (M * L, D).

    Every vote draws its group and one more latent vector; the held variable's dims
    (one dim, or a categorical's one-hot block) are copied from that vector to every
    row of the group, for all votes at once.
    """
    prior = model.prior
    n_votes = len(factors)
    latents = prior.sample((n_votes, group_size, model.latent_dim), rng)
    fixed = prior.sample((n_votes, model.latent_dim), rng)
    variables = prior.dim_variables()
    held = variables[None, :] == variables[np.asarray(model.code_dims)][factors][:, None]
    np.copyto(latents, fixed[:, None, :], where=held[:, None, :])
    return latents.reshape(n_votes * group_size, model.latent_dim)
