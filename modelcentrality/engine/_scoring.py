"""Streamed FactorVAE scoring of many encoders on one factor source.

The source's vote groups and scale set are drawn once, rendered chunk by chunk, and every
chunk is encoded by every encoder before the next chunk is rendered. Memory holds one
chunk of observations plus, per encoder, the per-vote group variances (M x E floats):
it does not grow with the number of observations or of encoders.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from .._seeding import check_random_state
from ._sources import FactorSource
from ._streaming import BlockMoments, ScaleMoments, group_variances
from ._votes import (
    VOTE_BLOCK,
    Protocol,
    VoteData,
    VoteResult,
    get_protocol,
    score_votes,
    vote_factors,
)

#: Maps observations (B, *observation_shape) to codes (B, E): numpy arrays, or device
#: tensors when the source renders on a device (see :mod:`._streaming`).
Encoder = Callable[[Any], Any]

#: Observations rendered and encoded at once. Fixed, so results never depend on it.
CHUNK_OBSERVATIONS = 4096
#: Scale-set observations per block of moments kept for the bootstrap (divides
#: CHUNK_OBSERVATIONS, so most chunks split into whole blocks).
SCALE_BLOCK = 128


def _draw_votes(
    source: FactorSource, protocol: Protocol, n_votes: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Factors (n_votes,) and group draws (n_votes * L, P), drawn in fixed-size blocks.

    Block b always comes from its own generator and is drawn whole, so the first m votes
    of a run with more votes are exactly the votes of a run with m votes: a budget that
    grows reuses (and reproduces) what a smaller one drew.
    """
    n_blocks = -(-n_votes // VOTE_BLOCK)
    factors, draws = [], []
    for block in range(n_blocks):
        block_rng = np.random.default_rng([seed, block])
        block_factors = vote_factors(
            VOTE_BLOCK,
            source.n_factors,
            protocol.factor_order,
            block_rng,
            offset=block * VOTE_BLOCK,
        )
        factors.append(block_factors)
        draws.append(source.draw_groups(block_factors, protocol.group_size, block_rng))
    if not n_blocks:
        return np.zeros(0, dtype=np.int64), source.draw_groups(
            np.zeros(0, dtype=np.int64), protocol.group_size, np.random.default_rng(seed)
        )
    return (
        np.concatenate(factors)[:n_votes],
        np.concatenate(draws)[: n_votes * protocol.group_size],
    )


def source_observation_count(source: FactorSource, protocol: Protocol) -> int:
    """Observations one source renders under a protocol: votes x L + S (S = 0 when the
    scale comes from the groups)."""
    n_votes = protocol.train_votes_for(source.kind) + protocol.eval_votes
    scale = 0 if protocol.scale_from_groups else protocol.scale_samples
    return n_votes * protocol.group_size + scale


def factorvae_votes(
    source: FactorSource,
    encoders: Sequence[Encoder],
    protocol: str | Protocol = "paper",
    random_state: Any = 0,
    progress: Callable[[int], None] | None = None,
) -> list[VoteResult]:
    """FactorVAE results of several encoders on one factor source's shared vote groups.

    Parameters
    ----------
    source : FactorSource
        Draws the vote groups and the scale set (once, shared by all encoders).
    encoders : sequence of callables
        Each maps observations (B, *observation_shape) to codes (B, E_j). A
        :class:`~modelcentrality.contract.Model`'s ``encode`` method is one.
    protocol : str or Protocol
        "paper" (default) or "disentanglement_lib", or a customised Protocol.
    random_state : int, Generator or None
    progress : callable, optional
        Called with the number of observations just encoded by one encoder.

    Returns
    -------
    list of VoteResult, one per encoder
    """
    protocol = get_protocol(protocol)
    rng = check_random_state(random_state)
    n_train = protocol.train_votes_for(source.kind)
    n_votes = n_train + protocol.eval_votes
    group_size = protocol.group_size
    scale_seed, train_seed, eval_seed, render_seed = rng.integers(2**63, size=4)
    train_factors, train_draws = _draw_votes(source, protocol, n_train, train_seed)
    eval_factors, eval_draws = _draw_votes(source, protocol, protocol.eval_votes, eval_seed)
    factors = np.concatenate([train_factors, eval_factors])
    group_draws = np.concatenate([train_draws, eval_draws])
    scale_count = 0 if protocol.scale_from_groups else protocol.scale_samples
    scale_draws = source.draw_scale_set(scale_count, np.random.default_rng(scale_seed))
    render_rng = np.random.default_rng(render_seed)

    moments = [ScaleMoments() for _ in encoders]
    blocks = [BlockMoments(SCALE_BLOCK) for _ in encoders]
    for start in range(0, len(scale_draws), CHUNK_OBSERVATIONS):
        observations = source.render(scale_draws[start : start + CHUNK_OBSERVATIONS], render_rng)
        for encoder, moment, block in zip(encoders, moments, blocks):
            codes = encoder(observations)
            moment.update(codes)
            block.update(codes)
            if progress is not None:
                progress(len(observations))

    group_var: list[np.ndarray | None] = [None] * len(encoders)
    groups_per_chunk = max(1, CHUNK_OBSERVATIONS // group_size)
    for first in range(0, n_votes, groups_per_chunk):
        last = min(n_votes, first + groups_per_chunk)
        observations = source.render(
            group_draws[first * group_size : last * group_size], render_rng
        )
        for j, encoder in enumerate(encoders):
            codes = encoder(observations)
            if protocol.scale_from_groups:
                moments[j].update(codes)
                blocks[j].update(codes)
            variances = group_variances(codes, group_size)
            if group_var[j] is None:
                group_var[j] = np.empty((n_votes, variances.shape[1]))
            group_var[j][first:last] = variances
            if progress is not None:
                progress(len(observations))

    results = []
    for j in range(len(encoders)):
        result = score_votes(
            group_var[j], moments[j].std(), factors, source.n_factors, n_train, protocol.prune_std
        )
        counts, means, m2 = blocks[j].arrays(group_var[j].shape[1])
        data = VoteData(group_var[j], factors, n_train, counts, means, m2, protocol.prune_std)
        results.append(replace(result, data=data))
    return results


def factorvae_score(
    encoder: Encoder,
    source: FactorSource,
    protocol: str | Protocol = "paper",
    random_state: Any = 0,
) -> VoteResult:
    """FactorVAE score of one encoder on one factor source.

    With a model's :class:`~modelcentrality.engine.GeneratedFactors` this is a cell of
    ModelCentrality's cross matrix; with a ground-truth dataset source it is the
    supervised FactorVAE metric.

    Returns
    -------
    VoteResult
        ``.score`` is the FactorVAE score, ``.revised_score`` the paper's revised score.
    """
    return factorvae_votes(source, [encoder], protocol, random_state)[0]
