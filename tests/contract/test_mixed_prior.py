"""Mixed priors: categorical latents beside normal and uniform ones, end to end.

Two model families built by hand so that every factor is recoverable exactly:
a JointVAE-style VAE (4 normal latents plus a 3-way one-hot latent; the encoder returns
[means | class probabilities] and a log-variance for the means only) and an InfoGAN
with a categorical code (2 uniform codes, a 10-way categorical code fed as an index,
3 normal noise dims; the encoder returns [codes | class logits]). Images are
``sigmoid(W @ one-hot-expanded latents + b)`` and encoders invert W, so a model whose
generator mixes two continuous codes (entangled) agrees less with the others.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from modelcentrality import (
    Categorical,
    MixedPrior,
    Model,
    ModelError,
    ParameterError,
    Prior,
    load_model,
    load_zoo,
    rank,
)
from modelcentrality.baselines import encode_representation, udr_for_models, udr_scores
from modelcentrality.contract._model import MAX_LATENT_DIM
from modelcentrality.engine import GeneratedFactors
from modelcentrality.io import read_metadata
from modelcentrality.report import prior_quantiles, traversal_columns, traversal_grid
from modelcentrality.report._traversals import MAX_CLASS_COLUMNS
from modelcentrality.testing import check_model

OBSERVATION_SHAPE = (1, 8, 8)
PIXELS = 64
#: Groups of 100 (the paper's size): every class of a 10-way code shows in nearly every
#: group, so a vote never lands on the readout of a class that the group lacks.
FAST = {"votes": 60, "group_size": 100, "scale_samples": 1000, "n_boot": 0, "progress": False}

JOINTVAE_PRIOR = MixedPrior([(Prior("normal"), 4), Categorical(3)])
INFOGAN_PRIOR = MixedPrior(
    [(Prior("uniform"), 2), Categorical(10, "index"), (Prior("normal", std=0.5), 3)]
)
#: (prior, code dims, continuous codes, categorical code's first dim, kind)
FAMILIES = {
    "jointvae": (JOINTVAE_PRIOR, [0, 1, 2, 3, 4], 4, 4, "vae"),
    "infogan": (INFOGAN_PRIOR, [0, 1, 2], 2, 2, "gan"),
}


class Family:
    """Weights of one model: W over [continuous codes, one-hot classes, noise], bias.

    ``entangled`` mixes the first two continuous codes in the generator (a 45 degree
    rotation); every encoder inverts its own generator exactly.
    """

    def __init__(self, family: str, permutation: int, entangled: bool) -> None:
        prior, codes, n_continuous, _, kind = FAMILIES[family]
        self.family, self.prior, self.code_dims, self.kind = family, prior, codes, kind
        self.n_continuous = n_continuous
        self.n_classes = 3 if family == "jointvae" else 10
        self.n_noise = 0 if family == "jointvae" else 3
        rng = np.random.default_rng(7)
        columns = n_continuous + self.n_classes + self.n_noise
        basis = rng.normal(0, 0.6, size=(PIXELS, columns))
        self.bias = rng.normal(0, 0.3, size=PIXELS)
        order = np.roll(np.arange(n_continuous), permutation)
        mixing = np.eye(n_continuous)
        if entangled:
            mixing[:2, :2] = np.array([[1.0, 1.0], [-1.0, 1.0]]) / np.sqrt(2)
        self.weights = basis.copy()
        self.weights[:, :n_continuous] = basis[:, order] @ mixing
        self.inverse = np.linalg.pinv(self.weights)

    def expand(self, latents: np.ndarray) -> np.ndarray:
        """Latents (B, D) -> [continuous, one-hot classes, noise] (B, columns)."""
        if self.family == "jointvae":
            return latents
        one_hot = np.eye(self.n_classes)[latents[:, 2].astype(np.int64)]
        return np.concatenate([latents[:, :2], one_hot, latents[:, 3:]], axis=1)

    def generate(self, latents: np.ndarray) -> np.ndarray:
        hidden = self.expand(latents.astype(np.float64)) @ self.weights.T + self.bias
        return (1 / (1 + np.exp(-hidden))).reshape(-1, *OBSERVATION_SHAPE)

    def encode(self, observations: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        flat = np.clip(observations.reshape(len(observations), -1).astype(np.float64), 1e-6,
                       1 - 1e-6)
        coef = (np.log(flat / (1 - flat)) - self.bias) @ self.inverse.T
        continuous = coef[:, : self.n_continuous]
        logits = 10 * coef[:, self.n_continuous : self.n_continuous + self.n_classes]
        if self.family == "infogan":
            return np.concatenate([continuous, logits], axis=1), None
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        return np.concatenate([continuous, probs], axis=1), np.full_like(continuous, -2.0)


class NumpyModel(Model):
    """A :class:`Family` as a plain numpy model (the core's route, no torch)."""

    def __init__(self, name: str, family: Family) -> None:
        super().__init__(
            name, family.prior.latent_dim, family.code_dims, family.prior, family.kind,
            OBSERVATION_SHAPE,
        )
        self.family = family

    def _generate_batch(self, latents):
        return self.family.generate(latents).astype(np.float32)

    def _encode_batch(self, observations, want_logvar):
        codes, logvar = self.family.encode(observations)
        logvar = logvar.astype(np.float32) if want_logvar and logvar is not None else None
        return codes.astype(np.float32), logvar


def numpy_zoo(family: str) -> list[NumpyModel]:
    """Three clean models (codes in other orders) and an entangled one, named by role."""
    specs = [("a_clean", 0, False), ("b_clean", 1, False), ("c_clean", 2, False),
             ("d_entangled", 0, True)]
    return [NumpyModel(f"{family}_{name}", Family(family, p, e)) for name, p, e in specs]


# ---------------------------------------------------------------------------------------
# the prior


def test_plain_priors_keep_their_form():
    for spec, shown in (({"type": "uniform", "low": -1.0, "high": 1.0}, "uniform(-1, 1)"),
                        ({"type": "normal", "mean": 0.0, "std": 2.0}, "normal(0, 2)")):
        prior = Prior.from_dict(spec)
        assert type(prior) is Prior and prior.to_dict() == spec
        assert prior.variable(5) == (prior, 5, 1)
        assert prior.describe() == shown


def test_mixed_prior_dict_round_trip_and_layout():
    spec = {"type": "mixed", "parts": [
        {"type": "normal", "count": 4},
        {"type": "categorical", "n_classes": 3},
        {"type": "uniform", "low": 0, "high": 2, "count": 2},
        {"type": "categorical", "n_classes": 5, "encoding": "index"},
    ]}
    prior = Prior.from_dict(spec)
    assert isinstance(prior, MixedPrior)
    assert prior.latent_dim == 4 + 3 + 2 + 1
    assert Prior.from_dict(json.loads(json.dumps(prior.to_dict()))) == prior
    assert prior.to_dict()["parts"][1] == {
        "type": "categorical", "n_classes": 3, "encoding": "one_hot", "count": 1
    }
    np.testing.assert_array_equal(prior.dim_variables(), [0, 1, 2, 3, 4, 4, 4, 5, 6, 7])
    assert prior.variable(5) == (Categorical(3), 4, 3)
    assert prior.variable(9) == (Categorical(5, "index"), 9, 1)


def test_one_part_per_latent_dim_up_to_the_limit():
    parts = [Categorical(2, "index") if dim % 2 else Prior("normal")
             for dim in range(MAX_LATENT_DIM)]
    prior = MixedPrior(parts)
    assert prior.latent_dim == MAX_LATENT_DIM
    assert prior.variable(MAX_LATENT_DIM - 1) == (Categorical(2, "index"), MAX_LATENT_DIM - 1, 1)
    np.testing.assert_array_equal(prior.dim_variables(), np.arange(MAX_LATENT_DIM))


def test_mixed_prior_draws_are_seeded_classes_uniform():
    prior = MixedPrior([Prior("normal"), Categorical(3), Categorical(4, "index")])
    draws = prior.sample((30_000, prior.latent_dim), np.random.default_rng(1))
    assert draws.dtype == np.float32
    np.testing.assert_array_equal(draws, prior.sample((30_000, 5), np.random.default_rng(1)))
    assert prior.invalid_latents(draws) is None
    one_hot = draws[:, 1:4]
    index = draws[:, 4]
    # Class frequencies within 5 standard errors of uniform.
    for counts, k in ((one_hot.sum(axis=0), 3), (np.bincount(index.astype(int)), 4)):
        p = 1 / k
        assert np.abs(counts / 30_000 - p).max() < 5 * np.sqrt(p * (1 - p) / 30_000)
    with pytest.raises(ValueError, match="whole latent vectors of 5 dims"):
        prior.sample((3,), np.random.default_rng(0))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Categorical(1), r"n_classes in \[2, 65536\]"),
        (lambda: Categorical(3, "bits"), "encoding must be"),
        (lambda: MixedPrior([]), "at least one part"),
        (lambda: MixedPrior([(Prior("normal"), 0)]), "count must be"),
        (lambda: MixedPrior(["normal"]), "Prior or Categorical"),
        (lambda: MixedPrior([(Prior("normal"), 2, 3)]), r"\(distribution, count\) pairs"),
        (lambda: MixedPrior([(Prior("normal"), 10**12)]), "at most 65536 latent dims"),
    ],
)
def test_bad_mixed_priors_are_parameter_errors(make, message):
    with pytest.raises(ParameterError, match=message):
        make()


