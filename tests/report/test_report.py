"""The HTML report, ground truth from files, and what `rank` prints after a ranking."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import kendalltau

from modelcentrality import load_zoo, rank
from modelcentrality.baselines import udr_for_models
from modelcentrality.cli import main
from modelcentrality.engine import get_protocol
from modelcentrality.errors import ModelCentralityError
from modelcentrality.report import (
    prior_quantiles,
    read_ground_truth,
    traversal_grid,
    write_report,
)

ZOOS = Path(__file__).resolve().parents[2] / "zoos"
FAST = {"votes": 20, "scale_samples": 500, "n_boot": 50, "progress": False}


def entanglement(name: str) -> float:
    """The synthetic zoo's models are named m<index>_e<entanglement>."""
    return float(name.split("_e")[1])


def write_evaluate_json(path: Path, names: list[str]) -> dict[str, float]:
    """An `evaluate -o`-shaped file whose FactorVAE falls with each model's entanglement."""
    truth = {name: 1.0 - 0.4 * entanglement(name) + 0.01 * k for k, name in enumerate(names)}
    results = {
        name: {
            "factorvae": {"score": value, "n_active_dims": 4},
            "mig": {"discrete_mig": value / 2},
        }
        for name, value in truth.items()
    }
    path.write_text(json.dumps({"results": results, "skipped": {}}))
    return truth


@pytest.fixture(scope="module")
def ranked(synthetic_zoo_master):
    models = load_zoo(synthetic_zoo_master)
    return models, rank(models, **FAST)


def test_traversal_rows_sweep_one_code_dim_over_prior_quantiles(ranked):
    models, _ = ranked
    model = models[0]
    grid = traversal_grid(model, columns=5, random_state=3)
    assert grid.shape == (model.n_codes, 5, *model.observation_shape)
    values = prior_quantiles(model, 5)
    np.testing.assert_allclose(values, [-0.8, -0.4, 0.0, 0.4, 0.8], atol=1e-12)
    base = model.sample_prior(1, 3)[0]
    row = 2
    latents = np.tile(base, (5, 1)).astype(np.float32)
    latents[:, model.code_dims[row]] = values
    np.testing.assert_allclose(grid[row], model.generate(latents), atol=1e-6)
    # Columns differ along a row: the code changes the image.
    assert np.abs(grid[row, 0] - grid[row, -1]).max() > 1e-3


def test_ground_truth_from_a_manifest_skips_unscored_models(tmp_path):
    manifest = json.loads((ZOOS / "infogan_cr" / "manifest.json").read_text())
    truth = read_ground_truth(ZOOS / "infogan_cr" / "manifest.json")
    expected = {m["name"]: m["scores"]["factorvae_paper"]["score"] for m in manifest["models"]}
    assert {n: s["factorvae"] for n, s in truth.scores.items()} == expected
    # The layout before pending models moved out of "models": entries without scores.
    old = {
        "spec": manifest["spec"],
        "models": manifest["models"] + [{"name": "x", "status": "pending"}],
    }
    (tmp_path / "old.json").write_text(json.dumps(old))
    assert set(read_ground_truth(tmp_path / "old.json").scores) == set(expected)


def test_ground_truth_compare_matches_scipy(tmp_path, ranked):
    _, result = ranked
    truth = write_evaluate_json(tmp_path / "scores.json", result.names)
    ground_truth = read_ground_truth(tmp_path / "scores.json")
    summary = ground_truth.compare(result.names, result.scores)
    values = [truth[n] for n in result.names]
    assert summary["kendall_tau"] == pytest.approx(kendalltau(result.scores, values)[0])
    assert summary["pick"] == result.selected
    assert summary["best"] == max(truth, key=truth.get)
    assert summary["pick_score"] == pytest.approx(truth[result.selected])


@pytest.mark.parametrize("content", ["{", '{"something": 1}', '{"results": {"m": {}}}'])
def test_unreadable_ground_truth_is_one_line(tmp_path, content):
    path = tmp_path / "truth.json"
    path.write_text(content)
    with pytest.raises(ModelCentralityError, match="truth.json"):
        read_ground_truth(path)


