"""Conformance suites: does a model adapter or a backend keep the toolkit's contract?

Like scikit-learn's ``check_estimator``, each function runs a list of checks on a real
object and raises ``AssertionError`` naming the first broken promise. Adapter and
backend authors call them from their tests.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import numpy as np

from ..contract import KINDS, Categorical, MixedPrior, Model
from ..engine import GeneratedFactors, get_protocol
from ..errors import ModelError
from ..execution import ADAPTERS, Backend, LocalBackend, model_spec, open_model

#: A protocol small enough for conformance runs (seconds per pair on a CPU).
CHECK_PROTOCOL = get_protocol("paper").with_overrides(votes=100, group_size=10, scale_samples=200)


def _expect_model_error(model: Model, call: Callable[[], object], what: str) -> None:
    try:
        call()
    except ModelError as exc:
        assert exc.model == model.name, f"{what}: the error names {exc.model!r}, not the model"
        assert "\n" not in str(exc), f"{what}: the error message is not one line"
        return
    raise AssertionError(f"{what}: no ModelError was raised")


def check_model(model: Model, *, atol: float = 1e-5, check_transport: bool = True) -> None:
    """Check that ``model`` keeps the model contract.

    Checks metadata types, prior sampling (shape, dtype, determinism; with a
    :class:`~modelcentrality.contract.MixedPrior`, that every categorical block holds a
    class and that the generator refuses one that does not), vote groups (each holds its
    code's whole variable fixed, a categorical code at one class), generator and
    encoder shapes and dtypes, batch independence (encoding rows together or apart gives
    the same codes), one-line errors naming the model for wrong input shapes, a stable
    fingerprint, the device-array path against the host path, and (for registered
    adapters, when ``check_transport``) that a rebuilt model from its spec computes the
    same outputs.

    Parameters
    ----------
    model : Model
    atol : float
        Tolerance of numeric agreements (batching, device path, rebuilt model).
    check_transport : bool

    Raises
    ------
    AssertionError
    """
    assert isinstance(model.name, str) and model.name, "name must be a non-empty str"
    assert model.kind in KINDS, f"kind must be one of {KINDS}, got {model.kind!r}"
    assert 0 < model.n_codes <= model.latent_dim, "code_dims must be within latent_dim"
    json.dumps(model.contract())

    latents = model.sample_prior(6, 0)
    assert latents.shape == (6, model.latent_dim), f"sample_prior shape {latents.shape}"
    assert latents.dtype == np.float32, f"sample_prior dtype {latents.dtype}"
    np.testing.assert_array_equal(latents, model.sample_prior(6, 0), "sample_prior not seeded")
    _check_vote_groups(model)
    if isinstance(model.prior, MixedPrior):
        _check_categorical_latents(model, latents)

    observations = model.generate(latents)
    assert observations.shape == (6, *model.observation_shape), "generate shape"
    assert observations.dtype == np.float32, f"generate dtype {observations.dtype}"
    np.testing.assert_allclose(model.generate(latents), observations, atol=atol, rtol=0)

    codes, logvar = model.encode_with_logvar(observations)
    assert codes.ndim == 2 and codes.shape[0] == 6, f"encode shape {codes.shape}"
    assert codes.dtype == np.float32, f"encode dtype {codes.dtype}"
    if logvar is not None and model.logvar_covers_all:
        assert logvar.shape == codes.shape, f"log-variance shape {logvar.shape}"
    elif logvar is not None:
        assert logvar.shape[0] == 6 and 1 <= logvar.shape[1] <= codes.shape[1], (
            f"log-variance shape {logvar.shape}: it covers the first codes of {codes.shape}"
        )
    parts = np.concatenate([model.encode(observations[:2]), model.encode(observations[2:])])
    np.testing.assert_allclose(parts, codes, atol=atol, rtol=0, err_msg="encode is batch-dependent")

    _expect_model_error(
        model, lambda: model.generate(np.zeros((2, model.latent_dim + 1), np.float32)),
        "generate with a wrong latent size",
    )
    *leading, last = model.observation_shape
    wrong = np.zeros((2, *leading, last + 1), np.float32)
    _expect_model_error(model, lambda: model.encode(wrong), "encode with a wrong shape")

    fingerprint = model.fingerprint()
    assert fingerprint is None or isinstance(fingerprint, str), "fingerprint must be str or None"
    assert model.fingerprint() == fingerprint, "fingerprint is not stable"

    if model.native_device() is not None:
        native = model.generate_native(latents)
        from ..engine import to_host

        np.testing.assert_allclose(to_host(native), observations, atol=atol, rtol=0)
        np.testing.assert_allclose(to_host(model.encode_native(native)), codes, atol=atol, rtol=0)

    registered = ADAPTERS.name_of(type(model)) is not None
    if check_transport and registered:
        rebuilt = open_model(model_spec(model), threads=1)
        assert rebuilt.contract() == model.contract(), "rebuilt model has another contract"
        np.testing.assert_allclose(
            rebuilt.encode(rebuilt.generate(latents)), codes, atol=atol, rtol=0,
            err_msg="a model rebuilt from its spec computes other outputs",
        )


def _check_vote_groups(model: Model) -> None:
    """A vote group on each code holds that code's whole variable fixed and resamples
    every continuous latent dim of the other variables (a resampled class may repeat)."""
    group_size = 4
    factors = np.arange(model.n_codes)
    draws = GeneratedFactors(model).draw_groups(factors, group_size, np.random.default_rng(0))
    assert draws.shape == (model.n_codes * group_size, model.latent_dim), "group draws shape"
    groups = draws.reshape(model.n_codes, group_size, model.latent_dim)
    constant = (groups == groups[:, :1]).all(axis=1)
    continuous = np.ones(model.latent_dim, dtype=bool)
    if isinstance(model.prior, MixedPrior):
        start = 0
        for distribution, count in model.prior.parts:
            span = count * distribution.width
            continuous[start : start + span] = not isinstance(distribution, Categorical)
            start += span
    for factor, dim in enumerate(model.code_dims):
        _, start, width = model.prior.variable(dim)
        held = np.zeros(model.latent_dim, dtype=bool)
        held[start : start + width] = True
        assert constant[factor, held].all(), (
            f"a vote on code dim {dim} does not hold latent dims {start}-{start + width - 1}"
        )
        assert not constant[factor, continuous & ~held].any(), (
            f"a vote on code dim {dim} does not resample the other latent dims"
        )
    if isinstance(model.prior, MixedPrior):
        # Resampled categorical blocks still hold a class.
        assert model.prior.invalid_latents(draws) is None, "vote draws are not prior draws"


def _check_categorical_latents(model: Model, latents: np.ndarray) -> None:
    prior = model.prior
    assert prior.latent_dim == model.latent_dim, "the mixed prior does not cover latent_dim"
    assert prior.invalid_latents(latents) is None, "sample_prior draws invalid categoricals"
    start = 0
    for distribution, count in prior.parts:
        if isinstance(distribution, Categorical):
            wrong = latents[:2].copy()
            if distribution.encoding == "index":
                wrong[:, start] = distribution.n_classes
            else:
                wrong[:, start : start + distribution.width] = 0
            _expect_model_error(
                model, lambda w=wrong: model.generate(w), "generate with an invalid class"
            )
        start += count * distribution.width


def check_backend(backend: Backend, models: Sequence[Model], seed: int = 0) -> None:
    """Check that ``backend`` gives :class:`LocalBackend`'s results, pair by pair.

    Runs two source tasks (one with every encoder, one with a subset) under a small
    protocol, on ``backend`` and in this process, and compares every reported pair
    exactly, that each pair is reported once, and that the progress callback counts
    every encoder pass.

    Parameters
    ----------
    backend : Backend
    models : sequence of Model
        At least 2 models.
    seed : int

    Raises
    ------
    AssertionError
    """
    assert len(models) >= 2, "check_backend needs at least 2 models"
    tasks = [(0, list(range(len(models)))), (1, [0])]

    def collect(runner: Backend) -> tuple[dict, int]:
        pairs: dict = {}
        passes = [0]

        def on_pair(i, j, result):
            assert (i, j) not in pairs, f"pair {(i, j)} reported twice"
            pairs[i, j] = result

        with runner:
            runner.run(models, tasks, CHECK_PROTOCOL, seed, on_pair, passes.append)
        return pairs, sum(passes)

    expected, expected_passes = collect(LocalBackend())
    got, passes = collect(backend)
    assert set(got) == set(expected), f"pairs {sorted(set(expected) ^ set(got))} differ"
    for key, result in expected.items():
        assert got[key].score == result.score, f"pair {key}: {got[key].score} != {result.score}"
        np.testing.assert_array_equal(got[key].train_table, result.train_table)
    assert passes == expected_passes, f"progress counted {passes}, expected {expected_passes}"