def _part(**keys):
    return {"type": "mixed", "parts": [keys]}


@pytest.mark.parametrize(
    ("prior", "message"),
    [
        # Sizes that would allocate gigabytes if taken at their word.
        (_part(type="normal", count=10**9), "at most 65536 latent dims"),
        (_part(type="normal", count=10**18), "at most 65536 latent dims"),
        ({"type": "mixed", "parts": [{"type": "normal", "count": 60_000},
                                     {"type": "categorical", "n_classes": 6000}]},
         "at most 65536 latent dims"),
        (_part(type="categorical", n_classes=10**9), r"n_classes in \[2, 65536\]"),
        (_part(type="categorical", n_classes=10**9, encoding="index"), "n_classes in"),
        ({"type": "mixed", "parts": [{}] * (MAX_LATENT_DIM + 1)}, "list of 1 to 65536"),
        # Wrong types and ranges.
        (_part(type="normal", count=0), "count must be an integer >= 1"),
        (_part(type="normal", count=-3), "count must be an integer >= 1"),
        (_part(type="normal", count=1.5), "count must be an integer >= 1"),
        (_part(type="normal", count=True), "count must be an integer >= 1"),
        (_part(type="normal", count=[2]), "count must be an integer >= 1"),
        (_part(type="categorical", n_classes=3.0), "n_classes in"),
        (_part(type="categorical", n_classes=True), "n_classes in"),
        (_part(type="categorical", n_classes="3"), "n_classes in"),
        (_part(type="categorical"), 'needs "n_classes"'),
        (_part(type="categorical", n_classes=3, encoding=["index"]), "encoding must be"),
        (_part(type="normal", mean=10**400), "mean must be a finite number"),
        (_part(type=["normal"]), "part type must be"),
        ({"type": "mixed", "parts": ["normal"]}, 'object with a "type"'),
        ({"type": "mixed", "parts": {"type": "normal"}}, "must be a list"),
        ({"type": "mixed", "parts": []}, "must be a list"),
        ({"type": "mixed", "parts": [{"type": "normal"}], "count": 4}, "exactly the keys"),
        # Nested mixed priors are not a part type.
        (_part(type="mixed", parts=[{"type": "normal", "count": 4}]), "part type must be"),
        ({"type": ["mixed"]}, "prior type must be"),
        ({"type": {"mixed": 1}}, "prior type must be"),
    ],
)
def test_hostile_priors_in_model_json_are_one_line_model_errors(tmp_path, prior, message):
    folder = tmp_path / "hostile"
    folder.mkdir()
    meta = {"format": 1, "latent_dim": 4, "code_dims": [0], "kind": "vae", "prior": prior}
    (folder / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match=message) as info:
        read_metadata(folder)
    assert info.value.model == "hostile" and "\n" not in str(info.value)


