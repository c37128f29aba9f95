"""UDR baseline: relative strength, invariances, informative-dim rules, zoo helper, CLI."""

import json
import shutil
import warnings
from itertools import product

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.linear_model import Lasso

from modelcentrality.baselines._udr import (
    encode_representation,
    gaussian_kl,
    relative_strength,
    udr_for_models,
    udr_scores,
)
from modelcentrality.contract._model import Model, Prior
from modelcentrality.io._zoo import load_zoo
from modelcentrality.testing._synthetic import make_synthetic_zoo
from tests._helpers import run_cli


def grid(levels=10, dims=3):
    """Full factorial design: every pair of dims has exactly zero (rank) correlation."""
    return np.array(list(product(range(levels), repeat=dims)), dtype=np.float64)


def zoo_representations(rng, n=600, factors=4, disentangled=3, entangled=3, noise=0.2):
    """Models sharing ground-truth factors: signed permutations vs random rotations."""
    truth = rng.uniform(-1, 1, size=(n, factors))
    reps = []
    for index in range(disentangled + entangled):
        if index < disentangled:
            mix = np.eye(factors)[rng.permutation(factors)] * rng.choice([-1, 1], factors)
        else:
            mix = np.linalg.qr(rng.normal(size=(factors, factors)))[0]
        reps.append(truth @ mix + noise * rng.normal(size=(n, factors)))
    return reps


def flip_and_permute(rep, rng):
    return rep[:, rng.permutation(rep.shape[1])] * rng.choice([-1.0, 1.0], rep.shape[1])


# relative strength


def test_relative_strength_spec_values():
    assert relative_strength(np.eye(3)) == 1.0
    block = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    assert 0.6 < relative_strength(block) < 0.7
    assert relative_strength(block) == pytest.approx(2 / 3)
    assert 0.3 < relative_strength(np.ones((3, 3))) < 0.4
    assert relative_strength(np.zeros((3, 3))) == 0.0


def test_relative_strength_is_not_normalised_and_is_nan_safe():
    # disentanglement_lib divides max^2 by the sum: the size of the entries counts.
    assert relative_strength(0.5 * np.eye(4)) == pytest.approx(0.5)
    # An all-zero column contributes 0, not NaN; rows (1, 1, 0.5 / 0.5) average to 0.5.
    assert relative_strength(np.array([[1.0, 0.0], [0.0, 0.0]])) == pytest.approx(0.5)
    assert relative_strength(np.array([[np.nan, 0.0], [0.0, 1.0]])) == pytest.approx(0.5)
    assert relative_strength(np.zeros((0, 3))) == 0.0
    assert relative_strength(np.ones((1, 4))) == pytest.approx((1 + 0.25) / 2)


def test_relative_strength_rejects_bad_input():
    with pytest.raises(ValueError, match="2-D"):
        relative_strength(np.ones(3))
    with pytest.raises(ValueError, match="non-negative"):
        relative_strength(-np.eye(2))


def test_gaussian_kl():
    mean = np.array([[0.0, 1.0, 0.0], [0.0, -1.0, 0.0]])
    logvar = np.array([[0.0, 0.0, np.log(2.0)], [0.0, 0.0, np.log(2.0)]])
    expected = [0.0, 0.5, 0.5 * (2.0 - np.log(2.0) - 1.0)]
    np.testing.assert_allclose(gaussian_kl(mean, logvar), expected)
    with pytest.raises(ValueError, match="shape"):
        gaussian_kl(mean, logvar[:, :2])


# semantics against a direct, pair-by-pair implementation


def _dlib_pairwise(reps, masks, method):
    """Every ordered pair separately; dead dims zeroed (not dropped), then filtered."""
    count = len(reps)
    zs = [(r - r.mean(0)) / np.where(r.std(0) > 0, r.std(0), 1) * m for r, m in zip(reps, masks)]
    out = np.full((count, count), np.nan)
    for a, b in product(range(count), repeat=2):
        if a == b:
            continue
        if method == "lasso":
            matrix = np.abs(Lasso(alpha=0.1).fit(zs[a], zs[b]).coef_).T
        else:
            with warnings.catch_warnings():
                # Zeroed dead dims are constant: NaN correlations, filtered out below.
                warnings.simplefilter("ignore")
                matrix = np.array(
                    [[abs(spearmanr(x, y)[0]) for y in zs[b].T] for x in zs[a].T], dtype=float
                )
        out[a, b] = relative_strength(matrix[masks[a]][:, masks[b]])
    return out


