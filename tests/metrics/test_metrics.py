"""Supervised disentanglement metrics on a toy dataset, their helpers, and the CLI."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from sklearn.metrics import mutual_info_score

from modelcentrality.datasets import get_dataset
from modelcentrality.datasets.base import GroundTruthDataset
from modelcentrality.io._zoo import load_model
from modelcentrality.metrics import (
    METRICS,
    compute_dci,
    compute_factor_vae,
    compute_sap,
    evaluate,
    metric_settings,
)
from modelcentrality.metrics.dci import completeness, disentanglement
from modelcentrality.metrics.modularity import modularity
from modelcentrality.metrics.utils import discrete_mutual_info, histogram_discretize
from modelcentrality.testing._synthetic import SyntheticWorld, mixing_matrix, write_synthetic_model
from tests._helpers import run_cli, slow_fixture


class ToyDataset(GroundTruthDataset):
    """4 factors; observations are an orthonormal linear map of the factors in [-1, 1]."""

    name = "toy"
    factor_names = ("a", "b", "c", "d")
    factor_sizes = (3, 4, 5, 6)
    observation_shape = (2, 3, 3)

    def __init__(self) -> None:
        rng = np.random.default_rng(123)
        self.weights, _ = np.linalg.qr(rng.normal(size=(18, 4)))
        self.bias = rng.normal(0.0, 0.1, size=18)

    def normalise(self, factors: np.ndarray) -> np.ndarray:
        return factors / (np.asarray(self.factor_sizes) - 1) * 2 - 1

    def sample_observations_from_factors(self, factors, random_state=None):
        flat = self.normalise(factors) @ self.weights.T + self.bias
        return flat.reshape(len(factors), *self.observation_shape).astype(np.float32)

    def truth(self, observations: np.ndarray) -> np.ndarray:
        """The exact inverse: the normalised factors."""
        return (observations.reshape(len(observations), -1) - self.bias) @ self.weights


TOY = ToyDataset()
PERMUTATION = np.array([2, 0, 3, 1])
SIGNS = np.array([1.0, -1.0, -1.0, 1.0])
# Small sample counts: the whole file stays fast on 2 cores.
SMALL = {
    "factorvae": {"votes": 300, "eval_votes": 300, "scale_samples": 2000},
    "betavae": {"n_train": 400, "n_eval": 300},
    "mig": {"n_train": 2000},
    "dci": {"n_train": 500, "n_test": 300},
    "sap": {"n_train": 2000, "n_test": 1000},
    "modularity": {"n_train": 2000, "n_test": 1000},
}


def permuted(observations):
    return TOY.truth(observations)[:, PERMUTATION] * SIGNS


def noise(observations):
    # Seeded by the batch content so that the representation is a fixed function.
    seed = int(np.abs(observations).sum() * 1e4) % 2**32
    return np.random.default_rng(seed).normal(size=(len(observations), 4))


def rotated(observations):
    """Pairs of factors mixed half and half: entangled but fully informative."""
    codes = TOY.truth(observations)
    half = np.sqrt(0.5)
    return np.column_stack(
        [
            half * (codes[:, 0] + codes[:, 1]),
            half * (codes[:, 0] - codes[:, 1]),
            half * (codes[:, 2] + codes[:, 3]),
            half * (codes[:, 2] - codes[:, 3]),
        ]
    )


@pytest.fixture(scope="module")
@slow_fixture
def scores():
    functions = {"truth": TOY.truth, "permuted": permuted, "noise": noise, "rotated": rotated}
    return {name: evaluate(fn, TOY, settings=SMALL) for name, fn in functions.items()}


# (metric, key, minimum for the true factors, maximum for noise)
EXPECTED = [
    ("factorvae", "score", 1.0, 0.45),
    ("factorvae", "revised_score", 1.0, 0.45),
    ("betavae", "eval_accuracy", 0.95, 0.45),
    ("mig", "discrete_mig", 0.95, 0.05),
    ("dci", "disentanglement", 0.9, 0.2),
    ("dci", "completeness", 0.9, 0.2),
    ("dci", "informativeness_test", 0.95, 0.4),
    # A linear SVM on one dim cannot isolate the middle classes: the truth scores ~0.5.
    ("sap", "SAP_score", 0.4, 0.05),
    ("modularity", "modularity_score", 0.95, 0.8),
    ("modularity", "explicitness_score_test", 0.95, 0.6),
]


@pytest.mark.parametrize(("metric", "key", "truth_min", "noise_max"), EXPECTED)
def test_true_factors_score_high_and_noise_low(scores, metric, key, truth_min, noise_max):
    assert scores["truth"][metric][key] >= truth_min
    assert scores["noise"][metric][key] <= noise_max


@pytest.mark.parametrize(("metric", "key"), [(m, k) for m, k, _, _ in EXPECTED])
def test_permuting_and_flipping_codes_changes_nothing(scores, metric, key):
    assert scores["permuted"][metric][key] == pytest.approx(scores["truth"][metric][key], abs=1e-6)


@pytest.mark.parametrize(
    ("metric", "key", "margin"),
    [
        ("factorvae", "score", 0.3),
        ("betavae", "eval_accuracy", 0.3),
        ("mig", "discrete_mig", 0.5),
        ("dci", "disentanglement", 0.3),
        ("sap", "SAP_score", 0.3),
        # Each mixed code informs 2 of 4 factors equally: 1 - 1/3 at best.
        ("modularity", "modularity_score", 0.15),
    ],
)
def test_mixing_factors_lowers_disentanglement_not_informativeness(scores, metric, key, margin):
    assert scores["rotated"][metric][key] < scores["truth"][metric][key] - margin
    assert scores["rotated"]["dci"]["informativeness_test"] > 0.95
    assert scores["rotated"]["modularity"]["explicitness_score_test"] > 0.95


def test_evaluate_equals_each_metric_called_alone(scores):
    for name, function in METRICS.items():
        alone = function(permuted, TOY, random_state=0, **SMALL[name])
        assert alone == pytest.approx(scores["permuted"][name])


def test_factor_vae_paper_protocol_scores_on_its_own_votes():
    result = compute_factor_vae(
        TOY.truth, TOY, random_state=0, protocol="paper", votes=80, scale_samples=1000
    )
    assert result["score"] == result["eval_accuracy"] == result["train_accuracy"] == 1.0
    assert result["revised_score"] == 1.0
    # A dead dim (constant) is never active and never wins a vote.
    dead = compute_factor_vae(
        lambda x: np.column_stack([TOY.truth(x), np.zeros(len(x))]),
        TOY,
        protocol="paper",
        votes=80,
        scale_samples=1000,
    )
    assert dead["n_active_dims"] == 4 and dead["score"] == 1.0


def test_factor_vae_prunes_low_variance_dims_under_disentanglement_lib():
    # Codes scaled by 0.01 have std < 0.05: every dim is pruned and the score is 0.
    result = compute_factor_vae(
        lambda x: 0.01 * TOY.truth(x), TOY, votes=50, eval_votes=50, scale_samples=500
    )
    assert result["n_active_dims"] == 0
    assert result["score"] == 0.0


def test_sap_continuous_uses_squared_correlation():
    result = compute_sap(TOY.truth, TOY, n_train=1000, n_test=10, continuous_factors=True)
    assert result["SAP_score"] > 0.95


def test_dci_random_forest_option_agrees_on_the_truth():
    result = compute_dci(TOY.truth, TOY, n_train=500, n_test=200, predictor="random_forest")
    assert result["disentanglement"] > 0.8
    assert result["informativeness_test"] > 0.95
    with pytest.raises(ValueError, match="DCI predictor must be one of"):
        compute_dci(TOY.truth, TOY, n_train=50, n_test=50, predictor="lasso")


def test_histogram_discretize_matches_digitize_on_histogram_edges():
    rng = np.random.default_rng(0)
    codes = np.column_stack([rng.normal(size=500), rng.random(500) ** 3, np.full(500, 2.0)])
    binned = histogram_discretize(codes, 20)
    for d in range(codes.shape[1]):
        edges = np.histogram(codes[:, d], 20)[1]
        np.testing.assert_array_equal(binned[:, d], np.digitize(codes[:, d], edges[:-1]) - 1)
    assert binned.min() >= 0 and binned.max() == 19


def test_mutual_info_matches_scikit_learn():
    rng = np.random.default_rng(1)
    factors = rng.integers(0, [3, 7], size=(400, 2))
    codes = np.column_stack([factors[:, 1] // 2, rng.integers(0, 5, size=400)])
    mi = discrete_mutual_info(codes, factors)
    for i in range(2):
        for j in range(2):
            assert mi[i, j] == pytest.approx(mutual_info_score(factors[:, j], codes[:, i]))


def test_importance_and_mutual_info_summaries_on_hand_made_matrices():
    assert disentanglement(np.eye(3)) == pytest.approx(1.0)
    assert completeness(np.eye(3)) == pytest.approx(1.0)
    assert disentanglement(np.ones((3, 3))) == pytest.approx(0.0, abs=1e-9)
    assert completeness(np.ones((3, 3))) == pytest.approx(0.0, abs=1e-9)
    # One code carries two factors equally: its row is maximally entangled.
    importance = np.array([[1.0, 1.0], [0.0, 0.0]])
    assert disentanglement(importance) == pytest.approx(0.0, abs=1e-9)
    assert completeness(importance) == pytest.approx(1.0)
    assert modularity(np.eye(4)) == 1.0
    # Dead codes score 0; a code equally informative about 2 of 3 factors scores 0.5.
    assert modularity(np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 0.0]])) == pytest.approx(0.25)


def test_settings_scale_counts_and_reject_unknown_names():
    scaled = metric_settings(["factorvae", "betavae"], 0.1)
    assert scaled["factorvae"] == {
        "protocol": "disentanglement_lib",
        "votes": 1000,
        "eval_votes": 500,
        "group_size": 64,
        "scale_samples": 1000,
    }
    assert scaled["betavae"] == {"batch_size": 64, "n_train": 1000, "n_eval": 500}
    paper = metric_settings(["factorvae"], 1.0, {"factorvae": {"protocol": "paper"}})
    assert paper["factorvae"]["votes"] == 500 and paper["factorvae"]["eval_votes"] == 0
    with pytest.raises(ValueError, match="unknown metric"):
        metric_settings(["mig", "irs"])
    with pytest.raises(ValueError, match="unknown settings"):
        metric_settings(["mig"], 1.0, {"mig": {"n_test": 5}})
    with pytest.raises(ValueError, match="unknown settings"):
        metric_settings(["factorvae"], 1.0, {"factorvae": {"n_train": 5}})


def test_bad_representation_output_is_a_clear_error():
    with pytest.raises(ValueError, match="must return shape"):
        evaluate(lambda x: np.zeros(len(x)), TOY, ["mig"], settings={"mig": {"n_train": 10}})


# --- the ``evaluate`` command on a tiny ONNX zoo -------------------------------------------


def _save(graph, path):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


def write_dsprites_model(folder, weights, centroid):
    """A dSprites-shaped model: codes = flat image @ weights, divided by the mass if centroid."""
    folder.mkdir(parents=True)
    dims = weights.shape[1]
    obs = helper.make_tensor_value_info("observations", TensorProto.FLOAT, ["b", 1, 64, 64])
    codes = helper.make_tensor_value_info("codes", TensorProto.FLOAT, ["b", dims])
    nodes = [
        helper.make_node("Reshape", ["observations", "flat_shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "w"], ["moments" if centroid else "codes"]),
    ]
    if centroid:
        nodes += [
            helper.make_node("ReduceSum", ["flat", "axis"], ["mass"], keepdims=1),
            helper.make_node("Add", ["mass", "eps"], ["safe_mass"]),
            helper.make_node("Div", ["moments", "safe_mass"], ["codes"]),
        ]
    constants = [
        numpy_helper.from_array(np.array([-1, 4096], dtype=np.int64), "flat_shape"),
        numpy_helper.from_array(weights.astype(np.float32), "w"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axis"),
        numpy_helper.from_array(np.array(1e-3, dtype=np.float32), "eps"),
    ]
    _save(helper.make_graph(nodes, "encoder", [obs], [codes], constants), folder / "encoder.onnx")
    generator = helper.make_graph(
        [
            helper.make_node("MatMul", ["latents", "g"], ["pre"]),
            helper.make_node("Sigmoid", ["pre"], ["flat"]),
            helper.make_node("Reshape", ["flat", "shape"], ["observations"]),
        ],
        "generator",
        [helper.make_tensor_value_info("latents", TensorProto.FLOAT, ["b", dims])],
        [helper.make_tensor_value_info("observations", TensorProto.FLOAT, ["b", 1, 64, 64])],
        [
            numpy_helper.from_array(weights.T.astype(np.float32).copy(), "g"),
            numpy_helper.from_array(np.array([-1, 1, 64, 64], dtype=np.int64), "shape"),
        ],
    )
    _save(generator, folder / "generator.onnx")
    metadata = {
        "format": 1,
        "latent_dim": dims,
        "code_dims": list(range(dims)),
        "prior": {"type": "uniform", "low": -1.0, "high": 1.0},
        "kind": "vae",
    }
    (folder / "model.json").write_text(json.dumps(metadata))


@pytest.fixture(scope="module")
def dsprites_zoo(tmp_path_factory):
    """'centroid' encodes the sprite's position, 'random' is a random projection."""
    zoo = tmp_path_factory.mktemp("evaluate") / "zoo"
    rows, columns = np.mgrid[0:64, 0:64] / 63.0
    write_dsprites_model(
        zoo / "centroid", np.column_stack([columns.ravel(), rows.ravel()]), centroid=True
    )
    random = np.random.default_rng(0).normal(size=(4096, 2)) / 64
    write_dsprites_model(zoo / "random", random, centroid=False)
    return zoo