def test_one_hot_encoding_scatters_ones():
    classes = np.array([[0, 4], [2, 2]])
    np.testing.assert_array_equal(Categorical(5).encode(classes), np.eye(5)[classes])
    assert Categorical(5, "index").encode(classes).tolist() == [[[0], [4]], [[2], [2]]]
    # The widest one-hot variable, without an identity matrix of n_classes^2 floats.
    wide = Categorical(MAX_LATENT_DIM).encode([MAX_LATENT_DIM - 1, 0])
    assert wide.shape == (2, MAX_LATENT_DIM) and wide.dtype == np.float32
    assert wide[0, -1] == 1 and wide[1, 0] == 1 and wide.sum() == 2


class Identity(Model):
    def _generate_batch(self, latents):
        return latents

    def _encode_batch(self, observations, want_logvar):
        return observations, None


def test_model_checks_its_prior_against_latents_and_codes():
    with pytest.raises(ModelError, match="covers 7 latent dims, latent_dim is 8") as info:
        Identity("m", 8, [0], JOINTVAE_PRIOR, "vae", (8,))
    assert info.value.model == "m" and "\n" not in str(info.value)
    with pytest.raises(ModelError, match="code dim 5 lies inside .* name it by its first dim 4"):
        Identity("m", 7, [0, 5], JOINTVAE_PRIOR, "vae", (7,))
    with pytest.raises(ModelError, match="prior must be a Prior or a MixedPrior"):
        Identity("m", 7, [0], "normal", "vae", (7,))


