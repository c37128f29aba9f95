"""Precision-targeted vote budget and prefix-consistent vote blocks."""

import json

import numpy as np
import pytest

from modelcentrality import load_zoo, rank
from modelcentrality._progress import ProgressBar
from modelcentrality.cli import main
from modelcentrality.engine._scoring import factorvae_votes
from modelcentrality.engine._sources import GeneratedFactors
from modelcentrality.engine._votes import PAPER
from modelcentrality.selection import PrecisionSearch
from modelcentrality.testing import make_leader_zoo


def test_fewer_votes_are_a_prefix_of_more_votes(synthetic_zoo_master):
    zoo = load_zoo(synthetic_zoo_master)
    source = GeneratedFactors(zoo[5])
    encoders = [m.encode for m in zoo]
    few = factorvae_votes(source, encoders, PAPER.with_overrides(votes=150, scale_samples=2000), 4)
    many = factorvae_votes(source, encoders, PAPER.with_overrides(votes=400, scale_samples=2000), 4)
    for small, large in zip(few, many):
        assert small.train_table.sum() == 150 and large.train_table.sum() == 400
        # Every vote of the small run is among the large run's votes.
        assert np.all(small.train_table <= large.train_table)


def test_budget_reaches_precision_cheaply_and_selects_a_good_model(synthetic_zoo_master):
    zoo = load_zoo(synthetic_zoo_master)
    budget = rank(zoo, search=PrecisionSearch(0.015, refine_top=False))
    full_protocol_passes = 64 * (500 * 100 + 73_728)
    assert budget.selected.endswith("_e0.10")
    assert budget.uncertainty.std.max() <= 0.015
    assert np.all(budget.votes <= 500)
    assert budget.encoder_passes * 5 < full_protocol_passes


@pytest.mark.slow
def test_tighter_precision_spends_more_votes(synthetic_zoo_master):
    zoo = load_zoo(synthetic_zoo_master)
    loose = rank(zoo, search=PrecisionSearch(0.02, refine_top=False), n_boot=100)
    tight = rank(zoo, search=PrecisionSearch(0.006, refine_top=False), n_boot=100)
    assert tight.votes.min() > loose.votes.max()
    assert tight.uncertainty.std.max() <= 0.006
    assert tight.encoder_passes > loose.encoder_passes


def test_votes_cap_the_budget_and_cli_reports_it(synthetic_zoo, tmp_path, capsys):
    out = tmp_path / "r.json"
    status = main([
        "rank", str(synthetic_zoo), "--precision", "0.0001", "--votes", "200",
        "--no-refine-top", "--n-boot", "100", "--quiet", "-o", str(out),
    ])
    assert status == 0, capsys.readouterr().err
    payload = json.loads(out.read_text())
    assert payload["precision"] == 0.0001
    assert np.array(payload["votes"]).max() == 200
    assert payload["encoder_passes"] > 0


def test_tied_leaders_stop_on_a_tie_within_twice_the_plain_search(monkeypatch):
    labels = []

    class Recorder(ProgressBar):
        def __init__(self, total, label, **kwargs):
            labels.append(label)
            super().__init__(total, label, **{**kwargs, "enabled": False})

    monkeypatch.setattr("modelcentrality.selection._evaluator.ProgressBar", Recorder)
    models = make_leader_zoo("tied", n_others=2, random_state=0)
    for seed in range(3):
        labels.clear()
        refined = rank(models, random_state=seed, search=PrecisionSearch(0.02), n_boot=100)
        assert len(labels) == len(set(labels))
        plain = rank(models, random_state=seed,
                     search=PrecisionSearch(0.02, refine_top=False), n_boot=100)
        assert refined.encoder_passes <= 2 * plain.encoder_passes
        if refined.p_top.max() < 0.95:
            assert refined.stop_reason.startswith("tie:")
            assert {"lead", "twin"} <= set(refined.tied)
            assert refined.to_dict()["tied"] == refined.tied
        else:
            assert refined.tied == []


def test_a_work_cap_stops_the_search_with_its_reason():
    models = make_leader_zoo("distinct", n_others=2, random_state=0)
    search = PrecisionSearch(precision=0.001, max_passes=1_000_000)
    result = rank(models, search=search, n_boot=100)
    assert not result.target_reached
    assert "cap of 1,000,000" in result.stop_reason
    assert result.encoder_passes <= 1_000_000


def test_pairs_of_a_precision_search_share_one_scale_set():
    result = rank(
        make_leader_zoo("distinct", n_others=2), search=PrecisionSearch(0.005), n_boot=100
    )
    assert len(np.unique(result.votes)) > 1 or result.votes.min() > 100
    # S of the vote cap (20 per vote x 500), whatever votes each pair ended with.
    assert result.protocol.scale_samples == 10_000
