"""The FactorVAE vote engine, shared by ModelCentrality and the supervised metric.

- factor sources (:class:`FactorSource`, :class:`GeneratedFactors`): where votes come from;
- protocols and the vote table (:class:`Protocol`, :func:`score_votes`);
- streamed scoring of many encoders on one source (:func:`factorvae_votes`);
- the cell contract (:class:`Cell`, :class:`ResamplableCell`) and the similarities;
- centrality of a (possibly partial) cross matrix and its bootstrap.
"""

from ._cells import Cell, ResamplableCell
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
from ._streaming import to_host
from ._uncertainty import CentralityUncertainty, bootstrap_cross, centrality_uncertainty
from ._votes import (
    DISENTANGLEMENT_LIB,
    MAX_GROUP_SIZE,
    MAX_SCALE_SAMPLES,
    MAX_VOTES,
    PAPER,
    PROTOCOLS,
    Protocol,
    VoteData,
    VoteResult,
    get_protocol,
    score_votes,
    table_score,
)

__all__ = [
    "CHUNK_OBSERVATIONS",
    "DISENTANGLEMENT_LIB",
    "FACTORVAE",
    "MAX_GROUP_SIZE",
    "MAX_SCALE_SAMPLES",
    "MAX_VOTES",
    "PAPER",
    "PROTOCOLS",
    "SIMILARITIES",
    "VOTE_BLOCK",
    "Cell",
    "CentralityUncertainty",
    "FactorSource",
    "GeneratedFactors",
    "Protocol",
    "ResamplableCell",
    "Similarity",
    "VoteData",
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
    "table_score",
    "to_host",
]