@pytest.mark.parametrize("family", ["jointvae", "infogan"])
def test_generator_refuses_latents_that_hold_no_class(family):
    model = numpy_zoo(family)[0]
    latents = model.sample_prior(4, 0)
    start = FAMILIES[family][3]
    latents[1, start] = 10 if family == "infogan" else 1 - latents[1, start]
    with pytest.raises(ModelError, match=r"latent dims? .*categorical.*: 1 of 4 do not") as info:
        model.generate(latents)
    assert info.value.model == model.name and "\n" not in str(info.value)


# ---------------------------------------------------------------------------------------
# the numpy route: votes, determinism, traversals, UDR


@pytest.mark.parametrize("family", ["jointvae", "infogan"])
def test_numpy_models_pass_check_model(family):
    for model in numpy_zoo(family)[::3]:
        check_model(model)


def test_a_categorical_vote_holds_the_class_and_resamples_the_rest():
    model = numpy_zoo("jointvae")[0]
    source = GeneratedFactors(model)
    factors = np.array([4, 4, 4, 0, 1] * 20)
    draws = source.draw_groups(factors, 8, np.random.default_rng(3)).reshape(100, 8, 7)
    same = (draws == draws[:, :1]).all(axis=1)
    categorical = factors == 4
    assert same[categorical][:, 4:].all() and not same[categorical][:, :4].any()
    assert same[~categorical, factors[~categorical]].all()
    assert not same[~categorical][:, 4:].all(axis=1).any()
    # Held classes are uniform draws too: all three appear among the held votes.
    assert set(draws[categorical, 0, 4:].argmax(axis=1)) == {0, 1, 2}
    assert model.prior.invalid_latents(draws.reshape(-1, 7)) is None


def test_an_index_coded_vote_holds_its_class_dim_and_resamples_the_rest():
    model = numpy_zoo("infogan")[0]
    factors = np.array([2, 0, 1] * 100)
    draws = GeneratedFactors(model).draw_groups(factors, 6, np.random.default_rng(4))
    groups = draws.reshape(300, 6, 6)
    same = (groups == groups[:, :1]).all(axis=1)
    votes = np.arange(300)
    assert same[votes, factors].all()
    held = np.zeros_like(same)
    held[votes, factors] = True
    continuous = np.array([True, True, False, True, True, True])
    assert not (same & ~held)[:, continuous].any()
    # A resampled class stays the same over a group of 6 with probability 1e-5.
    assert same[factors != 2, 2].mean() < 0.01
    assert set(groups[factors == 2, 0, 2].astype(int)) == set(range(10))
    assert model.prior.invalid_latents(draws) is None


def test_mixed_vote_draws_grow_with_the_budget():
    """The first m votes of a larger run are the votes of a run with m votes."""
    from modelcentrality.engine import get_protocol
    from modelcentrality.engine._scoring import _draw_votes

    source = GeneratedFactors(numpy_zoo("infogan")[0])
    protocol = get_protocol("paper").with_overrides(group_size=5)
    small = _draw_votes(source, protocol, 150, 11)
    large = _draw_votes(source, protocol, 420, 11)
    np.testing.assert_array_equal(large[0][:150], small[0])
    np.testing.assert_array_equal(large[1][: 150 * 5], small[1])


