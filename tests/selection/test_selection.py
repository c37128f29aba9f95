"""The pair evaluator, masked centrality, search strategies and backend construction."""

from __future__ import annotations

import numpy as np
import pytest

from modelcentrality import ParameterError, load_zoo, rank
from modelcentrality.engine import (
    PAPER,
    centrality,
    centrality_scores,
    centrality_uncertainty,
    cross_matrix,
    pair_mask,
)
from modelcentrality.execution import LocalBackend, ProcessBackend, make_backend
from modelcentrality.selection import (
    SEARCHES,
    PairEvaluator,
    PrecisionSearch,
    SearchOutcome,
    SearchStrategy,
    make_search,
)

PROTOCOL = PAPER.with_overrides(group_size=20, scale_samples=1000)


def test_evaluator_returns_exactly_the_requested_pairs(synthetic_zoo_master, tmp_path):
    models = load_zoo(synthetic_zoo_master)[:4]
    evaluator = PairEvaluator(models, PROTOCOL, 0, cache_dir=tmp_path / "cache")
    requests = {(0, 1): 100, (2, 0): 100, (3, 3): 200}
    results = evaluator.evaluate(requests)
    assert set(results) == set(requests)
    assert evaluator.pair_evaluations == 3
    cost = evaluator.encoder_passes
    assert cost == 2 * evaluator.pair_cost(0, 100) + evaluator.pair_cost(3, 200)
    # Asked again (in memory) or by a new evaluator (from the cache): nothing is computed.
    assert evaluator.evaluate(requests)[0, 1] is results[0, 1]
    fresh = PairEvaluator(models, PROTOCOL, 0, cache_dir=tmp_path / "cache")
    again = fresh.evaluate(requests)
    assert fresh.encoder_passes == 0
    assert again[3, 3].score == results[3, 3].score


def test_sparse_cells_equal_the_dense_rankings_cells(synthetic_zoo_master):
    models = load_zoo(synthetic_zoo_master)[:4]
    dense = rank(models, votes=100, group_size=20, scale_samples=1000, n_boot=0)
    sparse = PairEvaluator(models, PROTOCOL, 0).evaluate({(1, 2): 100, (3, 0): 100})
    assert sparse[1, 2].score == dense.cross[1, 2]
    assert sparse[3, 0].score == dense.cross[3, 0]


def test_full_mask_is_bit_identical_to_the_dense_formula():
    rng = np.random.default_rng(0)
    cross = rng.uniform(size=(7, 7))
    n = len(cross)
    dense = ((cross + cross.T) / 2).sum(axis=1) - np.diag(cross)
    np.testing.assert_array_equal(centrality(cross), dense / (n - 1))
    np.testing.assert_array_equal(centrality(cross, np.ones((n, n), bool)), centrality(cross))


def test_masked_centrality_averages_known_similarities_only():
    cross = np.array(
        [[1.0, 0.8, 0.2, np.nan], [0.6, 1.0, np.nan, 0.4], [0.4, 0.5, 1.0, np.nan],
         [np.nan, 0.2, 0.3, 1.0]]
    )
    evaluated = ~np.isnan(cross)
    usable = pair_mask(evaluated)
    # d[0, 3] misses both directions, d[1, 2] and d[2, 3] miss one: only 0-1, 0-2, 1-3 known.
    assert usable.sum() == 6 and not usable[1, 2] and not usable[2, 3]
    similarity, scores = centrality_scores(cross, evaluated)
    np.testing.assert_allclose(scores, [(0.7 + 0.3) / 2, (0.7 + 0.3) / 2, 0.3, 0.3])
    assert np.isnan(similarity[0, 3]) and similarity[0, 1] == pytest.approx(0.7)


def test_bootstrap_accepts_missing_pairs(synthetic_zoo_master):
    models = load_zoo(synthetic_zoo_master)[:4]
    pairs = {(i, j): 100 for i in range(4) for j in range(4) if {i, j} != {0, 3}}
    results = PairEvaluator(models, PROTOCOL, 0).evaluate(pairs)
    uncertainty = centrality_uncertainty(results, 50, n=4)
    assert uncertainty.replicates.shape == (50, 4)
    assert np.isfinite(uncertainty.replicates).all()
    estimate = centrality(cross_matrix(results, 4), ~np.isnan(cross_matrix(results, 4)))
    np.testing.assert_allclose(uncertainty.replicates.mean(axis=0), estimate, atol=1e-12)


class _FirstTwoSources(SearchStrategy):
    """A custom strategy: rows 0 and 1 only, at 100 votes."""

    name = "first_two"

    def search(self, evaluator, full_votes, n_boot):
        n = len(full_votes)
        votes = np.zeros((n, n), np.int64)
        votes[:2] = 100
        votes[:, :2] = 100
        requests = {(i, j): 100 for i, j in zip(*np.nonzero(votes))}
        return SearchOutcome(votes, evaluator.evaluate(requests), None, "custom rule")


