"""Ground-truth datasets: the interface users know from disentanglement_lib.

A dataset has discrete factors of variation; ``factors`` arrays hold class indices,
shape (n, n_factors), int64. Observations are channels-first float32 in [0, 1],
shape (n, *observation_shape), like every model's generator output here.

disentanglement_lib's names work too: ``num_factors`` (= ``n_factors``),
``factors_num_values`` (= ``list(factor_sizes)``), and a ``numpy.random.RandomState``
as ``random_state``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from .._seeding import check_random_state
from ..engine import FactorSource
from ..errors import ModelCentralityError


class DatasetError(ModelCentralityError, ValueError):
    """A dataset file, spec or argument is unusable; the message names it and the problem."""


def _dataset_rng(random_state: Any) -> np.random.Generator:
    """:func:`check_random_state`, also accepting disentanglement_lib's ``RandomState``
    (one draw from it seeds the Generator)."""
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**63 - 1, dtype=np.int64))
    return check_random_state(random_state)


class GroundTruthDataset(ABC):
    """Base class of datasets with known factors of variation.

    Subclasses set ``factor_sizes``, ``factor_names`` and ``observation_shape`` and
    implement :meth:`sample_observations_from_factors`.
    """

    name: str
    factor_names: tuple[str, ...]
    factor_sizes: tuple[int, ...]
    observation_shape: tuple[int, ...]

    @property
    def n_factors(self) -> int:
        return len(self.factor_sizes)

    @property
    def num_factors(self) -> int:
        """disentanglement_lib's name for :attr:`n_factors`."""
        return self.n_factors

    @property
    def factors_num_values(self) -> list[int]:
        """disentanglement_lib's name for :attr:`factor_sizes`, as a list."""
        return list(self.factor_sizes)

    @property
    def ground_truth_version(self) -> str:
        """Dataset name and the source of its images, recorded with every ground-truth
        score so that scores on different images are never mixed."""
        return self.name

    def check_factors(self, factors: Any) -> np.ndarray:
        """Validate factor class indices; returns them as int64, shape (n, n_factors).

        Raises
        ------
        DatasetError
            If ``factors`` is not a 2-D integer array with one column per factor, or a
            value lies outside ``[0, factor_sizes[k])``.
        """
        array = np.asarray(factors)
        if array.ndim != 2 or array.shape[1] != self.n_factors:
            raise DatasetError(
                f"{self.name}: factors must have shape (n, {self.n_factors}), got {array.shape}"
            )
        if array.dtype.kind not in "iu":
            raise DatasetError(
                f"{self.name}: factors must be integer class indices, got dtype {array.dtype}"
            )
        sizes = np.asarray(self.factor_sizes)
        bad = (array < 0) | (array >= sizes)
        if bad.any():
            row, column = np.argwhere(bad)[0]
            raise DatasetError(
                f"{self.name}: factor '{self.factor_names[column]}' must lie in "
                f"[0, {sizes[column]}), got {array[row, column]} (row {row})"
            )
        return array.astype(np.int64, copy=False)

    def sample_factors(self, n: int, random_state: Any = None) -> np.ndarray:
        """Factor indices drawn uniformly and independently, shape (n, n_factors)."""
        rng = _dataset_rng(random_state)
        return np.stack(
            [rng.integers(0, size, size=n, dtype=np.int64) for size in self.factor_sizes],
            axis=1,
        ).reshape(n, self.n_factors)

    @abstractmethod
    def sample_observations_from_factors(
        self, factors: np.ndarray, random_state: Any = None
    ) -> np.ndarray:
        """Observations for given factor indices, shape (n, *observation_shape), float32."""

    def sample_observations(self, n: int, random_state: Any = None) -> np.ndarray:
        rng = _dataset_rng(random_state)
        return self.sample_observations_from_factors(self.sample_factors(n, rng), rng)

    def sample(self, n: int, random_state: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """(factors (n, n_factors), observations (n, *observation_shape))."""
        rng = _dataset_rng(random_state)
        factors = self.sample_factors(n, rng)
        return factors, self.sample_observations_from_factors(factors, rng)


class DatasetFactors(FactorSource):
    """A ground-truth dataset as a FactorVAE factor source (the supervised metric).

    A vote on factor k draws L factor vectors uniformly and sets factor k of all of
    them to one uniformly drawn value. Draws are factor indices.
    """

    kind = "data"

    def __init__(self, dataset: GroundTruthDataset) -> None:
        self.dataset = dataset
        self.n_factors = dataset.n_factors
        self.observation_shape = tuple(dataset.observation_shape)

    def draw_groups(
        self, factors: np.ndarray, group_size: int, rng: np.random.Generator
    ) -> np.ndarray:
        n_votes = len(factors)
        draws = self.dataset.sample_factors(n_votes * group_size, rng).reshape(
            n_votes, group_size, self.n_factors
        )
        sizes = np.asarray(self.dataset.factor_sizes)[factors]
        fixed = rng.integers(0, sizes)
        draws[np.arange(n_votes), :, factors] = fixed[:, None]
        return draws.reshape(n_votes * group_size, self.n_factors)

    def draw_scale_set(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.dataset.sample_factors(n, rng)

    def render(self, draws: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self.dataset.sample_observations_from_factors(draws, rng)