@pytest.mark.parametrize("method", ["lasso", "spearman"])
def test_matches_pairwise_fits_with_zeroed_dead_dims(method):
    rng = np.random.default_rng(0)
    reps = zoo_representations(rng, n=300, disentangled=2, entangled=2)
    # Model 1 gets two dead dims (low KL); the others have none.
    reps[1] = np.concatenate([reps[1], 0.01 * rng.normal(size=(300, 2))], axis=1)
    kl = [np.ones(r.shape[1]) for r in reps]
    kl[1][-2:] = [0.001, 0.0]
    result = udr_scores(reps, kl, method=method)
    masks = [k >= 0.01 for k in kl]
    np.testing.assert_allclose(result.pairwise, _dlib_pairwise(reps, masks, method), atol=1e-12)
    assert np.isnan(np.diag(result.pairwise)).all()
    # A model's score is the median of its column (fits that predict it).
    for i in range(4):
        assert result.scores[i] == np.median(np.delete(result.pairwise[:, i], i))


# invariances


@pytest.mark.parametrize("method", ["lasso", "spearman"])
def test_identical_models(method):
    data = grid()
    result = udr_scores([data, data.copy(), data[:, ::-1]], method=method)
    # Lasso shrinks each coefficient of a standardised regressor by alpha: 1 - 0.1.
    expected = 0.9 if method == "lasso" else 1.0
    np.testing.assert_allclose(result.scores, expected, atol=1e-9)


@pytest.mark.parametrize("method", ["lasso", "spearman"])
def test_permutation_sign_flip_and_scale_invariance(method):
    rng = np.random.default_rng(1)
    reps = zoo_representations(rng)
    base = udr_scores(reps, method=method)
    changed = list(reps)
    changed[0] = flip_and_permute(reps[0], rng) * 7.0 + 3.0
    changed[4] = flip_and_permute(reps[4], rng)
    moved = udr_scores(changed, method=method)
    # Cyclic coordinate descent visits permuted columns in another order: equal to tol.
    atol = 1e-4 if method == "lasso" else 1e-12
    np.testing.assert_allclose(moved.scores, base.scores, atol=atol)
    np.testing.assert_allclose(moved.pairwise, base.pairwise, atol=atol)


@pytest.mark.parametrize("method", ["lasso", "spearman"])
def test_disentangled_models_outrank_entangled_ones(method):
    # UDR's premise: good models agree with each other and are the majority.
    reps = zoo_representations(np.random.default_rng(2), disentangled=4, entangled=2)
    scores = udr_scores(reps, method=method).scores
    assert scores[:4].min() > scores[4:].max() + 0.1, scores


@pytest.mark.parametrize("method", ["lasso", "spearman"])
def test_independent_random_representations_score_low(method):
    rng = np.random.default_rng(3)
    reps = [rng.normal(size=(1000, 5)) for _ in range(4)]
    scores = udr_scores(reps, method=method).scores
    assert scores.max() < 0.1, scores


def test_lasso_is_deterministic_regardless_of_n_jobs():
    reps = zoo_representations(np.random.default_rng(4))
    one = udr_scores(reps, n_jobs=1)
    two = udr_scores(reps, n_jobs=2)
    np.testing.assert_array_equal(one.pairwise, two.pairwise)
    np.testing.assert_array_equal(one.scores, two.scores)


# informative dims


@pytest.mark.parametrize("method", ["lasso", "spearman"])
def test_kl_filter_drops_dead_dims(method):
    rng = np.random.default_rng(5)
    reps = zoo_representations(rng)
    kl = [np.full(4, 0.5) for _ in reps]
    base = udr_scores(reps, kl, method=method)
    padded = list(reps)
    extra = np.concatenate([reps[2], rng.normal(size=(600, 3))], axis=1)
    padded[2] = extra[:, [4, 0, 1, 5, 2, 3, 6]]
    padded_kl = list(kl)
    padded_kl[2] = np.array([0.002, 0.5, 0.5, 0.0, 0.5, 0.5, 0.009])
    result = udr_scores(padded, padded_kl, method=method)
    np.testing.assert_allclose(result.scores, base.scores, atol=1e-12)
    np.testing.assert_array_equal(result.informative[2], padded_kl[2] >= 0.01)
    assert all(rule.startswith("VAE rule") for rule in result.rules)
    # Without the filter the noise dims count and model 2's score drops.
    unfiltered = udr_scores(padded, padded_kl, method=method, kl_threshold=0.0)
    assert unfiltered.scores[2] < base.scores[2] - 0.05


