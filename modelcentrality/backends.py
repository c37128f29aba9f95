"""Where ModelCentrality's cross-evaluation runs.

The unit of work is a *source task*: one model's generated sets, encoded by a list of
encoders (one row of the cross matrix, or the part of it that is not cached yet).
Results are reported pair by pair through a callback as soon as a task finishes, so
the caller can checkpoint them. Every backend gives identical results for a seed,
because each source's draws depend only on the seed and the source model's name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

from .model import Model
from .scoring import factorvae_votes
from .seeding import keyed_rng
from .traversal import GeneratedFactors
from .votes import Protocol, VoteResult

#: (source index, encoder indices) into the model list.
SourceTask = tuple[int, list[int]]
PairCallback = Callable[[int, int, VoteResult], None]


def evaluate_source(
    source: Model,
    encoders: Sequence[Model],
    protocol: Protocol,
    seed: int,
    progress: Callable[[int], None] | None = None,
) -> list[VoteResult]:
    """FactorVAE results of ``encoders`` on ``source``'s own traversals.

    Returns
    -------
    list of VoteResult, one per encoder: the cells ``cross[source, encoder]``.
    """
    return factorvae_votes(
        GeneratedFactors(source),
        [model.encode for model in encoders],
        protocol,
        keyed_rng(seed, source.name),
        progress,
    )


class Backend(ABC):
    """Runs source tasks and reports each finished pair."""

    @abstractmethod
    def run(
        self,
        models: Sequence[Model],
        tasks: Sequence[SourceTask],
        protocol: Protocol,
        seed: int,
        on_pair: PairCallback,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Evaluate every task; call ``on_pair(i, j, result)`` for each finished pair."""


class LocalBackend(Backend):
    """Runs tasks one after another in this process.

    Each encoder call already uses all cores through ONNX Runtime's intra-op threads
    (``--threads``), so running tasks side by side would only compete for them.
    """

    def run(self, models, tasks, protocol, seed, on_pair, progress=None) -> None:
        for i, encoder_indices in tasks:
            encoders = [models[j] for j in encoder_indices]
            results = evaluate_source(models[i], encoders, protocol, seed, progress)
            for j, result in zip(encoder_indices, results):
                on_pair(i, j, result)
