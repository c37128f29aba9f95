"""The FactorVAE vote engine on hand-made inputs."""

import numpy as np
import pytest

from modelcentrality.engine._votes import (
    DISENTANGLEMENT_LIB,
    PAPER,
    get_protocol,
    revised_table_score,
    score_votes,
    table_score,
    vote_factors,
    vote_table,
    winning_dims,
)


def _numpy_winners(group_var, scale_std):
    return np.argmin(group_var / scale_std**2, axis=1)


def test_aligned_encoder_scores_one():
    table = np.diag([50, 50, 50, 50])
    assert table_score(table) == 1.0
    assert revised_table_score(table) == 1.0


def test_constant_encoder_scores_chance():
    # Every vote won by the same dim: the classifier is right for one factor out of K.
    k = 5
    table = np.zeros((10, k), dtype=int)
    table[3] = 100
    assert table_score(table) == pytest.approx(1 / k)


def test_uninformative_encoder_end_to_end_scores_chance_under_paper_rules():
    k, n_votes = 4, 400
    factors = vote_factors(n_votes, k, "round_robin", np.random.default_rng(0))
    zero_scale = np.zeros(6)
    result = score_votes(np.zeros((n_votes, 6)), zero_scale, factors, k, n_votes)
    assert result.score == pytest.approx(1 / k)
    # disentanglement_lib prunes every dim: no votes, score 0.
    pruned = score_votes(np.zeros((n_votes, 6)), zero_scale, factors, k, n_votes, 0.05)
    assert pruned.score == 0.0


def test_extra_dims_do_not_inflate_revised_score():
    # Two dims split factor 0's votes: the plain score counts both, the revised one
    # keeps only the K best rows.
    table = np.array([[40, 0], [40, 0], [0, 30], [20, 70]])
    assert table_score(table) == pytest.approx((40 + 40 + 30 + 70) / 200)
    assert revised_table_score(table) == pytest.approx((70 + 40) / 200)


def test_numba_winners_match_numpy():
    rng = np.random.default_rng(1)
    group_var = rng.random((500, 10))
    scale = rng.random(10) + 0.5
    np.testing.assert_array_equal(winning_dims(group_var, scale), _numpy_winners(group_var, scale))


def test_zero_scale_dims_never_win_and_pruning():
    group_var = np.array([[0.0, 0.5, 0.9], [0.0, 0.9, 0.5]])
    scale = np.array([0.0, 1.0, 1.0])
    np.testing.assert_array_equal(winning_dims(group_var, scale), [1, 2])
    scale = np.array([1.0, 0.01, 1.0])
    np.testing.assert_array_equal(winning_dims(group_var, scale, prune_std=0.05), [0, 0])


def test_vote_table_counts_and_drops_unassigned():
    dims = np.array([0, 0, 1, -1, 2])
    factors = np.array([0, 0, 1, 1, 0])
    np.testing.assert_array_equal(vote_table(dims, factors, 3, 2), [[2, 0], [0, 1], [1, 0]])


def test_eval_votes_score_the_train_classifier():
    train = np.array([[10, 0], [0, 10]])
    evaluation = np.array([[3, 1], [2, 4]])
    assert table_score(train, evaluation) == pytest.approx(7 / 10)


def test_factor_orders():
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(vote_factors(7, 3, "round_robin", rng), [0, 1, 2, 0, 1, 2, 0])
    drawn = vote_factors(3000, 3, "uniform", rng)
    assert set(np.unique(drawn)) == {0, 1, 2}
    assert abs(np.mean(drawn == 0) - 1 / 3) < 0.05


def test_protocol_constants_and_overrides():
    assert PAPER.train_votes_for("gan") == 500
    assert PAPER.train_votes_for("vae") == 1000
    assert (PAPER.group_size, PAPER.scale_samples, PAPER.eval_votes) == (100, 73_728, 0)
    dl = DISENTANGLEMENT_LIB
    assert (dl.votes, dl.eval_votes, dl.group_size, dl.scale_samples) == (10_000, 5_000, 64, 10_000)
    custom = get_protocol("paper").with_overrides(votes=50, scale_samples=100)
    assert custom.train_votes_for("vae") == 50 and custom.scale_samples == 100
    with pytest.raises(ValueError, match="unknown protocol"):
        get_protocol("nope")
    with pytest.raises(ValueError, match="group size"):
        PAPER.with_overrides(group_size=1)
