"""Model selection: the pair evaluator, search strategies, and :func:`rank`.

Layers: a :class:`PairEvaluator` computes any set of cross cells (through the cache and
a backend); a :class:`SearchStrategy` decides which cells to ask for and when to stop;
:func:`rank` screens the models, runs a strategy and returns a :class:`RankResult`.
"""

from ._adaptive import AdaptiveSearch
from ._evaluator import (
    MIN_SCALE_SAMPLES,
    SCALE_SAMPLES_PER_VOTE,
    ModelsFailed,
    PairEvaluator,
    PairRequests,
)
from ._options import options_from_text
from ._rank import rank
from ._result import RankResult
from ._search import (
    FullSearch,
    PrecisionSearch,
    SearchOutcome,
    SearchStrategy,
    round_up_to_block,
)
from ._searches import SEARCHES, make_search, register_search

__all__ = [
    "MIN_SCALE_SAMPLES",
    "AdaptiveSearch",
    "SCALE_SAMPLES_PER_VOTE",
    "SEARCHES",
    "FullSearch",
    "ModelsFailed",
    "PairEvaluator",
    "PairRequests",
    "PrecisionSearch",
    "RankResult",
    "SearchOutcome",
    "SearchStrategy",
    "make_search",
    "options_from_text",
    "rank",
    "register_search",
    "round_up_to_block",
]