@pytest.mark.parametrize("method", ["lasso", "spearman"])
def test_gan_rule_drops_constant_dims_without_nan(method):
    rng = np.random.default_rng(6)
    reps = zoo_representations(rng)
    base = udr_scores(reps, method=method)
    padded = list(reps)
    constant = np.full((600, 2), 4.2, dtype=np.float32).astype(np.float64)
    padded[1] = np.concatenate([constant[:, :1], reps[1], constant[:, 1:]], axis=1)
    result = udr_scores(padded, method=method)
    np.testing.assert_allclose(result.scores, base.scores, atol=1e-12)
    assert result.informative[1].tolist() == [False, True, True, True, True, False]
    assert result.informative_rule.startswith("GAN rule: code dims with non-zero spread")


def test_constant_informative_dim_and_empty_model_are_nan_free():
    rng = np.random.default_rng(7)
    reps = zoo_representations(rng, disentangled=2, entangled=1)
    reps[0][:, 1] = 3.0
    kl = [np.ones(4), np.ones(4), np.zeros(4)]
    for method in ("lasso", "spearman"):
        result = udr_scores(reps, kl, method=method)
        assert np.isfinite(result.scores).all()
        off_diagonal = result.pairwise[~np.eye(3, dtype=bool)]
        assert np.isfinite(off_diagonal).all()
        # Model 2 has no informative dim: every pair involving it scores 0.
        assert result.pairwise[2, :2].tolist() == [0.0, 0.0]
        assert result.pairwise[:2, 2].tolist() == [0.0, 0.0]
        assert result.scores[2] == 0.0


def test_input_validation():
    good = np.random.default_rng(0).normal(size=(50, 3))
    with pytest.raises(ValueError, match="at least 2 models"):
        udr_scores([good])
    with pytest.raises(ValueError, match="model1: representation has 40 rows"):
        udr_scores([good, good[:40]])
    with pytest.raises(ValueError, match="NaN"):
        udr_scores([good, np.full((50, 3), np.nan)])
    with pytest.raises(ValueError, match="method"):
        udr_scores([good, good], method="pearson")
    with pytest.raises(ValueError, match="KL vector must have shape"):
        udr_scores([good, good], kl=[np.ones(3), np.ones(2)])
    with pytest.raises(ValueError, match="2 KL vectors for 3"):
        udr_scores([good, good, good], kl=[None, None])


# zoo helper


class LinearModel(Model):
    """Encoder = flattened observation @ weights; a VAE variant also outputs a log-variance."""

    def __init__(self, name, weights, kind="gan", logvar=None):
        super().__init__(name, weights.shape[1], [0], Prior("normal"), kind, (1, 4, 4))
        self.weights = weights
        self.logvar = logvar
        self.calls = 0

    def _encode_batch(self, observations, want_logvar):
        self.calls += 1
        codes = observations.reshape(len(observations), -1) @ self.weights
        if self.logvar is None or not want_logvar:
            return codes.astype(np.float32), None
        logvar = np.broadcast_to(self.logvar, codes.shape)
        return codes.astype(np.float32), logvar.astype(np.float32)

    def _generate_batch(self, latents):
        raise NotImplementedError("UDR never generates")


