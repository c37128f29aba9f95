"""Checks that models can work together, run before any long computation."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, TypeVar

from ..errors import ModelCentralityError, ModelError, ZooError
from ._model import Model

T = TypeVar("T")


def skip_reason(exc: ModelCentralityError, name: str) -> tuple[str, str]:
    """``(model name, one-line reason)`` for a model left out by ``skip_bad``.

    ``name`` is used when the error does not name a model itself.
    """
    return getattr(exc, "model", name), getattr(exc, "problem", str(exc))


def call_or_skip(
    call: Callable[[], T],
    name: str,
    skipped: dict[str, str],
    skip_bad: bool,
    errors: type[ModelCentralityError] = ModelCentralityError,
) -> T | None:
    """``call()`` for model ``name``, under the skip-bad policy.

    An error of type ``errors`` propagates, or under ``skip_bad`` leaves the model out:
    the reason goes into ``skipped`` and the result is None (so ``call`` must not return
    None itself).
    """
    try:
        return call()
    except errors as exc:
        if not skip_bad:
            raise
        skipped.update([skip_reason(exc, name)])
        return None


def filter_by_shape(
    models: Sequence[Model],
    shape: Sequence[int],
    what: str,
    *,
    skip_bad: bool = False,
) -> tuple[list[Model], dict[str, str]]:
    """The models whose observations have ``shape``.

    Parameters
    ----------
    models : sequence of Model
    shape : tuple of int
        The observation shape every model must have.
    what : str
        Where the shape comes from, for the message (e.g. "dataset 'dsprites'").
    skip_bad : bool
        Leave mismatching models out (name -> reason) instead of raising ModelError.

    Returns
    -------
    usable : list of Model
    skipped : dict of str to str
    """
    expected = tuple(int(s) for s in shape)
    usable, skipped = [], {}
    for model in models:
        if tuple(model.observation_shape) == expected:
            usable.append(model)
            continue
        problem = (
            f"observation shape {tuple(model.observation_shape)} does not match "
            f"{what} shape {expected}"
        )
        if not skip_bad:
            raise ModelError(model.name, problem)
        skipped[model.name] = problem
    return usable, skipped


def probe_model(model: Model, n: int = 8, random_state: int = 0) -> dict[str, Any]:
    """Run a model on a few prior samples and report shapes and output ranges.

    Raises ModelError when the generator or encoder fails or returns NaN/inf.
    """
    try:
        latents = model.sample_prior(n, random_state)
        observations = model.generate(latents)
        codes, logvar = model.encode_with_logvar(observations)
    except MemoryError:
        raise ModelError(model.name, f"ran out of memory on {n} samples") from None
    report = {
        "name": model.name,
        "kind": model.kind,
        "latent_dim": model.latent_dim,
        "code_dims": list(model.code_dims),
        "prior": model.prior.to_dict(),
        "observation_shape": list(model.observation_shape),
        "encoding_dim": int(codes.shape[1]),
        "observation_range": [float(observations.min()), float(observations.max())],
        "code_range": [float(codes.min()), float(codes.max())],
    }
    if logvar is not None:
        report["logvar_range"] = [float(logvar.min()), float(logvar.max())]
    return report


def screen_models(
    models: Sequence[Model], *, skip_bad: bool = False
) -> tuple[list[Model], dict[str, str]]:
    """Check that models can be cross-evaluated before any long computation.

    Every model is probed (see :func:`probe_model`) and all must share one observation
    shape, so that every encoder accepts every generator's output. When shapes
    disagree, the most common shape wins and the others are the bad ones.

    Returns
    -------
    models : list of Model
        The usable models, in the given order.
    skipped : dict of str to str
        Name -> reason, only when ``skip_bad`` (otherwise the first problem raises).
    """
    names = Counter(m.name for m in models)
    duplicated = sorted(n for n, c in names.items() if c > 1)
    if duplicated:
        raise ZooError(f"model names must be unique; repeated: {duplicated}")

    shapes = Counter(m.observation_shape for m in models)
    majority = shapes.most_common(1)[0][0] if shapes else ()
    same_shape, skipped = filter_by_shape(models, majority, "the zoo's", skip_bad=skip_bad)
    good = []
    for model in same_shape:
        report = call_or_skip(
            partial(probe_model, model), model.name, skipped, skip_bad, ModelError
        )
        if report is not None:
            good.append(model)
    return good, skipped
