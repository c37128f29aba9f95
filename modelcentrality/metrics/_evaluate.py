"""The metric registry (:data:`METRIC_INFO`), settings resolution and :func:`evaluate`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import check_float
from ..datasets.base import GroundTruthDataset
from ..errors import ParameterError
from . import beta_vae, dci, factor_vae, mig, modularity, sap
from .beta_vae import compute_beta_vae
from .dci import compute_dci
from .factor_vae import compute_factor_vae
from .mig import compute_mig
from .modularity import compute_modularity
from .sap import compute_sap
from .utils import RepresentationFunction, scaled_count


@dataclass(frozen=True)
class MetricInfo:
    """How a metric is run and reported.

    Attributes
    ----------
    compute : callable
        ``compute(representation_function, dataset, random_state, **settings)``.
    settings : callable
        ``settings(**overrides)`` -> every setting, explicit (defaults filled in).
    sample_keys : tuple of str
        Settings that are sample counts, scaled by ``sample_multiplier``.
    headline : tuple of str
        Result keys shown in summary tables.
    """

    compute: Callable[..., dict[str, float]]
    settings: Callable[..., dict[str, Any]]
    sample_keys: tuple[str, ...]
    headline: tuple[str, ...]


def _fixed_defaults(defaults: Mapping[str, Any]) -> Callable[..., dict[str, Any]]:
    def settings(**overrides: Any) -> dict[str, Any]:
        unknown = sorted(set(overrides) - set(defaults))
        if unknown:
            raise ParameterError(f"unknown settings {unknown}; known: {sorted(defaults)}")
        return {**defaults, **overrides}

    return settings


METRIC_INFO: dict[str, MetricInfo] = {
    "factorvae": MetricInfo(
        compute_factor_vae,
        factor_vae.default_settings,
        factor_vae.SAMPLE_KEYS,
        ("score",),
    ),
    "betavae": MetricInfo(
        compute_beta_vae,
        _fixed_defaults(beta_vae.DEFAULTS),
        beta_vae.SAMPLE_KEYS,
        ("eval_accuracy",),
    ),
    "mig": MetricInfo(
        compute_mig, _fixed_defaults(mig.DEFAULTS), mig.SAMPLE_KEYS, ("discrete_mig",)
    ),
    "dci": MetricInfo(
        compute_dci,
        _fixed_defaults(dci.DEFAULTS),
        dci.SAMPLE_KEYS,
        ("disentanglement", "completeness", "informativeness_test"),
    ),
    "sap": MetricInfo(compute_sap, _fixed_defaults(sap.DEFAULTS), sap.SAMPLE_KEYS, ("SAP_score",)),
    "modularity": MetricInfo(
        compute_modularity,
        _fixed_defaults(modularity.DEFAULTS),
        modularity.SAMPLE_KEYS,
        ("modularity_score", "explicitness_score_test"),
    ),
}

#: Metric name -> ``compute_<metric>`` function.
METRICS: dict[str, Callable[..., dict[str, float]]] = {
    name: info.compute for name, info in METRIC_INFO.items()
}


def check_metric_names(metrics: Iterable[str] | None) -> list[str]:
    """Validate metric names (None: all of them, in registry order)."""
    if metrics is None:
        return list(METRIC_INFO)
    names = list(metrics)
    unknown = [name for name in names if name not in METRIC_INFO]
    if unknown:
        raise ParameterError(f"unknown metric(s) {unknown}; choose from {list(METRIC_INFO)}")
    if not names:
        raise ParameterError(f"no metric given; choose from {list(METRIC_INFO)}")
    return list(dict.fromkeys(names))


def metric_settings(
    metrics: Iterable[str] | None = None,
    sample_multiplier: float = 1.0,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    """The explicit settings each metric will run with.

    Parameters
    ----------
    metrics : iterable of str, optional
        Names from :data:`METRICS`; None: all.
    sample_multiplier : float
        Multiplies every sample count (votes, training and test points, scale set) after
        the overrides are applied; group sizes are kept.
    settings : mapping, optional
        Metric name -> keyword overrides, e.g. ``{"factorvae": {"protocol": "paper"}}``.

    Returns
    -------
    dict
        Metric name -> keyword arguments for its compute function.
    """
    names = check_metric_names(metrics)
    check_float("sample_multiplier", sample_multiplier, minimum=0, open_minimum=True)
    settings = dict(settings or {})
    stray = sorted(set(settings) - set(names))
    if stray:
        raise ParameterError(f"settings given for metrics not being run: {stray}")
    resolved = {}
    for name in names:
        info = METRIC_INFO[name]
        values = info.settings(**settings.get(name, {}))
        for key in info.sample_keys:
            # At least 2: a variance or a classifier needs two samples.
            values[key] = scaled_count(values[key], sample_multiplier, minimum=2)
        resolved[name] = values
    return resolved


def evaluate(
    representation_function: RepresentationFunction,
    dataset: GroundTruthDataset,
    metrics: Iterable[str] | None = None,
    random_state: Any = 0,
    sample_multiplier: float = 1.0,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, dict[str, float]]:
    """Run several supervised metrics on one representation.

    Parameters
    ----------
    representation_function : callable
        Observations (B, *observation_shape) float32 -> codes (B, E).
    dataset : GroundTruthDataset
    metrics : iterable of str, optional
        Names from :data:`METRICS`; None: all.
    random_state : int, Generator or None
        Every metric runs with this seed (a Generator gives one seed, drawn once), as in
        disentanglement_lib: ``evaluate(...)[name]`` equals the metric's own function
        called with the same seed, whichever other metrics run.
    sample_multiplier, settings :
        See :func:`metric_settings`.

    Returns
    -------
    dict
        Metric name -> that metric's result dict.
    """
    resolved = metric_settings(metrics, sample_multiplier, settings)
    if isinstance(random_state, np.random.Generator):
        random_state = int(random_state.integers(2**63))
    elif random_state is None:
        random_state = int(np.random.default_rng().integers(2**63))
    return {
        name: METRIC_INFO[name].compute(
            representation_function, dataset, random_state=random_state, **values
        )
        for name, values in resolved.items()
    }
