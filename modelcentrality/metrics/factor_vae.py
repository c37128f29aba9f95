"""The FactorVAE metric (Kim & Mnih 2018) on a ground-truth dataset.

It runs the same vote engine as ModelCentrality (:func:`modelcentrality.engine.factorvae_votes`)
with the dataset's true factors as the factor source (Kim & Mnih 2018), under either
protocol:

- ``"disentanglement_lib"`` (default): 10,000 training votes and 5,000 evaluation votes
  of L = 64 observations, factor drawn uniformly, scale from 10,000 observations, dims with
  scale std < 0.05 pruned.
- ``"paper"`` (InfoGAN-CR code): 500 votes (the paper's count for a data source) of
  L = 100, round-robin factors, scale from 73,728 observations, no pruning, classifier
  scored on its own votes.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Any

import numpy as np

from ..datasets.base import DatasetFactors, GroundTruthDataset
from ..engine import Protocol, factorvae_votes, get_protocol, table_score
from ..errors import ParameterError
from .utils import RepresentationFunction, check_count, encode, metric_docstring

SAMPLE_KEYS = ("votes", "eval_votes", "scale_samples")


def resolve_protocol(
    protocol: str | Protocol = "disentanglement_lib",
    votes: int | None = None,
    eval_votes: int | None = None,
    group_size: int | None = None,
    scale_samples: int | None = None,
) -> Protocol:
    """The protocol with any given counts replaced (None keeps the protocol's value)."""
    resolved = get_protocol(protocol).with_overrides(
        votes=None if votes is None else check_count("votes", votes),
        group_size=None if group_size is None else check_count("group_size", group_size, 2),
        scale_samples=(
            None if scale_samples is None else check_count("scale_samples", scale_samples, 2)
        ),
    )
    if eval_votes is not None:
        resolved = replace(resolved, eval_votes=check_count("eval_votes", eval_votes, 0))
    return resolved


def default_settings(protocol: str | Protocol = "disentanglement_lib", **overrides: Any) -> dict:
    """Every setting of :func:`compute_factor_vae`, explicit, for reports and scaling."""
    unknown = sorted(set(overrides) - set(SAMPLE_KEYS) - {"group_size"})
    if unknown:
        raise ParameterError(
            f"unknown settings {unknown}; known: {sorted(['protocol', 'group_size', *SAMPLE_KEYS])}"
        )
    resolved = resolve_protocol(protocol, **overrides)
    return {
        "protocol": resolved.name,
        "votes": resolved.train_votes_for(DatasetFactors.kind),
        "eval_votes": resolved.eval_votes,
        "group_size": resolved.group_size,
        "scale_samples": resolved.scale_samples,
    }


@metric_docstring
def compute_factor_vae(
    representation_function: RepresentationFunction,
    dataset: GroundTruthDataset,
    random_state: Any = 0,
    protocol: str | Protocol = "disentanglement_lib",
    votes: int | None = None,
    eval_votes: int | None = None,
    group_size: int | None = None,
    scale_samples: int | None = None,
) -> dict[str, float]:
    """FactorVAE disentanglement score of a representation on a dataset.

    Parameters
    ----------
    {common parameters}
    protocol : {"disentanglement_lib", "paper"} or Protocol
    votes, eval_votes, group_size, scale_samples : int, optional
        Override the protocol's training votes M, evaluation votes, group size L and
        scale-set size S.

    Returns
    -------
    dict
        ``score``: the protocol's score (accuracy on the evaluation votes, or on the
        training votes when the protocol has none); ``revised_score``: the paper's revised
        score of the same table; ``train_accuracy`` and ``eval_accuracy`` (as in
        disentanglement_lib; equal under the paper protocol); ``n_active_dims``: dims
        allowed to vote (non-constant, and not pruned).
    """
    resolved = resolve_protocol(protocol, votes, eval_votes, group_size, scale_samples)
    checked = partial(encode, representation_function)
    result = factorvae_votes(DatasetFactors(dataset), [checked], resolved, random_state)[0]
    active = result.scale_std > 0
    if resolved.prune_std is not None:
        active &= result.scale_std >= resolved.prune_std
    return {
        "score": result.score,
        "revised_score": result.revised_score,
        "train_accuracy": table_score(result.train_table),
        "eval_accuracy": result.score,
        "n_active_dims": int(np.count_nonzero(active)),
    }
