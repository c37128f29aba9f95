"""Adaptive medoid search: elimination on hand-made similarities, and end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

from modelcentrality import AdaptiveSearch, ParameterError, rank
from modelcentrality.cli import main
from modelcentrality.selection._adaptive import (
    eliminate,
    prefix_lengths,
    reference_means,
    reference_order,
    top_probabilities,
)
from modelcentrality.testing import make_structured_zoo

#: A very reduced protocol for in-memory synthetic zoos.
TINY = {"votes": 100, "group_size": 10, "scale_samples": 200}


def _similarity(n: int, medoid: int, seed: int, noise: float = 0.05) -> np.ndarray:
    """d[i, j] = q_i + q_j + noise: model ``medoid`` has the largest q by a margin."""
    rng = np.random.default_rng(seed)
    quality = rng.uniform(0.0, 0.3, size=n)
    quality[medoid] = 0.45
    similarity = quality[:, None] + quality[None, :] + rng.normal(0, noise, size=(n, n))
    similarity = (similarity + similarity.T) / 2
    np.fill_diagonal(similarity, np.nan)
    return similarity


def _true_centrality(similarity: np.ndarray) -> np.ndarray:
    return np.nanmean(similarity, axis=1)


def test_reference_means_match_a_direct_mean_and_shrink_to_zero_noise():
    n = 12
    similarity = _similarity(n, 3, seed=0)
    order = np.random.default_rng(1).permutation(n)
    lengths = np.array([5] * 6 + [n] * 6)
    estimate, deviations = reference_means(similarity, order, lengths, 300, random_state=0)
    for i in range(n):
        refs = [r for r in order[: lengths[i]] if r != i]
        assert estimate[i] == pytest.approx(similarity[i, refs].mean())
    # Compared with every other model: the finite-population correction leaves no noise.
    assert np.all(deviations[:, 6:] == 0)
    assert np.all(deviations[:, :6].std(axis=0) > 0)
    assert np.allclose(estimate[6:], _true_centrality(similarity)[6:])


def _elimination_round(similarity, order, lengths, alive, k, seed):
    """One round of the search's elimination, on a hand-made similarity matrix."""
    estimate, _ = reference_means(similarity, order, lengths, 200, seed)
    candidates = np.flatnonzero(alive)
    kth = candidates[np.argsort(-estimate[candidates], kind="stable")[k - 1]]
    difference, deviations = reference_means(
        similarity - similarity[kth], order, lengths, 200, seed + 1
    )
    difference[kth] = 0.0
    return eliminate(difference, deviations.std(axis=0, ddof=1), 0.95, alive)


def test_elimination_with_every_reference_keeps_the_medoid_and_the_top_k():
    n = 30
    similarity = _similarity(n, medoid=17, seed=2)
    truth = _true_centrality(similarity)
    order, lengths, alive = np.arange(n), np.full(n, n), np.ones(n, bool)
    top1 = _elimination_round(similarity, order, lengths, alive, 1, 0)
    assert np.flatnonzero(top1).tolist() == [17]
    top3 = _elimination_round(similarity, order, lengths, alive, 3, 0)
    third = np.sort(truth)[-3]
    assert top3[truth >= third].all()
    # Only candidates within a hair of the third best survive with it.
    assert (truth[top3] > third - 0.01).all()
    assert top3.sum() < n / 4


@pytest.mark.parametrize("seed", range(5))
def test_successive_elimination_on_sampled_references_keeps_the_medoid(seed):
    n, medoid = 80, seed * 7
    similarity = _similarity(n, medoid, seed)
    order = np.random.default_rng(100 + seed).permutation(n)
    alive = np.ones(n, bool)
    lengths = np.zeros(n, int)
    width = 4
    while width <= n and alive.sum() > 1:
        lengths = np.where(alive, width, lengths)
        alive = _elimination_round(similarity, order, lengths, alive, 1, seed)
        assert alive[medoid]
        width *= 2
    assert alive.sum() == 1
    # Eliminated models stopped early: far fewer similarities than N^2 were read.
    assert lengths.sum() < 0.5 * n * n


def test_a_difference_below_its_bound_eliminates_and_only_a_positive_one_revives():
    difference = np.array([0.0, -0.5, np.nan, -0.01, 0.2, -0.01, 0.05, np.nan])
    spread = np.full(8, 0.1)
    alive = np.array([True, True, True, True, False, False, False, False])
    kept = eliminate(difference, spread, 0.95, alive)
    assert kept.tolist() == [True, False, True, True, True, False, True, False]