def test_udr_for_models_encodes_once_and_applies_kl_filter():
    rng = np.random.default_rng(8)
    observations = rng.uniform(size=(400, 1, 4, 4)).astype(np.float32)
    weights = [np.eye(16)[:, rng.permutation(16)[:4]] for _ in range(3)]
    dead = np.concatenate([weights[2], 1e-4 * rng.normal(size=(16, 2))], axis=1)
    models = [
        LinearModel("gan_a", weights[0]),
        LinearModel("gan_b", weights[1]),
        LinearModel("vae_c", dead, kind="vae", logvar=np.zeros(6)),
    ]
    result = udr_for_models(models, observations, method="spearman", batch_size=150)
    assert [m.calls for m in models] == [3, 3, 3]  # 400 rows in batches of 150: one pass
    assert result.names == ("gan_a", "gan_b", "vae_c")
    assert result.informative[2].tolist() == [True] * 4 + [False] * 2
    assert result.rules[0].startswith("GAN rule") and result.rules[2].startswith("VAE rule")
    codes = [observations.reshape(400, -1) @ w for w in (weights[0], weights[1], dead)]
    kl = [None, None, gaussian_kl(codes[2], np.zeros_like(codes[2]))]
    direct = udr_scores(codes, kl, method="spearman")
    np.testing.assert_allclose(result.scores, direct.scores, atol=1e-6)
    # A VAE without a log-variance output falls back to the GAN spread rule.
    _, kl_none = encode_representation(LinearModel("v", dead, kind="vae"), observations)
    assert kl_none is None


def test_udr_for_models_rejects_wrong_observation_shape():
    model = LinearModel("tiny", np.eye(16)[:, :3])
    with pytest.raises(Exception, match="model 'tiny': observation shape"):
        udr_for_models([model, model], np.zeros((10, 1, 8, 8)))


# CLI


@pytest.fixture(scope="module")
def dsprites_zoo(tmp_path_factory):
    """Three near-disentangled and one entangled synthetic model on 64x64 images."""
    path = tmp_path_factory.mktemp("udr") / "zoo"
    make_synthetic_zoo(path, (0.0, 0.1, 0.1, 1.0), observation_shape=(1, 64, 64), random_state=0)
    return path


@pytest.mark.parametrize("method", ["lasso", "spearman"])
def test_cli_udr_on_dsprites(dsprites_zoo, tmp_path, capsys, method):
    out = tmp_path / "udr.json"
    status, stdout, err = run_cli(
        capsys, "udr", dsprites_zoo, "--data", "dsprites", "--method", method,
        "--samples", "300", "--seed", "3", "-o", out,
    )  # fmt: skip
    assert status == 0, err
    payload = json.loads(out.read_text())
    names = sorted(p.name for p in dsprites_zoo.iterdir())
    assert sorted(payload["models"]) == names
    assert (payload["method"], payload["samples"], payload["seed"]) == (method, 300, 3)
    assert payload["version"] and payload["informative_rule"].startswith("GAN rule")
    assert sorted(entry["rank"] for entry in payload["models"].values()) == [1, 2, 3, 4]
    matrix = payload["pairwise"]["matrix"]
    assert payload["pairwise"]["names"] == names
    assert [matrix[i][i] for i in range(4)] == [None] * 4
    # Same numbers as the Python API on the same observations.
    from modelcentrality.datasets import get_dataset

    observations = get_dataset("dsprites").sample_observations(300, 3)
    expected = udr_for_models(load_zoo(dsprites_zoo), observations, method=method)
    for name, score in zip(expected.names, expected.scores):
        assert payload["models"][name]["udr"] == pytest.approx(score, abs=1e-12)
    best = expected.names[int(expected.ranking()[0])]
    table = stdout.splitlines()
    assert table[0].split()[:2] == ["rank", "model"]
    assert table[2].split()[:2] == ["1", best]


def test_cli_udr_shape_mismatch_and_skip_bad(dsprites_zoo, synthetic_zoo, tmp_path, capsys):
    status, _, err = run_cli(capsys, "udr", synthetic_zoo, "--samples", "50")
    lines = [line for line in err.splitlines() if line.strip()]
    assert status == 1 and len(lines) == 1, err
    assert "model 'm00_e0.10'" in lines[0] and "(1, 8, 8)" in lines[0]
    assert "(1, 64, 64)" in lines[0]
    mixed = tmp_path / "mixed"
    shutil.copytree(dsprites_zoo, mixed)
    shutil.copytree(synthetic_zoo / "m00_e0.10", mixed / "small")
    out = tmp_path / "out.json"
    status, _, err = run_cli(capsys, "udr", mixed, "--samples", "100", "--skip-bad", "-o", out)
    assert status == 0, err
    payload = json.loads(out.read_text())
    assert list(payload["skipped"]) == ["small"] and "small" not in payload["models"]
    assert len(payload["models"]) == 4
