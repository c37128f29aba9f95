"""The cell contract: a similarity of its own cells, with or without resampling.

The similarity here is a real one, not a vote table: on the source's generated
observations, each code dim of the source's own encoder is matched with its most
correlated code dim of the encoder (absolute Pearson correlation), and the cell is the
mean of those correlations.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest

from modelcentrality import load_zoo, rank
from modelcentrality._seeding import keyed_rng
from modelcentrality.cli import main
from modelcentrality.engine import (
    SIMILARITIES,
    Cell,
    ResamplableCell,
    Similarity,
    VoteResult,
    centrality_uncertainty,
)
from modelcentrality.errors import ModelCentralityError, ParameterError
from modelcentrality.execution import PairCache
from modelcentrality.selection import PrecisionSearch, RankResult
from modelcentrality.testing import make_leader_zoo
from tests._helpers import FAST

#: Generated observations per source.
N_OBSERVATIONS = 300


def code_match(source_codes: np.ndarray, encoder_codes: np.ndarray) -> np.ndarray:
    """Mean over the source's code dims of the best absolute correlation with an encoder
    dim; codes are (..., n, E), the result has shape (...)."""

    def standardised(codes):
        centred = codes - codes.mean(axis=-2, keepdims=True)
        spread = np.sqrt((centred**2).mean(axis=-2, keepdims=True))
        return centred / np.where(spread > 0, spread, 1.0)

    a, b = standardised(source_codes), standardised(encoder_codes)
    correlation = np.swapaxes(a, -1, -2) @ b / a.shape[-2]
    return np.abs(correlation).max(axis=-1).mean(axis=-1)


@dataclass(frozen=True)
class MatchCell(Cell):
    """A cell that knows its value only: it cannot be resampled."""

    match: float

    @property
    def value(self) -> float:
        return self.match

    def to_arrays(self):
        return {"match": np.asarray(self.match, dtype=np.float64)}

    @classmethod
    def from_arrays(cls, arrays):
        return cls(float(arrays["match"]))


@dataclass(frozen=True)
class ResampledMatchCell(ResamplableCell):
    """The same value, with the codes behind it: observations are resampled, the same
    ones for every cell of a source (its encoders saw the same observations)."""

    match: float
    source_codes: np.ndarray
    encoder_codes: np.ndarray

    @property
    def value(self) -> float:
        return self.match

    def to_arrays(self):
        return {
            "match": np.asarray(self.match),
            "source_codes": self.source_codes,
            "encoder_codes": self.encoder_codes,
        }

    @classmethod
    def from_arrays(cls, arrays):
        return cls(float(arrays["match"]), arrays["source_codes"], arrays["encoder_codes"])

    @classmethod
    def resample_source(cls, cells, n_boot, rng, keys):
        draws = rng if keys is None else keyed_rng(*keys, "observations")
        rows = draws.integers(0, len(cells[0].source_codes), size=(n_boot, N_OBSERVATIONS))
        replicates = np.stack(
            [code_match(cell.source_codes[rows], cell.encoder_codes[rows]) for cell in cells],
            axis=-1,
        )
        return np.stack([replicates, replicates])


def _codes(source, encoders, rng, progress):
    observations = source.generate(source.sample_prior(N_OBSERVATIONS, rng))
    own = source.encode(observations).astype(np.float64)
    for encoder in encoders:
        codes = encoder.encode(observations).astype(np.float64)
        if progress is not None:
            progress(N_OBSERVATIONS)
        yield own, codes


def match_cells(source, encoders, protocol, rng, progress):
    return [MatchCell(float(code_match(a, b))) for a, b in _codes(source, encoders, rng, progress)]


def resampled_match_cells(source, encoders, protocol, rng, progress):
    return [
        ResampledMatchCell(float(code_match(a, b)), a, b)
        for a, b in _codes(source, encoders, rng, progress)
    ]


def _cost(source, protocol):
    return N_OBSERVATIONS


@pytest.fixture
def similarities(monkeypatch):
    """Register both similarities for one test."""
    monkeypatch.setitem(SIMILARITIES, "match", Similarity("match", match_cells, _cost, MatchCell))
    monkeypatch.setitem(
        SIMILARITIES,
        "match_resampled",
        Similarity("match_resampled", resampled_match_cells, _cost, ResampledMatchCell),
    )


def test_full_search_ranks_by_a_similarity_without_votes(similarities):
    models = make_leader_zoo("distinct", n_others=3, random_state=0)
    result = rank(models, similarity="match", n_boot=0)
    assert result.similarity_measure == "match"
    assert result.uncertainty is None
    # The cells are the similarity's own: recomputed here from the source's draws.
    rng = keyed_rng(0, models[2].name)
    expected = [
        code_match(a, b) for a, b in _codes(models[2], models, rng, None)
    ]
    np.testing.assert_array_equal(result.cross[2], expected)
    # The disentangled leaders match each other best.
    assert set(result.ranking[:2]) == {"lead", "second"}
    assert np.isnan(result.revised_cross).all()
    payload = result.to_dict()
    assert payload["similarity_measure"] == "match"
    assert np.array(payload["similarity"]).shape == (5, 5)
    again = RankResult.from_json(json.loads(json.dumps(payload)))
    assert again.similarity_measure == "match"


@pytest.mark.parametrize(
    "options, needed_by",
    [
        ({"n_boot": 50}, "bootstrap intervals"),
        ({"search": PrecisionSearch(0.01), "n_boot": 0}, "the precision search"),
        ({"search": "adaptive", "n_boot": 0}, "the adaptive search"),
    ],
)
def test_resampling_is_refused_before_any_pair_runs(similarities, monkeypatch, options, needed_by):
    calls = []

    def counted(*args):
        calls.append(args[0].name)
        return match_cells(*args)

    monkeypatch.setitem(SIMILARITIES, "match", Similarity("match", counted, _cost, MatchCell))
    models = make_leader_zoo("distinct", n_others=2, random_state=0)
    with pytest.raises(ParameterError) as error:
        rank(models, similarity="match", **options)
    message = str(error.value)
    assert message == (
        f"similarity 'match' cannot be resampled (its MatchCell cells have no bootstrap) "
        f"for {needed_by}: use n_boot=0 (--n-boot 0) and the full search"
    )
    assert "\n" not in message
    assert calls == []


def test_the_bootstrap_refuses_cells_without_resampling():
    cells = {(i, j): MatchCell(0.5) for i in range(3) for j in range(3)}
    with pytest.raises(ParameterError, match="MatchCell cells cannot be resampled"):
        centrality_uncertainty(cells, n_boot=20)


def test_a_similarity_with_its_own_resampling_gets_intervals_that_match_its_noise(similarities):
    """The bootstrap spread of each centrality is that of independent draws (seeds)."""
    models = make_leader_zoo("distinct", n_others=2, random_state=1)
    results = [
        rank(models, random_state=seed, similarity="match_resampled", n_boot=100)
        for seed in range(12)
    ]
    for result in results:
        low, high = result.scores_ci.T
        assert (high > low).all()
        assert result.p_top.sum() == pytest.approx(1)
        assert (low <= result.scores).all() and (result.scores <= high).all()
    across_seeds = np.std([r.scores for r in results], axis=0, ddof=1)
    bootstrap = np.mean([r.uncertainty.std for r in results], axis=0)
    ratio = bootstrap / across_seeds
    assert ((ratio > 0.5) & (ratio < 2.0)).all(), ratio
    # The precision and adaptive searches accept it.
    precise = rank(models, similarity="match_resampled", search=PrecisionSearch(0.05), n_boot=100)
    assert precise.similarity_measure == "match_resampled"
    assert precise.details["standard_error"] > 0
    adaptive = rank(models, similarity="match_resampled", search="adaptive", n_boot=100)
    assert adaptive.p_top is not None and adaptive.search == "adaptive"


def test_the_factorvae_path_is_unchanged(synthetic_zoo_master):
    models = load_zoo(synthetic_zoo_master)[:4]
    default = rank(models, n_boot=30, **FAST)
    named = rank(models, similarity="factorvae", n_boot=30, **FAST)
    np.testing.assert_array_equal(named.cross, default.cross)
    np.testing.assert_array_equal(named.scores_ci, default.scores_ci)
    assert named.similarity_measure == default.similarity_measure == "factorvae"
    # Cache keys and result files of FactorVAE keep their form.
    assert "similarity" not in named.protocol.to_dict()
    with pytest.raises(ParameterError, match="similarity must be one of"):
        rank(models, similarity="nope")


def test_a_factorvae_cell_is_stored_in_the_cache_format_2_arrays(synthetic_zoo_master, tmp_path):
    models = load_zoo(synthetic_zoo_master)[:2]
    rank(models, n_boot=0, cache_dir=tmp_path / "cache", **FAST)
    entry = next((tmp_path / "cache").rglob("*.npz"))
    with np.load(entry) as data:
        names = list(data.files)
    assert names == [
        "checksum", "score", "revised_score", "train_table", "eval_table", "scale_std",
        "group_var", "factors", "n_train", "scale_counts", "scale_means", "scale_m2",
        "prune_std",
    ]


def test_similarities_never_share_cached_cells(similarities, synthetic_zoo_master, tmp_path):
    models = load_zoo(synthetic_zoo_master)[:3]
    cache = tmp_path / "cache"
    first = rank(models, similarity="match", n_boot=0, cache_dir=cache, **FAST)
    again = rank(models, similarity="match", n_boot=0, cache_dir=cache, **FAST)
    assert (first.pairs_computed, again.pairs_cached) == (9, 9)
    np.testing.assert_array_equal(again.cross, first.cross)
    factorvae = rank(models, n_boot=0, cache_dir=cache, **FAST)
    assert (factorvae.pairs_cached, factorvae.pairs_computed) == (0, 9)
    np.testing.assert_array_equal(factorvae.cross, rank(models, n_boot=0, **FAST).cross)
    # A damaged entry of the new cell type is dropped and recomputed.
    protocol = first.protocol
    assert protocol.similarity == "match"
    source, encoder = models[0], models[1]
    store = PairCache(cache, protocol, 0)
    assert store.load(source, encoder) == MatchCell(first.cross[0, 1])
    for entry in cache.rglob("*.npz"):
        entry.write_bytes(b"damaged")
    assert store.load(source, encoder) is None


def test_cells_round_trip_through_their_stored_form():
    cell = ResampledMatchCell(0.5, np.ones((3, 2)), np.zeros((3, 2)))
    back = ResampledMatchCell.from_arrays(cell.to_arrays())
    assert back.value == 0.5 and isinstance(back, ResamplableCell)
    vote = VoteResult(0.25, 0.5, np.ones((2, 2), np.int64), None, np.ones(2))
    assert vote.value == 0.25 and vote.to_arrays() is None


@pytest.mark.slow
def test_rank_cli_takes_a_similarity(synthetic_zoo_master, tmp_path, capsys):
    assert main(["rank", "--help"]) == 0
    assert "--similarity [factorvae" in capsys.readouterr().out
    out = tmp_path / "result.json"
    status = main([
        "rank", str(synthetic_zoo_master), "--similarity", "factorvae", "--votes", "100",
        "--group-size", "20", "--scale-samples", "2000", "--n-boot", "0", "--quiet",
        "-o", str(out),
    ])
    assert status == 0
    assert json.loads(out.read_text())["similarity_measure"] == "factorvae"
    assert main(["rank", str(synthetic_zoo_master), "--similarity", "nope"]) == 2
    assert "Invalid value for '--similarity': 'nope'" in capsys.readouterr().err


def test_a_cell_of_another_type_than_declared_is_refused(monkeypatch):
    wrong = Similarity("wrong", match_cells, _cost, ResampledMatchCell)
    monkeypatch.setitem(SIMILARITIES, "wrong", wrong)
    models = make_leader_zoo("distinct", n_others=1, random_state=0)
    with pytest.raises(ModelCentralityError, match="returned a MatchCell cell, not its cell"):
        rank(models, similarity="wrong", n_boot=0)