def distinct_colours(path: Path) -> int:
    from matplotlib.image import imread

    pixels = np.round(imread(path)[..., :3] * 255).astype(np.int64)
    return len(np.unique(pixels.reshape(-1, 3) @ np.array([65536, 256, 1])))


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is required in CI (.ci/run installs it)")
        pytest.skip("chromium is not installed (apt-get install chromium); CI runs this test")
    return found


def test_report_renders_in_headless_chromium(tmp_path, ranked):
    browser = chromium()
    models, result = ranked
    write_evaluate_json(tmp_path / "scores.json", result.names)
    observations = models[0].generate(models[0].sample_prior(300, 0))
    udr = udr_for_models(models, observations, method="spearman")
    page = write_report(
        result,
        models,
        tmp_path / "report",
        udr=udr,
        ground_truth=read_ground_truth(tmp_path / "scores.json"),
    )
    html = page.read_text()
    assert "<script" not in html and "http" not in html.replace("http-equiv", "")
    assert html.count("data:image/png;base64,") == 1 + 4  # heatmap, top 3 and the bottom
    shot = tmp_path / "shot.png"
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu"]
    subprocess.run(
        [*command, f"--screenshot={shot}", "--window-size=1200,2000", page.as_uri()],
        check=True,
        capture_output=True,
        timeout=180,
    )
    assert distinct_colours(shot) > 100, "the screenshot is blank"
    dom = subprocess.run(
        [*command, "--dump-dom", page.as_uri()],
        check=True,
        capture_output=True,
        text=True,
        timeout=180,
    ).stdout
    for name in result.names:
        assert name in dom, f"{name} is not on the page"
    for word in ("error", "traceback", "exception", "not loaded"):
        assert word not in dom.lower()
    assert "ModelCentrality vs FactorVAE: Kendall tau" in dom
    assert "UDR vs FactorVAE: Kendall tau" in dom
    # Every model's UDR score is in its row.
    for name, score in zip(udr.names, udr.scores):
        row = dom[dom.index(f">{name}<") :].split("</tr>")[0]
        assert f"{score:.4f}" in row


def test_rank_cli_writes_report_and_compares_with_ground_truth(
    tmp_path, capsys, ranked, synthetic_zoo_master
):
    zoo = synthetic_zoo_master
    names = [m.name for m in ranked[0]]
    truth = write_evaluate_json(tmp_path / "scores.json", names)
    status = main(
        [
            "rank",
            str(zoo),
            "--votes",
            "20",
            "--scale-samples",
            "500",
            "--n-boot",
            "20",
            "--report",
            str(tmp_path / "report"),
            "--ground-truth",
            str(tmp_path / "scores.json"),
            "-o",
            str(tmp_path / "ranking.json"),
            "--quiet",
        ]
    )
    out = capsys.readouterr()
    assert status == 0, out.err
    ranking = json.loads((tmp_path / "ranking.json").read_text())
    tau = kendalltau(ranking["scores"], [truth[n] for n in ranking["names"]])[0]
    assert f"Kendall tau {tau:.2f}" in out.out
    assert f"pick {ranking['ranking'][0]} {truth[ranking['ranking'][0]]:.3f}" in out.out
    assert (tmp_path / "report" / "index.html").is_file()

    # The same report from the saved result.
    status = main(["report", str(tmp_path / "ranking.json"), str(zoo), "-o", str(tmp_path / "r2")])
    assert status == 0, capsys.readouterr().err
    text = (tmp_path / "r2" / "index.html").read_text()
    assert all(name in text for name in names)