def test_evaluate_command_writes_every_metric(dsprites_zoo, tmp_path, capsys):
    out = tmp_path / "scores.json"
    # Random forests: gradient boosting over dSprites' 113 classes would dominate the run.
    args = ("--sample-multiplier", "0.01", "--dci-predictor", "random_forest", "--quiet", "-o", out)
    status, stdout, err = run_cli(capsys, "evaluate", dsprites_zoo, *args)
    assert status == 0, err
    header = stdout.splitlines()[0].split()
    assert header[:3] == ["model", "factorvae", "betavae"]
    assert "dci.disentanglement" in header and "modularity.explicitness_score_test" in header
    report = json.loads(out.read_text())
    assert set(report["results"]) == {"centroid", "random"}
    assert set(report["results"]["random"]) == set(METRICS)
    assert report["dataset"] == {"spec": "dsprites", "name": "dsprites"}
    assert report["seed"] == 0 and report["version"]
    # The FactorVAE metric defaults to the paper protocol, as `rank` (500 votes x 0.01).
    assert report["settings"]["factorvae"]["protocol"] == "paper"
    assert report["settings"]["factorvae"]["votes"] == 5
    assert report["settings"]["dci"]["n_train"] == 100
    assert report["settings"]["dci"]["predictor"] == "random_forest"
    # The CLI is the Python API on the loaded model.
    model = load_model(dsprites_zoo / "random")
    api = evaluate(model.encode, get_dataset("dsprites"), ["mig", "sap"], 0, sample_multiplier=0.01)
    for name in ("mig", "sap"):
        assert report["results"]["random"][name] == pytest.approx(api[name])