@pytest.mark.parametrize("family", ["jointvae", "infogan"])
def test_numpy_zoo_ranks_entangled_last_whatever_the_order(family):
    models = numpy_zoo(family)
    result = rank(models, **FAST)
    assert result.names[int(np.argmin(result.scores))].endswith("entangled")
    # Clean models recover the categorical code: their self-consistency is high.
    assert np.diag(result.cross)[:3].min() > 0.9
    shuffled = rank(models[::-1], **FAST)
    np.testing.assert_array_equal(shuffled.cross[::-1, ::-1], result.cross)


def test_traversals_sweep_every_class():
    infogan = numpy_zoo("infogan")[0]
    assert traversal_columns(infogan, 9) == 10
    grid = traversal_grid(infogan, columns=9, random_state=2)
    assert grid.shape == (3, 10, *OBSERVATION_SHAPE)
    np.testing.assert_array_equal(prior_quantiles(infogan, 10, code=2), np.arange(10))
    base = infogan.sample_prior(1, 2)[0]
    latents = np.tile(base, (10, 1))
    latents[:, 2] = np.arange(10)
    np.testing.assert_allclose(grid[2], infogan.generate(latents), atol=1e-6)
    np.testing.assert_allclose(prior_quantiles(infogan, 10, code=0), np.linspace(-0.9, 0.9, 10))

    jointvae = numpy_zoo("jointvae")[0]
    grid = traversal_grid(jointvae, columns=6, random_state=2)
    assert grid.shape == (5, 6, *OBSERVATION_SHAPE)
    np.testing.assert_array_equal(prior_quantiles(jointvae, 6, code=4), [0, 0, 1, 1, 2, 2])
    base = jointvae.sample_prior(1, 2)[0]
    latents = np.tile(base, (6, 1))
    latents[:, 4:] = np.eye(3)[[0, 0, 1, 1, 2, 2]]
    np.testing.assert_allclose(grid[4], jointvae.generate(latents), atol=1e-6)


def test_traversals_of_many_classes_show_evenly_spaced_ones():
    prior = MixedPrior([Prior("normal"), Categorical(1000, "index")])
    model = Identity("many", 2, [0, 1], prior, "gan", (2,))
    assert traversal_columns(model, 9) == MAX_CLASS_COLUMNS
    assert traversal_columns(model, 40) == 40
    grid = traversal_grid(model, columns=9)
    assert grid.shape == (2, MAX_CLASS_COLUMNS, 2)
    quantiles = (np.arange(MAX_CLASS_COLUMNS) + 0.5) / MAX_CLASS_COLUMNS
    np.testing.assert_array_equal(grid[1, :, 1], np.floor(quantiles * 1000))


def test_udr_rules_of_a_mixed_zoo_stay_distinct():
    """Plain VAE, VAE with a categorical latent, GAN: three rules, split at "; "."""
    rng = np.random.default_rng(0)
    reps = [rng.normal(size=(200, 3)) for _ in range(3)]
    result = udr_scores(reps, [np.ones(3), np.array([1.0, np.nan, np.nan]), None],
                        method="spearman")
    assert result.informative_rule.split("; ") == list(result.rules)
    assert len(set(result.rules)) == 3 and "partial log-variance" in result.rules[1]


def test_udr_filters_continuous_dims_by_kl_and_categorical_dims_by_spread():
    models = numpy_zoo("jointvae")
    observations = models[0].generate(models[0].sample_prior(300, 5))
    codes, kl = encode_representation(models[0], observations)
    assert codes.shape == (300, 7) and kl.shape == (7,)
    assert np.isfinite(kl[:4]).all() and np.isnan(kl[4:]).all()
    result = udr_for_models(models, observations)
    assert all(mask.tolist() == [True] * 7 for mask in result.informative)
    assert "the other dims with non-zero spread" in result.rules[0]
    # A dead continuous dim (KL below threshold) and a constant probability drop out.
    kl_dead = kl.copy()
    kl_dead[1] = 0.001
    frozen = codes.copy()
    frozen[:, 5] = 0.25
    reps = [frozen, codes, codes]
    mixed = udr_scores(reps, [kl_dead, kl, kl])
    assert mixed.informative[0].tolist() == [True, False, True, True, True, False, True]
    with pytest.raises(ValueError, match="all NaN"):
        udr_scores(reps, [np.full(7, np.nan), kl, kl])


