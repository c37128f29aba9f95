"""Cross-cell similarities: what one (source, encoder) cell of the cross matrix measures.

A similarity computes the cells ``cross[source, encoder]`` for one source model and a list
of encoder models, rendering the source's data once for all of them, and says how many
encoder passes one cell costs (for progress and budgets). Its cells are of one
:class:`~modelcentrality.engine.Cell` type (a value and a stored form), so the
centrality, the pair cache and the full search work on any similarity; bootstrap
intervals and the precision and adaptive searches need cells that can be resampled
(:class:`~modelcentrality.engine.ResamplableCell`), and refuse other similarities.

A new similarity is one module with a :class:`Similarity` registered by
:func:`register_similarity` (or an entry point in ``modelcentrality.similarities``);
``rank(similarity=NAME)`` and ``rank --similarity NAME`` select it. The name travels to
the workers in the protocol (``Protocol.similarity``), whose vote settings are
FactorVAE's: another similarity reads those it needs (the seed always keys its draws),
and its name is part of every cache key.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .._registry import Registry
from ..contract import Model
from ._cells import Cell, can_resample
from ._scoring import factorvae_votes, source_observation_count
from ._sources import GeneratedFactors
from ._votes import Protocol, VoteResult

CellFunction = Callable[
    [Model, Sequence[Model], Protocol, np.random.Generator, Callable[[int], None] | None],
    list[Cell],
]


@dataclass(frozen=True)
class Similarity:
    """A registered cross-cell measure.

    Attributes
    ----------
    name : str
    cells : callable
        ``cells(source, encoders, protocol, rng, progress) -> list of cell_type``, one
        per encoder; ``rng`` is keyed by the seed and the source's name.
    cost : callable
        ``cost(source, protocol) -> int``: encoder passes of one cell.
    cell_type : type
        The :class:`~modelcentrality.engine.Cell` subclass of its cells (default
        :class:`~modelcentrality.engine.VoteResult`): the pair cache reads entries back
        with its ``from_arrays``, and whether it is a ``ResamplableCell`` decides
        :attr:`can_resample`.
    """

    name: str
    cells: CellFunction
    cost: Callable[[Model, Protocol], int]
    cell_type: type[Cell] = VoteResult

    @property
    def can_resample(self) -> bool:
        """Whether its cells can be resampled (bootstrap, precision and adaptive search)."""
        return can_resample(self.cell_type)


def _factorvae_cells(source, encoders, protocol, rng, progress):
    # When the source and every encoder run on one device, rendered chunks stay there.
    devices = {model.native_device() for model in (source, *encoders)}
    native = len(devices) == 1 and None not in devices
    return factorvae_votes(
        GeneratedFactors(source, native=native),
        [model.encode_native if native else model.encode for model in encoders],
        protocol,
        rng,
        progress,
    )


def _factorvae_cost(source: Model, protocol: Protocol) -> int:
    return source_observation_count(GeneratedFactors(source), protocol)


#: ModelCentrality's similarity: the FactorVAE score of the encoder on the source's own
#: latent traversals.
FACTORVAE = Similarity("factorvae", _factorvae_cells, _factorvae_cost)

#: Registered similarities, by name.
SIMILARITIES = Registry(
    "similarity",
    "similarities",
    {FACTORVAE.name: "modelcentrality.engine._similarities:FACTORVAE"},
    default_name=lambda similarity: similarity.name,
)


def register_similarity(similarity: Similarity, *, name: str | None = None) -> Similarity:
    """Register ``similarity`` under its name (or ``name``) and return it.

    Worker processes (the process backend, Ray) import it by reference: assign it to a
    module-level name of an importable module, e.g.
    ``MINE = register_similarity(Similarity("mine", cells, cost))``.
    """
    return SIMILARITIES.register(similarity, name=name)


def get_similarity(name: str) -> Similarity:
    """A registered similarity, or a ParameterError listing the known ones."""
    return SIMILARITIES.lookup(name)
