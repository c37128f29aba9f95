"""Bootstrap intervals and top-model probabilities."""

from dataclasses import replace

import numpy as np
import pytest

from modelcentrality import load_zoo, rank
from modelcentrality.engine._streaming import BlockMoments
from modelcentrality.engine._uncertainty import bootstrap_cross, centrality_uncertainty
from modelcentrality.engine._vote_bootstrap import _resample_table
from modelcentrality.engine._votes import VoteData, VoteResult, score_votes
from modelcentrality.testing import make_leader_zoo


def _result(train, evaluation=None):
    train = np.asarray(train)
    return VoteResult(0.0, 0.0, train, evaluation, np.ones(train.shape[0]))


def test_stratified_resampling_keeps_votes_per_factor():
    table = np.array([[30, 2], [5, 40], [5, 8]])
    replicates = _resample_table(table, 50, np.random.default_rng(0))
    assert replicates.shape == (50, 3, 2)
    np.testing.assert_array_equal(replicates.sum(axis=1), np.tile(table.sum(axis=0), (50, 1)))


def test_unanimous_tables_have_no_spread():
    perfect = _result(np.diag([40, 40, 40]))
    cross = bootstrap_cross([[perfect, perfect], [perfect, perfect]], 20, 0)
    np.testing.assert_array_equal(cross, 1.0)


def test_intervals_and_top_probabilities_on_a_synthetic_zoo(synthetic_zoo_master):
    result = rank(load_zoo(synthetic_zoo_master), votes=120, scale_samples=3000)
    low, high = result.scores_ci.T
    assert np.all(low <= result.scores + 1e-12) and np.all(result.scores <= high + 1e-12)
    assert result.p_top.sum() == pytest.approx(1.0)
    good = [i for i, name in enumerate(result.names) if name.endswith("_e0.10")]
    assert result.p_top[good].sum() > 0.99
    assert result.names[int(np.argmax(result.p_top))] in [result.names[i] for i in good]
    payload = result.to_dict()
    assert len(payload["scores_ci"]) == len(payload["p_top"]) == 8
    # Replicates are shifted by the bootstrap bias, so they centre on the estimate.
    replicates = result.uncertainty.replicates
    assert replicates.shape == (200, 8)
    np.testing.assert_allclose(replicates.mean(axis=0), result.scores, atol=1e-12)


@pytest.mark.slow
def test_more_votes_give_narrower_intervals(synthetic_zoo_master):
    zoo = load_zoo(synthetic_zoo_master)
    few = rank(zoo, votes=60, scale_samples=2000)
    many = rank(zoo, votes=480, scale_samples=2000)
    assert np.mean(np.diff(many.scores_ci)) < 0.6 * np.mean(np.diff(few.scores_ci))


def test_bootstrap_can_be_disabled_and_is_validated(synthetic_zoo_master):
    result = rank(load_zoo(synthetic_zoo_master), votes=60, scale_samples=1000, n_boot=0)
    assert result.uncertainty is None and "p_top" not in result.to_dict()
    perfect = _result(np.diag([10, 10]))
    with pytest.raises(ValueError, match="confidence"):
        centrality_uncertainty([[perfect] * 2] * 2, confidence=1.5)


def _tied_zoo():
    return make_leader_zoo("tied", n_others=2, random_state=0)


def test_identical_models_get_overlapping_intervals_across_seeds():
    models = _tied_zoo()
    a, b = 0, 1  # "lead" and "twin": one model under two names
    overlaps, scores, claimed, sure = [], [], [], []
    for seed in range(12):
        result = rank(models, random_state=seed, votes=100, scale_samples=2000,
                      n_boot=100, progress=False)
        (low_a, high_a), (low_b, high_b) = result.scores_ci[[a, b]]
        overlaps.append(low_a <= high_b and low_b <= high_a)
        scores.append(result.scores[[a, b]])
        claimed.append(result.uncertainty.std[[a, b]])
        sure.append(result.p_top[[a, b]].max() >= 0.95)
    assert np.mean(overlaps) >= 11 / 12
    # Either copy is on top in about half the replicates; "sure" is chance (~10%).
    assert sum(sure) <= 4
    # The claimed standard error accounts for the seed-to-seed spread (the scale set's
    # noise, shared by all votes of a cell, was missing once: then it was ~9x too small).
    spread = np.std(scores, axis=0, ddof=1)
    assert np.all(spread < 1.6 * np.mean(claimed, axis=0))