# ---------------------------------------------------------------------------------------
# the PyTorch route: export to ONNX, load, check_model, rank


def torch_modules(family: Family):
    """The family as torch modules: a JointVAE encoder returning (codes, logvar) with a
    log-variance for the means only, an InfoGAN generator embedding a class index."""
    torch = pytest.importorskip("torch")
    from torch import nn

    weights = torch.tensor(family.weights, dtype=torch.float32)
    inverse = torch.tensor(family.inverse, dtype=torch.float32)
    bias = torch.tensor(family.bias, dtype=torch.float32)
    n_cont, n_classes = family.n_continuous, family.n_classes

    class Generator(nn.Module):
        def forward(self, latents):
            if family.family == "infogan":
                classes = torch.nn.functional.embedding(
                    latents[:, 2].long(), weights[:, n_cont : n_cont + n_classes].T
                )
                hidden = (
                    latents[:, :2] @ weights[:, :2].T
                    + classes
                    + latents[:, 3:] @ weights[:, n_cont + n_classes :].T
                )
            else:
                hidden = latents @ weights.T
            return torch.sigmoid(hidden + bias).reshape(-1, *OBSERVATION_SHAPE)

    class Encoder(nn.Module):
        def forward(self, observations):
            flat = observations.reshape(observations.shape[0], -1).clamp(1e-6, 1 - 1e-6)
            coef = (torch.log(flat / (1 - flat)) - bias) @ inverse.T
            continuous = coef[:, :n_cont]
            logits = 10 * coef[:, n_cont : n_cont + n_classes]
            if family.family == "infogan":
                return torch.cat([continuous, logits], dim=1)
            probs = torch.softmax(logits, dim=1)
            return torch.cat([continuous, probs], dim=1), torch.full_like(continuous, -2.0)

    return Encoder(), Generator()


@pytest.fixture(scope="module")
def exported_zoos(tmp_path_factory):
    """Family -> (zoo folder of its 4 models exported to ONNX, the TorchModels)."""
    from modelcentrality.adapters.pytorch import TorchModel, export_model

    zoos = {}
    for family in FAMILIES:
        root = tmp_path_factory.mktemp(family)
        torch_models = []
        for model in numpy_zoo(family):
            encoder, generator = torch_modules(model.family)
            contract = {
                "latent_dim": model.latent_dim, "code_dims": model.code_dims,
                "prior": model.prior, "kind": model.kind,
                "observation_shape": OBSERVATION_SHAPE,
            }
            export_model(encoder, generator, root / model.name, **contract)
            torch_models.append(TorchModel(encoder, generator, name=model.name, **contract))
        zoos[family] = root, torch_models
    return zoos


@pytest.fixture(params=list(FAMILIES))
def exported_zoo(request, exported_zoos):
    return request.param, *exported_zoos[request.param]


def test_exported_models_round_trip_and_pass_check_model(exported_zoo):
    family, root, torch_models = exported_zoo
    zoo = load_zoo(root)
    meta = json.loads((root / zoo[0].name / "model.json").read_text())
    assert meta["prior"]["type"] == "mixed" and Prior.from_dict(meta["prior"]) == zoo[0].prior
    assert (meta.get("logvar_output") is not None) == (family == "jointvae")
    check_model(zoo[0], atol=1e-4)
    check_model(torch_models[-1], atol=1e-4)
    latents = zoo[0].sample_prior(16, 1)
    observations = zoo[0].generate(latents)
    np.testing.assert_allclose(
        observations, torch_models[0].generate(latents), atol=1e-5
    )
    codes, logvar = zoo[0].encode_with_logvar(observations)
    assert codes.shape == (16, 7 if family == "jointvae" else 12)
    if family == "jointvae":
        assert logvar.shape == (16, 4)
        np.testing.assert_allclose(codes[:, 4:].argmax(axis=1), latents[:, 4:].argmax(axis=1))
    else:
        np.testing.assert_array_equal(codes[:, 2:].argmax(axis=1), latents[:, 2])


