"""rank's steps, the search given as a strategy, text options, the result table, the
report run through the API, and the CLI's renamed options with their old spellings."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest

from modelcentrality import ParameterError, PrecisionSearch, RankResult, load_zoo, rank
from modelcentrality.cli import main
from modelcentrality.report import ranking_notes, read_ground_truth, report_ranking
from modelcentrality.selection import AdaptiveSearch, options_from_text

#: Three models at a reduced protocol: a ranking in well under a second.
TINY = {"votes": 20, "group_size": 10, "scale_samples": 200, "progress": False}
CLI_TINY = ["--votes", "20", "--group-size", "10", "--scale-samples", "200", "--quiet"]


@pytest.fixture(scope="module")
def three(synthetic_zoo_master):
    zoo = load_zoo(synthetic_zoo_master)
    return [zoo[0], zoo[4], zoo[5]]


@dataclass
class _Plugin:
    """A constructor with every annotation kind that text options convert."""

    rounds: int = 1
    rate: float = 0.5
    eager: bool = False
    label: str = "x"
    cap: int | None = None


def test_text_options_take_the_constructors_types():
    values = options_from_text(
        _Plugin,
        {"rounds": "3", "rate": "0.25", "eager": "yes", "label": "y", "cap": "none"},
        "search 'plugin'",
    )
    assert values == {"rounds": 3, "rate": 0.25, "eager": True, "label": "y", "cap": None}
    assert options_from_text(_Plugin, {"cap": "7", "eager": "off"}, "p") == {
        "cap": 7,
        "eager": False,
    }
    assert options_from_text(PrecisionSearch, {"max_passes": "1000"}, "p") == {
        "max_passes": 1000
    }
    with pytest.raises(ParameterError, match="search 'plugin' does not take speed"):
        options_from_text(_Plugin, {"speed": "1"}, "search 'plugin'")
    with pytest.raises(ParameterError, match="rounds must be int, got '2.5'"):
        options_from_text(_Plugin, {"rounds": "2.5"}, "p")
    with pytest.raises(ParameterError, match="eager must be bool"):
        options_from_text(_Plugin, {"eager": "maybe"}, "p")


def test_search_is_a_name_or_a_strategy_and_n_boot_is_checked(three):
    with pytest.raises(ParameterError, match="search 'precision' needs precision"):
        rank(three, search="precision", **TINY)
    with pytest.raises(ParameterError, match="n_boot must be 0"):
        rank(three, n_boot=1, **TINY)
    result = rank(three, search=PrecisionSearch(0.5, refine_top=False), n_boot=0, **TINY)
    assert result.search == "precision" and result.precision == 0.5
    assert result.uncertainty is None
    by_name = rank(three, search="full", n_boot=0, **TINY)
    default = rank(three, n_boot=0, **TINY)
    np.testing.assert_array_equal(by_name.cross, default.cross)


def test_summary_table_lists_the_ranking_best_first(three):
    result = rank(three, n_boot=20, **TINY)
    headers, rows = result.summary_table()
    assert headers == ["rank", "name", "centrality", "95% interval", "p_top", "self-consistency"]
    assert [row[1] for row in rows] == result.ranking
    assert [row[0] for row in rows] == [1, 2, 3]
    best = result.order[0]
    assert rows[0][2] == float(result.scores[best])
    low, high = result.scores_ci[best]
    assert rows[0][3] == f"{low:.4f}-{high:.4f}"
    bare = RankResult.from_json({k: v for k, v in result.to_dict().items()
                                 if k not in ("scores_ci", "p_top")})
    assert bare.summary_table()[0] == ["rank", "name", "centrality", "self-consistency"]


def test_report_ranking_compares_with_ground_truth_without_models(three, tmp_path):
    result = rank(three, n_boot=20, **TINY)
    scores = {name: {"factorvae": float(s)} for name, s in zip(result.names, result.scores)}
    path = tmp_path / "truth.json"
    path.write_text(json.dumps({
        "metrics": ["factorvae"],
        "settings": {"factorvae": {"protocol": "paper"}},
        "ground_truth_version": "dsprites/procedural-v2",
        "results": {name: {"factorvae": {"score": s["factorvae"]}}
                    for name, s in scores.items()},
    }))
    outcome = report_ranking(result.to_dict(), [], ground_truth=read_ground_truth(path))
    assert outcome.ground_truth["kendall_tau"] == pytest.approx(1.0)
    assert outcome.ground_truth["pick"] == result.selected
    assert outcome.lines[0].startswith("ground truth (3 models, FactorVAE")
    assert outcome.udr is None and outcome.path is None
    notes = ranking_notes(result, budget=True)
    assert notes[0].startswith("budget: ")
    assert ranking_notes(result, budget=False) == notes[1:]


@pytest.mark.slow
def test_cli_search_options_and_old_spellings(synthetic_zoo_master, tmp_path, capsys):
    zoo = str(synthetic_zoo_master)
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    assert main(["rank", zoo, *CLI_TINY, "--bootstrap", "30", "-o", str(old)]) == 0
    assert main(["rank", zoo, *CLI_TINY, "--n-boot", "30", "-o", str(new)]) == 0
    assert json.loads(old.read_text())["scores"] == json.loads(new.read_text())["scores"]
    assert json.loads(new.read_text())["bootstrap"]["replicates"] == 30
    capsys.readouterr()
    out = tmp_path / "p.json"
    args = ["rank", zoo, *CLI_TINY, "--precision", "0.001", "--no-refine-top",
            "--votes", "200", "--search-option", "max_passes=1", "--n-boot", "0", "-o", str(out)]
    assert main(args) == 0, capsys.readouterr().err
    payload = json.loads(out.read_text())
    assert payload["search"]["name"] == "precision"
    assert payload["search"]["stop_reason"].endswith("would pass the cap of 1")
    for args, message in (
        (["--top-k", "2"], "search 'full' does not take top_k"),
        (["--top", "2"], "search 'full' does not take top_k"),
        (["--precision", "0.01", "--search-option", "precision=0.02"], "given both"),
        (["--search-option", "votes"], "is not KEY=VALUE"),
        (["--search", "adaptive", "--search-option", "growth=fast"], "growth must be float"),
        (["--search-option", "pilot_votes=5"], "search 'full' does not take pilot_votes"),
    ):
        assert main(["rank", zoo, *CLI_TINY, *args]) == 2
        assert message in capsys.readouterr().err
    assert main(["rank", "--help"]) == 0
    shown = capsys.readouterr().out
    assert "--n-boot" in shown and "--top-k" in shown and "--search-option" in shown
    assert "--bootstrap" not in shown and "--top " not in shown
    assert AdaptiveSearch(top_k=2).top_k == 2
