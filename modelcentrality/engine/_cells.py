"""The cross-cell contract: what the centrality, the bootstrap, the pair cache and the
searches know about one cell ``cross[source, encoder]``.

A :class:`Cell` has a value (the cross-matrix entry) and a stored form (named arrays,
so the pair cache can keep it). A :class:`ResamplableCell` can also be resampled: the
bootstrap intervals, the precision search and the adaptive search need that, and
refuse a similarity whose cells cannot (see
:meth:`~modelcentrality.selection.PairEvaluator.check_resampling`). The FactorVAE
cell, :class:`~modelcentrality.engine.VoteResult`, is resamplable through its votes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence

import numpy as np


class Cell(ABC):
    """One cross cell: the value of one encoder on one source.

    Subclasses must pickle (cells travel back from worker processes).
    """

    @property
    @abstractmethod
    def value(self) -> float:
        """The cross-matrix entry."""

    @abstractmethod
    def to_arrays(self) -> dict[str, np.ndarray] | None:
        """The cell as named arrays (its stored form), or None when it cannot be stored.

        The order of the names is part of the stored form: the cache's checksum covers
        the arrays in this order.
        """

    @classmethod
    @abstractmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> Cell:
        """The cell back from :meth:`to_arrays`; raises on arrays it cannot use."""


class ResamplableCell(Cell):
    """A cell with a bootstrap: replicates of its value from its own statistics.

    The cells of one source come from one draw of that source (every encoder sees the
    same observations), so they are resampled together, with the same weights.
    """

    @classmethod
    @abstractmethod
    def resample_source(
        cls,
        cells: Sequence[Cell],
        n_boot: int,
        rng: np.random.Generator,
        keys: tuple | None,
    ) -> np.ndarray:
        """Bootstrap replicates of every cell of one source.

        Parameters
        ----------
        cells : sequence of cells of this type
            All cells of the source that the bootstrap covers, by encoder.
        n_boot : int
        rng : Generator
            Draws of an unkeyed bootstrap (shared by the sources, in order).
        keys : tuple or None
            When given, draw from :func:`~modelcentrality._seeding.keyed_rng` with these
            keys (the seed and the source's name) and not from ``rng``, so the
            replicates do not depend on the zoo's order or size.

        Returns
        -------
        ndarray of shape (2, n_boot, len(cells))
            ``[0]``: replicates of each cell's value. ``[1]``: replicates of a held-out
            value that errs low where the value errs high at a finite sample (the lower
            end of the interval); a value without such a bias gives ``[0]`` again.
        """


def can_resample(cell_type: type) -> bool:
    """Whether cells of this type can be resampled."""
    return isinstance(cell_type, type) and issubclass(cell_type, ResamplableCell)