def test_rank_runs_a_custom_strategy_on_part_of_the_matrix(synthetic_zoo_master):
    models = load_zoo(synthetic_zoo_master)[:4]
    result = rank(models, group_size=20, scale_samples=1000, search=_FirstTwoSources())
    assert np.isnan(result.cross[2, 3]) and not np.isnan(result.cross[2, 0])
    assert result.search == "first_two" and result.stop_reason == "custom rule"
    assert result.pairs_evaluated == 12
    payload = result.to_dict()
    assert payload["cross"][2][3] is None and payload["search"]["pairs_evaluated"] == 12


def test_search_registry_and_options():
    assert set(SEARCHES) >= {"full", "precision"}
    assert isinstance(make_search("precision", precision=0.01, refine_top=None), PrecisionSearch)
    with pytest.raises(ParameterError, match="search must be one of"):
        make_search("fastest")
    with pytest.raises(ParameterError, match="needs precision"):
        make_search("precision")
    with pytest.raises(ParameterError, match="target_p_top must be in"):
        PrecisionSearch(0.01, target_p_top=1.5)
    with pytest.raises(ParameterError, match="precision must be a finite number"):
        PrecisionSearch(float("nan"))
    with pytest.raises(ParameterError, match="precision must be > 0"):
        PrecisionSearch(0.0)


def test_precision_search_says_when_it_stops_short(synthetic_zoo_master):
    zoo = load_zoo(synthetic_zoo_master)
    settings = {"votes": 100, "group_size": 20, "scale_samples": 1000, "n_boot": 50}
    result = rank([zoo[0], zoo[4], zoo[5]], search=PrecisionSearch(1e-6), **settings)
    assert not result.target_reached
    assert result.stop_reason.startswith("stopped short: standard error")


def test_make_backend():
    assert isinstance(make_backend(), LocalBackend)
    backend = make_backend(n_jobs=2, threads=1)
    assert isinstance(backend, ProcessBackend) and backend.n_jobs == 2
    with pytest.raises(ParameterError, match="need --backend ray"):
        make_backend(address="auto")
    with pytest.raises(ParameterError, match="backend must be one of"):
        make_backend("dask")


def test_a_registered_similarity_drives_the_whole_ranking(synthetic_zoo_master, monkeypatch):
    """One registration line: rank, the cache key and the backends use the new cells."""
    from modelcentrality.engine import SIMILARITIES, Similarity, VoteResult

    def name_match(source, encoders, protocol, rng, progress):
        # A toy similarity: 1 when the model numbers have the same parity, else 0.
        table = np.ones((1, 1), np.int64)
        return [
            VoteResult(float(parity(e) == parity(source)), 0.0, table, None, np.ones(1))
            for e in encoders
        ]

    def parity(model):
        return int(model.name[1:3]) % 2

    toy = Similarity("name_match", name_match, lambda source, protocol: 1)
    monkeypatch.setitem(SIMILARITIES, "name_match", toy)
    models = load_zoo(synthetic_zoo_master)[:4]
    protocol = PROTOCOL.__class__(**{**vars(PROTOCOL), "similarity": "name_match"})
    result = rank(models, protocol, n_boot=0)
    expected = np.array([[float(parity(a) == parity(b)) for b in models] for a in models])
    assert 0 < expected.sum() < expected.size
    np.testing.assert_array_equal(result.cross, expected)
    assert result.protocol.to_dict()["similarity"] == "name_match"
    with pytest.raises(ParameterError, match="similarity must be one of"):
        rank(models, PROTOCOL.__class__(**{**vars(PROTOCOL), "similarity": "nope"}))


def test_protocol_sizes_are_bounded_in_the_api():
    with pytest.raises(ParameterError, match="group size must be <= 10000"):
        PROTOCOL.with_overrides(group_size=10**9)
    with pytest.raises(ParameterError, match="scale samples must be <= 10000000"):
        PROTOCOL.with_overrides(scale_samples=10**12)


def test_rank_refuses_options_it_would_ignore(synthetic_zoo_master):
    models = load_zoo(synthetic_zoo_master)[:3]
    for options, message in (
        ({"votes": 0}, "votes must be >= 1"),
        ({"votes": 2.5}, "votes must be an integer"),
        ({"n_boot": 1}, "n_boot must be 0"),
        ({"search": "precision"}, "search 'precision' needs precision"),
        ({"search": "fastest"}, "search must be one of"),
    ):
        with pytest.raises(ParameterError, match=message):
            rank(models, **options)