def test_top_probabilities_count_replicate_winners():
    replicates = np.array([[3.0, 2.0, 1.0], [2.0, 3.0, 1.0], [3.0, 1.0, np.nan], [3.0, 2.0, 2.5]])
    p_top, p_in_top_2 = top_probabilities(replicates, 2)
    assert p_top.tolist() == [0.75, 0.25, 0.0]
    assert p_in_top_2.tolist() == [1.0, 0.75, 0.25]
    # Models the replicates cannot tell apart are never "on top".
    tied = np.array([[1.0, 1.0, 0.5], [1.0, 1.0, 1.0]])
    p_top, p_in_top_2 = top_probabilities(tied, 2)
    assert p_top.tolist() == [0.0, 0.0, 0.0]
    assert p_in_top_2.tolist() == [0.5, 0.5, 0.0]


def test_prefix_lengths_skip_the_model_itself_and_stop_at_a_gap():
    known = np.zeros((4, 4), bool)
    order = np.array([2, 0, 3, 1])
    for i, j in [(0, 2), (0, 3), (1, 2), (2, 0), (2, 3), (3, 2), (3, 0), (3, 1)]:
        known[i, j] = known[j, i] = True
    assert prefix_lengths(known, order).tolist() == [3, 1, 4, 4]


def test_reference_order_does_not_depend_on_input_order():
    names = [f"model{i}" for i in range(20)]
    shuffled = list(np.random.default_rng(0).permutation(names))
    first = [names[i] for i in reference_order(names, 5)]
    second = [shuffled[i] for i in reference_order(shuffled, 5)]
    assert first == second
    assert first != [names[i] for i in reference_order(names, 6)]


def _medoid(models):
    return min(models, key=lambda m: m.entanglement).name


@pytest.fixture(scope="module")
def zoo():
    return make_structured_zoo(40, random_state=3)


@pytest.fixture(scope="module")
def adaptive_result(zoo):
    return rank(zoo, search="adaptive", progress=False, **TINY)


@pytest.mark.slow
def test_end_to_end_finds_the_designed_medoid_with_fewer_pairs(zoo, adaptive_result):
    result = adaptive_result
    assert result.selected == _medoid(zoo)
    assert result.search == "adaptive"
    details = result.details
    assert details["top_k"][0]["name"] == result.selected
    assert result.pairs_evaluated == details["pair_evaluations"] < len(zoo) ** 2
    assert len(details["evaluated_pairs"]) == result.pairs_evaluated
    assert result.target_reached == (details["top_k"][0]["p_top"] >= 0.95)
    low, high = details["top_k"][0]["interval"]
    leader = result.names.index(result.selected)
    assert low <= result.scores[leader] <= high
    assert result.p_top[leader] == details["top_k"][0]["p_top"]
    # Eliminated models have no interval and never win a replicate.
    out = np.isnan(result.scores_ci[:, 0])
    assert out.sum() == details["eliminated"]
    assert (result.p_top[out] == 0).all()
    payload = json.loads(json.dumps(result.to_dict()))
    assert payload["search"]["name"] == "adaptive"
    # Unevaluated cells are missing, not zero.
    assert np.isnan(result.cross[result.votes == 0]).all()


def test_same_result_whatever_the_zoo_order(zoo, adaptive_result):
    reordered = list(reversed(zoo))
    again = rank(reordered, search="adaptive", progress=False, **TINY)
    assert again.selected == adaptive_result.selected
    assert again.details["evaluated_pairs"] == adaptive_result.details["evaluated_pairs"]
    first = dict(zip(adaptive_result.names, adaptive_result.scores))
    second = dict(zip(again.names, again.scores))
    assert all(
        np.isnan(first[name]) and np.isnan(second[name]) or first[name] == second[name]
        for name in first
    )


def test_top_k_returns_k_leaders(zoo):
    result = rank(zoo, search=AdaptiveSearch(top_k=3), progress=False, **TINY)
    assert len(result.details["top_k"]) == 3
    assert result.details["top_k"][0]["name"] == _medoid(zoo)


def test_budget_stops_the_search_and_says_so(zoo):
    result = rank(zoo, search=AdaptiveSearch(max_pairs=100), progress=False, **TINY)
    assert result.details["pair_evaluations"] <= 100
    assert not result.target_reached
    assert "budget of 100 pair evaluations spent" in result.stop_reason


