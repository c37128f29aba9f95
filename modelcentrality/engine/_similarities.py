"""Cross-cell similarities: what one (source, encoder) cell of the cross matrix measures.

A similarity computes the cells ``cross[source, encoder]`` for one source model and a list
of encoder models, rendering the source's data once for all of them, and says how many
encoder passes one cell costs (for progress and budgets). Its cells are
:class:`~modelcentrality.engine.VoteResult` objects, so the centrality, the vote
bootstrap, the pair cache and every search work on any similarity unchanged.

A new similarity is one module with a :class:`Similarity` registered by
:func:`register_similarity` (or an entry point in ``modelcentrality.similarities``);
``Protocol(similarity=NAME)`` selects it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .._registry import Registry
from ..contract._model import Model
from ._scoring import factorvae_votes, source_observation_count
from ._sources import GeneratedFactors
from ._votes import Protocol, VoteResult

CellFunction = Callable[
    [Model, Sequence[Model], Protocol, np.random.Generator, Callable[[int], None] | None],
    list[VoteResult],
]


@dataclass(frozen=True)
class Similarity:
    """A registered cross-cell measure.

    Attributes
    ----------
    name : str
    cells : callable
        ``cells(source, encoders, protocol, rng, progress) -> list of VoteResult``, one
        per encoder; ``rng`` is keyed by the seed and the source's name.
    cost : callable
        ``cost(source, protocol) -> int``: encoder passes of one cell.
    """

    name: str
    cells: CellFunction
    cost: Callable[[Model, Protocol], int]


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