def test_evaluate_command_ranks_a_position_encoder_above_a_random_one(dsprites_zoo, capsys):
    status, stdout, err = run_cli(
        capsys, "evaluate", dsprites_zoo, "--metrics", "mig", "--sample-multiplier", "0.2",
        "--quiet",
    )
    assert status == 0, err
    table = {line.split()[0]: float(line.split()[1]) for line in stdout.splitlines()[2:]}
    # Position x and y (2 of 5 factors) are each captured by one centroid code.
    assert table["centroid"] > 0.2
    assert table["random"] < 0.1


def test_evaluate_command_rejects_mismatched_models(tmp_path, capsys):
    zoo = tmp_path / "zoo"
    write_dsprites_model(zoo / "good", np.ones((4096, 1)) / 4096, centroid=False)
    world = SyntheticWorld.make(n_factors=2, n_nuisance=1)
    write_synthetic_model(world, mixing_matrix(2, 0.0, np.random.default_rng(0)), zoo / "small")
    args = ("evaluate", zoo, "--metrics", "mig", "--sample-multiplier", "0.01", "--quiet")
    status, _, err = run_cli(capsys, *args)
    assert status == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "'small'" in lines[0] and "(1, 8, 8)" in lines[0]
    status, stdout, err = run_cli(capsys, *args, "--skip-bad")
    assert status == 0
    assert "skipped model 'small'" in err
    assert "good" in stdout and "small" not in stdout


def test_evaluate_command_unknown_metric_lists_the_known_ones(dsprites_zoo, capsys):
    status, _, err = run_cli(capsys, "evaluate", dsprites_zoo, "--metrics", "mig,irs")
    assert status == 2
    assert "irs" in err and "factorvae, betavae, mig, dci, sap, modularity" in err
    assert len(err.strip().splitlines()) == 1
