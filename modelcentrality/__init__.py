"""ModelCentrality: unsupervised model selection of disentangled generative models.

Main entry points:

- :func:`load_zoo` / :func:`load_model`: read models in the zoo folder format (ONNX).
- :func:`rank`: rank models by ModelCentrality, returning a :class:`RankResult`.
- :func:`factorvae_score`: FactorVAE score of one encoder on one factor source.
- :class:`Model`, :class:`Prior`: the model contract; PyTorch models are wrapped by
  ``modelcentrality.adapters.pytorch.TorchModel``.
"""

__version__ = "0.1.0"

from .centrality import RankResult, centrality_scores, rank  # noqa: E402
from .errors import ModelCentralityError, ModelError, ZooError  # noqa: E402
from .model import Model, Prior  # noqa: E402
from .scoring import factorvae_score, factorvae_votes  # noqa: E402
from .traversal import FactorSource, GeneratedFactors  # noqa: E402
from .votes import DISENTANGLEMENT_LIB, PAPER, Protocol, get_protocol  # noqa: E402
from .zoo import Zoo, load_model, load_zoo  # noqa: E402

__all__ = [
    "DISENTANGLEMENT_LIB",
    "PAPER",
    "FactorSource",
    "GeneratedFactors",
    "Model",
    "ModelCentralityError",
    "ModelError",
    "Prior",
    "Protocol",
    "RankResult",
    "Zoo",
    "ZooError",
    "centrality_scores",
    "factorvae_score",
    "factorvae_votes",
    "get_protocol",
    "load_model",
    "load_zoo",
    "rank",
]
