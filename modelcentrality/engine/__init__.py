"""The FactorVAE vote engine, shared by ModelCentrality and the supervised metric.

- factor sources (:class:`FactorSource`, :class:`GeneratedFactors`): where votes come from;
- protocols and the vote table (:class:`Protocol`, :func:`score_votes`);
- streamed scoring of many encoders on one source (:func:`factorvae_votes`);
- centrality of a (possibly partial) cross matrix and its bootstrap.
"""

from ._centrality import centrality, centrality_scores, cross_matrix, pair_mask
from ._scoring import (
    CHUNK_OBSERVATIONS,
    VOTE_BLOCK,
    factorvae_score,
    factorvae_votes,
    source_observation_count,
)
from ._similarities import (
    FACTORVAE,
    SIMILARITIES,
    Similarity,
    get_similarity,
    register_similarity,
)
from ._sources import FactorSource, GeneratedFactors
from ._uncertainty import CentralityUncertainty, bootstrap_cross, centrality_uncertainty
from ._votes import (
    DISENTANGLEMENT_LIB,
    PAPER,
    PROTOCOLS,
    Protocol,
    VoteResult,
    get_protocol,
    score_votes,
)

__all__ = [
    "CHUNK_OBSERVATIONS",
    "DISENTANGLEMENT_LIB",
    "FACTORVAE",
    "PAPER",
    "PROTOCOLS",
    "SIMILARITIES",
    "VOTE_BLOCK",
    "CentralityUncertainty",
    "FactorSource",
    "GeneratedFactors",
    "Protocol",
    "Similarity",
    "VoteResult",
    "bootstrap_cross",
    "centrality",
    "centrality_scores",
    "centrality_uncertainty",
    "cross_matrix",
    "factorvae_score",
    "factorvae_votes",
    "get_protocol",
    "get_similarity",
    "pair_mask",
    "register_similarity",
    "score_votes",
    "source_observation_count",
]