def test_scale_blocks_do_not_depend_on_chunks():
    codes = np.random.default_rng(0).normal(size=(1000, 3))
    whole, pieces = BlockMoments(128), BlockMoments(128)
    whole.update(codes)
    for start in range(0, 1000, 300):
        pieces.update(codes[start:start + 300])
    for one, other in zip(whole.arrays(3), pieces.arrays(3)):
        np.testing.assert_allclose(one, other)
    counts, means, _ = whole.arrays(3)
    assert counts.tolist() == [128] * 7 + [104]
    np.testing.assert_allclose(means[0], codes[:128].mean(axis=0))


def test_bootstrap_resamples_the_scale_set():
    # Each factor prefers its own dim by ~10% of group variance: a scale set's noise
    # (shared by all votes) moves many votes at once, so it is most of the cell's noise.
    rng = np.random.default_rng(0)
    n_votes = 400
    factors = np.arange(n_votes) % 2
    near = 1.1 + rng.normal(0, 0.05, n_votes)
    ones = np.ones(n_votes)
    group_var = np.where(
        factors[:, None] == 0, np.column_stack([ones, near]), np.column_stack([near, ones])
    )

    def score(scale):
        return score_votes(group_var, scale.std(axis=0, ddof=1), factors, 2, n_votes)

    across_scale_sets = np.std(
        [score(np.random.default_rng(seed).normal(size=(4096, 2))).score for seed in range(30)]
    )
    scale = rng.normal(size=(4096, 2))
    blocks = BlockMoments(128)
    blocks.update(scale)
    cell = replace(score(scale), data=VoteData(group_var, factors, n_votes, *blocks.arrays(2)))
    with_scale = bootstrap_cross({(0, 0): cell}, 200, 0, n=1)[:, 0, 0].std()
    tables_only = bootstrap_cross({(0, 0): replace(cell, data=None)}, 200, 0, n=1)[:, 0, 0].std()
    assert with_scale > 2 * tables_only
    assert with_scale > 0.7 * across_scale_sets


def test_cached_pairs_bootstrap_exactly_as_computed_ones(tmp_path):
    models = _tied_zoo()
    options = dict(votes=100, scale_samples=2000, n_boot=50, progress=False)
    fresh = rank(models, cache_dir=tmp_path / "cache", **options)
    cached = rank(models, cache_dir=tmp_path / "cache", **options)
    assert cached.encoder_passes == 0
    np.testing.assert_array_equal(fresh.scores_ci, cached.scores_ci)
    np.testing.assert_array_equal(fresh.p_top, cached.p_top)


def test_bootstrap_does_not_depend_on_the_zoo_order():
    models = _tied_zoo()
    options = dict(votes=100, scale_samples=2000, n_boot=50, progress=False)
    forward = rank(models, **options)
    backward = rank(models[::-1], **options)
    back = [backward.names.index(name) for name in forward.names]
    # Equal up to the summation order of the centrality.
    np.testing.assert_allclose(forward.scores_ci, backward.scores_ci[back], rtol=1e-12)
    np.testing.assert_array_equal(forward.p_top, backward.p_top[back])


def test_cache_entries_of_another_format_are_recomputed(tmp_path, monkeypatch):
    models = _tied_zoo()[:2]
    options = dict(votes=100, scale_samples=2000, n_boot=0, progress=False)
    monkeypatch.setattr("modelcentrality.execution._cache.FORMAT", 1)
    rank(models, cache_dir=tmp_path, **options)
    monkeypatch.undo()
    again = rank(models, cache_dir=tmp_path, **options)
    assert again.encoder_passes > 0
    assert rank(models, cache_dir=tmp_path, **options).encoder_passes == 0