def test_a_later_full_run_reuses_every_cached_pair(tmp_path):
    models = make_structured_zoo(16, random_state=4)
    adaptive = rank(models, search="adaptive", cache_dir=tmp_path, progress=False, **TINY)
    evaluated = adaptive.votes > 0
    assert 0 < evaluated.sum() < 16 * 16
    full = rank(models, cache_dir=tmp_path, progress=False, **TINY)
    per_pair = adaptive.encoder_passes // adaptive.pairs_evaluated
    assert full.encoder_passes == per_pair * (16 * 16 - evaluated.sum())
    assert np.array_equal(full.cross[evaluated], adaptive.cross[evaluated])


@pytest.mark.parametrize(
    "options, message",
    [
        ({"top_k": 0}, "top_k must be >= 1"),
        ({"target": 1.0}, "target must be in (0, 1)"),
        ({"target": 0}, "target must be in (0, 1)"),
        ({"max_pairs": 0}, "max_pairs must be >= 1"),
        ({"max_pairs": -10}, "max_pairs must be >= 1"),
    ],
)
def test_bad_options_are_one_line_errors(options, message):
    with pytest.raises(ParameterError, match=message.replace("(", r"\(").replace(")", r"\)")):
        AdaptiveSearch(**options)


def test_top_larger_than_the_zoo_is_an_error():
    models = make_structured_zoo(5, random_state=0)
    with pytest.raises(ParameterError, match=r"top_k \(6\) must be <= the number of models \(5\)"):
        rank(models, search=AdaptiveSearch(top_k=6), progress=False, **TINY)


@pytest.mark.parametrize(
    "flags, status, message",
    [
        (["--top-k", "9"], 1, "error: top_k (9) must be <= the number of models (8)"),
        # A bad option value is a usage error: exit 2, naming the option.
        (["--target", "1.5"], 2, "Invalid value for '--target': 1.5 is not in the range"),
        (["--max-pairs", "0"], 2, "Invalid value for '--max-pairs': 0 is not in the range"),
    ],
)
def test_cli_bad_input_is_one_line(synthetic_zoo, capsys, flags, status, message):
    assert main(["rank", str(synthetic_zoo), "--search", "adaptive", "--quiet", *flags]) == status
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err
    assert err.endswith("(see --help)") == (status == 2)


def test_cli_adaptive_options_need_the_adaptive_search(synthetic_zoo, capsys):
    assert main(["rank", str(synthetic_zoo), "--top-k", "2", "--quiet"]) == 2
    assert "search 'full' does not take top_k" in capsys.readouterr().err


def test_cli_adaptive_writes_the_evaluated_pairs(synthetic_zoo, tmp_path):
    out = tmp_path / "rank.json"
    status = main(
        [
            "rank", str(synthetic_zoo), "--search", "adaptive", "--votes", "100",
            "--scale-samples", "2000", "--quiet", "-o", str(out),
        ]
    )
    assert status == 0
    search = json.loads(out.read_text())["search"]
    assert search["name"] == "adaptive"
    assert search["pairs_evaluated"] == len(search["evaluated_pairs"])
    assert search["top_k"][0]["name"] == json.loads(out.read_text())["ranking"][0]


def test_worker_processes_give_the_same_search(tmp_path):
    from modelcentrality import load_zoo
    from modelcentrality.execution import ProcessBackend
    from modelcentrality.testing import make_synthetic_zoo

    entanglements = [0.0] + [0.4 + 0.06 * i for i in range(9)]
    make_synthetic_zoo(tmp_path / "zoo", entanglements, random_state=1)
    models = load_zoo(tmp_path / "zoo")
    options = {"votes": 100, "scale_samples": 2000, "progress": False}
    local = rank(models, search="adaptive", **options)
    spread = rank(
        models, search="adaptive", backend=ProcessBackend(n_jobs=2, threads=1), **options
    )
    assert spread.details["evaluated_pairs"] == local.details["evaluated_pairs"]
    assert spread.selected == local.selected
    assert np.array_equal(spread.scores, local.scores, equal_nan=True)


def test_too_few_models_or_pairs_are_one_line_errors():
    models = make_structured_zoo(8, random_state=0)
    with pytest.raises(ParameterError, match="needs at least 3 models, got 2"):
        rank(models[:2], search=AdaptiveSearch(), progress=False, **TINY)
    for budget in (3, 4, 6):
        try:
            result = rank(models, search=AdaptiveSearch(max_pairs=budget), progress=False, **TINY)
        except ParameterError as exc:
            assert "too small" in str(exc)
        else:
            assert not result.target_reached and result.pairs_evaluated <= budget
