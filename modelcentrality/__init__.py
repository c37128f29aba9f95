"""ModelCentrality: unsupervised model selection of disentangled generative models.

Main entry points:

- :func:`load_zoo` / :func:`load_model`: read models in the zoo folder format (ONNX).
- :func:`rank`: rank models by ModelCentrality, returning a :class:`RankResult`.
- :func:`factorvae_score`: FactorVAE score of one encoder on one factor source.
- :class:`Model`, :class:`Prior` (:class:`MixedPrior`, :class:`Categorical`): the
  model contract; PyTorch models are wrapped by
  ``modelcentrality.adapters.pytorch.TorchModel``.
- ``register_similarity``, ``register_search``, ``register_backend``,
  ``register_adapter``: plugins, which also reach worker processes (docs/plugins.md).

Subpackages, by role (see docs/architecture.md): ``contract`` (the model contract),
``engine`` (votes, streaming reductions, factor sources, centrality and its bootstrap),
``selection`` (pair evaluator, search strategies, rank), ``execution`` (backends,
transport, cache), ``io`` (zoo folders, float16 weights), ``baselines`` (UDR),
``metrics`` and ``datasets`` (supervised evaluation), ``testing`` (synthetic zoos and
conformance suites), ``cli``.
"""

from ._version import __version__ as __version__
from .contract import Categorical, MixedPrior, Model, Prior
from .engine import (
    DISENTANGLEMENT_LIB,
    PAPER,
    FactorSource,
    GeneratedFactors,
    Protocol,
    centrality_scores,
    factorvae_score,
    factorvae_votes,
    get_protocol,
    register_similarity,
)
from .errors import ModelCentralityError, ModelError, ParameterError, ZooError
from .execution import register_adapter, register_backend
from .io import Zoo, load_model, load_zoo
from .selection import (
    AdaptiveSearch,
    FullSearch,
    PairEvaluator,
    PrecisionSearch,
    RankResult,
    SearchStrategy,
    rank,
    register_search,
)

__all__ = [
    "AdaptiveSearch",
    "Categorical",
    "DISENTANGLEMENT_LIB",
    "PAPER",
    "FactorSource",
    "FullSearch",
    "GeneratedFactors",
    "MixedPrior",
    "Model",
    "ModelCentralityError",
    "ModelError",
    "PairEvaluator",
    "ParameterError",
    "PrecisionSearch",
    "Prior",
    "Protocol",
    "RankResult",
    "SearchStrategy",
    "Zoo",
    "ZooError",
    "centrality_scores",
    "factorvae_score",
    "factorvae_votes",
    "get_protocol",
    "load_model",
    "load_zoo",
    "rank",
    "register_adapter",
    "register_backend",
    "register_search",
    "register_similarity",
]
