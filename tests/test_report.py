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
from modelcentrality.errors import ModelCentralityError
from modelcentrality.report import (
    prior_quantiles,
    read_ground_truth,
    traversal_grid,
    write_report,
)

ZOOS = Path(__file__).resolve().parents[1] / "zoos"
FAST = {"votes": 20, "scale_samples": 500, "bootstrap": 50, "progress": False}


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
            "--bootstrap",
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
    result = rank(models, votes=10, scale_samples=500, bootstrap=0, progress=False)
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