def test_exported_zoo_ranks_like_the_numpy_zoo(exported_zoo):
    family, root, _ = exported_zoo
    result = rank(load_zoo(root), **FAST)
    assert result.names[int(np.argmin(result.scores))].endswith("entangled")
    reference = rank(numpy_zoo(family), **FAST)
    # The same draws (keyed by name and vote block) through float32 ONNX graphs: clean
    # pairs agree; pairs with the entangled model may break near-ties another way.
    np.testing.assert_allclose(result.cross[:3, :3], reference.cross[:3, :3], atol=0.02)
    np.testing.assert_allclose(result.cross, reference.cross, atol=0.1)


def test_inconsistent_model_json_is_one_error_naming_the_model(exported_zoo, tmp_path):
    family, root, _ = exported_zoo
    source = sorted(p for p in root.iterdir())[0]
    cases = [
        (lambda m: m["prior"]["parts"][0].update(count=9), "covers .* latent dims"),
        (lambda m: m["prior"]["parts"][1].update(n_classes=1), r"n_classes in \[2, 65536\]"),
        (lambda m: m["prior"]["parts"][1].update(encoding="bits"), "encoding must be"),
        (lambda m: m["prior"]["parts"][1].update(width=3), "unknown prior keys"),
        (lambda m: m["prior"].update(parts=[]), "list of 1 to"),
        (lambda m: m["prior"]["parts"][0].update(type="mixed"), "part type must be"),
    ]
    if family == "jointvae":
        cases.append((lambda m: m.update(code_dims=[0, 5]), "code dim 5 lies inside"))
        # An index where the generator takes a 3-dim one-hot block: widths disagree.
        cases.append(
            (lambda m: m["prior"]["parts"][1].update(encoding="index"), "covers 5 latent dims")
        )
    for number, (edit, message) in enumerate(cases):
        folder = tmp_path / f"case{number}"
        shutil.copytree(source, folder)
        meta = json.loads((folder / "model.json").read_text())
        edit(meta)
        (folder / "model.json").write_text(json.dumps(meta))
        with pytest.raises(ModelError, match=message) as info:
            load_model(folder)
        assert info.value.model == folder.name and "\n" not in str(info.value)


def test_plain_prior_models_still_need_a_full_log_variance():
    torch = pytest.importorskip("torch")
    from modelcentrality.adapters.pytorch import TorchModel

    class Encoder(torch.nn.Module):
        def forward(self, x):
            flat = x.reshape(x.shape[0], -1)[:, :4]
            return flat, flat[:, :2]

    model = TorchModel(
        Encoder(), torch.nn.Identity(), name="narrow", latent_dim=4, code_dims=[0, 1],
        prior=Prior("normal"), kind="vae", observation_shape=(4,),
    )
    with pytest.raises(ModelError, match="log-variance has shape"):
        model.encode_with_logvar(np.zeros((3, 4), np.float32))


def test_report_and_inspect_show_mixed_priors(exported_zoo, tmp_path):
    pytest.importorskip("matplotlib")
    from click.testing import CliRunner

    from modelcentrality.cli.inspect import inspect_command
    from modelcentrality.report import write_report

    family, root, _ = exported_zoo
    zoo = load_zoo(root)
    result = rank(zoo, **FAST)
    page = write_report(result, zoo, tmp_path / "report", udr=udr_for_models(
        zoo, zoo[0].generate(zoo[0].sample_prior(200, 0))
    ))
    assert page.read_text().count("<figure>") >= 4
    shown = CliRunner().invoke(inspect_command, [str(root / zoo[0].name)])
    assert shown.exit_code == 0, shown.output
    expected = (
        "normal(0, 1) x4 + categorical(3, one_hot)"
        if family == "jointvae"
        else "uniform(-1, 1) x2 + categorical(10, index) + normal(0, 0.5) x3"
    )
    assert expected in shown.output


@pytest.mark.slow
def test_mixed_prior_models_travel_to_worker_processes(exported_zoos):
    from modelcentrality.execution import ProcessBackend
    from modelcentrality.testing import check_backend

    models = [load_zoo(root)[0] for root, _ in exported_zoos.values()]
    check_backend(ProcessBackend(n_jobs=2, threads=1), models)