def test_report_without_matplotlib_is_one_line(tmp_path, capsys, monkeypatch, synthetic_zoo):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    status = main(["rank", str(synthetic_zoo), "--report", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert status == 1
    assert err.strip().count("\n") == 0
    assert "pip install 'modelcentrality[report]'" in err


def test_report_reads_udr_from_its_json_form(tmp_path, ranked):
    models, result = ranked
    observations = models[0].generate(models[0].sample_prior(300, 0))
    udr = udr_for_models(models, observations, method="spearman")
    from_result = write_report(result, models[:1], tmp_path / "a", udr=udr).read_text()
    saved = json.loads(json.dumps(udr.to_dict()))
    from_json = write_report(result.to_dict(), models[:1], tmp_path / "b", udr=saved).read_text()
    assert from_result == from_json


def test_report_command_adds_udr_and_ground_truth_on_a_dsprites_zoo(tmp_path, capsys):
    models = load_zoo(ZOOS / "infogan_cr")[:3]
    result = rank(models, votes=10, scale_samples=500, n_boot=0, progress=False)
    result.to_json(tmp_path / "ranking.json")
    status = main(
        [
            "report",
            str(tmp_path / "ranking.json"),
            str(ZOOS / "infogan_cr"),
            "-o",
            str(tmp_path / "report"),
            "--udr",
            "--udr-samples",
            "200",
            "--ground-truth",
            str(ZOOS / "infogan_cr" / "manifest.json"),
        ]
    )
    out = capsys.readouterr()
    assert status == 0, out.err
    udr_line = next(line for line in out.out.splitlines() if line.startswith("UDR (lasso)"))
    assert sorted(udr_line.split(": ", 1)[1].split(", ")) == sorted(result.names)
    page = (tmp_path / "report" / "index.html").read_text()
    assert "UDR vs FactorVAE: Kendall tau" in page
    assert "over 3 models" in page


@pytest.mark.parametrize(
    "payload, problem",
    [
        (5, "not a JSON object"),
        ({"names": ["a"], "scores": [1], "self_consistency": [1]}, "no similarity"),
        ({"names": ["a"], "scores": [], "similarity": [[1]], "self_consistency": [1]}, "scores"),
        ({"names": ["a"], "scores": [1], "similarity": 5, "self_consistency": [1]}, "1 x 1"),
        (
            {"names": ["a"], "scores": [1], "similarity": [[1]], "self_consistency": [1],
             "seed": "x"},
            "seed must be an integer",
        ),
    ],
)
def test_report_of_a_malformed_ranking_is_one_line(tmp_path, capsys, payload, problem):
    ranking = tmp_path / "ranking.json"
    ranking.write_text(json.dumps(payload))
    status = main(["report", str(ranking), str(ZOOS / "infogan_cr"), "-o", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert status == 1 and "\n" not in err and "Traceback" not in err
    assert "is not a `rank -o` result" in err and problem in err


def test_malformed_manifest_entries_are_not_ground_truth(tmp_path):
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"models": [
        {"scores": {"factorvae_paper": {"score": 0.5}}},
        {"name": "a", "scores": {"factorvae_paper": 5}},
        {"name": "b", "scores": {"factorvae_paper": {"score": 0.7}}},
    ]}))
    truth = read_ground_truth(manifest)
    assert list(truth.scores) == ["b"]


def _ranking_data(p_top, ci, scores=None, **extra) -> dict:
    """A `rank -o`-shaped dict of three models with the given p_top and intervals."""
    names = ["a", "b", "c"]
    scores = scores or [float(np.mean(interval)) for interval in ci]
    similarity = np.full((3, 3), 0.5).tolist()
    return {
        "names": names,
        "scores": scores,
        "scores_ci": ci,
        "p_top": p_top,
        "self_consistency": [0.9, 0.9, 0.9],
        "similarity": similarity,
        "protocol": {"name": "paper", "votes": None, "group_size": 100, "scale_samples": 73728},
        "seed": 0,
        **extra,
    }


def test_report_banner_names_the_contenders_of_an_uncertain_leader():
    from modelcentrality.report._html import certainty_banner, contenders

    # b's interval overlaps a's; c has p_top 0.06 but a separate interval.
    ci = [[0.80, 0.90], [0.78, 0.82], [0.60, 0.70]]
    data = _ranking_data([0.62, 0.32, 0.06], ci)
    assert contenders(data) == ["a", "b", "c"]
    banner = certainty_banner(data)
    assert banner.startswith("Uncertain leader: a has p_top 0.620")
    assert "b, c" in banner
    # A clear leader gets no banner; one whose p_top is 0.949 does.
    clear = _ranking_data([0.97, 0.03, 0.0], [[0.85, 0.90], [0.78, 0.84], [0.6, 0.7]])
    assert certainty_banner(clear) is None and contenders(clear) == ["a"]
    close = _ranking_data([0.949, 0.051, 0.0], [[0.85, 0.90], [0.78, 0.84], [0.6, 0.7]])
    assert "contenders" in certainty_banner(close) and "b" in certainty_banner(close)
    # A search that reports a tie is named as one, whatever p_top says.
    tied = _ranking_data([0.97, 0.03, 0.0], [[0.85, 0.90], [0.78, 0.84], [0.6, 0.7]],
                         search={"name": "precision", "tied": ["a", "c"]})
    assert certainty_banner(tied).startswith("Tie: the leader a") and "from c" in certainty_banner(
        tied
    )
    # No bootstrap: nothing to say.
    assert certainty_banner({**data, "p_top": None}) is None


def test_report_states_the_real_budget_intervals_and_colour_scale(tmp_path, ranked):
    models, _ = ranked
    # 20 votes under the paper protocol: the budget is overridden, S follows the votes.
    result = rank(models, votes=20, n_boot=50, progress=False)
    page = write_report(result, models, tmp_path).read_text()
    assert "budget: protocol paper (budget overridden), 20 votes per pair, " in page
    assert "scale set S = 2,000, group size L = 100" in page
    assert f"{result.encoder_passes:,} encoder passes computed" in page
    # Interval numbers in the table, not only a bar.
    for i in range(len(models)):
        low, high = result.scores_ci[i]
        assert f"{low:.4f}-{high:.4f}" in page
    # The colour scale: white at the mean off-diagonal similarity, range stated.
    similarity = result.similarity.copy()
    np.fill_diagonal(similarity, np.nan)
    assert f"white at the zoo's mean similarity {np.nanmean(similarity):.4f}" in page
    assert f"lowest cell {np.nanmin(similarity):.4f}" in page
    assert f"highest {np.nanmax(similarity):.4f}" in page
    assert "The diagonal (grey) is left out" in page and "self-consistency" in page
    # The protocol's own budget is not called overridden.
    small = get_protocol("paper").with_overrides(votes=20, scale_samples=500)
    own = rank(models, small, n_boot=0, progress=False)
    assert "overridden" not in write_report(own, models, tmp_path / "own").read_text()


def test_ground_truth_of_another_factorvae_protocol_is_flagged(tmp_path, ranked, capsys):
    from modelcentrality.cli.report import report_outcome

    _, result = ranked
    path = tmp_path / "scores.json"
    write_evaluate_json(path, result.names)
    payload = json.loads(path.read_text())
    payload["settings"] = {"factorvae": {"protocol": "disentanglement_lib"}}
    path.write_text(json.dumps(payload))
    truth = read_ground_truth(path)
    assert truth.factorvae_protocol == "disentanglement_lib"
    report_outcome(result, [], ground_truth=truth)
    err = capsys.readouterr().err
    assert "warning: the ground truth's FactorVAE scores use the disentanglement_lib" in err
    assert "--factorvae-protocol paper" in err
    page = write_report(result, None, tmp_path / "r", ground_truth=truth).read_text()
    assert "Warning: the ground truth&#x27;s FactorVAE scores use" in page
    # A manifest's factorvae_paper scores are the paper protocol: no warning.
    manifest = read_ground_truth(ZOOS / "infogan_cr" / "manifest.json")
    assert manifest.factorvae_protocol == "paper"
    report_outcome(result, [], ground_truth=manifest)
    assert "ground truth's FactorVAE" not in capsys.readouterr().err
    assert manifest.protocol_warning("paper") is None
