"""Bootstrap intervals and top-model probabilities."""

import numpy as np
import pytest

from modelcentrality import load_zoo, rank
from modelcentrality.engine._uncertainty import (
    _resample_table,
    bootstrap_cross,
    centrality_uncertainty,
)
from modelcentrality.engine._votes import VoteResult


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


def test_more_votes_give_narrower_intervals(synthetic_zoo_master):
    zoo = load_zoo(synthetic_zoo_master)
    few = rank(zoo, votes=60, scale_samples=2000)
    many = rank(zoo, votes=480, scale_samples=2000)
    assert np.mean(np.diff(many.scores_ci)) < 0.6 * np.mean(np.diff(few.scores_ci))


def test_bootstrap_can_be_disabled_and_is_validated(synthetic_zoo_master):
    result = rank(load_zoo(synthetic_zoo_master), votes=60, scale_samples=1000, bootstrap=0)
    assert result.uncertainty is None and "p_top" not in result.to_dict()
    perfect = _result(np.diag([10, 10]))
    with pytest.raises(ValueError, match="confidence"):
        centrality_uncertainty([[perfect] * 2] * 2, confidence=1.5)
